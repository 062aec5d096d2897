"""Symbolic linear algebra for small matrices of fixed size (``symnum.numpy.linalg``).

Every function follows :mod:`numpy.linalg`: it accepts a matrix or a stack of matrices
(leading axes are batch axes), and raises :class:`numpy.linalg.LinAlgError` (a
``ValueError``) for arrays that are not square matrices.

Cost
----
``det``, ``inv``, ``solve`` and ``slogdet`` use the cofactor (Laplace) expansion, with
every minor built once and shared (memoised on its rows and columns). It has no
division, so it is exact for *every* matrix, including those whose leading minors vanish
(Gaussian or Bareiss elimination without pivoting would divide by zero there, and
pivoting cannot be decided on symbolic entries). The shared expression has at most
``C(2n, n)`` minors (924 for ``n = 6``), which is what the generated code evaluates, but
the expression *tree* of a determinant has ``n!`` products: SymPy operations that walk
it without sharing (``subs``, ``simplify``, printing) slow down factorially. Sizes up to
4 or 5 are the practical range; ``n > MAX_SIZE`` (6) raises ``ValueError`` rather than
running for minutes.

``cholesky`` uses the explicit algorithm (square roots of the pivots), ``O(n**3)``
operations; it is limited to ``n <= MAX_CHOLESKY_SIZE`` (10): its derivatives are built
per input element, so a gradient costs ``O(n**5)`` to build (about 10 s at ``n = 12``).

On symbolic input nothing can check singularity or positive definiteness: a singular
matrix gives ``inf`` / ``nan`` at run time, as the formulas imply. On numeric input
``inv``, ``solve`` and ``cholesky`` raise ``LinAlgError`` as NumPy does.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import sympy

from symnum.array import SymbolicArray, _add_all, _matrix_multiply, _normalize_axes, _positions
from symnum.numpy._base import (
    _apply,
    _as_array,
    _conj,
    _is_real_valued,
    _max2,
    _min2,
    _result,
    _select,
    _tree,
)
from symnum.numpy.reduce import _reduction_groups

__all__ = [
    "MAX_CHOLESKY_SIZE",
    "MAX_SIZE",
    "LinAlgError",
    "SlogdetResult",
    "cholesky",
    "det",
    "inv",
    "norm",
    "slogdet",
    "solve",
]

LinAlgError = np.linalg.LinAlgError

#: Largest ``n`` for which det / inv / solve / slogdet build an ``n x n`` expression.
MAX_SIZE = 6
#: Largest ``n`` for which cholesky builds an ``n x n`` factor.
MAX_CHOLESKY_SIZE = 10

_ZERO = sympy.Integer(0)
_ONE = sympy.Integer(1)


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)``, as returned by :func:`slogdet`."""

    sign: object
    logabsdet: object


def _is_zero(x) -> bool:
    return x.is_Number and not x


def _square_stack(a, name: str, limit: int):
    """``a`` as a SymbolicArray of shape ``(..., n, n)``; returns (array, n, matrices).

    ``matrices`` is a list (one per batch element, in C order) of row lists.
    """
    array = _as_array(a)
    if array.ndim < 2:
        msg = (
            f"{name}: expected a square matrix or a stack of them (at least 2 dimensions),"
            f" got an array of shape {array.shape}"
        )
        raise LinAlgError(msg)
    n = array.shape[-1]
    if array.shape[-2] != n:
        msg = f"{name}: the last 2 dimensions of the array must be square, got shape {array.shape}"
        raise LinAlgError(msg)
    if n > limit:
        msg = (
            f"{name}: a symbolic {n}x{n} matrix is too large; symbolic {name} is limited to"
            f" n <= {limit} because its expression grows combinatorially with n (see the"
            " symnum.numpy.linalg docstring). Compute it numerically instead, or restructure the"
            " model (e.g. use a Cholesky or block factorisation known in closed form)."
        )
        raise ValueError(msg)
    data = array._data
    matrices = [
        [[data[p] for p in row] for row in matrix]
        for matrix in _positions(array.shape).reshape(-1, n, n).tolist()
    ]
    return array, n, matrices


class _Minors:
    """Determinants of the square submatrices of ``m``, memoised on (rows, columns)."""

    def __init__(self, m):
        self.m = m
        self.memo: dict = {}

    def __call__(self, rows: tuple, cols: tuple):
        if not rows:
            return _ONE
        if len(rows) == 1:
            return self.m[rows[0]][cols[0]]
        key = (rows, cols)
        value = self.memo.get(key)
        if value is None:
            # expand along the first row
            first, rest = self.m[rows[0]], rows[1:]
            terms = []
            for k, c in enumerate(cols):
                el = first[c]
                if _is_zero(el):
                    continue
                minor = self(rest, cols[:k] + cols[k + 1 :])
                if _is_zero(minor):
                    continue
                terms.append(el * minor if k % 2 == 0 else -el * minor)
            value = _add_all(terms)
            self.memo[key] = value
        return value


