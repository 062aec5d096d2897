"""NaN-ignoring reductions of :mod:`symnum.numpy`: nansum, nanprod, nanmean, nanvar,
nanstd, nanmax, nanmin, nancumsum, nancumprod, nanmedian, nanquantile, nanpercentile,
the index functions nanargmax and nanargmin, and nan_to_num.

Whether a symbol is NaN is known only when it has a value, so on symbolic elements each
function tests at run time: a NaN element counts as 0 in sums, 1 in products, is left
out of means and variances (their counts are run-time sums too), loses every
comparison in ``nanmax`` / ``nanmin`` (:func:`~symnum.numpy.fmax` / ``fmin`` trees)
and sorts last in the sorting networks of ``nanmedian`` / ``nanquantile`` (see
:mod:`symnum.numpy.order`), whose interpolation position is then chosen by the number
of non-NaN elements. Derivatives are those of the branch taken: a NaN element
contributes nothing. Where every element of a lane is NaN, the results are NumPy's:
0 for ``nansum``, 1 for ``nanprod``, nan for means, variances, extrema and quantiles
(NumPy also warns; compiled code does not).

On numeric input (NumPy arrays, nested lists of numbers, SymbolicArrays of numbers) the
values are NumPy's own: NumPy arrays get NumPy's results as they are (as ``sum`` does),
other numeric input SymPy numbers or SymbolicArrays of them. ``nanargmax`` and
``nanargmin`` need numbers (an index is not a differentiable function of symbols) and
return NumPy's integers.

Arrays of constant data with a long axis (:mod:`symnum.data`) stay loops: the tests are
elementwise and the sums run over the data axis.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import sympy
from sympy import S

from symnum.array import _normalize_axes, _to_basic
from symnum.numpy import order, reduce
from symnum.numpy._base import (
    _as_array,
    _as_int,
    _elementwise,
    _reject_unsupported,
    _result,
    _select,
    _tree,
)
from symnum.numpy.derived import _extremum_ignoring_nan, _gt, _isnan
from symnum.numpy.ufuncs import _extremum

__all__ = [
    "nan_to_num",
    "nanargmax",
    "nanargmin",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmedian",
    "nanmin",
    "nanpercentile",
    "nanprod",
    "nanquantile",
    "nanstd",
    "nansum",
    "nanvar",
]


# --------------------------------------------------------------------------------------
# Elementwise: NaN replaced, NaN counted


def _is_number(x) -> bool:
    return isinstance(x, sympy.Expr) and x.is_Number


def _nan_as(value):
    """Scalar function: ``value`` where its argument is NaN, the argument elsewhere."""

    def scalar_func(x):
        if x is S.NaN:
            return value
        if _is_number(x):
            return x
        return _select([(value, _isnan(x))], x)

    return scalar_func


def _present(x):
    """1 where ``x`` is not NaN, 0 where it is (a run-time test on symbols)."""
    if x is S.NaN:
        return S.Zero
    if _is_number(x):
        return S.One
    return _select([(S.Zero, _isnan(x))], S.One)


def _numeric(a) -> np.ndarray | None:
    """``a`` as a NumPy array if it is a NumPy array or all its elements are numbers
    (lists, SymbolicArrays of numbers), else None. Data arrays stay symbolic."""
    if isinstance(a, np.ndarray):
        return a
    if reduce._is_lazy(a):
        return None
    return order._numbers(_as_array(a))


def _numpy_value(func, *args, **kwargs):
    """NumPy's ``func`` on numbers, as symnum returns numbers; NumPy's warnings about
    all-NaN lanes are silenced (the value, nan, says it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return order._from_numbers(func(*args, **kwargs))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """SymNum implementation of :py:obj:`numpy.nan_to_num`: ``x`` with NaN replaced by
    ``nan``, ``inf`` by ``posinf`` (default: the largest float64) and ``-inf`` by
    ``neginf`` (default: the most negative float64), elementwise; the shape of ``x``.

    On symbols the tests run in the generated code; the derivative is 1 where ``x`` is
    finite and 0 where it was replaced. The replacements may be symbolic.
    """
    del copy  # symbolic arrays are never modified in place
    big = float(np.finfo(np.float64).max)
    replacements = [
        _to_basic(nan),
        _to_basic(big if posinf is None else posinf),
        _to_basic(-big if neginf is None else neginf),
    ]

    def scalar_func(v):
        if v is S.NaN:
            return replacements[0]
        if v is S.Infinity:
            return replacements[1]
        if v is S.NegativeInfinity:
            return replacements[2]
        if _is_number(v):
            return v
        return _select(
            [
                (replacements[0], _isnan(v)),
                # unevaluated: SymPy takes a real symbol to be finite
                (replacements[1], sympy.Eq(v, S.Infinity, evaluate=False)),
                (replacements[2], sympy.Eq(v, S.NegativeInfinity, evaluate=False)),
            ],
            v,
        )

    return _elementwise(scalar_func, x, name="nan_to_num: x")


# --------------------------------------------------------------------------------------
# Sums, products, moments


def _nan_sum_or_product(a, axis, *, dtype, out, keepdims, initial, where, name: str):
    """``nansum`` / ``nanprod``: NumPy's on NumPy arrays (as ``sum`` / ``prod``), else
    the plain reduction with NaN elements replaced by its identity."""
    numpy_func, plain, identity = {
        "nansum": (np.nansum, reduce.sum, S.Zero),
        "nanprod": (np.nanprod, reduce.prod, S.One),
    }[name]
    if isinstance(a, np.ndarray):
        return reduce._numpy_reduction(
            numpy_func, a, axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
            where=where,
        )  # fmt: skip
    _reject_unsupported(name, dtype=dtype, out=out, where=where)
    replaced = _elementwise(_nan_as(identity), a, name=f"{name}: a")
    return plain(replaced, axis, keepdims=keepdims, initial=initial)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):  # noqa: PLR0917 - NumPy's signature
    """SymNum implementation of :py:obj:`numpy.nansum`: :func:`~symnum.numpy.sum` with
    NaN elements counted as 0 (0 for a lane of NaN only). The shape of ``a`` without
    the reduced axes; a scalar if none are left."""
    return _nan_sum_or_product(
        a, axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial, where=where,
        name="nansum",
    )  # fmt: skip


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):  # noqa: PLR0917 - NumPy's signature
    """SymNum implementation of :py:obj:`numpy.nanprod`: :func:`~symnum.numpy.prod`
    with NaN elements counted as 1 (1 for a lane of NaN only). The shape of ``a``
    without the reduced axes; a scalar if none are left."""
    return _nan_sum_or_product(
        a, axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial, where=where,
        name="nanprod",
    )  # fmt: skip


