"""Products and contractions of :mod:`symnum.numpy`: matmul, dot, inner, vdot, outer,
kron, cross, tensordot, einsum, trace, convolve, correlate and vander, and NumPy 2's
vecdot, matvec, vecmat, matrix_transpose and permute_dims.

Each output element is one ``Add`` of products (built without SymPy's canonicalisation,
see :func:`symnum.array._add_all`), so a contraction of length ``k`` costs ``O(k)``
SymPy operations per element. Operands are SymbolicArrays, NumPy or SymPy arrays,
nested lists or scalars; a result with no axes left is a SymPy scalar.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from symnum import array as _array_module
from symnum.array import (
    SymbolicArray,
    _add_all,
    _matrix_multiply,
    _mul_all,
    _normalize_axes,
    _positions,
    is_scalar,
)
from symnum.numpy._base import (
    _ONE,
    _as_array,
    _as_int,
    _conj,
    _elementwise,
    _reject_extra,
    _result,
)
from symnum.numpy.reduce import _reduce
from symnum.numpy.reduce import sum as _sum
from symnum.numpy.shape import diagonal, moveaxis, reshape, stack, swapaxes, transpose
from symnum.numpy.ufuncs import multiply, subtract

__all__ = [
    "convolve",
    "correlate",
    "cross",
    "dot",
    "einsum",
    "inner",
    "kron",
    "matmul",
    "matrix_transpose",
    "matvec",
    "outer",
    "permute_dims",
    "tensordot",
    "trace",
    "vander",
    "vdot",
    "vecdot",
    "vecmat",
]


def matmul(x1, x2, *args, **kwargs):
    """SymNum implementation of :py:obj:`numpy.matmul` for any number of dimensions.

    Shapes ``(..., n, k) @ (..., k, m) -> (..., n, m)``, leading (batch) axes
    broadcasting. A 1-D operand is promoted to a row (left) or a column (right) and the
    added axis is removed from the result; two 1-D operands give a scalar.
    """
    _reject_extra("matmul", 2, args, kwargs)
    hooks = _array_module._data_hooks
    if hooks is not None and hooks.involved(x1, x2):  # before rows are written out
        lazy = hooks.matmul(x1, x2)
        if lazy is not None:
            return lazy
    return _matrix_multiply(_as_array(x1, "matmul: x1"), _as_array(x2, "matmul: x2"))


def _axes_list(axes, ndim: int, which: str) -> list[int]:
    if isinstance(axes, (int, np.integer)):
        axes = [axes]
    try:
        axes = list(axes)
    except TypeError:
        msg = f"tensordot: axes of {which} must be an int or a sequence of ints, got {axes!r}"
        raise TypeError(msg) from None
    return list(_normalize_axes(tuple(axes), ndim)) if axes else []


def tensordot(a, b, axes=2):
    """SymNum implementation of :py:obj:`numpy.tensordot`.

    ``axes`` is an int ``N`` (the last ``N`` axes of ``a`` with the first ``N`` of
    ``b``) or a pair of sequences of axes. The result has the free axes of ``a``
    followed by those of ``b``; a scalar if none are left.
    """
    lazy = _data_tensordot(a, b, axes)
    if lazy is not None:
        return lazy
    a, b = _as_array(a, "a"), _as_array(b, "b")
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            msg = (
                f"tensordot: axes={n} must be between 0 and the number of dimensions of"
                f" both operands (shapes {a.shape} and {b.shape})"
            )
            raise ValueError(msg)
        axes_a, axes_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        try:
            first, second = axes
        except (TypeError, ValueError):
            msg = f"tensordot: axes must be an int or a pair of sequences of ints, got {axes!r}"
            raise ValueError(msg) from None
        axes_a = _axes_list(first, a.ndim, "a")
        axes_b = _axes_list(second, b.ndim, "b")
        if len(axes_a) != len(axes_b):
            msg = (
                f"tensordot: shape-mismatch for sum: {len(axes_a)} axes of a but"
                f" {len(axes_b)} axes of b"
            )
            raise ValueError(msg)
    for ia, ib in zip(axes_a, axes_b, strict=True):
        if a.shape[ia] != b.shape[ib]:
            msg = (
                f"tensordot: shape-mismatch for sum: axis {ia} of a (shape {a.shape}) has"
                f" size {a.shape[ia]} but axis {ib} of b (shape {b.shape}) has size"
                f" {b.shape[ib]}"
            )
            raise ValueError(msg)
    free_a = [ax for ax in range(a.ndim) if ax not in axes_a]
    free_b = [ax for ax in range(b.ndim) if ax not in axes_b]
    k = math.prod(a.shape[ax] for ax in axes_a)
    rows = _positions(a.shape).transpose(free_a + axes_a).reshape(-1, k).tolist()
    cols = _positions(b.shape).transpose(axes_b + free_b).reshape(k, -1).T.tolist()
    ad, bd = a._data, b._data
    col_elems = [[bd[j] for j in col] for col in cols]
    out = []
    for row in rows:
        row_elems = [ad[i] for i in row]
        out.extend(
            _add_all([x * y for x, y in zip(row_elems, col, strict=True)]) for col in col_elems
        )
    return _result(out, tuple(a.shape[ax] for ax in free_a) + tuple(b.shape[ax] for ax in free_b))


def _scalar_operand(a, b) -> bool:
    """Whether either operand of dot / inner is a scalar or a 0-d array."""
    if is_scalar(a) or is_scalar(b):
        return True
    return _as_array(a, "a").ndim == 0 or _as_array(b, "b").ndim == 0


def _data_tensordot(a, b, axes):
    """``tensordot(a, b, axes)`` keeping a data axis (an einsum of the rows), or None
    (no data, or axes it cannot read: the written-out contraction then reports them)."""
    hooks = _array_module._data_hooks
    if hooks is None or not hooks.involved(a, b):
        return None
    subscripts = hooks.tensordot_subscripts(np.ndim(a), np.ndim(b), axes)
    return None if subscripts is None else hooks.einsum(subscripts, (a, b))


def _data_contraction(a, b, axis_a: int, axis_b: int):
    """:func:`_data_tensordot` over axis ``axis_a`` of ``a`` and ``axis_b`` of ``b``;
    None also where those axes do not exist or do not match."""
    shape_a, shape_b = np.shape(a), np.shape(b)
    if not shape_a or not shape_b or shape_a[axis_a] != shape_b[axis_b]:
        return None
    return _data_tensordot(a, b, ([axis_a], [axis_b]))


def dot(a, b):
    """SymNum implementation of :py:obj:`numpy.dot`.

    Scalars multiply (elementwise, broadcast shape); 1-D with 1-D is the inner product
    (a scalar); otherwise the sum over the last axis of ``a`` and the second-to-last of
    ``b`` (the only axis if ``b`` is 1-D): ``(..., k) . (..., k, m) -> (a.shape[:-1],
    *b.shape[:-2], m)``.
    """
    if _scalar_operand(a, b):
        return _elementwise(operator.mul, a, b, name="dot: operand")
    hooks = _array_module._data_hooks
    if hooks is not None and hooks.involved(a, b) and np.ndim(a) <= 2 and np.ndim(b) <= 2:
        lazy = hooks.matmul(a, b)
        if lazy is not None:
            return lazy
    a, b = _as_array(a, "a"), _as_array(b, "b")
    axis_b = 0 if b.ndim == 1 else b.ndim - 2
    if a.shape[-1] != b.shape[axis_b]:
        msg = (
            f"dot: shapes {a.shape} and {b.shape} not aligned:"
            f" {a.shape[-1]} (dim {a.ndim - 1}) != {b.shape[axis_b]} (dim {axis_b})"
        )
        raise ValueError(msg)
    return tensordot(a, b, axes=([a.ndim - 1], [axis_b]))


def inner(a, b):
    """SymNum implementation of :py:obj:`numpy.inner`: the sum over the last axes of both.

    Shapes ``(..., k)`` and ``(..., k)`` give ``(*a.shape[:-1], *b.shape[:-1])``;
    scalars multiply elementwise.
    """
    if _scalar_operand(a, b):
        return _elementwise(operator.mul, a, b, name="inner: operand")
    lazy = _data_contraction(a, b, -1, -1)
    if lazy is not None:
        return lazy
    a, b = _as_array(a, "a"), _as_array(b, "b")
    if a.shape[-1] != b.shape[-1]:
        msg = (
            f"inner: shapes {a.shape} and {b.shape} not aligned: the last dimensions"
            f" ({a.shape[-1]} and {b.shape[-1]}) must match"
        )
        raise ValueError(msg)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


def vdot(a, b):
    """SymNum implementation of :py:obj:`numpy.vdot`: ``sum(conj(a.flat) * b.flat)``.

    ``a`` and ``b`` of any shapes with the same size; returns a scalar.
    """
    if np.ndim(a) == 1 and np.ndim(b) == 1:  # sum(conj(a) * b) over the rows
        real = type(a) is np.ndarray and a.dtype.kind in "biuf"
        lazy = _data_contraction(a if real else _elementwise(_conj, a, name="a"), b, 0, 0)
        if lazy is not None:
            return lazy
    a, b = _as_array(a, "a"), _as_array(b, "b")
    if a.size != b.size:
        msg = f"vdot: vectors have different lengths: {a.size} and {b.size}"
        raise ValueError(msg)
    return _add_all([_conj(x) * y for x, y in zip(a._data, b._data, strict=True)])


def outer(a, b):
    """SymNum implementation of :py:obj:`numpy.outer`: ``a.flat[i] * b.flat[j]``, shape
    ``(a.size, b.size)``."""
    a, b = _as_array(a, "a"), _as_array(b, "b")
    return SymbolicArray._from_flat([x * y for x in a._data for y in b._data], (a.size, b.size))


def kron(a, b):
    """SymNum implementation of :py:obj:`numpy.kron`: the Kronecker product, the blocks
    ``a[i, j, ...] * b`` laid out as ``a`` is.

    Operands of shapes ``s`` and ``t`` (the one with fewer axes padded with leading 1s)
    give the shape ``(s[0] * t[0], s[1] * t[1], ...)``; two scalars give a scalar.
    """
    a, b = _as_array(a, "a"), _as_array(b, "b")
    # NumPy's own layout, on element positions
    left = np.kron(_positions(a.shape), np.ones(b.shape, dtype=np.int64))
    right = np.kron(np.ones(a.shape, dtype=np.int64), _positions(b.shape))
    ad, bd = a._data, b._data
    pairs = zip(left.ravel().tolist(), right.ravel().tolist(), strict=True)
    return _result([ad[i] * bd[j] for i, j in pairs], np.shape(left))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):  # noqa: PLR0917 - NumPy's
    """SymNum implementation of :py:obj:`numpy.cross`: the cross product of 3-vectors.

    The vectors lie along ``axisa`` of ``a`` and ``axisb`` of ``b`` (``axis`` sets both
    and ``axisc``), of length 3, or 2 (a zero third component); the other axes
    broadcast. The result has the broadcast shape with the 3 components along
    ``axisc``; for two 2-vectors it is the third component alone (no vector axis).
    """
    a, b = _as_array(a, "a"), _as_array(b, "b")
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)  # NumPy's AxisError for a scalar
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        msg = (
            "incompatible dimensions for cross product\n(dimension must be 2 or 3), got "
            f"{a.shape[-1]} and {b.shape[-1]}"
        )
        raise ValueError(msg)
    a0, a1, b0, b1 = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    third = subtract(multiply(a0, b1), multiply(a1, b0))
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return third
    a2 = a[..., 2] if a.shape[-1] == 3 else 0
    b2 = b[..., 2] if b.shape[-1] == 3 else 0
    # every component holds an element of each operand: all have the broadcast shape
    first = subtract(multiply(a1, b2), multiply(a2, b1))
    second = subtract(multiply(a2, b0), multiply(a0, b2))
    return moveaxis(stack([first, second, third], axis=-1), -1, axisc)


_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _einsum_term(term: str, ndim: int | None, where: str):
    """Labels of one einsum term; ellipsis dimensions get int labels (right-aligned)."""
    if term.count("...") > 1 or term.replace("...", "").count("."):
        msg = f"einsum: {where} {term!r} has an invalid ellipsis: use at most one '...'"
        raise ValueError(msg)
    for ch in term.replace("...", ""):
        if ch not in _LETTERS:
            msg = f"einsum: {where} {term!r} contains {ch!r}: subscripts must be ASCII letters"
            raise ValueError(msg)
    if "..." not in term:
        return list(term), 0
    before, after = term.split("...")
    n_ellipsis = None if ndim is None else ndim - len(before) - len(after)
    if n_ellipsis is not None and n_ellipsis < 0:
        msg = (
            f"einsum: {where} {term!r} names {len(before) + len(after)} dimensions but the"
            f" operand has only {ndim}"
        )
        raise ValueError(msg)
    return [*before, ("...", n_ellipsis), *after], n_ellipsis


def einsum(subscripts, *operands, optimize=None):
    """SymNum implementation of :py:obj:`numpy.einsum` with explicit subscripts.

    Supports ``'ij,jk->ik'`` style subscripts (explicit output after ``->``, or the
    implicit output of NumPy: alphabetically sorted labels appearing once), repeated
    labels (diagonals and traces) and ``...`` for broadcast dimensions. ``optimize`` is
    accepted and ignored. The result has one axis per output label (in their order), a
    scalar if there are none; each output element is one ``Add`` of products.
    """
    del optimize  # the contraction order does not matter symbolically
    hooks = _array_module._data_hooks
    if hooks is not None and hooks.involved(*operands):
        lazy = hooks.einsum(subscripts, operands)
        if lazy is not None:
            return lazy
    arrays, terms, arrow, rhs = _einsum_parse(subscripts, operands)
    # labels of each operand's axes; ellipsis axes get labels 0, 1, ... right-aligned
    parsed = [
        _einsum_term(t, a.ndim, f"term {i}")
        for i, (t, a) in enumerate(zip(terms, arrays, strict=True))
    ]
    n_ellipsis = max((n for _, n in parsed), default=0)
    operand_labels = [
        _einsum_expand(labels, n, n_ellipsis, array, term)
        for (labels, n), array, term in zip(parsed, arrays, terms, strict=True)
    ]
    sizes = _einsum_sizes(operand_labels, arrays, terms)
    if arrow:
        out_labels = _einsum_explicit_output(rhs, sizes, n_ellipsis)
    else:
        letters_in = [
            label for labels in operand_labels for label in labels if isinstance(label, str)
        ]
        counts = {label: letters_in.count(label) for label in set(letters_in)}
        out_labels = [*range(n_ellipsis), *sorted(lb for lb, c in counts.items() if c == 1)]
    summed = [label for label in sizes if label not in out_labels]
    all_labels = out_labels + summed
    grid_shape = tuple(sizes[label] for label in all_labels)
    out_shape = grid_shape[: len(out_labels)]
    n_out = math.prod(out_shape)
    n_sum = math.prod(grid_shape[len(out_labels) :])
    grid = np.indices(grid_shape, dtype=np.intp).reshape(len(all_labels), math.prod(grid_shape))
    # flat element positions of each operand for every (output, summed) index pair
    gathered = [
        _einsum_gather(labels, array, all_labels, grid)
        for labels, array in zip(operand_labels, arrays, strict=True)
    ]
    products = [_mul_all(list(factors)) for factors in zip(*gathered, strict=True)]
    out = [_add_all(products[i * n_sum : (i + 1) * n_sum]) for i in range(n_out)]
    return _result(out, out_shape)


def _einsum_parse(subscripts, operands) -> tuple:
    """The operands as arrays, the input terms, the arrow (``''`` if implicit) and the
    output term of an einsum call, checked against each other."""
    if not isinstance(subscripts, str):
        msg = (
            "einsum: the first argument must be a subscripts string such as 'ij,jk->ik'"
            f" (the interleaved operand/sublist form is not supported), got {subscripts!r}"
        )
        raise TypeError(msg)
    if not operands:
        msg = "einsum: at least one operand is required"
        raise ValueError(msg)
    arrays = [_as_array(op, "einsum operand") for op in operands]
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1 or ("-" in spec.replace("->", "")) or (">" in spec.replace("->", "")):
        msg = f"einsum: subscripts {subscripts!r} must contain '->' at most once"
        raise ValueError(msg)
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(arrays):
        msg = (
            f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s) but"
            f" {len(arrays)} were given"
        )
        raise ValueError(msg)
    return arrays, terms, arrow, rhs


def _einsum_expand(labels, n, n_ellipsis, array, term) -> list:
    """One label per axis of ``array``: its ``n`` ellipsis axes become the last ``n`` of
    ``range(n_ellipsis)``."""
    expanded = []
    for label in labels:
        if isinstance(label, tuple):
            expanded.extend(range(n_ellipsis - n, n_ellipsis))
        else:
            expanded.append(label)
    if len(expanded) != array.ndim:
        msg = (
            f"einsum: term {term!r} names {len(expanded)} dimensions but its operand"
            f" has shape {array.shape}"
        )
        raise ValueError(msg)
    return expanded


def _einsum_sizes(operand_labels, arrays, terms) -> dict:
    """``{label: size}``: sizes are equal within an operand; across operands size 1
    broadcasts."""
    sizes: dict = {}
    for labels, array, term in zip(operand_labels, arrays, terms, strict=True):
        own: dict = {}
        for label, size in zip(labels, array.shape, strict=True):
            if own.setdefault(label, size) != size:
                msg = (
                    f"einsum: repeated subscript {label!r} in term {term!r} labels"
                    f" dimensions of different sizes ({own[label]} != {size})"
                )
                raise ValueError(msg)
        for label, size in own.items():
            known = sizes.get(label, 1)
            if size != 1 and known not in (1, size):
                msg = (
                    f"einsum: subscript {label!r} labels dimensions of sizes {known} and"
                    f" {size}, which cannot be broadcast together"
                )
                raise ValueError(msg)
            sizes[label] = size if size != 1 else known
    return sizes


def _einsum_explicit_output(rhs: str, sizes: dict, n_ellipsis: int) -> list:
    """Labels of the output axes named after ``->``."""
    out_parsed, _ = _einsum_term(rhs, None, "output")
    out_labels = []
    for label in out_parsed:
        if isinstance(label, tuple):
            out_labels.extend(range(n_ellipsis))
        elif label not in sizes:
            msg = f"einsum: output subscript {label!r} does not appear in any input term"
            raise ValueError(msg)
        else:
            out_labels.append(label)
    if len(set(out_labels)) != len(out_labels):
        msg = f"einsum: output subscripts {rhs!r} repeat a label"
        raise ValueError(msg)
    if n_ellipsis and "..." not in rhs:
        msg = (
            f"einsum: the inputs have broadcast ('...') dimensions but the output"
            f" {rhs!r} has no '...'"
        )
        raise ValueError(msg)
    return out_labels


def _einsum_gather(labels, array, all_labels, grid) -> list:
    """The elements of ``array`` at every point of ``grid`` (one row per label of
    ``all_labels``, one column per point)."""
    flat = np.zeros(grid.shape[1], dtype=np.intp)
    stride = 1
    for label, size in zip(reversed(labels), reversed(array.shape), strict=True):
        if size != 1:
            flat += grid[all_labels.index(label)] * stride
        stride *= size
    data = array._data
    return [data[i] for i in flat.tolist()]


def trace(a, offset=0, axis1=0, axis2=1):
    """SymNum implementation of :py:obj:`numpy.trace`: the sum along a diagonal.

    A scalar for 2-D input; else an array of the shape of ``a`` without ``axis1`` and
    ``axis2``.
    """
    d = diagonal(a, offset, axis1, axis2)
    return _reduce(d, d.ndim - 1, _add_all)


# --------------------------------------------------------------------------------------
# NumPy 2's vector and matrix products, transposes


def vecdot(x1, x2, /, *args, axis=-1, **kwargs):
    """SymNum implementation of :py:obj:`numpy.vecdot` (NumPy 2): ``sum(conj(x1) * x2)``
    along ``axis`` of each operand.

    Both operands have the same length along ``axis``; their other axes broadcast, and
    the result has that broadcast shape (a scalar for two vectors). The further
    arguments of the NumPy ufunc (``out``, ``dtype``, ...) are not supported.
    """
    _reject_extra("vecdot", 2, args, kwargs)
    a, b = _array_operand(x1, "x1"), _array_operand(x2, "x2")
    if a.ndim == 0 or b.ndim == 0:
        msg = (
            f"vecdot: both operands must have at least one dimension, got shapes {a.shape}"
            f" and {b.shape}"
        )
        raise ValueError(msg)
    (axis_a,) = _normalize_axes(axis, a.ndim)
    (axis_b,) = _normalize_axes(axis, b.ndim)
    if a.shape[axis_a] != b.shape[axis_b]:
        msg = (
            f"vecdot: the vectors have different lengths: {a.shape[axis_a]} (axis {axis} of"
            f" shape {a.shape}) and {b.shape[axis_b]} (axis {axis} of shape {b.shape})"
        )
        raise ValueError(msg)
    if axis_a != a.ndim - 1:
        a = moveaxis(a, axis_a, -1)
    if axis_b != b.ndim - 1:
        b = moveaxis(b, axis_b, -1)
    # elementwise (so that rows of data stay a loop), then a sum over the last axis
    products = _elementwise(lambda x, y: _conj(x) * y, a, b, name="vecdot: operand")
    return _sum(products, axis=-1)


def _array_operand(x, name: str):
    """``x`` itself if it is an array (a long NumPy array may become a data array when
    it meets a symbolic one), else a SymbolicArray."""
    return x if isinstance(x, (SymbolicArray, np.ndarray)) else _as_array(x, name)


def _matrix_and_vector(name: str, x1, x2, *, matrix_first: bool):
    """The operands of ``matvec`` (a stack of matrices first) or ``vecmat`` (a stack of
    vectors first) as SymbolicArrays; ValueError for too few dimensions or unaligned
    contracted axes."""
    a, b = _array_operand(x1, "x1"), _array_operand(x2, "x2")
    matrix, vector = (a, b) if matrix_first else (b, a)
    if matrix.ndim < 2 or vector.ndim < 1:
        kinds = ("a matrix", "a vector") if matrix_first else ("a vector", "a matrix")
        least = (2, 1) if matrix_first else (1, 2)
        msg = (
            f"{name}: expected {kinds[0]} (at least {least[0]} dimensions) and {kinds[1]}"
            f" (at least {least[1]}), got shapes {a.shape} and {b.shape}"
        )
        raise ValueError(msg)
    inner = matrix.shape[-1] if matrix_first else matrix.shape[-2]
    if vector.shape[-1] != inner:
        msg = (
            f"{name}: shapes {a.shape} and {b.shape} not aligned: "
            f"{a.shape[-1]} != {b.shape[-1 if matrix_first else -2]}"
        )
        raise ValueError(msg)
    return a, b


def matvec(x1, x2, /, *args, **kwargs):
    """SymNum implementation of :py:obj:`numpy.matvec` (NumPy 2.2): the matrix-vector
    product ``x1 @ x2`` of stacks of matrices ``(..., m, n)`` and vectors ``(..., n)``.

    The batch axes broadcast; the result has the shape ``(*batch, m)``. The further
    arguments of the NumPy ufunc are not supported.
    """
    _reject_extra("matvec", 2, args, kwargs)
    a, b = _matrix_and_vector("matvec", x1, x2, matrix_first=True)
    if b.ndim == 1:
        return _matrix_multiply(a, b)
    product = _matrix_multiply(a, reshape(b, (*b.shape, 1)))
    return reshape(product, product.shape[:-1])


def vecmat(x1, x2, /, *args, **kwargs):
    """SymNum implementation of :py:obj:`numpy.vecmat` (NumPy 2.2): the vector-matrix
    product ``conj(x1) @ x2`` of stacks of vectors ``(..., n)`` and matrices
    ``(..., n, m)``.

    The batch axes broadcast; the result has the shape ``(*batch, m)``. The further
    arguments of the NumPy ufunc are not supported.
    """
    _reject_extra("vecmat", 2, args, kwargs)
    a, b = _matrix_and_vector("vecmat", x1, x2, matrix_first=False)
    conjugate = _elementwise(_conj, a, name="vecmat: x1")
    if a.ndim == 1:
        return _matrix_multiply(conjugate, b)
    product = _matrix_multiply(reshape(conjugate, (*a.shape[:-1], 1, a.shape[-1])), b)
    return reshape(product, (*product.shape[:-2], product.shape[-1]))


def matrix_transpose(x, /):
    """SymNum implementation of :py:obj:`numpy.matrix_transpose` (NumPy 2): the last two
    axes of ``x`` (at least 2-D) swapped, shape ``(..., n, m)`` for ``(..., m, n)``."""
    array = _as_array(x, "x")
    if array.ndim < 2:
        msg = (
            f"matrix_transpose: input array must be at least 2-dimensional, got shape {array.shape}"
        )
        raise ValueError(msg)
    return swapaxes(array, -1, -2)


def permute_dims(a, axes=None):
    """SymNum implementation of :py:obj:`numpy.permute_dims` (NumPy 2's name for
    :py:obj:`numpy.transpose`): the axes of ``a`` in the order ``axes`` (reversed if
    None); the shape is permuted likewise."""
    return transpose(a, axes)


# --------------------------------------------------------------------------------------
# Convolution, correlation, Vandermonde matrices

_MODES = ("valid", "same", "full")


def _mode(mode) -> str:
    """NumPy's convolve / correlate mode: 'valid', 'same', 'full' or 0, 1, 2."""
    if isinstance(mode, str):
        if mode not in _MODES:
            msg = f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})"
            raise ValueError(msg)
        return mode
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, (bool, np.bool_)):
        if not 0 <= mode <= 2:
            msg = f"integer convolve/correlate mode must be 0, 1, or 2, got {mode}"
            raise ValueError(msg)
        return _MODES[int(mode)]
    msg = f"convolve/correlate mode not understood: {mode!r}"
    raise TypeError(msg)


