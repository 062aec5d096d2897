"""Reductions of :mod:`symnum.numpy`: sum, prod, mean, average, var, std, max / min,
ptp, cumsum, cumprod (and NumPy 2's cumulative_sum / cumulative_prod), diff (their
inverse), trapezoid, polyval, and the ``logsumexp`` of :mod:`symnum.scipy.special`.

``axis`` is None (every axis), an int or a tuple of ints, as in NumPy; the reduced axes
are removed (kept with length 1 if ``keepdims``). A result with no axes left is a SymPy
scalar. As in NumPy, ``sum``, ``prod``, ``max`` and ``min`` of a 0-d array accept
``axis=0`` and ``axis=-1`` (its element).

Maxima and minima are balanced trees of binary, unevaluated ``Max`` / ``Min`` nodes
(see :func:`symnum.numpy._base._tree`): the derivative of each node is that of the
branch taken. Cumulative sums and products nest unevaluated binary nodes, so every
partial result is a shared node (``O(n)`` operations, not ``O(n**2)``).
"""

from __future__ import annotations

import math
import operator

import numpy as np
import sympy

from symnum import array as _array_module
from symnum.array import (
    SymbolicArray,
    _add_all,
    _broadcast_data,
    _broadcast_shape,
    _mul_all,
    _normalize_axes,
    _positions,
    _to_basic,
    is_scalar,
)
from symnum.numpy._base import (
    _ONE,
    _ZERO,
    _apply,
    _as_array,
    _as_int,
    _elementwise,
    _from_object_array,
    _max2,
    _min2,
    _object_array,
    _reject_unsupported,
    _result,
    _tree,
)
from symnum.numpy.shape import broadcast_to, concatenate, reshape, transpose
from symnum.sym.build import _add, _mul

__all__ = [
    "amax",
    "amin",
    "average",
    "cumprod",
    "cumsum",
    "cumulative_prod",
    "cumulative_sum",
    "diff",
    "max",
    "mean",
    "min",
    "polyval",
    "prod",
    "ptp",
    "std",
    "sum",
    "trapezoid",
    "var",
]


def _lazy_reduce(a, kind: str, axis, keepdims, **unsupported):
    """The reduction of a data array (see :mod:`symnum.data`), or None."""
    hooks = _array_module._data_hooks
    if hooks is None or not hooks.is_lazy(a) or any(v is not None for v in unsupported.values()):
        return None
    return hooks.reduce(a, kind, axis, keepdims)


def _ufunc_axis(array: SymbolicArray, axis):
    """``axis`` of a ufunc reduction: a 0-d array accepts 0 and -1 (as in NumPy)."""
    if array.ndim == 0 and not isinstance(axis, (tuple, list)) and axis in (0, -1):
        return None
    return axis


def _reduction_groups(shape: tuple, axis, *, flat: bool = True):
    """Element positions grouped by output element, for a reduction over ``axis``.

    Returns ``(groups, out_shape, keep_shape)``: ``groups`` is an int array with one
    row per output element (C order) holding the flat positions of its elements, of
    shape ``(n_out, n_reduced)``, or ``(n_out, *reduced)`` (the reduced axes in the
    order ``axis`` names them) if not ``flat``; ``keep_shape`` is the result shape with
    ``keepdims``.
    """
    axes = _normalize_axes(axis, len(shape))
    keep = [ax for ax in range(len(shape)) if ax not in axes]
    out_shape = tuple(shape[ax] for ax in keep)
    keep_shape = tuple(1 if ax in axes else s for ax, s in enumerate(shape))
    reduced = tuple(shape[ax] for ax in axes)
    rows = (math.prod(reduced),) if flat else reduced
    groups = _positions(shape).transpose(keep + list(axes)).reshape(math.prod(out_shape), *rows)
    return groups, out_shape, keep_shape