def _count(a, axis, keepdims):
    """The number of non-NaN elements of ``a`` along ``axis`` (run-time sums)."""
    return reduce.sum(_elementwise(_present, a, name="count: a"), axis, keepdims=keepdims)


def _ratio(total, count, ddof: int = 0):
    """``total / (count - ddof)``, nan where ``count - ddof <= 0`` (NumPy's value)."""
    dof = count - ddof
    if _is_number(dof):
        if dof <= 0:
            return S.NaN
        return total / dof
    return _select([(total / dof, _gt(dof, 0))], S.NaN)


def _divide_counts(totals, counts, ddof: int = 0):
    return _elementwise(lambda t, c: _ratio(t, c, ddof), totals, counts, name="count")


def _checked_axis(a, axis):
    """``axis`` checked against the dimensions of ``a`` (NumPy's AxisError)."""
    if not reduce._is_lazy(a):
        _normalize_axes(axis, _as_array(a).ndim)
    return axis


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """SymNum implementation of :py:obj:`numpy.nanmean`: the mean of the non-NaN
    elements along ``axis`` (their number counted at run time; nan for a lane of NaN
    only). The shape of ``a`` without the reduced axes; a scalar if none are left."""
    numbers = _numeric(a)
    if numbers is not None and where is None:
        return _numpy_value(np.nanmean, numbers, axis, dtype, out, keepdims)
    _reject_unsupported("nanmean", dtype=dtype, out=out, where=where)
    axis = _checked_axis(a, axis)
    total = nansum(a, axis, keepdims=keepdims)
    return _divide_counts(total, _count(a, axis, keepdims))


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None):  # noqa: PLR0917 - NumPy's signature
    """SymNum implementation of :py:obj:`numpy.nanvar`: the mean squared deviation of
    the non-NaN elements from their mean, divided by ``count - ddof`` (nan where that
    is not positive). The shape of :func:`nanmean`."""
    ddof = _as_int(ddof, "ddof")
    numbers = _numeric(a)
    if numbers is not None and where is None and mean is None:
        return _numpy_value(np.nanvar, numbers, axis, dtype, out, ddof, keepdims)
    _reject_unsupported("nanvar", dtype=dtype, out=out, where=where, mean=mean)
    axis = _checked_axis(a, axis)
    centre = nanmean(a, axis, keepdims=True)

    def squared_deviation(x, c):
        if x is S.NaN:
            return S.Zero
        if _is_number(x):
            return (x - c) ** 2
        return _select([(S.Zero, _isnan(x))], (x - c) ** 2)

    squares = _elementwise(squared_deviation, a, centre, name="nanvar: a")
    total = reduce.sum(squares, axis, keepdims=keepdims)
    return _divide_counts(total, _count(a, axis, keepdims), ddof)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None):  # noqa: PLR0917 - NumPy's signature
    """SymNum implementation of :py:obj:`numpy.nanstd`: the square root of
    :func:`nanvar`, the same shape."""
    ddof = _as_int(ddof, "ddof")
    numbers = _numeric(a)
    if numbers is not None and where is None and mean is None:
        return _numpy_value(np.nanstd, numbers, axis, dtype, out, ddof, keepdims)
    variance = nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean)
    return _elementwise(lambda v: sympy.sqrt(v, evaluate=not v.args), variance)


