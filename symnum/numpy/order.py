"""Order statistics of :mod:`symnum.numpy`: sort, median, quantile and percentile, and
the index functions argsort, argmax and argmin.

A symbolic array has no order until its symbols have values, so ``sort`` of symbolic
elements is a *sorting network*: Batcher's odd-even merge sort, a fixed sequence of
compare-exchange steps, each a pair of binary ``Min`` / ``Max`` nodes (see
:func:`symnum.numpy._base._tree`). The generated code then sorts at run time, and the
derivative of each sorted element is the derivative of the element that lands there
(ties: either one; where elements tie, the sorted values are not differentiable). A
lane of ``n`` elements costs about ``n log2(n)**2 / 4`` steps, so lanes are limited to
:data:`MAX_SORTED` elements: sort constant data with NumPy before it meets symbols.

``median``, ``quantile`` and ``percentile`` are NumPy's: every ``method`` of
:py:obj:`numpy.quantile` interpolates between two neighbouring order statistics with
weights that depend only on the lane length and ``q``; the weights come from NumPy
itself (the quantile of ``0, 1, ..., n - 1`` is the position to interpolate at), so
methods, ``q`` checks and errors are NumPy's own. The interpolation is
``(1 - t) a + t b``: next to an infinite element it gives the limit (``-inf`` between
``-inf`` and a number), where NumPy's ``a + (b - a) t`` gives nan.

On numeric input (NumPy arrays, nested lists of numbers, SymbolicArrays of numbers)
the values are NumPy's, returned as SymPy numbers or SymbolicArrays of them like the
rest of :mod:`symnum.numpy`. The index functions (``argsort``, ``argmax``, ``argmin``)
need numbers: they return NumPy's integer results, and raise ``TypeError`` on symbolic
elements (an index is not a differentiable function of them).
"""

from __future__ import annotations

import numpy as np
import sympy

from symnum.array import SymbolicArray, _normalize_axes, _positions
from symnum.numpy._base import (
    _as_array,
    _max2,
    _min2,
    _numeric_value,
    _reject_unsupported,
    _result,
)

__all__ = [
    "MAX_SORTED",
    "argmax",
    "argmin",
    "argsort",
    "median",
    "percentile",
    "quantile",
    "sort",
]

#: The longest lane of symbolic elements ``sort`` (and so ``median``, ``quantile``)
#: accepts: 512 elements are 6,143 compare-exchange steps.
MAX_SORTED = 512


# --------------------------------------------------------------------------------------
# The sorting network


def _network(n: int) -> list[tuple[int, int]]:
    """Compare-exchange steps ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort of
    ``n`` elements: after ``a[i], a[j] = min(a[i], a[j]), max(a[i], a[j])`` for each
    step in turn, ``a`` is sorted, whatever its values."""
    steps = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        steps.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return steps


def _sorted_lane(values: list, low=_min2, high=_max2) -> list:
    """``values`` (SymPy scalars) in ascending order, through the sorting network whose
    compare-exchange steps put ``low(a, b)`` first and ``high(a, b)`` second (the
    order's minimum and maximum: another order, e.g. NaN last, sorts by it)."""
    values = list(values)
    for i, j in _network(len(values)):
        a, b = values[i], values[j]
        values[i], values[j] = low(a, b), high(a, b)
    return values


# --------------------------------------------------------------------------------------
# Operands


def _numbers(array: SymbolicArray) -> np.ndarray | None:
    """The elements of ``array`` as a NumPy array (float or complex) if all of them are
    numbers, else None."""
    data = array._data
    if not all(isinstance(el, sympy.Expr) and el.is_Number for el in data):
        return None
    try:
        values = [float(el) for el in data]
    except TypeError:
        values = [complex(el) for el in data]
    return np.array(values).reshape(array.shape)


def _from_numbers(values: np.ndarray):
    """NumPy's result as SymPy numbers: a scalar, or a SymbolicArray of its shape."""
    values = np.asarray(values)
    return _result([_numeric_value(v) for v in values.ravel().tolist()], values.shape)


def _real_elements(array: SymbolicArray, name: str) -> None:
    """TypeError if an element of ``array`` may be complex (complex numbers have no
    order a sorting network could follow)."""
    for el in array._data:
        if isinstance(el, sympy.Expr) and el.is_extended_real is False:
            msg = f"{name}: complex elements have no order to sort by, got {el}"
            raise TypeError(msg)


