"""Further NumPy API over symbolic arrays: contractions, shape manipulation, reductions.

Everything here is re-exported by :mod:`symnum.numpy`. Each function accepts
SymbolicArrays, NumPy arrays, SymPy arrays, nested lists and scalars, as NumPy does, and
follows NumPy's semantics (broadcasting, axis conventions, error types). On symbolic
input the results are SymPy expressions (0-d reductions) or SymbolicArrays; on numeric
input they hold the values NumPy computes, as SymPy numbers.

Structural operations (``reshape``, ``moveaxis``, ``stack``, ``diagonal``, ...) apply
the NumPy function itself to an integer array of element *positions* and gather the
elements, so shapes, axis handling and error messages are NumPy's own. Arithmetic
builds SymPy expressions directly: a contraction is one ``Add`` of products per output
element.

Maxima and minima are built as balanced trees of binary, unevaluated ``Max`` / ``Min``
nodes: SymPy's n-ary ``Max`` compares every pair of its arguments through the
assumption system, which takes seconds for a few dozen symbols, and its derivative
rebuilds an (n-1)-ary ``Max`` per argument. A binary tree costs ``n - 1`` nodes, and
the derivative of each node is that of the branch taken (see ``symnum.array``).

``logaddexp`` (and ``logaddexp2``, ``symnum.scipy.special.softplus``) is one SymPy node,
:class:`LogAddExp`, that lowering emits in the overflow-free form
``max(a, b) + log1p(exp(-|a - b|))``; its derivatives are overflow-free too.
``symnum.scipy.special.logsumexp`` shifts by a (binary-tree) maximum.
"""

from __future__ import annotations

import builtins
import itertools
import math
import operator

import numpy as np
import sympy
from sympy.codegen import numpy_nodes

from symnum.array import (
    SymbolicArray,
    _add_all,
    _broadcast_data,
    _broadcast_shape,
    _convert_operand,
    _matrix_multiply,
    _mul_all,
    _normalize_axes,
    _positions,
    _reduce,
    _to_basic,
    apply_function,
    is_scalar,
)
from symnum.sym.build import _piecewise

__all__ = [
    "amax",
    "amin",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_arrays",
    "broadcast_to",
    "clip",
    "column_stack",
    "cumprod",
    "cumsum",
    "diag",
    "diagonal",
    "dot",
    "dstack",
    "einsum",
    "expand_dims",
    "flip",
    "hstack",
    "inner",
    "logaddexp",
    "logaddexp2",
    "matmul",
    "max",
    "mean",
    "min",
    "moveaxis",
    "outer",
    "ravel",
    "reciprocal",
    "reshape",
    "square",
    "squeeze",
    "stack",
    "std",
    "swapaxes",
    "tensordot",
    "trace",
    "transpose",
    "var",
    "vdot",
    "vstack",
]

_ZERO = sympy.Integer(0)
_ONE = sympy.Integer(1)
_LN2 = sympy.log(2)
# the module defines ``max`` / ``min`` (NumPy's reductions), so the builtins by name
_builtin_max = builtins.max


# --------------------------------------------------------------------------------------
# Helpers


def _as_array(obj, name: str = "a") -> SymbolicArray:
    """``obj`` as a SymbolicArray (scalars give 0-d arrays); TypeError if impossible."""
    array = _convert_operand(obj)
    if array is None:
        msg = f"{name} must be a scalar or an array, got {type(obj).__name__}"
        raise TypeError(msg)
    return array


def _gather(array: SymbolicArray, positions: np.ndarray) -> SymbolicArray:
    """The elements of ``array`` at the (flat) ``positions``, in their shape."""
    data = array._data
    return SymbolicArray._from_flat([data[i] for i in positions.ravel().tolist()], positions.shape)


def _structural(array, numpy_func, *args, **kwargs) -> SymbolicArray:
    """Apply a NumPy shape function to ``array`` by applying it to element positions."""
    array = _as_array(array)
    return _gather(array, np.asarray(numpy_func(_positions(array.shape), *args, **kwargs)))


