"""Constants and array creation of :mod:`symnum.numpy`.

Constants are SymPy's exact singletons (``pi``, ``inf``, ``nan``, ...). ``eye``,
``ones``, ``zeros``, ``full``, ``identity`` and the ``*_like`` functions build
SymbolicArrays of SymPy numbers (as SymNum 0.2.1 does). ``array``, ``asarray``,
``asanyarray``, ``copy``, ``arange``, ``linspace``, ``logspace``, ``geomspace`` and
``meshgrid`` build SymbolicArrays only if their input holds symbolic values (SymPy
objects or SymbolicArrays) and NumPy's own arrays otherwise, usable as constants. The
index helpers (``tril_indices``, ``triu_indices``, ``diag_indices``, ``indices``,
``ix_``, ``tri`` and the ``*_from`` variants, which read only the shape of their array)
return NumPy's integer arrays, for indexing and assigning into symbolic arrays.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import sympy
from sympy import S

from symnum.array import (
    SymbolicArray,
    _broadcast_data,
    _broadcast_shape,
    _normalize_shape,
    _positions,
    _to_basic,
    is_sympy_array,
)
from symnum.numpy._base import _as_array
from symnum.numpy.shape import _pooled, expand_dims, moveaxis, reshape

__all__ = [
    "NAN",
    "NINF",
    "PINF",
    "Inf",
    "Infinity",
    "NaN",
    "arange",
    "array",
    "asanyarray",
    "asarray",
    "copy",
    "diag_indices",
    "diag_indices_from",
    "e",
    "empty_like",
    "euler_gamma",
    "eye",
    "full",
    "full_like",
    "geomspace",
    "identity",
    "indices",
    "inf",
    "infty",
    "ix_",
    "linspace",
    "logspace",
    "meshgrid",
    "nan",
    "newaxis",
    "ones",
    "ones_like",
    "pi",
    "tri",
    "tril_indices",
    "tril_indices_from",
    "triu_indices",
    "triu_indices_from",
    "zeros",
    "zeros_like",
]

pi = S.Pi
inf = infty = Inf = Infinity = PINF = S.Infinity
nan = NaN = NAN = S.NaN
NINF = S.NegativeInfinity
e = S.Exp1
euler_gamma = S.EulerGamma
newaxis = None


def _contains_symbolic(obj) -> bool:
    if isinstance(obj, (SymbolicArray, sympy.Basic)) or is_sympy_array(obj):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_symbolic(item) for item in obj)
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        return any(_contains_symbolic(item) for item in obj.flat)
    return False


def array(object_, dtype=None):
    """SymNum implementation of :py:obj:`numpy.array`.

    Returns a SymbolicArray (the shape of the nested input) if ``object_`` holds
    symbolic values (SymPy objects or SymbolicArrays) and a NumPy array otherwise;
    SymbolicArrays and numeric NumPy arrays are returned unchanged.
    """
    if isinstance(object_, SymbolicArray) or (
        isinstance(object_, np.ndarray) and object_.dtype != object
    ):
        return object_
    if _contains_symbolic(object_):
        return SymbolicArray(object_, dtype=dtype)
    return np.array(object_, dtype)


def _dtype(dtype):
    return None if dtype is None else np.dtype(dtype)


def _constant_array(value, shape, dtype=None) -> SymbolicArray:
    shape = _normalize_shape(shape)
    return SymbolicArray._from_flat([_to_basic(value)] * math.prod(shape), shape, _dtype(dtype))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803
    """SymNum implementation of :py:obj:`numpy.eye`: shape ``(N, M)`` (``M`` default ``N``).

    Ones on the ``k``-th diagonal (0 the main one, positive above), zeros elsewhere.
    """
    M = N if M is None else M  # noqa: N806
    one, zero = S.One, S.Zero
    data = [one if j - i == k else zero for i in range(N) for j in range(M)]
    return SymbolicArray._from_flat(data, (N, M), _dtype(dtype))


def identity(n, dtype=None):
    """SymNum implementation of :py:obj:`numpy.identity`: the ``(n, n)`` identity."""
    return eye(n, n, 0, dtype)


def ones(shape, dtype=None):
    """SymNum implementation of :py:obj:`numpy.ones`: ones of ``shape`` (int or tuple)."""
    return _constant_array(1, shape, dtype)


def zeros(shape, dtype=None):
    """SymNum implementation of :py:obj:`numpy.zeros`: zeros of ``shape`` (int or tuple)."""
    return _constant_array(0, shape, dtype)


def full(shape, fill_value, dtype=None):
    """SymNum implementation of :py:obj:`numpy.full`: ``fill_value`` (a scalar, possibly
    symbolic) repeated in ``shape`` (int or tuple)."""
    return _constant_array(fill_value, shape, dtype)


# --------------------------------------------------------------------------------------
# Arrays like another one


_ORDERS = ("C", "F", "A", "K")


def _like(a, value, dtype, order, shape) -> SymbolicArray:
    """``value`` (broadcast) in the shape of ``a`` (or ``shape``); with ``dtype`` None,
    the dtype of ``a`` if it is a NumPy array and ``value`` holds numbers."""
    if order not in _ORDERS:
        msg = f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})"
        raise ValueError(msg)
    if shape is None:
        shape = a.shape if isinstance(a, SymbolicArray) else np.shape(a)
    fill = _as_array(value, "fill_value")
    positions = np.broadcast_to(_positions(fill.shape), _normalize_shape(shape))
    if dtype is None and isinstance(a, np.ndarray) and all(v.is_Number for v in fill._data):
        dtype = a.dtype
    data = fill._data
    values = [data[i] for i in positions.ravel().tolist()]
    return SymbolicArray._from_flat(values, positions.shape, _dtype(dtype))


def zeros_like(a, dtype=None, order="K", subok=True, shape=None):
    """SymNum implementation of :py:obj:`numpy.zeros_like`: zeros of the shape of ``a``
    (or ``shape``), a SymbolicArray as :func:`zeros` gives. ``order`` and ``subok`` only
    concern memory layout and subclasses, and are ignored."""
    return _like(a, 0, dtype, order, shape)


def ones_like(a, dtype=None, order="K", subok=True, shape=None):
    """SymNum implementation of :py:obj:`numpy.ones_like`: ones of the shape of ``a``
    (or ``shape``), a SymbolicArray as :func:`ones` gives. ``order`` and ``subok`` only
    concern memory layout and subclasses, and are ignored."""
    return _like(a, 1, dtype, order, shape)


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):  # noqa: PLR0917 - NumPy's
    """SymNum implementation of :py:obj:`numpy.full_like`: ``fill_value`` (possibly
    symbolic; a scalar, or an array broadcast) repeated in the shape of ``a`` (or
    ``shape``), a SymbolicArray as :func:`full` gives. ``order`` and ``subok`` are
    ignored."""
    return _like(a, fill_value, dtype, order, shape)


def empty_like(prototype, dtype=None, order="K", subok=True, shape=None):
    """SymNum implementation of :py:obj:`numpy.empty_like`: an array of the shape of
    ``prototype`` (or ``shape``). Symbolic arrays have no uninitialised memory: the
    elements are zeros, as :func:`zeros_like` gives."""
    return _like(prototype, 0, dtype, order, shape)


# --------------------------------------------------------------------------------------
# Conversion and copies


def asarray(a, dtype=None, order=None):
    """SymNum implementation of :py:obj:`numpy.asarray`: ``a`` as an array of its shape.

    A SymbolicArray (``a`` itself if it is one and ``dtype`` is None or its dtype) if
    ``a`` holds symbolic values, else NumPy's ``asarray(a, dtype, order)``.
    """
    if not _contains_symbolic(a):
        return np.asarray(a, dtype=dtype, order=order)
    if isinstance(a, SymbolicArray) and (dtype is None or a._dtype == np.dtype(dtype)):
        return a
    return SymbolicArray(a, dtype=dtype)


def asanyarray(a, dtype=None, order=None):
    """SymNum implementation of :py:obj:`numpy.asanyarray`: ``a`` as an array of its
    shape, as :func:`asarray` gives it (NumPy's subclasses kept for numbers)."""
    if not _contains_symbolic(a):
        return np.asanyarray(a, dtype=dtype, order=order)
    return asarray(a, dtype)


def copy(a, order="K", subok=False):
    """SymNum implementation of :py:obj:`numpy.copy`: a new array of ``a``'s shape and
    elements: a writeable SymbolicArray if ``a`` holds symbolic values (also for the
    read-only arrays of :func:`~symnum.named_array`), else NumPy's copy."""
    if not _contains_symbolic(a):
        return np.copy(a, order=order, subok=subok)
    if isinstance(a, SymbolicArray):
        return SymbolicArray._from_flat(list(a._data), a.shape, a._dtype)
    return SymbolicArray(a)


# --------------------------------------------------------------------------------------
# Ranges and grids


def _scalar(value, what: str):
    """A scalar or 0-d array as a SymPy scalar; TypeError for other arrays."""
    array = _as_array(value, what)
    if array.shape != ():
        msg = f"arange: {what} must be a scalar, got an array of shape {array.shape}"
        raise TypeError(msg)
    return array._data[0]


def arange(start, stop=None, step=None, dtype=None):
    """SymNum implementation of :py:obj:`numpy.arange`: ``start, start + step, ...``
    below ``stop`` (``arange(stop)`` starts at 0; ``step`` defaults to 1).

    NumPy's array for numbers. With symbolic ``start``, ``stop`` or ``step`` (scalars),
    a 1-D SymbolicArray of length ``ceil((stop - start) / step)``, which must not
    depend on the symbols (``arange(x, x + 3)`` is ``[x, x + 1, x + 2]``); else
    ValueError.
    """
    if not _contains_symbolic((start, stop, step)):
        return np.arange(start, stop, step, dtype=dtype)
    if stop is None:
        start, stop = 0, start
    start, stop = _scalar(start, "start"), _scalar(stop, "stop")
    step = S.One if step is None else _scalar(step, "step")
    if step == 0:
        msg = "division by zero"
        raise ZeroDivisionError(msg)
    length = sympy.ceiling((stop - start) / step)
    if not length.is_Integer:
        msg = (
            "arange: the number of elements, ceil((stop - start) / step) ="
            f" {length}, must not depend on symbols"
        )
        raise ValueError(msg)
    data = [start + i * step for i in range(max(int(length), 0))]
    return SymbolicArray._from_flat(data, (len(data),), None if dtype is None else np.dtype(dtype))


def _spaced(start, stop, num, endpoint, *, axis, element) -> tuple[SymbolicArray, tuple]:
    """``num`` samples ``element(first, last, i, div)`` between the (broadcast) elements
    of ``start`` and ``stop`` along a new ``axis``, ``stop`` itself last if
    ``endpoint``; also the broadcast shape of ``start`` and ``stop``."""
    num = operator.index(num)
    start, stop = _as_array(start, "start"), _as_array(stop, "stop")
    shape = _broadcast_shape(start.shape, stop.shape)
    # NumPy's checks of num and axis, on numbers of the same shapes
    np.linspace(np.zeros(shape), np.ones(shape), num, endpoint, axis=axis)
    div = num - 1 if endpoint else num
    pairs = list(zip(_broadcast_data(start, shape), _broadcast_data(stop, shape), strict=True))
    data = [element(first, last, i, div) for i in range(num) for first, last in pairs]
    if endpoint and num > 1:
        data[-len(pairs) or len(data) :] = [last for _, last in pairs]
    samples = SymbolicArray._from_flat(data, (num, *shape))
    return moveaxis(samples, 0, axis), shape


def _linear(first, last, i, div):
    return first if i == 0 else first + i * (last - first) / div


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):  # noqa: PLR0917 - NumPy's
    """SymNum implementation of :py:obj:`numpy.linspace`: ``num`` evenly spaced samples
    from ``start`` to ``stop`` (included if ``endpoint``).

    NumPy's array for numbers. With symbolic ``start`` or ``stop`` (scalars or arrays,
    broadcast together to shape ``s``) a SymbolicArray of shape ``(num, *s)`` (the
    samples axis at ``axis``) with the samples ``start + i * (stop - start) / div``
    (``div`` is ``num - 1`` if ``endpoint``, else ``num``); with ``retstep`` also
    ``(stop - start) / div`` (NaN if ``div`` is 0). An integer ``dtype`` floors.
    """
    if not _contains_symbolic((start, stop)):
        return np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
    samples, shape = _spaced(start, stop, num, endpoint, axis=axis, element=_linear)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if np.issubdtype(dtype, np.integer):
            samples = SymbolicArray._from_flat(
                [sympy.floor(v) for v in samples._data], samples.shape
            )
        samples._dtype = dtype
    if not retstep:
        return samples
    div = num - 1 if endpoint else num
    if div <= 0:
        return samples, S.NaN
    start, stop = _as_array(start, "start"), _as_array(stop, "stop")
    steps = [
        (b - a) / div
        for a, b in zip(_broadcast_data(start, shape), _broadcast_data(stop, shape), strict=True)
    ]
    return samples, steps[0] if shape == () else SymbolicArray._from_flat(steps, shape)