def _reduce(array: SymbolicArray, axis, combine, keepdims: bool = False):
    """``combine`` (of a list of elements) over ``axis`` (None, an int or a tuple).

    A reduction over no axes leaves the elements as they are (``combine`` is not
    called); the result is a scalar if no axes are left.
    """
    groups, out_shape, keep_shape = _reduction_groups(array.shape, axis)
    data = array._data
    if len(out_shape) == array.ndim:  # no axes reduced
        values = list(data)
    else:
        values = [combine([data[p] for p in group]) for group in groups.tolist()]
    return _result(values, keep_shape if keepdims else out_shape)


# --------------------------------------------------------------------------------------
# Sums and products


def _numpy_reduction(func, a: np.ndarray, axis, *, dtype, out, keepdims, initial, where):
    """NumPy's reduction ``func`` (``np.sum``, ``np.nansum``, ...) of the NumPy array
    ``a``, passing ``initial`` and ``where`` only when given (NumPy's defaults are not
    None)."""
    kwargs = {"initial": initial} if initial is not None else {}
    if where is not None:
        kwargs["where"] = where
    return func(a, axis, dtype, out, keepdims=keepdims, **kwargs)


def _sum_or_product(a, axis, *, dtype, out, keepdims, initial, where, name: str, combine):
    if isinstance(a, np.ndarray):
        # NumPy arrays are reduced by NumPy (SymNum 0.2.1 did the same)
        return _numpy_reduction(
            getattr(np, name), a, axis, dtype=dtype, out=out, keepdims=keepdims,
            initial=initial, where=where,
        )  # fmt: skip
    _reject_unsupported(name, dtype=dtype, out=out, where=where)
    lazy = _lazy_reduce(a, name, axis, keepdims, initial=initial)
    if lazy is not None:
        return lazy
    array = _as_array(a)
    return _reduce_with_initial(array, _ufunc_axis(array, axis), combine, keepdims, initial)


def _reduce_with_initial(array: SymbolicArray, axis, combine, keepdims: bool, initial):
    """``combine`` of the elements along ``axis`` and ``initial`` (if not None)."""
    if initial is None:
        return _reduce(array, axis, combine, keepdims)
    extra = _to_basic(initial)
    if not _normalize_axes(axis, array.ndim):
        # a reduction over no axes still combines each element with ``initial``
        return _result([combine([x, extra]) for x in array._data], array.shape)
    return _reduce(array, axis, lambda els: combine([*els, extra]), keepdims)


def sum(a, axis=None, dtype=None, out=None, *, keepdims=False, initial=None, where=None):
    """SymNum implementation of :py:obj:`numpy.sum` over ``axis`` (None, int or tuple).

    ``initial`` is added to each sum. The shape of ``a`` without the reduced axes; a
    scalar if none are left. NumPy arrays are summed by NumPy; on other input ``dtype``,
    ``out`` and ``where`` are not supported.
    """
    return _sum_or_product(
        a,
        axis,
        dtype=dtype,
        out=out,
        keepdims=keepdims,
        initial=initial,
        where=where,
        name="sum",
        combine=_add_all,
    )


def prod(a, axis=None, dtype=None, out=None, *, keepdims=False, initial=None, where=None):
    """SymNum implementation of :py:obj:`numpy.prod` over ``axis`` (None, int or tuple).

    Each product is multiplied by ``initial``. The shape of ``a`` without the reduced
    axes; a scalar if none are left. NumPy arrays are multiplied by NumPy; on other
    input ``dtype``, ``out`` and ``where`` are not supported.
    """
    return _sum_or_product(
        a,
        axis,
        dtype=dtype,
        out=out,
        keepdims=keepdims,
        initial=initial,
        where=where,
        name="prod",
        combine=_mul_all,
    )


# --------------------------------------------------------------------------------------
# Moments


