"""Symbolic linear algebra for small matrices of fixed size (``symnum.numpy.linalg``).

Besides det, inv, solve, slogdet, cholesky and norm: matrix_power, multi_dot (in the
cheapest order) and NumPy 2's array API names (trace, diagonal, outer, cross, matmul,
vecdot, tensordot, matrix_transpose, vector_norm, matrix_norm), which work on the last
axes as NumPy's do and share the implementations of :mod:`symnum.numpy`.

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
import operator
from typing import NamedTuple

import numpy as np
import sympy

from symnum import array as _array_module
from symnum.array import SymbolicArray, _add_all, _matrix_multiply, _normalize_axes, _positions
from symnum.numpy import contract as _contract
from symnum.numpy import shape as _shape
from symnum.numpy._base import (
    _apply,
    _as_array,
    _conj,
    _is_real_valued,
    _max2,
    _min2,
    _reject_unsupported,
    _result,
    _select,
    _tree,
)
from symnum.numpy.reduce import _per_row, _reduction_groups

__all__ = [
    "MAX_CHOLESKY_SIZE",
    "MAX_SIZE",
    "LinAlgError",
    "SlogdetResult",
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_transpose",
    "multi_dot",
    "norm",
    "outer",
    "slogdet",
    "solve",
    "tensordot",
    "trace",
    "vecdot",
    "vector_norm",
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
        for matrix in _positions(array.shape).reshape(math.prod(array.shape[:-2]), n, n).tolist()
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
    each, kind, finish = _vector_norm_parts(order)
    combine = {"sum": _add_all, "max": lambda v: _tree(_max2, v), "min": lambda v: _tree(_min2, v)}
    total = combine[kind]([each(x) for x in elements])
    return total if finish is None else finish(total)


def _vector_norm_parts(order):
    """``(each, kind, finish)``: a vector norm of order ``order`` (a number other than 2)
    is ``finish`` (None: nothing) of the ``kind`` ("sum", "max" or "min") of ``each`` of
    the elements. A ValueError for an invalid order."""
    if order == math.inf:
        return _abs, "max", None
    if order == -math.inf:
        return _abs, "min", None
    if order == 0:
        return _nonzero, "sum", None
    if order == 1:
        return _abs, "sum", None
    p = None if isinstance(order, str) else sympy.sympify(order)
    if p is None or not p.is_real:
        msg = f"norm: invalid norm order {order!r} for vectors"
        raise ValueError(msg)
    return (lambda x: _abs(x) ** p), "sum", (lambda total: total ** (1 / p))


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
    lazy = _norm_of_data(array, ord, axis, keepdims)
    if lazy is not None:
        return lazy
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


def _norm_of_data(array, order, axis, keepdims):
    """A vector norm (or the Frobenius norm) of a data array as a reduction over the
    rows (see :mod:`symnum.data`): ``order`` None / 2 / 'fro' (a square root of a sum of
    squares), 1, 0, ``±inf`` or a real ``p``; None for other arrays and orders (matrix
    norms other than Frobenius)."""
    hooks = _array_module._data_hooks
    if hooks is None or not hooks.is_lazy(array):
        return None
    axes = tuple(range(array.ndim)) if axis is None else _normalize_axes(axis, array.ndim)
    vector = len(axes) == 1  # else a matrix norm (of two axes, or of a 2-D array)
    if order is None or (order == "fro" and len(axes) == 2) or (order == 2 and vector):
        each, kind, finish = _abs_squared, "sum", _sqrt
    elif vector:
        each, kind, finish = _vector_norm_parts(order)
    else:
        return None
    terms = _per_row(
        array, lambda row: SymbolicArray._from_flat([each(e) for e in row._data], row.shape)
    )
    total = hooks.reduce(terms, kind, axes, keepdims)
    if finish is None:
        return total
    if isinstance(total, SymbolicArray):
        return SymbolicArray._from_flat([finish(e) for e in total._data], total.shape)
    return finish(total)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """SymNum implementation of :py:obj:`numpy.linalg.vector_norm` (NumPy 2).

    The vector norm of order ``ord`` (as :func:`norm` for vectors: 2, 1, inf, -inf, 0
    or any real ``p``) of the elements along ``axis``: every element if None, else an
    int or a tuple of any number of axes (their elements form one vector). The shape of
    ``x`` without those axes (length 1 with ``keepdims``); a scalar if none are left.
    """
    array = _as_array(x, "x")
    axes = tuple(range(array.ndim)) if axis is None else _normalize_axes(axis, array.ndim)
    groups, out_shape, keep_shape = _reduction_groups(array.shape, axes)
    data = array._data
    values = [_vector_norm([data[p] for p in g], ord) for g in groups.tolist()]
    return _result(values, keep_shape if keepdims else out_shape)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """SymNum implementation of :py:obj:`numpy.linalg.matrix_norm` (NumPy 2): the norm
    of each matrix ``(..., m, n)`` over the last two axes, of shape ``(...)`` (a scalar
    for one matrix; ``(..., 1, 1)`` with ``keepdims``).

    ``ord`` 'fro' (default), 1, -1, inf or -inf; 2, -2 and 'nuc' need singular values
    and raise ``NotImplementedError`` (see :func:`norm`).
    """
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


# --------------------------------------------------------------------------------------
# Products


def matrix_power(a, n):
    """SymNum implementation of :py:obj:`numpy.linalg.matrix_power`: ``a`` multiplied by
    itself ``n`` times, for a square matrix ``(m, m)`` or a stack ``(..., m, m)``; the
    result has the shape of ``a``.

    ``n`` is an integer: 0 gives identity matrices, a negative ``n`` the power of
    :func:`inv` (``m <= MAX_SIZE``). Repeated squaring: ``O(log n)`` products.
    """
    array, m, _ = _square_stack(a, "matrix_power", math.inf)
    try:
        n = operator.index(n)
    except TypeError:
        msg = f"matrix_power: exponent must be an integer, got {n!r}"
        raise TypeError(msg) from None
    if array.size == 0:  # no elements to multiply (matmul of 0 x 0 matrices is empty)
        return array
    if n == 0:
        identity = [_ONE if i == j else _ZERO for i in range(m) for j in range(m)]
        return SymbolicArray._from_flat(identity * (array.size // (m * m)), array.shape)
    if n < 0:
        array, n = inv(array), -n
    result = square = None
    while n:
        square = array if square is None else _matrix_multiply(square, square)
        n, bit = divmod(n, 2)
        if bit:
            result = square if result is None else _matrix_multiply(result, square)
    return result


def _chain_order(dims: list) -> list:
    """``split[i][j]``: where the cheapest product of matrices ``i..j`` splits, for
    matrices of shapes ``(dims[i], dims[i + 1])`` (the matrix chain problem)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            best = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if best is None or c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best
    return split