def _no_integer_dtype(name: str, dtype) -> None:
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.inexact):
        msg = f"{name}: dtype={dtype!r} is not supported with symbolic input"
        raise NotImplementedError(msg)


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):  # noqa: PLR0917 - NumPy's
    """SymNum implementation of :py:obj:`numpy.logspace`: ``base ** y`` for the ``num``
    samples ``y`` of ``linspace(start, stop, num, endpoint, axis=axis)``.

    NumPy's array for numbers, else a SymbolicArray: ``start`` and ``stop`` broadcast
    together to shape ``s`` give shape ``(num, *s)``, the samples axis at ``axis``
    (an array ``base`` broadcasts with them, and gets a length-1 axis at ``axis``).
    """
    if not _contains_symbolic((start, stop, base)):
        return np.logspace(start, stop, num, endpoint, base, dtype, axis)
    _no_integer_dtype("logspace", dtype)
    base = _as_array(base, "base")
    if base.ndim:
        start, stop = _as_array(start, "start"), _as_array(stop, "stop")
        ndim = len(_broadcast_shape(start.shape, stop.shape, base.shape))
        start, stop, base = (
            reshape(x, (1,) * (ndim - x.ndim) + x.shape) for x in (start, stop, base)
        )
        base = expand_dims(base, axis)
    y = linspace(start, stop, num, endpoint, axis=axis)
    result = _as_array(base) ** _as_array(y)
    result._dtype = None if dtype is None else np.dtype(dtype)
    return result


