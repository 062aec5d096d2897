"""Symbolic arrays: NumPy-style n-dimensional arrays of SymPy expressions.

A :class:`SymbolicArray` is a flat Python list of SymPy objects in C order plus a shape
tuple. Elementwise operations are list comprehensions over that list, and every
structural operation (indexing, slicing, transposition, broadcasting, reductions) is
computed by applying the same NumPy operation to an array of *positions*
(``numpy.arange(size).reshape(shape)``), so the semantics are NumPy's own and no
``sympy.Array`` is built on any hot path.

Differentiation (:meth:`SymbolicArray.diff`) is the memoised chain rule of
:mod:`symnum.sym.differentiate`; elementwise operations build their results with the
unevaluated constructors of :mod:`symnum.sym.build` (:func:`apply_function` for
functions of compound arguments); dtypes are inferred by :mod:`symnum.sym.dtypes`. None of
them calls ``simplify`` or SymPy's assumption queries, which take minutes (or overflow the
stack) on modest sums. Results are exact, just not canonicalised.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from itertools import product
from typing import Any

import numpy as np
import sympy
from numpy.exceptions import AxisError
from sympy.core.basic import Basic
from sympy.logic.boolalg import Boolean

from symnum import _log
from symnum.ir import check_identifier
from symnum.sym.build import (
    _add,
    _as_number,
    _invert,
    _mul,
    _op_abs,
    _op_add,
    _op_and,
    _op_differ,
    _op_ge,
    _op_gt,
    _op_le,
    _op_lt,
    _op_mul,
    _op_neg,
    _op_or,
    _op_pow,
    _op_same,
    _op_sub,
    _op_truediv,
    _op_xor,
)
from symnum.sym.canonical import canonical_list
from symnum.sym.differentiate import _collect_symbols, _diff_elements, _symbol_masks
from symnum.sym.dtypes import infer_array_dtype, infer_scalar_dtype

# Still imported from here by symnum.numpy (to move to symnum.sym.* there); nothing else
# of symnum.sym is re-exported.
from symnum.sym.build import apply_function  # noqa: F401  # isort: skip
from symnum.sym.dtypes import _FLOAT, _expression_kind  # noqa: F401  # isort: skip

__all__ = [
    "ArrayLike",
    "FunctionExpression",
    "ScalarLike",
    "ShapeLike",
    "SymbolicArray",
    "as_symbolic_array",
    "binary_broadcasting_func",
    "infer_array_dtype",
    "infer_scalar_dtype",
    "is_array",
    "is_scalar",
    "is_sympy_array",
    "is_valid_shape",
    "named_array",
    "unary_elementwise_func",
]

SympyArray = sympy.NDimArray | sympy.MatrixBase
ScalarLike = sympy.Expr | Boolean | bool | int | float | complex | np.number
ShapeLike = int | tuple[int, ...] | sympy.Tuple
# ``ArrayLike`` is completed at the end of the module, once SymbolicArray exists.

#: The most elements a named (traced) array may have: each is a SymPy symbol, and
#: tracing millions of them takes minutes and gigabytes. Larger constant arrays (data)
#: are fine; they stay lazy.
MAX_NAMED_SIZE = 2**20

_SCALAR_TYPES = (sympy.Expr, Boolean, bool, int, float, complex, np.number, np.bool_)
_SYMPY_ARRAY_TYPES = (sympy.NDimArray, sympy.MatrixBase)


# --------------------------------------------------------------------------------------
# Predicates


def is_sympy_array(obj) -> bool:
    """Return whether ``obj`` is a SymPy array (``NDimArray``) or matrix."""
    return isinstance(obj, _SYMPY_ARRAY_TYPES)


def is_array(obj) -> bool:
    """Return whether ``obj`` is a SymbolicArray, NumPy array or SymPy array/matrix."""
    return isinstance(obj, (SymbolicArray, np.ndarray, *_SYMPY_ARRAY_TYPES))


def is_scalar(obj) -> bool:
    """Return whether ``obj`` is a symbolic or numeric scalar (not a 0-d array)."""
    if isinstance(obj, (str, bytes)):
        return False
    return isinstance(obj, _SCALAR_TYPES) or np.isscalar(obj)


def _is_int(obj) -> bool:
    return isinstance(obj, (int, np.integer, sympy.Integer)) and not isinstance(
        obj, (bool, np.bool_)
    )


def is_valid_shape(obj) -> bool:
    """Return whether ``obj`` is a valid array shape.

    A valid shape is a non-negative int or a tuple (or ``sympy.Tuple``) of non-negative
    ints.
    """
    if _is_int(obj):
        return int(obj) >= 0
    if isinstance(obj, (tuple, sympy.Tuple)):
        return all(_is_int(s) and int(s) >= 0 for s in obj)
    return False


def _normalize_shape(shape, what: str = "shape") -> tuple[int, ...]:
    """Return ``shape`` as a tuple of ints, raising TypeError/ValueError when invalid."""
    if shape is None:
        return ()
    if _is_int(shape):
        shape = (shape,)
    if isinstance(shape, (list, sympy.Tuple)):
        shape = tuple(shape)
    if not isinstance(shape, tuple) or not all(_is_int(s) for s in shape):
        msg = f"{what} must be an int or a tuple of ints, got {shape!r}"
        raise TypeError(msg)
    if any(int(s) < 0 for s in shape):
        msg = f"{what} must have non-negative dimensions, got {shape!r}"
        raise ValueError(msg)
    return tuple(int(s) for s in shape)


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for s in shape:
        size *= s
    return size


# --------------------------------------------------------------------------------------
# Conversion


def _to_basic(value):
    """Return ``value`` as a SymPy object (fast path for objects that already are)."""
    if isinstance(value, Basic):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    return sympy.sympify(value, strict=True)


def _flatten_nested(obj) -> tuple[list, tuple[int, ...]]:
    """Flatten a (possibly nested) sequence or array into a list of elements and a shape."""
    if isinstance(obj, SymbolicArray):
        return list(obj._data), obj._shape
    if isinstance(obj, np.ndarray):
        return [_to_basic(v) for v in obj.ravel().tolist()], obj.shape
    if isinstance(obj, sympy.MatrixBase):
        return list(obj), tuple(obj.shape)
    if isinstance(obj, sympy.NDimArray):
        return _flatten_ndim_array(obj)
    if isinstance(obj, (list, tuple)):
        return _flatten_sequence(obj)
    return [obj], ()


def _flatten_ndim_array(obj) -> tuple[list, tuple[int, ...]]:
    """Elements and shape of a SymPy N-dimensional array."""
    shape = tuple(obj.shape)
    if shape == ():
        return [obj[()]], ()
    flat = getattr(obj, "_array", None)
    if flat is None:
        flat = [obj[idx] for idx in product(*(range(s) for s in shape))]
    return list(flat), shape


def _flatten_sequence(obj) -> tuple[list, tuple[int, ...]]:
    """Elements and shape of a nested list or tuple; a ragged one is a ``ValueError``."""
    if len(obj) == 0:
        return [], (0,)
    parts = [_flatten_nested(item) for item in obj]
    inner = parts[0][1]
    if any(p[1] != inner for p in parts):
        shapes = [p[1] for p in parts]
        msg = (
            "cannot build an array from a ragged nested sequence: expected all items"
            f" to have the same shape, got shapes {shapes}"
        )
        raise ValueError(msg)
    return [e for p in parts for e in p[0]], (len(obj), *inner)


def _convert_operand(obj) -> SymbolicArray | None:
    """Convert an operand of a binary operation to a SymbolicArray, or None if unknown."""
    if isinstance(obj, SymbolicArray):
        return obj
    if isinstance(obj, (np.ndarray, *_SYMPY_ARRAY_TYPES, list, tuple)):
        return SymbolicArray(obj)
    if is_scalar(obj):
        try:
            return SymbolicArray._from_flat([_to_basic(obj)], ())
        except sympy.SympifyError:
            return None
    return None


def as_symbolic_array(array) -> SymbolicArray:
    """Return ``array`` as a :class:`SymbolicArray` (itself if it already is one).

    Accepts SymbolicArrays, NumPy arrays, SymPy arrays and matrices, nested sequences
    and scalars (giving a 0-d array).
    """
    if isinstance(array, SymbolicArray):
        return array
    return SymbolicArray(array)


# --------------------------------------------------------------------------------------
# Broadcasting helpers


def _positions(shape: tuple[int, ...]) -> np.ndarray:
    return np.arange(_size(shape), dtype=np.intp).reshape(shape)


def _broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        msg = "operands could not be broadcast together with shapes " + " ".join(
            str(s) for s in shapes
        )
        raise ValueError(msg) from None


def _broadcast_data(array: SymbolicArray, shape: tuple[int, ...]) -> list:
    """Return the flat element list of ``array`` broadcast to ``shape``."""
    if array._shape == shape:
        return array._data
    if array._shape == ():
        return array._data * _size(shape)
    data = array._data
    idx = np.broadcast_to(_positions(array._shape), shape).ravel().tolist()
    return [data[i] for i in idx]


#: :mod:`symnum.data` once imported (it imports this module): data arrays' hooks
_data_hooks = None


def _lazy_binary(func, a, b):
    """``func`` of ``a`` and ``b`` elementwise as a data array, or None (see symnum.data)."""
    hooks = _data_hooks
    if hooks is None or not hooks.involved(a, b):
        return None
    return hooks.elementwise(
        lambda x, y: _elementwise_binary(func, _convert_operand(x), _convert_operand(y)), (a, b)
    )


def _lazy_unary(func, a):
    hooks = _data_hooks
    if hooks is None or not hooks.involved(a):
        return None
    return hooks.elementwise(
        lambda x: SymbolicArray._from_flat(
            [_to_basic(func(v)) for v in _convert_operand(x)._data], _convert_operand(x)._shape
        ),
        (a,),
    )


def _elementwise_binary(func, a: SymbolicArray, b: SymbolicArray) -> SymbolicArray:
    if a._shape == b._shape:
        data = [func(x, y) for x, y in zip(a._data, b._data, strict=True)]
        shape = a._shape
    elif b._shape == ():
        y = b._data[0]
        data = [func(x, y) for x in a._data]
        shape = a._shape
    elif a._shape == ():
        x = a._data[0]
        data = [func(x, y) for y in b._data]
        shape = b._shape
    else:
        shape = _broadcast_shape(a._shape, b._shape)
        data = [
            func(x, y)
            for x, y in zip(_broadcast_data(a, shape), _broadcast_data(b, shape), strict=True)
        ]
    return SymbolicArray._from_flat([_to_basic(v) for v in data], shape)


def binary_broadcasting_func(func, name: str | None = None, doc: str | None = None):
    """Wrap a binary scalar function to act elementwise with NumPy broadcasting.

    The wrapped function applies ``func`` directly when both arguments are scalars and
    returns a :class:`SymbolicArray` of the broadcast shape when either is an array
    (SymbolicArray, NumPy or SymPy array, or nested list).

    Args:
        func: Function of two scalars returning a scalar.
        name: ``__name__`` of the wrapped function (default ``func.__name__``).
        doc: ``__doc__`` of the wrapped function (default ``func.__doc__``).
    """
    name = getattr(func, "__name__", "func") if name is None else name

    def wrapped(arg_1, arg_2):
        if is_scalar(arg_1) and is_scalar(arg_2):
            return func(arg_1, arg_2)
        lazy = _lazy_binary(func, arg_1, arg_2)
        if lazy is not None:
            return lazy
        a, b = _convert_operand(arg_1), _convert_operand(arg_2)
        if a is None or b is None:
            msg = (
                f"{name} expected scalars or arrays, got arguments of types"
                f" {type(arg_1).__name__} and {type(arg_2).__name__}"
            )
            raise TypeError(msg)
        return _elementwise_binary(func, a, b)

    wrapped.__name__ = name
    wrapped.__qualname__ = name
    wrapped.__doc__ = func.__doc__ if doc is None else doc
    return wrapped


def unary_elementwise_func(func, name: str | None = None, doc: str | None = None):
    """Wrap a unary scalar function to act elementwise on arrays.

    Scalars are passed to ``func`` directly; arrays (SymbolicArray, NumPy or SymPy
    arrays, nested lists) give a :class:`SymbolicArray` of the same shape.

    Args:
        func: Function of one scalar returning a scalar.
        name: ``__name__`` of the wrapped function (default ``func.__name__``).
        doc: ``__doc__`` of the wrapped function (default ``func.__doc__``).
    """
    name = getattr(func, "__name__", "func") if name is None else name

    def wrapped(arg):
        if is_scalar(arg):
            return func(arg)
        lazy = _lazy_unary(func, arg)
        if lazy is not None:
            return lazy
        array = _convert_operand(arg)
        if array is None:
            msg = f"{name} expected a scalar or an array, got {type(arg).__name__}"
            raise TypeError(msg)
        return SymbolicArray._from_flat([_to_basic(func(x)) for x in array._data], array._shape)

    wrapped.__name__ = name
    wrapped.__qualname__ = name
    wrapped.__doc__ = func.__doc__ if doc is None else doc
    return wrapped


def _normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    """Return ``axis`` (None, an int or a sequence of ints) as a tuple of axes in range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    normalized = []
    for ax in axes:
        if not _is_int(ax):
            msg = f"axis must be None, an int or a tuple of ints, got {axis!r}"
            raise TypeError(msg)
        ax = int(ax)  # noqa: PLW2901
        if not -ndim <= ax < ndim:
            raise AxisError(ax, ndim)
        normalized.append(ax % ndim)
    if len(set(normalized)) != len(normalized):
        msg = f"duplicate value in 'axis': {axis!r}"
        raise ValueError(msg)
    return tuple(normalized)