def _lanes(array: SymbolicArray, axes: tuple[int, ...]) -> tuple[np.ndarray, tuple]:
    """The flat positions of ``array``'s elements, one row per lane along ``axes``
    (shape ``kept shape + (lane length,)``), and the kept shape."""
    kept = [ax for ax in range(array.ndim) if ax not in axes]
    positions = np.transpose(_positions(array.shape), kept + list(axes))
    kept_shape = tuple(array.shape[ax] for ax in kept)
    length = int(np.prod([array.shape[ax] for ax in axes], dtype=np.intp))
    return positions.reshape((*kept_shape, length)), kept_shape


def _check_length(name: str, length: int) -> None:
    if length > MAX_SORTED:
        msg = (
            f"{name}: a lane of {length} symbolic elements is longer than "
            f"symnum.numpy.order.MAX_SORTED = {MAX_SORTED} (a sorting network of "
            f"{len(_network(length))} steps); sort constant data with NumPy before it "
            "meets symbols"
        )
        raise ValueError(msg)


def _sorted_lanes(array: SymbolicArray, axes: tuple[int, ...], name: str, **order):
    """Each lane along ``axes`` sorted (``order``: ``low`` and ``high`` of
    :func:`_sorted_lane`): a list of lanes (lists of SymPy scalars) in the order of the
    kept shape, and the kept shape."""
    positions, kept_shape = _lanes(array, axes)
    length = positions.shape[-1]
    _check_length(name, length)
    _real_elements(array, name)
    data = array._data
    lanes = positions.reshape(-1, length).tolist()
    return [_sorted_lane([data[i] for i in lane], **order) for lane in lanes], kept_shape


# --------------------------------------------------------------------------------------
# Sorting


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """SymNum implementation of :py:obj:`numpy.sort`: ``a`` sorted in ascending order
    along ``axis`` (an int; None sorts the flattened array, shape ``(a.size,)``), same
    shape as ``a`` otherwise.

    Symbolic elements are sorted by a sorting network in the generated code (see the
    module's docstring; lanes of at most :data:`MAX_SORTED` elements); ``kind`` and
    ``stable`` change nothing in the values. Numeric input gives NumPy's values, NaN
    last.
    """
    _reject_unsupported("sort", order=order)
    array = _as_array(a)
    if axis is None:
        array, axis = array.flatten(), 0
    if array.ndim == 0:
        msg = "sort: a 0-d array has no axis to sort along (use axis=None)"
        raise np.exceptions.AxisError(msg)
    (axis,) = _normalize_axes(axis, array.ndim)
    numbers = _numbers(array)
    if numbers is not None:
        return _from_numbers(np.sort(numbers, axis=axis, kind=kind, stable=stable))
    lanes, kept_shape = _sorted_lanes(array, (axis,), "sort")
    length = array.shape[axis]
    # lanes are in the order of the kept axes, each along `axis`: put `axis` back
    values = np.array(lanes, dtype=object).reshape((*kept_shape, length))
    values = np.moveaxis(values, -1, axis)
    return SymbolicArray._from_flat(values.ravel().tolist(), values.shape)


# --------------------------------------------------------------------------------------
# Quantiles


def _quantile(name, a, q, *, axis, keepdims, method, weights=None):
    _reject_unsupported(name, weights=weights)
    array = _as_array(a)
    axes = _normalize_axes(axis, array.ndim)
    q = np.asarray(q, dtype=float)
    numbers = _numbers(array)
    if numbers is not None:
        if name == "median":  # NumPy's median of nothing is nan, its quantile raises
            return _from_numbers(np.median(numbers, axis=axis, keepdims=keepdims))
        return _from_numbers(np.quantile(numbers, q, axis=axis, keepdims=keepdims, method=method))
    length = int(np.prod([array.shape[ax] for ax in axes], dtype=np.intp))
    if length == 0:
        msg = f"{name}: cannot take a quantile of an empty lane of a symbolic array"
        raise ValueError(msg)
    # NumPy's checks of q and method, and the position each q interpolates at
    where = np.quantile(np.arange(length, dtype=float), q, method=method)
    lanes, kept_shape = _sorted_lanes(array, axes, name)
    values = [
        _interpolate(lane, position, length)
        for position in np.ravel(where).tolist()
        for lane in lanes
    ]
    if keepdims:
        kept_shape = tuple(1 if ax in axes else n for ax, n in enumerate(array.shape))
    return _result(values, q.shape + kept_shape)