# --------------------------------------------------------------------------------------
# Extrema


def _nan_extremum(name, a, axis, *, out, keepdims, initial, where, combine, numpy_func):
    _reject_unsupported(name, out=out, where=where)
    numbers = _numeric(a)
    if numbers is not None:
        kwargs = {"initial": float(initial)} if initial is not None else {}
        return _numpy_value(numpy_func, numbers, axis, keepdims=keepdims, **kwargs)
    if reduce._is_lazy(a) and initial is None:
        # data rows stay a loop: the plain extremum with NaN as the value that never
        # wins, then nan where no value was left
        plain = reduce.amax if name == "nanmax" else reduce.amin
        loser = S.NegativeInfinity if name == "nanmax" else S.Infinity
        extremum = plain(
            _elementwise(_nan_as(loser), a, name=f"{name}: a"), axis, keepdims=keepdims
        )
        return _elementwise(_unless_none_left, extremum, _count(a, axis, keepdims), name=name)
    array = _as_array(a)
    axes = _normalize_axes(axis, array.ndim)  # not empty: no elements are numbers
    return reduce._reduce_with_initial(
        array, axes, lambda els: _tree(combine, els), keepdims, initial
    )


def _at_most(count, n: int):
    """Whether the run-time ``count`` (a sum of ones and zeros) is at most ``n``: the
    comparison with ``n + 1/2``, safe from rounding."""
    return sympy.StrictLessThan(count, n + sympy.Rational(1, 2), evaluate=False)


def _unless_none_left(value, count):
    """``value``, or nan where ``count`` (of non-NaN elements) is 0."""
    if _is_number(count):
        return S.NaN if count == 0 else value
    return _select([(S.NaN, _at_most(count, 0))], value)


_fmax = _extremum_ignoring_nan(_extremum(sympy.Max, np.maximum))
_fmin = _extremum_ignoring_nan(_extremum(sympy.Min, np.minimum))


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: PLR0917 - NumPy's signature
    """SymNum implementation of :py:obj:`numpy.nanmax`: the largest non-NaN element
    along ``axis`` (nan for a lane of NaN only), a tree of NaN-ignoring maxima
    (:func:`~symnum.numpy.fmax`). The shape of ``a`` without the reduced axes."""
    return _nan_extremum(
        "nanmax",
        a,
        axis,
        out=out,
        keepdims=keepdims,
        initial=initial,
        where=where,
        combine=_fmax,
        numpy_func=np.nanmax,
    )


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: PLR0917 - NumPy's signature
    """SymNum implementation of :py:obj:`numpy.nanmin`: the smallest non-NaN element
    along ``axis`` (nan for a lane of NaN only), a tree of NaN-ignoring minima
    (:func:`~symnum.numpy.fmin`). The shape of ``a`` without the reduced axes."""
    return _nan_extremum(
        "nanmin",
        a,
        axis,
        out=out,
        keepdims=keepdims,
        initial=initial,
        where=where,
        combine=_fmin,
        numpy_func=np.nanmin,
    )