def _joined(arrays, numpy_func, name: str, **kwargs) -> SymbolicArray:
    """Apply a NumPy joining function (stack, hstack, ...) to a sequence of arrays."""
    if isinstance(arrays, SymbolicArray) or not isinstance(arrays, (list, tuple)):
        msg = f"{name} expects a list or tuple of arrays, got {type(arrays).__name__}"
        raise TypeError(msg)
    converted = [_as_array(a, f"{name} operand") for a in arrays]
    offsets = itertools.accumulate((a.size for a in converted), initial=0)
    positions = [_positions(a.shape) + off for a, off in zip(converted, offsets, strict=False)]
    data = [el for a in converted for el in a._data]
    result = np.asarray(numpy_func(positions, **kwargs))
    return SymbolicArray._from_flat([data[i] for i in result.ravel().tolist()], result.shape)


def _evalf_if_float(result, *inputs):
    """Evaluate a closed-form number to a Float when an input was a Float (as NumPy)."""
    if (
        any(getattr(x, "is_Float", False) for x in inputs)
        and not result.is_Number
        and result.is_number
    ):
        return result.evalf()
    return result


def _elementwise(scalar_func, *operands):
    """Apply ``scalar_func`` elementwise with broadcasting.

    Returns a scalar if every operand is a scalar, else a SymbolicArray.
    """
    if all(is_scalar(x) for x in operands):
        args = [_to_basic(x) for x in operands]
        return _evalf_if_float(scalar_func(*args), *args)
    arrays = [_as_array(x, "operand") for x in operands]
    shape = _broadcast_shape(*(a.shape for a in arrays))
    columns = [_broadcast_data(a, shape) for a in arrays]
    data = [
        _evalf_if_float(_to_basic(scalar_func(*args)), *args) for args in zip(*columns, strict=True)
    ]
    return SymbolicArray._from_flat(data, shape)


def _apply(func, *args):
    """Apply the SymPy function ``func``: lazily on expressions, accurately on floats.

    Expressions get :func:`symnum.array.apply_function` (no costly evaluation). Float
    arguments are evaluated by ``evalf`` of the unevaluated function: SymPy's automatic
    evaluation rewrites e.g. ``log1p(1e-22)`` as ``log(1 + 1e-22)``, whose ``evalf``
    gives 0.
    """
    if all(not a.args for a in args) and any(a.is_Float for a in args):
        value = func(*args, evaluate=False).evalf()
        if value.is_Number:
            return value
        return func(*args).evalf()
    return apply_function(func, *args)


def _as_int(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, np.integer, sympy.Integer)
    ):
        msg = f"{what} must be an int, got {value!r}"
        raise TypeError(msg)
    return int(value)