def _det_matrix(m, n: int):
    return _Minors(m)(tuple(range(n)), tuple(range(n)))


def det(a):
    """Determinant of a square matrix ``(n, n)`` (a scalar) or stack ``(..., n, n)``.

    Cofactor expansion with shared minors; ``n <= MAX_SIZE``.
    """
    array, n, matrices = _square_stack(a, "det", MAX_SIZE)
    return _result([_det_matrix(m, n) for m in matrices], array.shape[:-2])


def _sign(d):
    return _apply(sympy.sign, d)


def _log_abs(d):
    if _is_zero(d):
        return -sympy.oo
    return _apply(sympy.log, _apply(sympy.Abs, d))


def slogdet(a) -> SlogdetResult:
    """Sign and log of the absolute value of the determinant: ``(sign, logabsdet)``.

    ``det(a) == sign * exp(logabsdet)``. Each is a scalar for one matrix, an array of
    the batch shape for a stack. The derivative of ``logabsdet`` is that of
    ``log|det|`` (``inv(a).T``); ``sign`` is piecewise constant (derivative 0).
    """
    array, n, matrices = _square_stack(a, "slogdet", MAX_SIZE)
    dets = [_det_matrix(m, n) for m in matrices]
    shape = array.shape[:-2]
    return SlogdetResult(
        _result([_sign(d) for d in dets], shape), _result([_log_abs(d) for d in dets], shape)
    )


def _inverse_matrix(m, n: int, name: str) -> list:
    """The inverse of the ``n x n`` row list ``m``, flat in C order (adjugate / det)."""
    if n == 0:
        return []
    minors = _Minors(m)
    everything = tuple(range(n))
    determinant = minors(everything, everything)
    if determinant.is_Number and not determinant:
        msg = f"{name}: singular matrix"
        raise LinAlgError(msg)
    inv_det = 1 / determinant

    def cofactor(i, j):
        rows = everything[:i] + everything[i + 1 :]
        cols = everything[:j] + everything[j + 1 :]
        value = minors(rows, cols)
        return value if (i + j) % 2 == 0 else -value

    # inverse[i][j] = cofactor(j, i) / det
    return [cofactor(j, i) * inv_det for i in range(n) for j in range(n)]


def inv(a):
    """Inverse of a square matrix ``(n, n)`` or of each matrix of a stack ``(..., n, n)``.

    Adjugate over determinant, with shared minors; ``n <= MAX_SIZE``. Raises
    ``LinAlgError`` for a numerically singular matrix.
    """
    array, n, matrices = _square_stack(a, "inv", MAX_SIZE)
    values = [v for m in matrices for v in _inverse_matrix(m, n, "inv")]
    return SymbolicArray._from_flat(values, array.shape)


def solve(a, b):
    """Solution ``x`` of ``a @ x == b`` for square ``a`` of shape ``(..., n, n)``.

    As in NumPy 2, ``b`` is a vector if it is 1-D (shape ``(n,)``, giving ``x`` of shape
    ``(..., n)``), else a stack of matrices ``(..., n, k)`` (giving ``(..., n, k)``);
    batch axes broadcast. Computed as ``inv(a) @ b``; ``n <= MAX_SIZE``.
    """
    array, n, matrices = _square_stack(a, "solve", MAX_SIZE)
    rhs = _as_array(b, "b")
    if rhs.ndim == 0 or rhs.shape[0 if rhs.ndim == 1 else -2] != n:
        msg = (
            f"solve: b of shape {rhs.shape} does not match a of shape {array.shape}: expected"
            f" shape ({n},) or (..., {n}, k)"
        )
        raise ValueError(msg)
    inverse = SymbolicArray._from_flat(
        [v for m in matrices for v in _inverse_matrix(m, n, "solve")], array.shape
    )
    return _matrix_multiply(inverse, rhs)


def cholesky(a, upper=False):
    """Cholesky factor of a symmetric positive definite matrix ``(n, n)`` or of each
    matrix of a stack ``(..., n, n)``; the result has the shape of ``a``.

    Returns the lower triangular ``L`` with ``a == L @ L.T`` (``L.T`` if ``upper``);
    only the lower triangle of ``a`` is read. Explicit algorithm: ``L[j, j]`` is the
    square root of the ``j``-th pivot; ``n <= MAX_CHOLESKY_SIZE``. Raises
    ``LinAlgError`` when a numeric pivot is not positive.
    """
    array, n, matrices = _square_stack(a, "cholesky", MAX_CHOLESKY_SIZE)
    values = []
    for m in matrices:
        factor = [[_ZERO] * n for _ in range(n)]
        for j in range(n):
            row_j = factor[j][:j]
            pivot = _add_all([m[j][j], *(-(x * x) for x in row_j)])
            if pivot.is_Number and not pivot.is_positive:
                msg = f"cholesky: matrix is not positive definite (pivot {j} is {pivot})"
                raise LinAlgError(msg)
            diagonal = _apply(sympy.sqrt, pivot)
            factor[j][j] = diagonal
            inv_diagonal = 1 / diagonal
            for i in range(j + 1, n):
                row_i = factor[i][:j]
                total = _add_all([m[i][j], *(-(x * y) for x, y in zip(row_i, row_j, strict=True))])
                factor[i][j] = total * inv_diagonal
        if upper:
            factor = [[_conj(factor[j][i]) for j in range(n)] for i in range(n)]
        values.extend(v for row in factor for v in row)
    return SymbolicArray._from_flat(values, array.shape)