def _sequence(x, name: str, function: str) -> list:
    """The elements of the 1-D operand ``x`` of convolve / correlate (convolve, as NumPy,
    also takes a scalar as a sequence of one)."""
    array = _as_array(x, name)
    if array.ndim > 1 or (array.ndim == 0 and function == "correlate"):
        msg = f"{function}: {name} must be one-dimensional, got shape {array.shape}"
        raise ValueError(msg)
    if array.size == 0:
        msg = f"{function}: {name} cannot be empty"
        raise ValueError(msg)
    return list(array._data)


def _full_correlation(a: list, v: list) -> list:
    """``c[k] = sum_n a[n + k] * v[n]`` for ``k = -(len(v) - 1), ..., len(a) - 1``."""
    n, m = len(a), len(v)
    out = []
    for k in range(-(m - 1), n):
        out.append(_add_all([a[i + k] * v[i] for i in range(max(0, -k), min(m, n - k))]))
    return out


def _window(full: list, mode: str, start_same: int, longer: int, shorter: int) -> list:
    if mode == "full":
        return full
    if mode == "valid":
        return full[shorter - 1 : longer]
    return full[start_same : start_same + longer]


def convolve(a, v, mode="full"):
    """SymNum implementation of :py:obj:`numpy.convolve`: the discrete linear
    convolution ``sum_i a[i] * v[k - i]`` of two 1-D sequences.

    With ``N, M = len(a), len(v)``: ``mode='full'`` (default) gives length ``N + M - 1``,
    ``'same'`` length ``max(N, M)`` (centred as in NumPy) and ``'valid'`` length
    ``max(N, M) - min(N, M) + 1`` (where the sequences overlap fully). Convolution is
    symmetric in ``a`` and ``v``; as in NumPy, a scalar counts as a sequence of one.
    """
    mode = _mode(mode)
    first, second = _sequence(a, "a", "convolve"), _sequence(v, "v", "convolve")
    if len(second) > len(first):  # as NumPy: the longer one first
        first, second = second, first
    longer, shorter = len(first), len(second)
    full = _full_correlation(first, second[::-1])
    start = (shorter - 1) - shorter // 2
    values = _window(full, mode, start, longer, shorter)
    return SymbolicArray._from_flat(values, (len(values),))