def _interpolate(lane: list, position: float, length: int):
    """The element of the sorted ``lane`` at fractional ``position`` among its first
    ``length``: ``(1 - t) a + t b`` between its neighbours ``a`` and ``b``."""
    low = int(np.floor(position))
    weight = sympy.Float(position - low)
    if weight == 0 or low + 1 >= length:
        return lane[low]
    return (1 - weight) * lane[low] + weight * lane[low + 1]


def quantile(  # noqa: PLR0917 - NumPy's signature
    a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False,
    *, weights=None, interpolation=None,
):  # fmt: skip
    """SymNum implementation of :py:obj:`numpy.quantile`: the ``q``-th quantiles
    (``0 <= q <= 1``, a scalar or an array of constants) of ``a`` along ``axis`` (None:
    all elements; an int or a tuple), with any of NumPy's ``method`` s.

    Shape ``q.shape + (the shape of a without the reduced axes)`` (those axes kept with
    length 1 if ``keepdims``); a scalar for a scalar ``q`` and no axes left. Symbolic
    elements are sorted by a sorting network (see the module's docstring).
    """
    _reject_unsupported("quantile", out=out, interpolation=interpolation)
    del overwrite_input  # nothing to overwrite
    return _quantile("quantile", a, q, axis=axis, keepdims=keepdims, method=method, weights=weights)


def percentile(  # noqa: PLR0917 - NumPy's signature
    a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False,
    *, weights=None, interpolation=None,
):  # fmt: skip
    """SymNum implementation of :py:obj:`numpy.percentile`: :func:`quantile` of
    ``q / 100`` (``0 <= q <= 100``), the same shapes."""
    _reject_unsupported("percentile", out=out, interpolation=interpolation)
    del overwrite_input
    fractions = _fractions(q)
    return _quantile(
        "percentile", a, fractions, axis=axis, keepdims=keepdims, method=method, weights=weights
    )


def _fractions(percentiles) -> np.ndarray:
    """``percentiles / 100`` as floats; NumPy's ValueError outside [0, 100]."""
    q = np.asarray(percentiles, dtype=float)
    if np.any((q < 0) | (q > 100)):
        msg = "Percentiles must be in the range [0, 100]"
        raise ValueError(msg)
    return q / 100


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.median` along ``axis`` (None: all
    elements; an int or a tuple): the middle element of each sorted lane, or the mean
    of the middle two. The shape of ``a`` without the reduced axes (kept with length 1
    if ``keepdims``); a scalar if none are left."""
    _reject_unsupported("median", out=out)
    del overwrite_input
    return _quantile("median", a, 0.5, axis=axis, keepdims=keepdims, method="linear")


# --------------------------------------------------------------------------------------
# Indices


def _index_numbers(name: str, a) -> np.ndarray:
    numbers = _numbers(_as_array(a))
    if numbers is None:
        msg = (
            f"{name} needs numbers: an index into symbolic elements is not a "
            "differentiable function of them (use max, min or sort for values)"
        )
        raise TypeError(msg)
    return numbers


def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """SymNum implementation of :py:obj:`numpy.argsort` for numeric input: NumPy's
    integer array of the shape of ``a`` (``(a.size,)`` for ``axis=None``). Raises
    ``TypeError`` on symbolic elements."""
    numbers = _index_numbers("argsort", a)
    return np.argsort(numbers, axis=axis, kind=kind, order=order, stable=stable)


def argmax(a, axis=None, out=None, *, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.argmax` for numeric input: NumPy's
    integer index (or array of them along ``axis``). Raises ``TypeError`` on symbolic
    elements."""
    _reject_unsupported("argmax", out=out)
    return np.argmax(_index_numbers("argmax", a), axis=axis, keepdims=keepdims)


def argmin(a, axis=None, out=None, *, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.argmin` for numeric input: NumPy's
    integer index (or array of them along ``axis``). Raises ``TypeError`` on symbolic
    elements."""
    _reject_unsupported("argmin", out=out)
    return np.argmin(_index_numbers("argmin", a), axis=axis, keepdims=keepdims)