def multi_dot(arrays, *, out=None):
    """SymNum implementation of :py:obj:`numpy.linalg.multi_dot`: the product of two or
    more arrays, multiplied in the order that needs the fewest scalar products.

    Two arrays give :func:`symnum.numpy.dot`. Otherwise every array is 2-D, except
    that the first may be 1-D (a row) and the last 1-D (a column): shapes ``(n,) or
    (m, n)``, ``(n, p)``, ..., ``(q, r)``, ``(r,) or (r, s)`` give ``(m, s)`` with the
    axes of 1-D ends removed (a scalar if both ends are 1-D). ``out`` is not supported.
    """
    _reject_unsupported("multi_dot", out=out)
    arrays = list(arrays)
    if len(arrays) < 2:
        msg = f"multi_dot: expecting at least two arrays, got {len(arrays)}"
        raise ValueError(msg)
    if len(arrays) == 2:
        return _contract.dot(arrays[0], arrays[1])
    arrays = [_contract._array_operand(x, "arrays") for x in arrays]
    shapes = [tuple(x.shape) for x in arrays]
    shapes[0] = (1, *shapes[0]) if len(shapes[0]) == 1 else shapes[0]
    shapes[-1] = (*shapes[-1], 1) if len(shapes[-1]) == 1 else shapes[-1]
    for shape in shapes:
        if len(shape) != 2:
            msg = f"multi_dot: {len(shape)}-dimensional array given; arrays must be 2-D"
            raise LinAlgError(msg)
    for i in range(len(shapes) - 1):
        if shapes[i][1] != shapes[i + 1][0]:
            msg = (
                f"multi_dot: shapes {arrays[i].shape} and {arrays[i + 1].shape} (arrays {i} and"
                f" {i + 1}) not aligned: {shapes[i][1]} != {shapes[i + 1][0]}"
            )
            raise ValueError(msg)
    # rows of data (None: a data argument) count as many
    dims = [s if s is not None else 2**31 for s in [shape[0] for shape in shapes]]
    dims.append(shapes[-1][1])
    split = _chain_order(dims)

    def product(i, j):
        if i == j:
            return arrays[i]
        k = split[i][j]
        return _matrix_multiply(product(i, k), product(k + 1, j))

    return product(0, len(arrays) - 1)