def _geometric(first, last, i, div):
    return first if i == 0 else first * (last / first) ** sympy.Rational(i, div)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):  # noqa: PLR0917 - NumPy's
    """SymNum implementation of :py:obj:`numpy.geomspace`: ``num`` samples from
    ``start`` to ``stop`` (included if ``endpoint``) in geometric progression.

    NumPy's array for numbers. With symbolic ``start`` or ``stop`` (of one sign; scalars
    or arrays, broadcast together to shape ``s``) a SymbolicArray of shape
    ``(num, *s)`` (the samples axis at ``axis``) with the samples
    ``start * (stop / start) ** (i / div)`` (``div`` is ``num - 1`` if ``endpoint``,
    else ``num``). A start or stop of zero is a ValueError, as in NumPy.
    """
    if not _contains_symbolic((start, stop)):
        return np.geomspace(start, stop, num, endpoint, dtype, axis)
    _no_integer_dtype("geomspace", dtype)
    for value in (*_as_array(start, "start")._data, *_as_array(stop, "stop")._data):
        if value.is_zero:
            msg = "Geometric sequence cannot include zero"
            raise ValueError(msg)
    samples, _ = _spaced(start, stop, num, endpoint, axis=axis, element=_geometric)
    samples._dtype = None if dtype is None else np.dtype(dtype)
    return samples


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """SymNum implementation of :py:obj:`numpy.meshgrid`: a tuple of coordinate arrays
    from the flattened ``xi`` of lengths ``n1, ..., nk``.

    NumPy's arrays for numbers, else SymbolicArrays of shape ``(n2, n1, n3, ..., nk)``
    for ``indexing='xy'`` (the default) or ``(n1, ..., nk)`` for ``'ij'``; with
    ``sparse`` one axis of each array keeps its length, the others are 1. ``copy`` is
    ignored: the SymbolicArrays never share elements' storage.
    """
    if not _contains_symbolic(xi):
        return np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
    data, positions = _pooled(xi, "meshgrid")
    grids = np.meshgrid(*positions, sparse=sparse, indexing=indexing)
    return tuple(
        SymbolicArray._from_flat([data[i] for i in g.ravel().tolist()], g.shape) for g in grids
    )