def _scaled_sum(elements, count: int):
    """``sum(elements) / count`` (nan for a non-positive count), one Mul node."""
    if count <= 0:
        return sympy.nan
    total = _add_all(elements)
    if total.is_Number:
        return total / count
    return sympy.Mul(sympy.Rational(1, count), total, evaluate=False)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.mean` over ``axis`` (None, int or tuple).

    The shape of ``a`` without the reduced axes; a scalar if none are left.
    """
    _reject_unsupported("mean", dtype=dtype, out=out)
    lazy = _lazy_reduce(a, "mean", axis, keepdims)
    if lazy is not None:
        return lazy
    return _reduce(_as_array(a), axis, lambda els: _scaled_sum(els, len(els)), keepdims)


def var(a, axis=None, dtype=None, out=None, *, ddof=0, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.var`: the mean squared deviation from
    the mean over ``axis``, divided by ``N - ddof``. The result has the shape of
    :func:`mean`."""
    _reject_unsupported("var", dtype=dtype, out=out)
    ddof = _as_int(ddof, "ddof")
    array = _as_array(a)
    axes = _normalize_axes(axis, array.ndim)
    if _is_lazy(array) and axes:  # data: sums over the rows, the count at run time
        squares = (array - mean(array, axes, keepdims=True)) ** 2
        count = _array_module._data_hooks.element_count(array, axes) - ddof
        return _elementwise(lambda x: x / count, sum(squares, axes, keepdims=keepdims))
    count = math.prod(array.shape[ax] for ax in axes) - ddof
    # with keepdims, mean of a 0-d array is a scalar: broadcast it as a 0-d array
    centre = _as_array(mean(array, axes, keepdims=True))
    squares = SymbolicArray._from_flat(
        [
            (x - c) ** 2
            for x, c in zip(array._data, _broadcast_data(centre, array.shape), strict=True)
        ],
        array.shape,
    )
    if not axes:  # a reduction over no axes leaves each squared deviation (zero)
        return _elementwise(lambda x: _scaled_sum([x], count), squares)
    return _reduce(squares, axes, lambda els: _scaled_sum(els, count), keepdims)


def std(a, axis=None, dtype=None, out=None, *, ddof=0, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.std`: the square root of :func:`var`.

    The result has the shape of :func:`mean`.
    """
    v = var(a, axis, dtype, out, ddof=ddof, keepdims=keepdims)
    return _elementwise(lambda x: _apply(sympy.sqrt, x), v)


def _numbers_as_sympy(value):
    """A NumPy result (array or scalar) as symnum returns numbers: SymPy numbers."""
    if isinstance(value, np.ndarray):
        return _to_basic(value[()]) if value.ndim == 0 else SymbolicArray(value)
    if isinstance(value, np.generic):
        return _to_basic(value)
    return value


def _per_row(array, func):
    """``func`` of every row of the data array ``array``: ``func`` of its row template."""
    return _array_module._data_hooks.elementwise(func, [array])


def _is_lazy(x) -> bool:
    hooks = _array_module._data_hooks
    return hooks is not None and hooks.is_lazy(x)


def _flat_values(x) -> list:
    """The elements of a scalar, NumPy array or (not lazy) SymbolicArray."""
    if isinstance(x, np.ndarray):
        return x.ravel().tolist()
    if isinstance(x, SymbolicArray):
        return [] if _is_lazy(x) else list(x._data)
    return [x]


def _array_operand(a, name: str):
    """``a`` itself if it is an array (NumPy arrays stay NumPy arrays: a long one may
    become a data array when it meets a symbolic one), else a SymbolicArray."""
    return a if isinstance(a, (SymbolicArray, np.ndarray)) else _as_array(a, name)