def _reduce(array: SymbolicArray, axis, combine, keepdims: bool):
    """Reduce ``array`` over ``axis`` by applying ``combine`` to lists of elements."""
    if array.ndim == 0 and _is_int(axis) and int(axis) in (0, -1):
        # NumPy (and SymNum 0.2.1) accept an int axis 0 / -1 on 0-d arrays: no-op
        axis = ()
    axes = _normalize_axes(axis, array.ndim)
    keep = tuple(ax for ax in range(array.ndim) if ax not in axes)
    out_shape = tuple(array._shape[ax] for ax in keep)
    if keepdims:
        final_shape = tuple(1 if ax in axes else s for ax, s in enumerate(array._shape))
    else:
        final_shape = out_shape
    data = array._data
    if not axes:
        result = list(data)
    elif len(keep) == 0:
        result = [combine(data)]
    else:
        groups = (
            _positions(array._shape).transpose(keep + axes).reshape(_size(out_shape), -1).tolist()
        )
        result = [combine([data[i] for i in group]) for group in groups]
    if final_shape == ():
        return result[0]
    return SymbolicArray._from_flat(result, final_shape)


def _add_all(terms):
    """Sum of SymPy terms, evaluated only if every term is an atom (see _cheap)."""
    terms = [_as_number(t) for t in terms]
    if all(not t.args for t in terms):
        return sympy.Add(*terms)
    return _add(terms)