def _tree(combine, elements):
    """Combine ``elements`` pairwise in a balanced binary tree (depth log2(n))."""
    level = list(elements)
    while len(level) > 1:
        paired = [combine(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _max2(a, b):
    return a if a == b else _apply(sympy.Max, a, b)


def _min2(a, b):
    return a if a == b else _apply(sympy.Min, a, b)


def _reduction_unsupported(name: str, **kwargs) -> None:
    for key, value in kwargs.items():
        if value is not None:
            msg = f"{name}: argument {key}={value!r} is not supported"
            raise NotImplementedError(msg)


# --------------------------------------------------------------------------------------
# Products and contractions


def matmul(x1, x2):
    """SymNum implementation of :py:obj:`numpy.matmul` for any number of dimensions.

    1-D operands are promoted to a row (left) or a column (right) and the added axis is
    removed from the result; leading (batch) axes broadcast as in NumPy. Shapes
    ``(..., n, k) @ (..., k, m) -> (..., n, m)``; two 1-D operands give a scalar.
    """
    return _matrix_multiply(_as_array(x1, "x1"), _as_array(x2, "x2"))


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
    shape = tuple(a.shape[ax] for ax in free_a) + tuple(b.shape[ax] for ax in free_b)
    if shape == ():
        return out[0]
    return SymbolicArray._from_flat(out, shape)


def dot(a, b):
    """SymNum implementation of :py:obj:`numpy.dot`.

    Scalars multiply; 1-D with 1-D is the inner product (a scalar); otherwise the sum
    over the last axis of ``a`` and the second-to-last of ``b`` (the only axis if ``b``
    is 1-D).
    """
    if is_scalar(a) or is_scalar(b) or _as_array(a).ndim == 0 or _as_array(b).ndim == 0:
        return _elementwise(operator.mul, a, b)
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
    """SymNum implementation of :py:obj:`numpy.inner`: sum over the last axes of both."""
    if is_scalar(a) or is_scalar(b) or _as_array(a).ndim == 0 or _as_array(b).ndim == 0:
        return _elementwise(operator.mul, a, b)
    a, b = _as_array(a, "a"), _as_array(b, "b")
    if a.shape[-1] != b.shape[-1]:
        msg = (
            f"inner: shapes {a.shape} and {b.shape} not aligned: the last dimensions"
            f" ({a.shape[-1]} and {b.shape[-1]}) must match"
        )
        raise ValueError(msg)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


def vdot(a, b):
    """SymNum implementation of :py:obj:`numpy.vdot`: ``sum(conj(a.flat) * b.flat)``."""
    a, b = _as_array(a, "a"), _as_array(b, "b")
    if a.size != b.size:
        msg = f"vdot: vectors have different lengths: {a.size} and {b.size}"
        raise ValueError(msg)
    conj = [x if x.is_extended_real else sympy.conjugate(x) for x in a._data]
    return _add_all([x * y for x, y in zip(conj, b._data, strict=True)])


def outer(a, b):
    """SymNum implementation of :py:obj:`numpy.outer`: shape ``(a.size, b.size)``."""
    a, b = _as_array(a, "a"), _as_array(b, "b")
    return SymbolicArray._from_flat([x * y for x in a._data for y in b._data], (a.size, b.size))


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
    accepted and ignored. Each output element is one ``Add`` of products.
    """
    del optimize  # the contraction order does not matter symbolically
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
    # labels of each operand's axes; ellipsis axes get labels 0, 1, ... right-aligned
    parsed = [
        _einsum_term(t, a.ndim, f"term {i}")
        for i, (t, a) in enumerate(zip(terms, arrays, strict=True))
    ]
    n_ellipsis = _builtin_max((n for _, n in parsed), default=0)
    operand_labels = []
    for (labels, n), array, term in zip(parsed, arrays, terms, strict=True):
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
        operand_labels.append(expanded)
    # sizes: equal within an operand; across operands size 1 broadcasts
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
    letters_in = [label for labels in operand_labels for label in labels if isinstance(label, str)]
    if arrow:
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
    else:
        counts = {label: letters_in.count(label) for label in set(letters_in)}
        out_labels = [*range(n_ellipsis), *sorted(lb for lb, c in counts.items() if c == 1)]
    summed = [label for label in sizes if label not in out_labels]
    all_labels = out_labels + summed
    grid_shape = tuple(sizes[label] for label in all_labels)
    out_shape = grid_shape[: len(out_labels)]
    n_out = math.prod(out_shape)
    n_sum = math.prod(grid_shape[len(out_labels) :])
    grid = np.indices(grid_shape, dtype=np.intp).reshape(len(all_labels), -1)
    # flat element positions of each operand for every (output, summed) index pair
    gathered = []
    for labels, array in zip(operand_labels, arrays, strict=True):
        flat = np.zeros(grid.shape[1], dtype=np.intp)
        stride = 1
        for label, size in zip(reversed(labels), reversed(array.shape), strict=True):
            if size != 1:
                flat += grid[all_labels.index(label)] * stride
            stride *= size
        data = array._data
        gathered.append([data[i] for i in flat.tolist()])
    products = [_mul_all(list(factors)) for factors in zip(*gathered, strict=True)]
    out = [_add_all(products[i * n_sum : (i + 1) * n_sum]) for i in range(n_out)]
    if out_shape == ():
        return out[0]
    return SymbolicArray._from_flat(out, out_shape)


# --------------------------------------------------------------------------------------
# Diagonals


def diag(v, k=0):
    """SymNum implementation of :py:obj:`numpy.diag`.

    A 1-D ``v`` gives a 2-D array with ``v`` on its ``k``-th diagonal; a 2-D ``v`` gives
    its ``k``-th diagonal.
    """
    v = _as_array(v, "v")
    k = _as_int(k, "k")
    if v.ndim == 1:
        n = v.size + abs(k)
        data = [_ZERO] * (n * n)
        for i, el in enumerate(v._data):
            data[(i + _builtin_max(-k, 0)) * n + i + _builtin_max(k, 0)] = el
        return SymbolicArray._from_flat(data, (n, n))
    if v.ndim == 2:
        return _structural(v, np.diagonal, k)
    msg = f"diag: input must be 1-D or 2-D, got shape {v.shape}"
    raise ValueError(msg)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """SymNum implementation of :py:obj:`numpy.diagonal` (diagonal axis last)."""
    return _structural(a, np.diagonal, _as_int(offset, "offset"), axis1, axis2)


def trace(a, offset=0, axis1=0, axis2=1):
    """SymNum implementation of :py:obj:`numpy.trace`: sum along a diagonal.

    A scalar for 2-D input, else an array of the remaining axes.
    """
    d = diagonal(a, offset, axis1, axis2)
    return _reduce(d, d.ndim - 1, _add_all, False)


# --------------------------------------------------------------------------------------
# Shape manipulation and joining


def reshape(a, newshape=None, order="C", *, shape=None):
    """SymNum implementation of :py:obj:`numpy.reshape` (C order; one dimension may be -1)."""
    if order != "C":
        msg = f"reshape: only order='C' is supported, got {order!r}"
        raise NotImplementedError(msg)
    if (newshape is None) == (shape is None):
        msg = "reshape: give the new shape exactly once (as newshape or shape=)"
        raise TypeError(msg)
    return _as_array(a).reshape(newshape if shape is None else shape)


def ravel(a):
    """SymNum implementation of :py:obj:`numpy.ravel` (C order)."""
    return _as_array(a).flatten()


def transpose(a, axes=None):
    """SymNum implementation of :py:obj:`numpy.transpose`."""
    return _as_array(a).transpose(axes)


def swapaxes(a, axis1, axis2):
    """SymNum implementation of :py:obj:`numpy.swapaxes`."""
    return _structural(a, np.swapaxes, axis1, axis2)


def moveaxis(a, source, destination):
    """SymNum implementation of :py:obj:`numpy.moveaxis`."""
    return _structural(a, np.moveaxis, source, destination)


def flip(m, axis=None):
    """SymNum implementation of :py:obj:`numpy.flip`."""
    return _structural(m, np.flip, axis)


def broadcast_to(array, shape):
    """SymNum implementation of :py:obj:`numpy.broadcast_to`."""
    array = _as_array(array, "array")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(shape)
    try:
        positions = np.broadcast_to(_positions(array.shape), shape)
    except ValueError:
        msg = f"broadcast_to: cannot broadcast an array of shape {array.shape} to shape {shape}"
        raise ValueError(msg) from None
    return _gather(array, positions)


def broadcast_arrays(*args):
    """SymNum implementation of :py:obj:`numpy.broadcast_arrays` (returns a tuple)."""
    arrays = [_as_array(a, "operand") for a in args]
    shape = _broadcast_shape(*(a.shape for a in arrays))
    return tuple(SymbolicArray._from_flat(list(_broadcast_data(a, shape)), shape) for a in arrays)


def squeeze(a, axis=None):
    """SymNum implementation of :py:obj:`numpy.squeeze`."""
    return _structural(a, np.squeeze, axis)


def expand_dims(a, axis):
    """SymNum implementation of :py:obj:`numpy.expand_dims` (``axis``: int or tuple)."""
    return _structural(a, np.expand_dims, axis)


def atleast_1d(*arys):
    """SymNum implementation of :py:obj:`numpy.atleast_1d`."""
    result = [_structural(a, np.atleast_1d) for a in arys]
    return result[0] if len(result) == 1 else tuple(result)


def atleast_2d(*arys):
    """SymNum implementation of :py:obj:`numpy.atleast_2d`."""
    result = [_structural(a, np.atleast_2d) for a in arys]
    return result[0] if len(result) == 1 else tuple(result)


def atleast_3d(*arys):
    """SymNum implementation of :py:obj:`numpy.atleast_3d`."""
    result = [_structural(a, np.atleast_3d) for a in arys]
    return result[0] if len(result) == 1 else tuple(result)


def stack(arrays, axis=0):
    """SymNum implementation of :py:obj:`numpy.stack`: join along a new axis."""
    return _joined(arrays, np.stack, "stack", axis=axis)


def hstack(tup):
    """SymNum implementation of :py:obj:`numpy.hstack`."""
    return _joined(tup, np.hstack, "hstack")


def vstack(tup):
    """SymNum implementation of :py:obj:`numpy.vstack`."""
    return _joined(tup, np.vstack, "vstack")


def dstack(tup):
    """SymNum implementation of :py:obj:`numpy.dstack`."""
    return _joined(tup, np.dstack, "dstack")


def column_stack(tup):
    """SymNum implementation of :py:obj:`numpy.column_stack`."""
    return _joined(tup, np.column_stack, "column_stack")


# --------------------------------------------------------------------------------------
# Reductions


def _mean_of(elements):
    if not elements:
        return sympy.nan
    total = _add_all(elements)
    if total.is_Number:
        return total / len(elements)
    return sympy.Mul(sympy.Rational(1, len(elements)), total, evaluate=False)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.mean` (``axis``: None, int or tuple).

    A SymPy scalar when the result is 0-dimensional.
    """
    _reduction_unsupported("mean", dtype=dtype, out=out)
    return _reduce(_as_array(a), axis, _mean_of, keepdims)


def var(a, axis=None, dtype=None, out=None, *, ddof=0, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.var`: mean squared deviation (``ddof``)."""
    _reduction_unsupported("var", dtype=dtype, out=out)
    ddof = _as_int(ddof, "ddof")
    array = _as_array(a)
    axes = _normalize_axes(axis, array.ndim)
    count = math.prod(array.shape[ax] for ax in axes) - ddof
    centre = mean(array, axes, keepdims=True)
    squares = SymbolicArray._from_flat(
        [
            (x - c) ** 2
            for x, c in zip(array._data, _broadcast_data(centre, array.shape), strict=True)
        ],
        array.shape,
    )

    def scaled_sum(elements):
        total = _add_all(elements)
        if count <= 0:
            return sympy.nan
        if total.is_Number:
            return total / count
        return sympy.Mul(sympy.Rational(1, count), total, evaluate=False)

    if not axes:  # a reduction over no axes leaves each squared deviation (zero)
        return _elementwise(lambda x: scaled_sum([x]), squares)
    return _reduce(squares, axes, scaled_sum, keepdims)


def std(a, axis=None, dtype=None, out=None, *, ddof=0, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.std`: square root of :func:`var`."""
    v = var(a, axis, dtype, out, ddof=ddof, keepdims=keepdims)
    return _elementwise(lambda x: _apply(sympy.sqrt, x), v)


def _extremum(a, axis, keepdims, *, initial, where, name: str, combine):
    _reduction_unsupported(name, where=where)
    array = _as_array(a)
    extra = [] if initial is None else [_to_basic(initial)]
    axes = _normalize_axes(axis, array.ndim)
    if not extra and any(array.shape[ax] == 0 for ax in axes):
        msg = (
            f"zero-size array to reduction operation {name} which has no identity"
            f" (shape {array.shape}, axis {axis!r}); pass initial= to reduce empty arrays"
        )
        raise ValueError(msg)
    return _reduce(array, axis, lambda els: _tree(combine, [*els, *extra]), keepdims)


def amax(a, axis=None, out=None, keepdims=False, *, initial=None, where=None):
    """SymNum implementation of :py:obj:`numpy.max` / ``amax`` (``axis``: None, int, tuple).

    Built as a balanced tree of binary ``Max``; its derivative is that of the largest
    element (ties go to the first). A SymPy scalar when the result is 0-dimensional.
    """
    _reduction_unsupported("max", out=out)
    return _extremum(a, axis, keepdims, initial=initial, where=where, name="maximum", combine=_max2)


def amin(a, axis=None, out=None, keepdims=False, *, initial=None, where=None):
    """SymNum implementation of :py:obj:`numpy.min` / ``amin`` (``axis``: None, int, tuple).

    Built as a balanced tree of binary ``Min``; see :func:`amax`.
    """
    _reduction_unsupported("min", out=out)
    return _extremum(a, axis, keepdims, initial=initial, where=where, name="minimum", combine=_min2)


def _accumulate(a, axis, combine):
    array = _as_array(a)
    if axis is None:
        array = array.flatten()
        axis = 0
    if array.ndim == 0:
        array = array.reshape(1)
    (axis,) = _normalize_axes(_as_int(axis, "axis"), array.ndim)
    positions = np.moveaxis(_positions(array.shape), axis, -1)
    data = array._data
    result = np.empty(positions.shape, dtype=object)
    for index in np.ndindex(positions.shape[:-1]):
        running = None
        for j, pos in enumerate(positions[index].tolist()):
            el = data[pos]
            running = el if running is None else combine(running, el)
            result[(*index, j)] = running
    result = np.moveaxis(result, -1, axis)
    return SymbolicArray._from_flat(list(result.ravel()), result.shape)


def _running_add(total, el):
    # unevaluated nesting keeps every partial sum a shared node (O(n) operations)
    if total.is_Number and el.is_Number:
        return total + el
    return sympy.Add(total, el, evaluate=False)


def _running_mul(total, el):
    if total.is_Number and el.is_Number:
        return total * el
    return sympy.Mul(total, el, evaluate=False)


def cumsum(a, axis=None):
    """SymNum implementation of :py:obj:`numpy.cumsum` (flattened when ``axis`` is None)."""
    return _accumulate(a, axis, _running_add)


def cumprod(a, axis=None):
    """SymNum implementation of :py:obj:`numpy.cumprod` (flattened when ``axis`` is None)."""
    return _accumulate(a, axis, _running_mul)


# --------------------------------------------------------------------------------------
# Elementwise functions


def _clip_scalar(x, low, high):
    if low is not None:
        x = _max2(x, low)
    if high is not None:
        x = _min2(x, high)
    return x


def clip(a, a_min=None, a_max=None, *, min=None, max=None):
    """SymNum implementation of :py:obj:`numpy.clip`: ``minimum(maximum(a, a_min), a_max)``.

    ``a_min`` / ``a_max`` (or ``min=`` / ``max=``) broadcast against ``a``; either may
    be None, not both.
    """
    if min is not None:
        if a_min is not None:
            msg = "clip: pass the lower bound as a_min or min=, not both"
            raise TypeError(msg)
        a_min = min
    if max is not None:
        if a_max is not None:
            msg = "clip: pass the upper bound as a_max or max=, not both"
            raise TypeError(msg)
        a_max = max
    if a_min is None and a_max is None:
        msg = "clip: at least one of a_min (min=) and a_max (max=) must be given"
        raise ValueError(msg)
    if a_min is None:
        return _elementwise(lambda x, hi: _clip_scalar(x, None, hi), a, a_max)
    if a_max is None:
        return _elementwise(lambda x, lo: _clip_scalar(x, lo, None), a, a_min)
    return _elementwise(_clip_scalar, a, a_min, a_max)


def square(x):
    """SymNum implementation of :py:obj:`numpy.square`: ``x**2``."""
    return _elementwise(lambda v: v**2, x)


def reciprocal(x):
    """SymNum implementation of :py:obj:`numpy.reciprocal`: ``1 / x``."""
    return _elementwise(lambda v: 1 / v, x)


class LogAddExp(numpy_nodes.logaddexp):
    """``log(exp(a) + exp(b))`` as one SymPy node, with overflow-free derivatives.

    Lowering emits it as ``max(a, b) + log1p(exp(-|a - b|))``. Its partial derivative
    in ``a`` is the logistic function of ``a - b``, written branchwise so that no
    derivative of any order overflows, and smooth at ``a == b`` (where a sum of
    ``max`` and ``|a - b|`` terms would depend on how ties are broken).
    """

    def fdiff(self, argindex=1):
        if argindex not in (1, 2):
            raise sympy.ArgumentIndexError(self, argindex)
        wrt, other = self.args if argindex == 1 else self.args[::-1]
        gap = wrt - other
        return _piecewise(
            [
                (1 / (1 + sympy.exp(-gap)), gap >= 0),
                (sympy.exp(gap) / (1 + sympy.exp(gap)), sympy.true),
            ]
        )


def _logaddexp_scalar(a, b):
    if not a.args and not b.args and a.is_Number and b.is_Number:
        return sympy.Float(float(np.logaddexp(float(a), float(b))))
    if a == b:
        return a + sympy.log(2)
    return LogAddExp(a, b)


def logaddexp(x1, x2):
    """SymNum implementation of :py:obj:`numpy.logaddexp`: ``log(exp(x1) + exp(x2))``.

    Computed as ``max(x1, x2) + log1p(exp(-|x1 - x2|))``, which neither overflows nor
    loses precision; the derivative in ``x1`` is ``1 / (1 + exp(x2 - x1))``.
    """
    return _elementwise(_logaddexp_scalar, x1, x2)


def _logaddexp2_scalar(a, b):
    if not a.args and not b.args and a.is_Number and b.is_Number:
        return sympy.Float(float(np.logaddexp2(float(a), float(b))))
    return _logaddexp_scalar(a * _LN2, b * _LN2) / _LN2


def logaddexp2(x1, x2):
    """SymNum implementation of :py:obj:`numpy.logaddexp2`: ``log2(2**x1 + 2**x2)``."""
    return _elementwise(_logaddexp2_scalar, x1, x2)


# ``max`` and ``min`` are NumPy's names for the reductions; defined last so that the
# builtins stay usable above.
max = amax
min = amin