def correlate(a, v, mode="valid"):
    """SymNum implementation of :py:obj:`numpy.correlate`: the cross-correlation
    ``c[k] = sum_n a[n + k] * conj(v[n])`` of two 1-D sequences.

    With ``N, M = len(a), len(v)``: ``mode='valid'`` (default) gives length
    ``max(N, M) - min(N, M) + 1``, ``'same'`` length ``max(N, M)`` and ``'full'`` length
    ``N + M - 1``, the lags ``k`` in increasing order, with NumPy's centring of 'same'
    (which differs when ``v`` is the longer sequence).
    """
    mode = _mode(mode)
    first, second = _sequence(a, "a", "correlate"), _sequence(v, "v", "correlate")
    n, m = len(first), len(second)
    full = _full_correlation(first, [_conj(x) for x in second])
    start = (m - 1) - m // 2 if n >= m else n // 2
    values = _window(full, mode, start, max(n, m), min(n, m))
    return SymbolicArray._from_flat(values, (len(values),))


def _powers(x, n: int, increasing: bool) -> list:
    exponents = range(n) if increasing else range(n - 1, -1, -1)
    return [_ONE if k == 0 else x if k == 1 else x**k for k in exponents]


def vander(x, N=None, increasing=False):  # noqa: N803 - NumPy's name
    """SymNum implementation of :py:obj:`numpy.vander`: the Vandermonde matrix of the 1-D
    ``x``, shape ``(len(x), N)`` (``N`` defaults to ``len(x)``).

    Column ``j`` is ``x ** (N - 1 - j)`` (``x ** j`` if ``increasing``); the power 0 is
    1. Rows of data stay a loop (one row of powers per data row).
    """
    array = x if isinstance(x, SymbolicArray) else _as_array(x, "x")
    if array.ndim != 1:
        msg = f"vander: x must be a one-dimensional array or sequence, got shape {array.shape}"
        raise ValueError(msg)
    n = array.shape[0] if N is None else _as_int(N, "vander: N")
    if n is None:
        msg = "vander: N is required for a data argument (its length is known only when called)"
        raise TypeError(msg)
    if n < 0:
        msg = f"vander: N must not be negative, got {n}"
        raise ValueError(msg)
    hooks = _array_module._data_hooks
    if hooks is not None and hooks.is_lazy(array):
        lazy = hooks.elementwise(
            lambda row: SymbolicArray._from_flat(_powers(row[()], n, increasing), (n,)), [array]
        )
        if lazy is not None:
            return lazy
    values = [p for el in array._data for p in _powers(el, n, increasing)]
    return SymbolicArray._from_flat(values, (array.shape[0], n))