def _mul_all(terms):
    """Product of SymPy factors, evaluated only if every factor is an atom (see _cheap)."""
    terms = [_as_number(t) for t in terms]
    if all(not t.args for t in terms):
        return sympy.Mul(*terms)
    return _mul(terms)


def _matrix_multiply(left, right):
    """NumPy ``matmul`` of two arrays of any number (>= 1) of dimensions.

    1-D operands are promoted to matrices (a row for the left, a column for the right
    operand) and the added axis is removed from the result; leading (batch) axes
    broadcast. Each element is a single ``sympy.Add`` of products, so building the
    product costs O(n) SymPy operations per element, not O(n**2).
    """
    if _data_hooks is not None:
        lazy = _data_hooks.matmul(left, right)
        if lazy is not None:
            return lazy
    a, b = as_symbolic_array(left), as_symbolic_array(right)
    if a.ndim == 0 or b.ndim == 0:
        msg = (
            "matmul: both operands must have at least one dimension (use * to multiply"
            f" by a scalar), got shapes {a.shape} and {b.shape}"
        )
        raise ValueError(msg)
    a_shape = (1, *a.shape) if a.ndim == 1 else a.shape
    b_shape = (*b.shape, 1) if b.ndim == 1 else b.shape
    n = a_shape[-1]
    if b_shape[-2] != n:
        msg = (
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: expected the last"
            f" axis of the first operand ({n}) to match the "
            f"{'only' if b.ndim == 1 else 'second-to-last'} axis of the second"
            f" ({b_shape[-2]})"
        )
        raise ValueError(msg)
    try:
        batch = tuple(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
    except ValueError:
        msg = (
            f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be"
            " broadcast together"
        )
        raise ValueError(msg) from None
    p, q = a_shape[-2], b_shape[-1]
    a_pos = np.broadcast_to(_positions(a.shape).reshape(a_shape), (*batch, p, n))
    b_pos = np.broadcast_to(_positions(b.shape).reshape(b_shape), (*batch, n, q))
    # the batch count spelled out: reshape(-1, ...) is ambiguous for empty operands
    count = math.prod(batch)
    a_rows = a_pos.reshape(count, p, n).tolist()
    b_cols = np.swapaxes(b_pos.reshape(count, n, q), 1, 2).tolist()
    ad, bd = a._data, b._data
    out = []
    for rows, cols in zip(a_rows, b_cols, strict=True):
        col_elems = [[bd[k] for k in col] for col in cols]
        for row in rows:
            row_elems = [ad[k] for k in row]
            out.extend(
                _add_all([_op_mul(x, y) for x, y in zip(row_elems, col, strict=True)])
                for col in col_elems
            )
    out_shape = batch + ((p,) if a.ndim > 1 else ()) + ((q,) if b.ndim > 1 else ())
    if out_shape == ():
        return out[0]
    return SymbolicArray._from_flat(out, out_shape)


def _is_basic_index(index) -> bool:
    """Whether ``index`` is NumPy basic indexing (ints, slices, Ellipsis, None)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        item is None
        or item is Ellipsis
        or isinstance(item, slice)
        or (isinstance(item, (int, np.integer, sympy.Integer)) and not isinstance(item, bool))
        for item in items
    )


def _normalize_index(index, shape):
    """Return ``index`` with SymPy integers converted, rejecting symbolic indices."""
    items = index if isinstance(index, tuple) else (index,)
    converted = []
    for item in items:
        if isinstance(item, SymbolicArray):
            if all(
                isinstance(e, (sympy.Integer, sympy.logic.boolalg.BooleanAtom)) for e in item._data
            ):
                item = np.array(item)  # noqa: PLW2901
            else:
                msg = (
                    "symbolic arrays cannot be used as indices: expected ints, slices,"
                    " Ellipsis, None or arrays of ints/bools with known values"
                )
                raise IndexError(msg)
        elif isinstance(item, sympy.Integer):
            item = int(item)  # noqa: PLW2901
        elif isinstance(item, sympy.Basic):
            msg = (
                f"symbolic index {item} is not supported: expected ints, slices,"
                " Ellipsis, None or arrays of ints/bools"
            )
            raise IndexError(msg)
        converted.append(item)
    return tuple(converted) if isinstance(index, tuple) else converted[0]


# --------------------------------------------------------------------------------------
# The array class


class _FlatView:
    """``SymbolicArray.flat``: iterate, index and assign elements in C order."""

    __slots__ = ("_array",)

    def __init__(self, array: SymbolicArray):
        self._array = array

    def __iter__(self):
        return iter(self._array._data)

    def __len__(self):
        return len(self._array._data)

    def __getitem__(self, index):
        result = self._array._data[index]
        return (
            SymbolicArray._from_flat(result, (len(result),)) if isinstance(index, slice) else result
        )

    def __setitem__(self, index, value):
        if not isinstance(index, (int, np.integer)):
            msg = "only integer indices are supported when assigning to .flat"
            raise TypeError(msg)
        index = int(index)
        size = len(self._array._data)
        if not -size <= index < size:
            msg = f"index {index} is out of bounds for size {size}"
            raise IndexError(msg)
        self._array._write([index % size], [_to_basic(value)])


class _AtIndexer:
    """``a.at[index]``: functional (copying) updates in the style of JAX."""

    __slots__ = ("_array",)

    def __init__(self, array: SymbolicArray):
        self._array = array

    def __getitem__(self, index) -> _AtUpdate:
        return _AtUpdate(self._array, index)


class _AtUpdate:
    __slots__ = ("_array", "_index")

    def __init__(self, array: SymbolicArray, index):
        self._array = array
        self._index = index

    def _apply(self, values, combine=None) -> SymbolicArray:
        result = self._array.copy()
        positions = result._index_positions(self._index)
        new = _broadcast_data(_setitem_values(values, positions.shape), positions.shape)
        data = result._data
        for pos, val in zip(positions.ravel().tolist(), new, strict=True):
            data[pos] = val if combine is None else _to_basic(combine(data[pos], val))
        return result

    def get(self):
        """Return ``a[index]``."""
        return self._array[self._index]

    def set(self, values) -> SymbolicArray:
        """Return a copy of the array with ``a[index] = values``."""
        return self._apply(values)

    def add(self, values) -> SymbolicArray:
        """Return a copy with ``values`` added at ``index`` (repeated indices accumulate)."""
        return self._apply(values, operator.add)

    def multiply(self, values) -> SymbolicArray:
        """Return a copy with the elements at ``index`` multiplied by ``values``."""
        return self._apply(values, operator.mul)

    def divide(self, values) -> SymbolicArray:
        """Return a copy with the elements at ``index`` divided by ``values``."""
        return self._apply(values, operator.truediv)

    def power(self, values) -> SymbolicArray:
        """Return a copy with the elements at ``index`` raised to ``values``."""
        return self._apply(values, operator.pow)

    def min(self, values) -> SymbolicArray:
        """Return a copy with the elements at ``index`` replaced by ``Min(a, values)``."""
        return self._apply(values, sympy.Min)

    def max(self, values) -> SymbolicArray:
        """Return a copy with the elements at ``index`` replaced by ``Max(a, values)``."""
        return self._apply(values, sympy.Max)


def _setitem_values(values, target_shape) -> SymbolicArray:
    """Convert assigned ``values`` to a SymbolicArray broadcastable to ``target_shape``."""
    array = _convert_operand(values)
    if array is None:
        msg = f"cannot assign a value of type {type(values).__name__} to a SymbolicArray"
        raise TypeError(msg)
    shape = array._shape
    # NumPy accepts surplus leading length-1 axes in the assigned value
    while len(shape) > len(target_shape) and shape[0] == 1:
        shape = shape[1:]
    if shape != array._shape:
        array = SymbolicArray._from_flat(array._data, shape)
    try:
        np.broadcast_shapes(shape, target_shape)
        if len(shape) > len(target_shape) or np.broadcast_shapes(shape, target_shape) != tuple(
            target_shape
        ):
            raise ValueError
    except ValueError:
        msg = (
            f"could not broadcast an assigned value of shape {array._shape} into the"
            f" indexed shape {tuple(target_shape)}"
        )
        raise ValueError(msg) from None
    return array


def _binary_method(func, name: str, reflected: bool = False):
    """Build an operator method applying ``func`` elementwise with broadcasting."""

    if reflected:

        def method(self, other):
            lazy = _lazy_binary(func, other, self)
            if lazy is not None:
                return lazy
            other_array = _convert_operand(other)
            if other_array is None:
                return NotImplemented
            return _elementwise_binary(func, other_array, self)

    else:

        def method(self, other):
            lazy = _lazy_binary(func, self, other)
            if lazy is not None:
                return lazy
            other_array = _convert_operand(other)
            if other_array is None:
                return NotImplemented
            return _elementwise_binary(func, self, other_array)

    method.__name__ = name
    method.__qualname__ = f"SymbolicArray.{name}"
    method.__doc__ = f"Elementwise :py:obj:`numpy.ndarray.{name}` with NumPy broadcasting."
    return method


def _unary_method(func, name: str):
    def method(self):
        lazy = _lazy_unary(func, self)
        if lazy is not None:
            return lazy
        return SymbolicArray._from_flat([_to_basic(func(x)) for x in self._data], self._shape)

    method.__name__ = name
    method.__qualname__ = f"SymbolicArray.{name}"
    method.__doc__ = f"Elementwise :py:obj:`numpy.ndarray.{name}`."
    return method


# NumPy ufuncs that are SymbolicArray operators: applied as the operator would be, so
# that ``ndarray + x``, ``ndarray == x`` and ``numpy.add(ndarray, x)`` agree with
# ``x.__radd__``, ``x.__eq__`` (as with SymNum 0.2.1, which let NumPy defer to them)
_UFUNC_BINARY_OPERATORS = {
    "add": _op_add,
    "subtract": _op_sub,
    "multiply": _op_mul,
    "divide": _op_truediv,
    "floor_divide": operator.floordiv,
    "remainder": operator.mod,
    "power": _op_pow,
    "equal": _op_same,
    "not_equal": _op_differ,
    "less": _op_lt,
    "less_equal": _op_le,
    "greater": _op_gt,
    "greater_equal": _op_ge,
    "bitwise_and": _op_and,
    "bitwise_or": _op_or,
    "bitwise_xor": _op_xor,
}
_UFUNC_UNARY_OPERATORS = {
    "negative": _op_neg,
    "positive": operator.pos,
    "invert": _invert,
}


def _ufunc_operator(func, inputs):
    """A ufunc that is an operator (``func``) applied as the operator, or None."""
    if len(inputs) == 2:
        lazy = _lazy_binary(func, *inputs)
        if lazy is not None:
            return lazy
        a, b = (_convert_operand(x) for x in inputs)
        if a is None or b is None:
            return None
        return _elementwise_binary(func, a, b)
    lazy = _lazy_unary(func, inputs[0])
    if lazy is not None:
        return lazy
    array = as_symbolic_array(inputs[0])
    return SymbolicArray._from_flat([_to_basic(func(x)) for x in array._data], array._shape)


def _symbolic_ufunc(ufunc, inputs):
    """Apply ``ufunc`` symbolically, or return None if symnum has no implementation.

    Operators act as the SymbolicArray operators; other ufuncs as the function of the
    same name in :mod:`symnum.numpy` (``numpy.exp(x)`` is ``symnum.numpy.exp(x)``).
    """
    name = ufunc.__name__
    if len(inputs) == 2 and name in _UFUNC_BINARY_OPERATORS:
        return _ufunc_operator(_UFUNC_BINARY_OPERATORS[name], inputs)
    if len(inputs) == 1 and name in _UFUNC_UNARY_OPERATORS:
        return _ufunc_operator(_UFUNC_UNARY_OPERATORS[name], inputs)
    if name == "matmul" and len(inputs) == 2:
        return _matrix_multiply(*inputs)
    func = _numpy_function(name)
    if func is None or not callable(func):
        return None
    return func(*inputs)


class SymbolicArray:
    """A NumPy-like n-dimensional array of SymPy expressions.

    Supports NumPy's operator overloading and broadcasting (with scalars, NumPy arrays,
    SymPy arrays and other SymbolicArrays on either side), indexing, slicing and
    assignment, reductions and matrix multiplication.

    Basic indexing (ints, slices, ``...``, ``None``), ``T`` / ``transpose``, ``reshape``
    and ``ravel`` return views in the sense that assigning into them writes through to
    this array (``a[0][1] = v`` works as in NumPy); unlike NumPy views they do not see
    later assignments to this array. Arrays made by :func:`named_array` are read-only.

    Args:
        object_: A scalar, a (nested) sequence of scalars or arrays, or an array
            (SymbolicArray, NumPy or SymPy).
        shape: Shape of the array. If given, the (flattened) elements of ``object_``
            are reshaped to it; by default the shape of ``object_`` is used.
        dtype: NumPy dtype used when converting to a NumPy array. By default it is
            inferred from the elements' assumptions (see :func:`infer_array_dtype`).
    """

    __slots__ = (
        "__weakref__",
        "_base",
        "_data",
        "_dtype",
        "_inferred_dtype",
        "_name",
        "_shape",
        "_writeable",
    )

    __array_priority__ = 1000
    # SymPy's call_highest_priority makes Matrix * x, Matrix @ x defer to us
    _op_priority = 1000.0

    def __init__(self, object_, shape=None, dtype=None):
        data, inferred_shape = _flatten_nested(object_)
        data = [_to_basic(v) for v in data]
        if shape is None:
            shape = inferred_shape
        else:
            shape = _normalize_shape(shape)
            if _size(shape) != len(data):
                msg = (
                    f"cannot build an array of shape {shape} from {len(data)} elements:"
                    f" expected {_size(shape)} elements"
                )
                raise ValueError(msg)
        self._data = data
        self._shape = shape
        self._dtype = None if dtype is None else np.dtype(dtype)
        self._inferred_dtype = None
        self._name = None
        self._base = None
        self._writeable = True

    @classmethod
    def _from_flat(cls, data: list, shape: tuple[int, ...], dtype=None) -> SymbolicArray:
        """Construct from a flat list of SymPy objects (not copied) and a valid shape."""
        array = object.__new__(cls)
        array._data = data
        array._shape = shape
        array._dtype = dtype
        array._inferred_dtype = None
        array._name = None
        array._base = None
        array._writeable = True
        return array

    def _view(self, positions: np.ndarray) -> SymbolicArray:
        """The elements at ``positions`` (an index array shaped like the result).

        Like a NumPy view, assignments to the result write through to this array (but
        unlike a view, the result does not see later assignments to this array).
        """
        if _data_hooks is not None:  # rows rearranged alike keep the data axis
            kept = _data_hooks.rearranged(self, positions)
            if kept is not None:
                return kept
        flat = positions.ravel().tolist()
        data = self._data
        view = SymbolicArray._from_flat([data[i] for i in flat], positions.shape, self._dtype)
        view._base = (self, flat)
        view._writeable = self._writeable
        return view

    def _write(self, positions: list, values: list) -> None:
        """Assign ``values`` at flat ``positions``, here and in the arrays viewed."""
        if not self._writeable:
            msg = (
                "assignment destination is read-only: arrays of symbols made by"
                " named_array (such as traced function arguments) cannot be modified;"
                " assign into a copy (x = x.copy()), a new array (snp.zeros(...)) or use"
                " x.at[index].set(value)"
            )
            raise ValueError(msg)
        array = self
        while array is not None:
            data = array._data
            for pos, val in zip(positions, values, strict=True):
                data[pos] = val
            array._inferred_dtype = None
            if array._base is None:
                break
            array, mapping = array._base
            positions = [mapping[p] for p in positions]

    # ---- basic attributes ------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        """Tuple of array dimensions."""
        return self._shape

    @property
    def ndim(self) -> int:
        """Number of array dimensions."""
        return len(self._shape)

    @property
    def size(self) -> int:
        """Number of elements in the array."""
        if None in self._shape:  # a data argument's rows: its error says so
            return len(self._data)
        return math.prod(self._shape)  # from the shape: a data array stays one template

    @property
    def dtype(self) -> np.dtype:
        """NumPy dtype of the array (given at construction or inferred from elements)."""
        if self._dtype is not None:
            return self._dtype
        if self._inferred_dtype is None:
            self._inferred_dtype = infer_array_dtype(self)
        return self._inferred_dtype

    @property
    def flat(self) -> _FlatView:
        """The elements in C order (iterable, indexable and assignable by int)."""
        return _FlatView(self)

    @property
    def at(self) -> _AtIndexer:
        """Functional updates: ``a.at[idx].set(v)`` / ``.add(v)`` return new arrays."""
        return _AtIndexer(self)

    @property
    def free_symbols(self) -> set:
        """Set of all free symbols of the elements."""
        return _collect_symbols(self._data)

    def __len__(self) -> int:
        if self._shape == ():
            msg = "len() of unsized object"
            raise TypeError(msg)
        return self._shape[0]

    def __iter__(self) -> Iterator:
        if self._shape == ():
            msg = "iteration over a 0-d array"
            raise TypeError(msg)
        if self.ndim == 1:
            return iter(list(self._data))
        return (self[i] for i in range(self._shape[0]))

    def __str__(self) -> str:
        return f"SymbolicArray({self.tolist()}, dtype={self._dtype})"

    __repr__ = __str__

    def _repr_latex_(self) -> str:
        if self._shape == ():
            return self._data[0]._repr_latex_()
        return sympy.ImmutableDenseNDimArray(self._data, self._shape)._repr_latex_()

    def tolist(self):
        """The elements as nested lists (the single element for a 0-d array)."""
        if self._shape == ():
            return self._data[0]
        if not self._data:
            return np.empty(self._shape).tolist()
        result = self._data
        for s in reversed(self._shape[1:]):
            result = [result[i : i + s] for i in range(0, len(result), s)]
        return list(result) if result is self._data else result

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if copy is False:
            msg = "a SymbolicArray cannot be converted to a NumPy array without copying"
            raise ValueError(msg)
        if self.free_symbols:
            if dtype is not None and np.dtype(dtype) != np.dtype(object):
                msg = (
                    "array contains free symbols, so it cannot be converted to a NumPy"
                    f" array of dtype {dtype}: expected dtype=None or object"
                )
                raise ValueError(msg)
            dtype = object
        elif dtype is None:
            dtype = self.dtype
        if self._shape == ():
            return np.array(self._data[0], dtype)
        result = np.empty(self.size, dtype)
        result[:] = (
            self._data if dtype == np.dtype(object) else [_numeric(v, dtype) for v in self._data]
        )
        return result.reshape(self._shape)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on SymbolicArrays.

        A plain call (``numpy.add(a, x)``, ``numpy.exp(x)``, and the operators of NumPy
        arrays and scalars with a SymbolicArray operand) gives the symbolic result: a
        SymbolicArray, as the corresponding operator or :mod:`symnum.numpy` function
        gives it. Anything else (reductions such as ``numpy.all``, ``out=`` and other
        options, ufuncs symnum does not implement) runs NumPy's ufunc on the elements
        as an object array, as SymNum 0.2.1 did, e.g. ``numpy.all(x == x)`` is True.
        """
        if method == "__call__" and not kwargs:
            result = _symbolic_ufunc(ufunc, inputs)
            if result is not None:
                return result
        if any(isinstance(out, SymbolicArray) for out in kwargs.get("out", ())):
            return NotImplemented
        arrays = [np.asarray(x) if isinstance(x, SymbolicArray) else x for x in inputs]
        return getattr(ufunc, method)(*arrays, **kwargs)

    def copy(self) -> SymbolicArray:
        """Return a (writeable) copy of the array (elements are immutable SymPy objects)."""
        result = SymbolicArray._from_flat(list(self._data), self._shape, self._dtype)
        result._name = self._name
        return result

    # ---- indexing ----------------------------------------------------------------------

    def _index_positions(self, index) -> np.ndarray:
        index = _normalize_index(index, self._shape)
        try:
            return _positions(self._shape)[index]
        except IndexError as err:
            msg = f"invalid index {index!r} for a SymbolicArray of shape {self._shape}: {err}"
            raise IndexError(msg) from None

    def __getitem__(self, index):
        if _data_hooks is not None:
            kept = _data_hooks.getitem(self, index)  # a data axis kept, or None
            if kept is not None:
                return kept
        data = self._data
        # fast path: a full tuple of ints selects one element
        if isinstance(index, tuple) and len(index) == len(self._shape):
            flat = 0
            for i, s in zip(index, self._shape, strict=True):
                if not isinstance(i, int) or isinstance(i, bool) or not -s <= i < s:
                    break
                flat = flat * s + (i % s)
            else:
                return data[flat]
        elif isinstance(index, int) and not isinstance(index, bool) and self.ndim == 1:
            n = self._shape[0]
            if -n <= index < n:
                return data[index]
        positions = self._index_positions(index)
        if positions.ndim == 0:
            return data[int(positions)]
        if _is_basic_index(index):
            # basic indexing gives a view in NumPy: a[0][1] = v must write into a
            return self._view(positions)
        return SymbolicArray._from_flat(
            [data[i] for i in positions.ravel().tolist()], positions.shape, self._dtype
        )

    def __setitem__(self, index, value) -> None:
        positions = self._index_positions(index)
        values = _broadcast_data(_setitem_values(value, positions.shape), positions.shape)
        self._write(positions.ravel().tolist(), list(values))

    # ---- shape manipulation ------------------------------------------------------------

    def reshape(self, *shape, order: str = "C") -> SymbolicArray:
        """Return the elements in a new shape (one dimension may be -1)."""
        if order != "C":
            msg = f"only order='C' is supported by SymbolicArray.reshape, got {order!r}"
            raise ValueError(msg)
        if len(shape) == 1 and not _is_int(shape[0]):
            shape = shape[0]
        if isinstance(shape, (list, sympy.Tuple)):
            shape = tuple(shape)
        if not isinstance(shape, tuple) or not all(_is_int(s) for s in shape):
            msg = f"shape must be an int or a tuple of ints, got {shape!r}"
            raise TypeError(msg)
        try:
            new_shape = np.empty((self.size,), dtype=np.bool_).reshape(shape).shape
        except ValueError:
            msg = f"cannot reshape array of size {self.size} into shape {shape}"
            raise ValueError(msg) from None
        return self._view(_positions(self._shape).reshape(new_shape))

    def flatten(self) -> SymbolicArray:
        """Return a copy of the array collapsed into one dimension."""
        if _data_hooks is not None and _data_hooks.is_lazy(self) and None not in self._shape:
            return self.ravel()  # the data axis kept if it can be (a known length)
        return SymbolicArray._from_flat(list(self._data), (self.size,), self._dtype)

    def ravel(self) -> SymbolicArray:
        """Return the array collapsed into one dimension (a view, as in NumPy)."""
        return self._view(_positions(self._shape).reshape(-1))

    def transpose(self, *axes) -> SymbolicArray:
        """Return the array with axes permuted (reversed by default)."""
        if len(axes) == 0 or (len(axes) == 1 and axes[0] is None):
            axes = None
        elif len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if axes is not None:
            normalized = _normalize_axes(axes, self.ndim)
            if len(normalized) != self.ndim:
                msg = f"axes {axes!r} don't match array of dimension {self.ndim}"
                raise ValueError(msg)
            axes = normalized
        return self._view(_positions(self._shape).transpose(axes))

    @property
    def T(self) -> SymbolicArray:  # noqa: N802
        """The array with its axes reversed."""
        return self.transpose()

    # ---- reductions --------------------------------------------------------------------

    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        """Sum of elements over ``axis`` (None, an int or a tuple of ints).

        Returns a SymPy scalar when the result is 0-dimensional.
        """
        _check_unsupported(dtype=dtype, out=out, **kwargs)
        if _data_hooks is not None and _data_hooks.is_lazy(self):  # a loop over the rows
            return _data_hooks.reduce(self, "sum", axis, keepdims)
        return _reduce(self, axis, _add_all, keepdims)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        """Product of elements over ``axis`` (None, an int or a tuple of ints).

        Returns a SymPy scalar when the result is 0-dimensional.
        """
        _check_unsupported(dtype=dtype, out=out, **kwargs)
        if _data_hooks is not None and _data_hooks.is_lazy(self):  # a loop over the rows
            return _data_hooks.reduce(self, "prod", axis, keepdims)
        return _reduce(self, axis, _mul_all, keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        """:func:`symnum.numpy.mean` of the array (what ``numpy.mean`` calls)."""
        return _numpy_function("mean")(self, axis, dtype, out, keepdims=keepdims, **kwargs)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        """:func:`symnum.numpy.var` of the array (what ``numpy.var`` calls)."""
        var = _numpy_function("var")
        return var(self, axis, dtype, out, ddof=ddof, keepdims=keepdims, **kwargs)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        """:func:`symnum.numpy.std` of the array (what ``numpy.std`` calls)."""
        std = _numpy_function("std")
        return std(self, axis, dtype, out, ddof=ddof, keepdims=keepdims, **kwargs)

    def max(self, axis=None, out=None, keepdims=False, **kwargs):
        """:func:`symnum.numpy.max` of the array (what ``numpy.max`` calls)."""
        return _numpy_function("amax")(self, axis, out, keepdims, **kwargs)

    def min(self, axis=None, out=None, keepdims=False, **kwargs):
        """:func:`symnum.numpy.min` of the array (what ``numpy.min`` calls)."""
        return _numpy_function("amin")(self, axis, out, keepdims, **kwargs)

    # ---- symbolic operations ------------------------------------------------------------

    def diff(self, *variables) -> SymbolicArray:
        """Differentiate every element with respect to one or more variables.

        Each variable is a SymPy symbol or an array of symbols; differentiating with
        respect to an array of shape ``s`` prepends ``s`` to the shape (SymPy's and
        SymNum 0.2.1's convention), so ``a.diff(x)`` has shape ``x.shape + a.shape`` and
        ``a.diff(x, y)`` has shape ``y.shape + x.shape + a.shape``. Nothing is
        simplified: the sum, product, power and chain rules are applied over the shared
        expression DAG (see the module docstring), and the result is put in SymPy's
        canonical form (so it equals what ``sympy.diff`` gives, as in SymNum 0.2.1).
        """
        result = self._derivative(*variables)
        return SymbolicArray._from_flat(canonical_list(result._data), result._shape, result._dtype)

    def _derivative(self, *variables) -> SymbolicArray:
        """:meth:`diff` without the canonical form: what differentiation builds, cheaply,
        for code generation and further differentiation."""
        result = self
        for variable in variables:
            if isinstance(variable, SymbolicArray) or is_sympy_array(variable):
                var = as_symbolic_array(variable)
                symbols, var_shape = var._data, var._shape
            else:
                symbols, var_shape = [_to_basic(variable)], ()
            data = result._data
            masks, bits = None, {}
            if len(symbols) > 1 and all(isinstance(s, sympy.Symbol) for s in symbols):
                # find once which sub-expressions contain which symbols
                bits = {s: 1 << i for i, s in enumerate(symbols)}
                masks = _symbol_masks(data, bits)
            with _log.phase("differentiate", elements=len(data) * len(symbols)):
                result = SymbolicArray._from_flat(
                    [d for s in symbols for d in _diff_elements(data, s, masks, bits.get(s, 0))],
                    var_shape + result._shape,
                    self._dtype,
                )
        return result

    def subs(self, *args) -> SymbolicArray:
        """Substitute in every element, as :py:meth:`sympy.Basic.subs`.

        Also accepts ``(old_array, new_array)`` pairs of SymbolicArrays (or a dict with
        array keys), which substitute elementwise.
        """
        if len(args) == 2 and not isinstance(args[0], (dict, list)):
            pairs = [(args[0], args[1])]
        elif len(args) == 1:
            pairs = list(args[0].items()) if isinstance(args[0], dict) else list(args[0])
        else:
            msg = "subs expects (old, new), a list of (old, new) pairs or a dict"
            raise TypeError(msg)
        expanded = []
        for old, new in pairs:
            if isinstance(old, SymbolicArray) or is_array(old):
                old_arr = as_symbolic_array(old)
                new_arr = _convert_operand(new)
                if new_arr is None:
                    msg = f"cannot substitute a {type(new).__name__} for an array"
                    raise TypeError(msg)
                expanded.extend(
                    zip(old_arr._data, _broadcast_data(new_arr, old_arr._shape), strict=True)
                )
            else:
                expanded.append((old, new))
        return SymbolicArray._from_flat(
            [el.subs(expanded) for el in self._data], self._shape, self._dtype
        )

    def xreplace(self, rule: dict) -> SymbolicArray:
        """Simultaneous structural replacement in every element (``Basic.xreplace``)."""
        return SymbolicArray._from_flat(
            [el.xreplace(rule) for el in self._data], self._shape, self._dtype
        )

    def simplify(self, **kwargs) -> SymbolicArray:
        """Return the array with every element simplified by :py:func:`sympy.simplify`."""
        return SymbolicArray._from_flat(
            [sympy.simplify(el, **kwargs) for el in self._data], self._shape, self._dtype
        )

    @property
    def real(self) -> SymbolicArray:
        """Elementwise real part."""
        return SymbolicArray._from_flat([sympy.re(el) for el in self._data], self._shape)

    @property
    def imag(self) -> SymbolicArray:
        """Elementwise imaginary part."""
        return SymbolicArray._from_flat([sympy.im(el) for el in self._data], self._shape)

    def conjugate(self) -> SymbolicArray:
        """Elementwise complex conjugate."""
        return SymbolicArray._from_flat(
            [sympy.conjugate(el) for el in self._data], self._shape, self._dtype
        )

    conj = conjugate

    # ---- operators -----------------------------------------------------------------------

    __add__ = _binary_method(_op_add, "__add__")
    __radd__ = _binary_method(_op_add, "__radd__", reflected=True)
    __sub__ = _binary_method(_op_sub, "__sub__")
    __rsub__ = _binary_method(_op_sub, "__rsub__", reflected=True)
    __mul__ = _binary_method(_op_mul, "__mul__")
    __rmul__ = _binary_method(_op_mul, "__rmul__", reflected=True)
    __truediv__ = _binary_method(_op_truediv, "__truediv__")
    __rtruediv__ = _binary_method(_op_truediv, "__rtruediv__", reflected=True)
    __floordiv__ = _binary_method(operator.floordiv, "__floordiv__")
    __rfloordiv__ = _binary_method(operator.floordiv, "__rfloordiv__", reflected=True)
    __mod__ = _binary_method(operator.mod, "__mod__")
    __rmod__ = _binary_method(operator.mod, "__rmod__", reflected=True)
    __pow__ = _binary_method(_op_pow, "__pow__")
    __rpow__ = _binary_method(_op_pow, "__rpow__", reflected=True)
    __and__ = _binary_method(_op_and, "__and__")
    __rand__ = _binary_method(_op_and, "__rand__", reflected=True)
    __or__ = _binary_method(_op_or, "__or__")
    __ror__ = _binary_method(_op_or, "__ror__", reflected=True)
    __xor__ = _binary_method(_op_xor, "__xor__")
    __rxor__ = _binary_method(_op_xor, "__rxor__", reflected=True)
    # Ordering comparisons give SymPy relationals (usable as conditions in
    # symnum.numpy.where). == and != compare elements structurally, as in SymNum 0.2.1
    # and SymPy (true or false, never a condition): symnum.numpy.equal / not_equal give
    # the elementwise Eq / Ne conditions.
    __lt__ = _binary_method(_op_lt, "__lt__")
    __le__ = _binary_method(_op_le, "__le__")
    __gt__ = _binary_method(_op_gt, "__gt__")
    __ge__ = _binary_method(_op_ge, "__ge__")
    __eq__ = _binary_method(_op_same, "__eq__")  # type: ignore[assignment]
    __ne__ = _binary_method(_op_differ, "__ne__")  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]

    __neg__ = _unary_method(_op_neg, "__neg__")
    __pos__ = _unary_method(operator.pos, "__pos__")
    __abs__ = _unary_method(_op_abs, "__abs__")
    __invert__ = _unary_method(_invert, "__invert__")

    def __matmul__(self, other):
        if not (is_array(other) or isinstance(other, (list, tuple))):
            return NotImplemented
        return _matrix_multiply(
            self, other if isinstance(other, np.ndarray) else as_symbolic_array(other)
        )

    def __rmatmul__(self, other):
        if not (is_array(other) or isinstance(other, (list, tuple))):
            return NotImplemented
        return _matrix_multiply(
            other if isinstance(other, np.ndarray) else as_symbolic_array(other), self
        )