# --------------------------------------------------------------------------------------
# Index arrays: NumPy's own (they depend on shapes only)

tri = np.tri
tril_indices = np.tril_indices
triu_indices = np.triu_indices
diag_indices = np.diag_indices
indices = np.indices
ix_ = np.ix_


def _shape_only(a) -> np.ndarray:
    """An uninitialised NumPy array of the shape of ``a`` (symbolic or not)."""
    return np.empty(_as_array(a, "arr").shape)


def tril_indices_from(arr, k=0):
    """SymNum implementation of :py:obj:`numpy.tril_indices_from`: the indices of the
    lower triangle of the 2-D ``arr`` (its shape only), as NumPy's integer arrays."""
    return np.tril_indices_from(_shape_only(arr), k)


def triu_indices_from(arr, k=0):
    """SymNum implementation of :py:obj:`numpy.triu_indices_from`: the indices of the
    upper triangle of the 2-D ``arr`` (its shape only), as NumPy's integer arrays."""
    return np.triu_indices_from(_shape_only(arr), k)


def diag_indices_from(arr):
    """SymNum implementation of :py:obj:`numpy.diag_indices_from`: the indices of the
    main diagonal of the square ``arr`` (its shape only), as NumPy's integer arrays."""
    return np.diag_indices_from(_shape_only(arr))