def nanargmax(a, axis=None, out=None, *, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.nanargmax` for numeric input: NumPy's
    integer index (ValueError for a lane of NaN only). Raises ``TypeError`` on symbolic
    elements."""
    _reject_unsupported("nanargmax", out=out)
    return np.nanargmax(order._index_numbers("nanargmax", a), axis=axis, keepdims=keepdims)


def nanargmin(a, axis=None, out=None, *, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.nanargmin` for numeric input: NumPy's
    integer index (ValueError for a lane of NaN only). Raises ``TypeError`` on symbolic
    elements."""
    _reject_unsupported("nanargmin", out=out)
    return np.nanargmin(order._index_numbers("nanargmin", a), axis=axis, keepdims=keepdims)


# --------------------------------------------------------------------------------------
# Running sums and products


def nancumsum(a, axis=None, dtype=None, out=None):
    """SymNum implementation of :py:obj:`numpy.nancumsum`: :func:`~symnum.numpy.cumsum`
    with NaN elements counted as 0. The shape of ``a`` (flattened for ``axis=None``)."""
    _reject_unsupported("nancumsum", dtype=dtype, out=out)
    return reduce.cumsum(_elementwise(_nan_as(S.Zero), a, name="nancumsum: a"), axis)


def nancumprod(a, axis=None, dtype=None, out=None):
    """SymNum implementation of :py:obj:`numpy.nancumprod`: :func:`~symnum.numpy.cumprod`
    with NaN elements counted as 1. The shape of ``a`` (flattened for ``axis=None``)."""
    _reject_unsupported("nancumprod", dtype=dtype, out=out)
    return reduce.cumprod(_elementwise(_nan_as(S.One), a, name="nancumprod: a"), axis)


# --------------------------------------------------------------------------------------
# Quantiles


def _max_keeping_nan(a, b):
    if S.NaN in (a, b):
        return S.NaN
    return order._max2(a, b)


def _lane_quantile(lane: list, positions_by_count: list) -> object:
    """The quantile of a sorted (NaN last) lane: the interpolation for ``count``
    non-NaN elements, chosen by the run-time count (nan for none)."""
    count = sympy.Add(*(_present(x) for x in lane))
    choices = [
        order._interpolate(lane, position, n)
        for n, position in enumerate(positions_by_count, start=1)
    ]
    if _is_number(count):
        n = int(count)
        return S.NaN if n == 0 else choices[n - 1]
    pieces = [(S.NaN, _at_most(count, 0))]
    pieces += [(value, _at_most(count, n)) for n, value in enumerate(choices[:-1], start=1)]
    return _select(pieces, choices[-1])


def _nanquantile(name, a, q, *, axis, keepdims, method, weights=None):
    _reject_unsupported(name, weights=weights)
    q = np.asarray(q, dtype=float)
    numbers = _numeric(a)
    if numbers is not None:
        if name == "nanmedian":
            return _numpy_value(np.nanmedian, numbers, axis=axis, keepdims=keepdims)
        return _numpy_value(np.nanquantile, numbers, q, axis=axis, keepdims=keepdims, method=method)
    array = _as_array(a)
    axes = _normalize_axes(axis, array.ndim)
    length = math.prod(array.shape[ax] for ax in axes)  # > 0: no elements are numbers
    order._check_length(name, length)  # before a quantile position per length
    # NumPy's checks of q and method, and where each q interpolates for each count
    where = [
        np.ravel(np.quantile(np.arange(n, dtype=float), q, method=method))
        for n in range(1, length + 1)
    ]
    # NaN sorts last: the low output of a step ignores NaN, the high one keeps it
    lanes, kept_shape = order._sorted_lanes(array, axes, name, low=_fmin, high=_max_keeping_nan)
    values = [
        _lane_quantile(lane, [where[n][k] for n in range(length)])
        for k in range(q.size)
        for lane in lanes
    ]
    if keepdims:
        kept_shape = tuple(1 if ax in axes else n for ax, n in enumerate(array.shape))
    return _result(values, q.shape + kept_shape)


def nanquantile(  # noqa: PLR0917 - NumPy's signature
    a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False,
    *, weights=None, interpolation=None,
):  # fmt: skip
    """SymNum implementation of :py:obj:`numpy.nanquantile`: :func:`~symnum.numpy.quantile`
    of the non-NaN elements of each lane (nan for a lane of NaN only), any of NumPy's
    ``method`` s. Shape ``q.shape + (the shape of a without the reduced axes)``.

    Symbolic lanes are sorted with NaN last by a sorting network and the interpolation
    for each possible number of non-NaN elements is chosen at run time, so a lane of
    ``n`` symbolic elements costs a network and ``n`` choices per ``q``.
    """
    _reject_unsupported("nanquantile", out=out, interpolation=interpolation)
    del overwrite_input
    return _nanquantile(
        "nanquantile", a, q, axis=axis, keepdims=keepdims, method=method, weights=weights
    )


def nanpercentile(  # noqa: PLR0917 - NumPy's signature
    a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False,
    *, weights=None, interpolation=None,
):  # fmt: skip
    """SymNum implementation of :py:obj:`numpy.nanpercentile`: :func:`nanquantile` of
    ``q / 100`` (``0 <= q <= 100``), the same shapes."""
    _reject_unsupported("nanpercentile", out=out, interpolation=interpolation)
    del overwrite_input
    fractions = order._fractions(q)
    return _nanquantile(
        "nanpercentile", a, fractions, axis=axis, keepdims=keepdims, method=method, weights=weights
    )


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.nanmedian`: the median of the non-NaN
    elements of each lane (nan for a lane of NaN only). The shape of ``a`` without the
    reduced axes (kept with length 1 if ``keepdims``); a scalar if none are left."""
    _reject_unsupported("nanmedian", out=out)
    del overwrite_input
    return _nanquantile("nanmedian", a, 0.5, axis=axis, keepdims=keepdims, method="linear")