def _numpy_function(name: str):
    """``symnum.numpy.<name>``, or None (that package builds on this module: looked up
    when called)."""
    import symnum.numpy  # noqa: PLC0415

    return getattr(symnum.numpy, name, None)


def _check_unsupported(**kwargs) -> None:
    for key, value in kwargs.items():
        if value is not None:
            msg = f"argument {key}={value!r} is not supported for SymbolicArray"
            raise NotImplementedError(msg)


def _numeric(value, dtype: np.dtype):
    """Convert a SymPy number (or boolean) to a Python number for NumPy."""
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        return int(value)
    if dtype.kind == "c":
        return complex(value)
    return float(value)


# --------------------------------------------------------------------------------------
# Construction


def named_array(name: str, shape, dtype=None) -> SymbolicArray:
    """Create an array of symbols sharing the name prefix ``name``.

    Elements are named ``name[i, j, ...]`` (``name`` itself for shape ``()``), e.g.
    ``named_array("a", (2, 2))`` has elements ``a[0, 0]``, ``a[0, 1]``, ``a[1, 0]`` and
    ``a[1, 1]``.

    Args:
        name: Array name: a Python identifier that is not a keyword.
        shape: Array shape: an int, a tuple of ints, or ``()`` / ``None`` for a 0-d array.
        dtype: NumPy dtype (default float64). Float dtypes give real symbols, integer
            (and bool) dtypes integer symbols and complex dtypes complex symbols (not
            known to be real).

    Returns:
        SymbolicArray of the given shape and dtype.
    """
    check_identifier(name, "array name")
    shape = _normalize_shape(shape)
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype.kind not in "biufc":
        msg = f"dtype must be a numeric NumPy dtype (float, complex or int), got {dtype}"
        raise TypeError(msg)
    # Only positive knowledge is declared: SymNum 0.2.1 also declared float symbols
    # non-integer and complex ones non-real, from which SymPy deduces x != 0, so that
    # Eq(x, 0) is False and where(x == 0, ...) would always take the second branch.
    if dtype.kind in "biu":
        assumptions = {"integer": True}
    elif dtype.kind == "f":
        assumptions = {"real": True}
    else:
        assumptions = {"complex": True}
    size = math.prod(shape)
    if size > MAX_NAMED_SIZE:
        # one SymPy symbol per element: refuse before spending minutes and gigabytes
        msg = (
            f"named_array {name!r} of shape {shape} has {size} elements; symbolic "
            f"arrays may have at most {MAX_NAMED_SIZE} (symnum.array.MAX_NAMED_SIZE)"
        )
        raise ValueError(msg)
    if shape == ():
        data = [sympy.Symbol(name, **assumptions)]
    else:
        data = [
            sympy.Symbol(f"{name}[{', '.join(map(str, index))}]", **assumptions)
            for index in product(*(range(s) for s in shape))
        ]
    array = SymbolicArray._from_flat(data, shape, dtype)
    array._name = name
    # traced arguments must stay the symbols: read-only, like a NumPy array whose
    # writeable flag is off
    array._writeable = False
    return array