def _average_weights(weights, shape: tuple, axes):
    """``weights`` shaped to broadcast against an array of ``shape`` (NumPy's checks)."""
    weights = _array_operand(weights, "weights")
    if tuple(weights.shape) == tuple(shape):
        return weights
    if axes is None:
        msg = (
            f"average: axis must be specified when the shapes of a {tuple(shape)} and of"
            f" weights {tuple(weights.shape)} differ"
        )
        raise TypeError(msg)
    if tuple(weights.shape) != tuple(shape[ax] for ax in axes):
        msg = (
            f"average: shape of weights {tuple(weights.shape)} must be consistent with"
            f" the shape of a {tuple(shape)} along axis {axes}"
        )
        raise ValueError(msg)
    # weights are given in the order of ``axes``: put them in the order of a's axes
    order = tuple(int(i) for i in np.argsort(axes))
    target = tuple(s if ax in axes else 1 for ax, s in enumerate(shape))
    if isinstance(weights, np.ndarray):
        return weights.transpose(order).reshape(target)
    return reshape(transpose(weights, order), target)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.average`: the weighted mean over ``axis``.

    ``sum(a * weights) / sum(weights)`` over ``axis`` (None, int or tuple); without
    ``weights``, :func:`mean`. ``weights`` has the shape of ``a``, or (with ``axis``)
    the shape of ``a`` along ``axis``, in the order ``axis`` names them. The result has
    the shape of ``a`` without the reduced axes (a scalar if none are left; length 1
    with ``keepdims``). With ``returned``, a pair ``(average, sum_of_weights)``, the
    sum of weights (the element count without weights) broadcast to the average's
    shape. Numeric weights that sum to zero raise ``ZeroDivisionError``, as in NumPy;
    symbolic ones cannot be checked.
    """
    a = _array_operand(a, "a")
    shape = tuple(a.shape)
    axes = None if axis is None else _normalize_axes(axis, len(shape))
    if weights is None:
        avg = mean(a, axes, keepdims=keepdims)
        if None in shape:  # a data argument: its rows are counted when called
            ones = _elementwise(lambda _: _ONE, a)
            scale = sum(ones, axes, keepdims=keepdims) if returned else None
        else:
            # as NumPy (ZeroDivisionError for an empty result)
            scale = sympy.Float(math.prod(shape) / math.prod(np.shape(avg)))
    else:
        weights = _average_weights(weights, shape, axes)
        scale = _numbers_as_sympy(sum(weights, axes, keepdims=keepdims))
        if any(v.is_Number and v.is_zero for v in map(_to_basic, _flat_values(scale))):
            msg = "average: weights sum to zero, can't be normalized"
            raise ZeroDivisionError(msg)
        total = sum(_elementwise(operator.mul, a, weights), axes, keepdims=keepdims)
        avg = _elementwise(operator.truediv, total, scale)
    if not returned:
        return avg
    if np.shape(scale) != np.shape(avg):
        scale = _elementwise(lambda _, s: s, avg, scale)
    return avg, scale


# --------------------------------------------------------------------------------------
# Extrema


def _extremum(a, axis, keepdims, initial, *, name: str, combine):
    array = _as_array(a)
    axis = _ufunc_axis(array, axis)
    axes = _normalize_axes(axis, array.ndim)
    if initial is None and any(array.shape[ax] == 0 for ax in axes):
        msg = (
            f"zero-size array to reduction operation {name} which has no identity"
            f" (shape {array.shape}, axis {axis!r}); pass initial= to reduce empty arrays"
        )
        raise ValueError(msg)
    return _reduce_with_initial(array, axis, lambda els: _tree(combine, els), keepdims, initial)


def amax(a, axis=None, out=None, keepdims=False, *, initial=None, where=None):
    """SymNum implementation of :py:obj:`numpy.max` / ``amax`` over ``axis`` (None, int
    or tuple), with ``initial`` as one more element.

    A balanced tree of binary ``Max``; its derivative is that of the largest element
    (ties go to the first). The shape of ``a`` without the reduced axes; a scalar if
    none are left.
    """
    _reject_unsupported("max", out=out, where=where)
    lazy = _lazy_reduce(a, "max", axis, keepdims, initial=initial)
    if lazy is not None:
        return lazy
    return _extremum(a, axis, keepdims, initial, name="maximum", combine=_max2)


def amin(a, axis=None, out=None, keepdims=False, *, initial=None, where=None):
    """SymNum implementation of :py:obj:`numpy.min` / ``amin``; see :func:`amax`.

    The shape of ``a`` without the reduced axes; a scalar if none are left.
    """
    _reject_unsupported("min", out=out, where=where)
    lazy = _lazy_reduce(a, "min", axis, keepdims, initial=initial)
    if lazy is not None:
        return lazy
    return _extremum(a, axis, keepdims, initial, name="minimum", combine=_min2)


# NumPy's names for the reductions (they shadow the builtins in this module only)
max = amax
min = amin


def ptp(a, axis=None, out=None, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.ptp`: ``max - min`` over ``axis`` (None,
    int or tuple).

    The shape of ``a`` without the reduced axes; a scalar if none are left. Its
    derivative is that of the largest minus that of the smallest element.
    """
    _reject_unsupported("ptp", out=out)
    high = amax(a, axis, keepdims=keepdims)
    low = amin(a, axis, keepdims=keepdims)
    return _elementwise(operator.sub, high, low)


# --------------------------------------------------------------------------------------
# Cumulative sums and products


def _accumulate(a, axis, combine):
    array = _as_array(a)
    if axis is None:
        array = array.flatten()
        axis = 0
    if array.ndim == 0:
        array = array.reshape(1)
    (axis,) = _normalize_axes(_as_int(axis, "axis"), array.ndim)
    if _is_lazy(array) and axis > 0:  # along each row of data: on the row template
        return _per_row(array, lambda row: _accumulate(row, axis - 1, combine))
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
    """SymNum implementation of :py:obj:`numpy.cumsum`: running sums along ``axis``.

    The shape of ``a``; 1-D of length ``a.size`` (C order) when ``axis`` is None.
    """
    return _accumulate(a, axis, _running_add)


def cumprod(a, axis=None):
    """SymNum implementation of :py:obj:`numpy.cumprod`: running products along ``axis``.

    The shape of ``a``; 1-D of length ``a.size`` (C order) when ``axis`` is None.
    """
    return _accumulate(a, axis, _running_mul)


def _cumulative(x, axis, include_initial, *, name: str, combine, identity):
    array = _as_array(x, "x")
    if array.ndim == 0:  # as NumPy: a 0-d array is accumulated as a 1-element vector
        array = array.reshape(1)
    if axis is None:
        if array.ndim > 1:
            msg = (
                f"{name}: for arrays which have more than one dimension the axis argument is"
                f" required (got shape {array.shape})"
            )
            raise ValueError(msg)
        axis = 0
    (axis,) = _normalize_axes(_as_int(axis, "axis"), array.ndim)
    result = _accumulate(array, axis, combine)
    if not include_initial:
        return result
    start = (*array.shape[:axis], 1, *array.shape[axis + 1 :])
    return concatenate([broadcast_to(identity, start), result], axis)


def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """SymNum implementation of :py:obj:`numpy.cumulative_sum` (NumPy 2.1): running sums
    along ``axis``, which is required for arrays of more than one dimension.

    The shape of ``x`` (a 0-d ``x`` counts as shape ``(1,)``), with ``axis`` one longer
    if ``include_initial`` (a leading 0). ``dtype`` and ``out`` are not supported.
    """
    _reject_unsupported("cumulative_sum", dtype=dtype, out=out)
    return _cumulative(
        x, axis, include_initial, name="cumulative_sum", combine=_running_add, identity=0
    )


def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """SymNum implementation of :py:obj:`numpy.cumulative_prod` (NumPy 2.1): running
    products along ``axis``, which is required for arrays of more than one dimension.

    The shape of ``x`` (a 0-d ``x`` counts as shape ``(1,)``), with ``axis`` one longer
    if ``include_initial`` (a leading 1). ``dtype`` and ``out`` are not supported.
    """
    _reject_unsupported("cumulative_prod", dtype=dtype, out=out)
    return _cumulative(
        x, axis, include_initial, name="cumulative_prod", combine=_running_mul, identity=1
    )


#: ``diff``'s default for ``prepend`` and ``append``: nothing joined (``None`` is a value).
_NOTHING = object()


def diff(a, n=1, axis=-1, prepend=_NOTHING, append=_NOTHING):
    """SymNum implementation of :py:obj:`numpy.diff`: the ``n``-th forward difference
    along ``axis`` (``a[..., 1:] - a[..., :-1]``, ``n`` times).

    ``a`` of shape ``s`` (at least 1-D) gives ``s`` with ``s[axis]`` shortened by ``n``
    (``n = 0``: ``a`` itself). ``prepend`` and ``append`` are joined to ``a`` along
    ``axis`` first: scalars (one value across ``axis``) or arrays of ``a``'s shape
    except along ``axis``.
    """
    a = _as_array(a, "a")
    n = _as_int(n, "n")
    if n == 0:  # as NumPy: ``a`` itself, nothing joined
        return a
    if n < 0:
        msg = f"order must be non-negative but got {n}"
        raise ValueError(msg)
    if a.ndim == 0:
        msg = "diff requires input that is at least one dimensional"
        raise ValueError(msg)
    (axis,) = _normalize_axes(_as_int(axis, "axis"), a.ndim)  # AxisError out of range
    if _is_lazy(a) and axis > 0 and prepend is _NOTHING and append is _NOTHING:
        return _per_row(a, lambda row: diff(row, n, axis - 1))  # along each row of data
    pieces = []
    for name, given in (("prepend", prepend), (None, a), ("append", append)):
        if given is _NOTHING:
            continue
        piece = _as_array(given, name) if name else given
        if piece.ndim == 0:  # one value across the axis
            piece = broadcast_to(piece, (*a.shape[:axis], 1, *a.shape[axis + 1 :]))
        pieces.append(piece)
    joined = concatenate(pieces, axis) if len(pieces) > 1 else a
    values = np.moveaxis(_object_array(joined), axis, -1)
    for _ in range(n):
        values = values[..., 1:] - values[..., :-1]
    return _from_object_array(np.moveaxis(values, -1, axis))


# --------------------------------------------------------------------------------------
# Integration and polynomials


def _half(x):
    """``x / 2`` without distributing the factor over a sum (one Mul node)."""
    if x.is_Number:
        return x / 2
    return sympy.Mul(sympy.S.Half, x, evaluate=False)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """SymNum implementation of :py:obj:`numpy.trapezoid`: the integral of ``y`` along
    ``axis`` by the trapezoidal rule.

    Sample points ``x`` (a 1-D array of ``y.shape[axis]`` values, or an array
    broadcasting against ``y``) or the spacing ``dx``. The shape of ``y`` without
    ``axis``; a scalar for 1-D ``y``. As in NumPy, a bad ``axis`` raises ``IndexError``.
    """
    y = _array_operand(y, "y")
    nd = y.ndim
    if x is None:
        spacing = dx
    else:
        points = _as_array(x, "x")
        if points.ndim == 1:
            spacing = diff(points)
            spacing_shape = [1] * nd
            spacing_shape[axis] = spacing.shape[0]
            spacing = reshape(spacing, tuple(spacing_shape))
        else:
            spacing = diff(points, axis=axis)
    upper = [slice(None)] * nd
    lower = [slice(None)] * nd
    upper[axis] = slice(1, None)
    lower[axis] = slice(None, -1)
    pairs = _elementwise(operator.add, y[tuple(upper)], y[tuple(lower)])
    unit = x is None and not isinstance(dx, (bool, np.bool_)) and is_scalar(dx) and dx == 1
    if not unit:
        pairs = _elementwise(operator.mul, spacing, pairs)
    return _elementwise(_half, sum(pairs, axis))


def _horner(x, coefficients):
    value = coefficients[0]
    for c in coefficients[1:]:
        value = value * x + c
    return value


def polyval(p, x):
    """SymNum implementation of :py:obj:`numpy.polyval`: the polynomial with
    coefficients ``p`` (highest power first, NumPy's order) at ``x``, by Horner's rule.

    ``p`` is 1-D (or an array whose rows broadcast against ``x``); the result has the
    shape of ``x`` (broadcast with the rows of ``p``), a scalar for scalar ``x``. An
    empty ``p`` gives zeros.
    """
    coefficients = _as_array(p, "p")
    if coefficients.ndim == 0:
        msg = "polyval: p must be a sequence of coefficients (iteration over a 0-d array)"
        raise TypeError(msg)
    rows = [coefficients[i] for i in range(coefficients.shape[0])]
    if not (is_scalar(x) or isinstance(x, (SymbolicArray, np.ndarray))):
        x = _as_array(x, "x")
    if not rows:
        return _elementwise(lambda _: _ZERO, x)
    return _elementwise(lambda v, *cs: _horner(v, cs), x, *rows)


# --------------------------------------------------------------------------------------
# logsumexp (scipy.special's, re-exported there)


class LogSumExp(sympy.Function):
    """``log(sum(exp(args)))`` as one SymPy node.

    Lowering shifts by the largest argument (a finite one: all ``-inf`` give ``-inf``,
    as SciPy does) so that nothing overflows. Its partial derivatives are the softmax
    weights ``exp(a_i - lse)``: no ``max`` branches, so derivatives of any order stay
    small (a Hessian of a Gaussian mixture's log-likelihood is a few hundred statements
    per data row, not thousands).
    """

    @classmethod
    def eval(cls, *args):
        return None

    def fdiff(self, argindex=1):
        if not 1 <= argindex <= len(self.args):
            raise sympy.ArgumentIndexError(self, argindex)
        gap = _add([self.args[argindex - 1], _mul([-_ONE, self])])
        return _apply(sympy.exp, gap)

    def _eval_evalf(self, prec):
        values = [a.evalf(prec) for a in self.args]
        if all(v.is_Number for v in values):
            import scipy.special  # noqa: PLC0415 - only for numbers, rarely

            return sympy.Float(float(scipy.special.logsumexp([float(v) for v in values])), prec)
        return None


def _logsumexp_group(values, weights):
    if not values:
        return -sympy.oo
    if len(values) == 1 and weights is None:
        return values[0]
    if weights is None and not all(v.is_Number for v in values):
        return LogSumExp(*values, evaluate=False)
    shift = _tree(_max2, values)
    if weights is None:
        terms = [_apply(sympy.exp, v - shift) for v in values]
    else:
        terms = [w * _apply(sympy.exp, v - shift) for v, w in zip(values, weights, strict=True)]
    return shift + _apply(sympy.log, _add_all(terms))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """SymNum implementation of :py:obj:`scipy.special.logsumexp`.

    ``log(sum(b * exp(a)))`` over ``axis`` (None, an int or a tuple), shifted by the
    maximum so that it never overflows: ``m + log(sum(b * exp(a - m)))``. ``b``
    (weights, default 1) broadcasts against ``a``. The shape of ``a`` (broadcast with
    ``b``) without the reduced axes; a scalar if none are left (and not ``keepdims``).
    ``return_sign`` is not supported.
    """
    if return_sign:
        msg = "logsumexp: return_sign=True is not supported"
        raise NotImplementedError(msg)
    hooks = _array_module._data_hooks
    if b is None and hooks is not None and hooks.is_lazy(a):
        return hooks.logsumexp(a, axis, keepdims)
    array = _as_array(a, "a")
    weights = None
    if b is not None:
        weight_array = _as_array(b, "b")
        shape = _broadcast_shape(array.shape, weight_array.shape)
        array = SymbolicArray._from_flat(list(_broadcast_data(array, shape)), shape)
        weights = _broadcast_data(weight_array, shape)
    groups, out_shape, keep_shape = _reduction_groups(array.shape, axis)
    data = array._data
    values = [
        _logsumexp_group([data[p] for p in g], None if weights is None else [weights[p] for p in g])
        for g in groups.tolist()
    ]
    if keepdims:
        return SymbolicArray._from_flat(values, keep_shape)
    if out_shape == ():
        value = values[0]
        return value.evalf() if value.is_number and not value.is_Number else value
    return SymbolicArray._from_flat(values, out_shape)