# --------------------------------------------------------------------------------------
# NumPy 2's array API names, on the last axes


def matmul(x1, x2, /):
    """SymNum implementation of :py:obj:`numpy.linalg.matmul`: :func:`symnum.numpy.matmul`
    (shapes ``(..., n, k) @ (..., k, m) -> (..., n, m)``)."""
    return _contract.matmul(x1, x2)


def tensordot(x1, x2, /, *, axes=2):
    """SymNum implementation of :py:obj:`numpy.linalg.tensordot`:
    :func:`symnum.numpy.tensordot` (the free axes of ``x1`` then those of ``x2``; a
    scalar if none are left)."""
    return _contract.tensordot(x1, x2, axes)


def vecdot(x1, x2, /, *, axis=-1):
    """SymNum implementation of :py:obj:`numpy.linalg.vecdot`: :func:`symnum.numpy.vecdot`
    (``sum(conj(x1) * x2)`` along ``axis``; the broadcast shape of the other axes)."""
    return _contract.vecdot(x1, x2, axis=axis)


def matrix_transpose(x, /):
    """SymNum implementation of :py:obj:`numpy.linalg.matrix_transpose`: the last two axes
    of ``x`` (at least 2-D) swapped, shape ``(..., n, m)`` for ``(..., m, n)``."""
    return _contract.matrix_transpose(x)


def outer(x1, x2, /):
    """SymNum implementation of :py:obj:`numpy.linalg.outer`: ``x1[i] * x2[j]`` of two 1-D
    arrays, shape ``(len(x1), len(x2))`` (other shapes raise ``ValueError``)."""
    a, b = _as_array(x1, "x1"), _as_array(x2, "x2")
    if a.ndim != 1 or b.ndim != 1:
        msg = f"outer: input arrays must be one-dimensional, got shapes {a.shape} and {b.shape}"
        raise ValueError(msg)
    return _contract.outer(a, b)


def cross(x1, x2, /, *, axis=-1):
    """SymNum implementation of :py:obj:`numpy.linalg.cross`: the cross product of
    3-vectors along ``axis`` (both of length 3 there; the other axes broadcast). The
    broadcast shape, with the 3 components along ``axis``."""
    a, b = _as_array(x1, "x1"), _as_array(x2, "x2")
    if a.shape[axis] != 3 or b.shape[axis] != 3:
        msg = (
            "cross: both input arrays must be (arrays of) 3-dimensional vectors, but they are"
            f" {a.shape[axis]} and {b.shape[axis]} dimensional instead"
        )
        raise ValueError(msg)
    return _contract.cross(a, b, axis=axis)


def trace(x, /, *, offset=0, dtype=None):
    """SymNum implementation of :py:obj:`numpy.linalg.trace`: the sum along a diagonal of
    each matrix ``(..., m, n)`` (the last two axes), shape ``(...)``; a scalar for one
    matrix. ``dtype`` is not supported."""
    _reject_unsupported("trace", dtype=dtype)
    return _contract.trace(x, offset, -2, -1)


def diagonal(x, /, *, offset=0):
    """SymNum implementation of :py:obj:`numpy.linalg.diagonal`: a diagonal of each matrix
    ``(..., m, n)`` (the last two axes), shape ``(..., k)``."""
    return _shape.diagonal(x, offset, -2, -1)