class FunctionExpression:
    """A symbolic function: an expression (or array) of symbolic arguments.

    Calling it substitutes the given values for the argument symbols, simultaneously.

    Args:
        args: The symbolic arguments: SymbolicArrays of symbols or SymPy symbols.
        return_val: Expression or SymbolicArray (or a tuple of them) in those symbols.
    """

    __slots__ = ("args", "return_val")

    def __init__(self, args, return_val):
        self.args = tuple(args)
        self.return_val = return_val

    def __repr__(self) -> str:
        return f"FunctionExpression(args={self.args!r}, return_val={self.return_val!r})"

    def __call__(self, *values):
        if len(values) != len(self.args):
            msg = f"expected {len(self.args)} argument(s), got {len(values)}"
            raise TypeError(msg)
        rule: dict[Any, Any] = {}
        for arg, value in zip(self.args, values, strict=True):
            if isinstance(arg, SymbolicArray):
                value_array = _convert_operand(value)
                if value_array is None or value_array.shape != arg.shape:
                    got = getattr(value_array, "shape", type(value).__name__)
                    msg = f"expected an argument of shape {arg.shape}, got {got}"
                    raise ValueError(msg)
                rule.update(zip(arg._data, value_array._data, strict=True))
            else:
                rule[arg] = _to_basic(value)
        return _xreplace_tree(self.return_val, rule)


def _xreplace_tree(value, rule):
    if isinstance(value, tuple):
        return tuple(_xreplace_tree(v, rule) for v in value)
    if isinstance(value, SymbolicArray):
        return value.xreplace(rule)
    if isinstance(value, FunctionExpression):
        return FunctionExpression(value.args, _xreplace_tree(value.return_val, rule))
    return _to_basic(value).xreplace(rule)


ArrayLike = SympyArray | np.ndarray | SymbolicArray


# data arrays (lazy over data rows) hook into the operations above
from symnum import data as _data_module  # noqa: E402, F401