# --------------------------------------------------------------------------------------
# Norms


def _abs(x):
    return _apply(sympy.Abs, x)


def _abs_squared(x):
    if _is_real_valued(x):
        return x * x
    return _abs(x) ** 2


def _sqrt(x):
    return _apply(sympy.sqrt, x)


def _frobenius(elements):
    return _sqrt(_add_all([_abs_squared(x) for x in elements]))


def _nonzero(x):
    if x.is_Number:
        return _ONE if x else _ZERO
    return _select([(_ONE, sympy.Ne(x, 0))], _ZERO)


def _vector_norm(elements, order):
    if order is None or order == 2:
        return _frobenius(elements)
    if isinstance(order, str):
        msg = f"norm: invalid norm order {order!r} for vectors"
        raise ValueError(msg)
    if not elements:
        return _ZERO
    return _vector_norm_of(elements, order)


def _vector_norm_of(elements, order):
    """Norm of order ``order`` (a number other than 2) of the non-empty ``elements``."""
    if order == math.inf:
        return _tree(_max2, [_abs(x) for x in elements])
    if order == -math.inf:
        return _tree(_min2, [_abs(x) for x in elements])
    if order == 0:
        return _add_all([_nonzero(x) for x in elements])
    if order == 1:
        return _add_all([_abs(x) for x in elements])
    p = sympy.sympify(order)
    if not p.is_real:
        msg = f"norm: invalid norm order {order!r} for vectors"
        raise ValueError(msg)
    return _add_all([_abs(x) ** p for x in elements]) ** (1 / p)


def _matrix_norm(rows, order):
    """Norm of a matrix given as a list of rows."""
    if order is None or order == "fro":
        return _frobenius([x for row in rows for x in row])
    if order in ("nuc", 2, -2):
        msg = (
            f"norm: the matrix norm ord={order!r} needs singular values, which have no"
            " closed form for symbolic matrices; use ord=None/'fro', 1, -1, inf or -inf"
        )
        raise NotImplementedError(msg)
    if order in (1, -1):
        sums = [_add_all([_abs(row[j]) for row in rows]) for j in range(len(rows[0]))]
    elif order in (math.inf, -math.inf):
        sums = [_add_all([_abs(x) for x in row]) for row in rows]
    else:
        msg = f"norm: invalid norm order {order!r} for matrices"
        raise ValueError(msg)
    return _tree(_max2 if order > 0 else _min2, sums)


def norm(x, ord=None, axis=None, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.linalg.norm`.

    Vector norms (1-D input, or an int ``axis``): ``ord`` None/2 (Euclidean), 1, inf,
    -inf, 0 (count of non-zeros) or any real ``p``. Matrix norms (2-D input, or a pair
    of axes): None/'fro' (Frobenius), 1, -1, inf, -inf; ``2``, ``-2`` and ``'nuc'``
    need singular values and raise ``NotImplementedError``. With ``axis=None`` and
    ``ord=None`` any array gives the 2-norm of its flattened elements. A scalar unless
    axes remain (or ``keepdims``).
    """
    array = _as_array(x, "x")
    if axis is None:
        if ord is None:
            value = _frobenius(array._data)
            if keepdims:
                return SymbolicArray._from_flat([value], (1,) * array.ndim)
            return value
        if array.ndim not in (1, 2):
            msg = (
                f"norm: improper number of dimensions to norm: ord={ord!r} needs a 1-D or"
                f" 2-D array (or axis=), got shape {array.shape}"
            )
            raise ValueError(msg)
        axes = tuple(range(array.ndim))
    else:
        axes = _normalize_axes(axis, array.ndim)
        if len(axes) not in (1, 2):
            msg = f"norm: axis must be an int or a pair of ints, got {axis!r}"
            raise ValueError(msg)
    groups, out_shape, keep_shape = _reduction_groups(array.shape, axes, flat=False)
    data = array._data
    if len(axes) == 1:
        values = [_vector_norm([data[p] for p in g], ord) for g in groups.tolist()]
    else:
        values = [_matrix_norm([[data[p] for p in row] for row in g], ord) for g in groups.tolist()]
    return _result(values, keep_shape if keepdims else out_shape)
