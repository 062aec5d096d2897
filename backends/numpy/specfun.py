"""Special functions over float64 arrays: :mod:`symnum.ir.specfun` vectorised, for the
numpy backend's batch functions (``batch_digamma``... in :mod:`.runtime`).

Each function computes, element by element, what the scalar function of the same name in
:mod:`symnum.ir.specfun` computes, and mirrors it branch for branch: an ``if`` there is a
boolean mask here (each branch evaluated on its own elements only), a loop whose count
depends on the argument runs to the largest count over the elements sorted by their
counts, so that the ones still looping are a leading slice, and the pure-arithmetic
helpers of the scalar module (``_taylor``, ``_cot_derivative``, ``_compensated_horner``,
``_scaled_ratio``, ``_times``, ``_factorial``...) are called as they are, on arrays. So
every element goes through the same IEEE operations in the same order as in the scalar
code. Elementary functions are NumPy's where they are libm's or exact (``np.floor``,
``np.ceil``, ``np.sqrt``, ``np.frexp``, ``np.ldexp``; ``np.float_power``, libm's
``pow``, which ``np.power`` is not everywhere) and ``np.log``, which may differ from
libm's by an ulp on machines where NumPy has a SIMD log of its own. ``tan`` is libm's,
one element at a time (:func:`_tan`), and so are the :mod:`math` functions NumPy lacks
(``math.lgamma`` in lgamma's bulk, ``math.gamma``, and ``math.erf``/``math.erfc``, all
of :func:`erf` and :func:`erfc`): C calls through :func:`map`, no Python frames. With
libm's log as well, every value is the scalar function's bit for bit (the tests check
this).

Every public function takes array_likes of any shape (:func:`polygamma`'s ``n`` and ``x``
broadcast together), returns a new float64 array of that shape (0-d for scalars), raises
no floating-point warnings and leaves its arguments alone. The kernels (``_digamma``...)
take and return 1-D float64 arrays.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from symnum.ir import specfun as sf

__all__ = [
    "digamma",
    "erf",
    "erfc",
    "erfcinv",
    "erfinv",
    "gamma",
    "lgamma",
    "ndtri",
    "polygamma",
]


def _each(fn, x: np.ndarray) -> np.ndarray:
    """``fn`` (a builtin of :mod:`math`) of every element of the 1-D ``x``, shape (n,)."""
    return np.fromiter(map(fn, x.tolist()), np.float64, count=x.size)


def _tan(x: np.ndarray) -> np.ndarray:
    """libm's tan of every element, shape (n,): NumPy's SIMD tan is not libm's on every
    machine (an ulp apart), and cot(pi x) is one of two terms that cancel in the
    reflection formulas next to the zeros, where an ulp of it is many of the result."""
    return _each(math.tan, x)


#: NumPy's log where the scalar code calls math.log (the tests swap in libm's too).
_log = np.log


def _over_arrays(kernel):
    """The public function of ``kernel`` (1-D float64 -> 1-D float64): an array_like of
    any shape in, a float64 array of its shape out, floating-point warnings off."""

    @functools.wraps(kernel)
    def apply(x):
        array = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            return kernel(array.reshape(-1)).reshape(array.shape)

    apply.__name__ = apply.__qualname__ = kernel.__name__.lstrip("_")
    return apply


def _put(out: np.ndarray, mask: np.ndarray, kernel, *args) -> None:
    """``out[mask] = kernel(*args)`` with every array of ``args`` (all of ``mask``'s
    shape) replaced by its elements at ``mask``; nothing where ``mask`` is all False."""
    if mask.any():
        out[mask] = kernel(*(a[mask] if isinstance(a, np.ndarray) else a for a in args))


def _is_pole(x: np.ndarray) -> np.ndarray:
    """Where ``x`` is a non-positive integer (``-0.0`` and ``-inf`` included); bool (n,)."""
    return (x <= 0.0) & ((x <= -sf._TWO52) | (x == np.floor(x)))


def _cot_pi(x: np.ndarray) -> np.ndarray:
    """cot(pi x) for finite non-integers with ``|x| >= 1e-300`` (``specfun._cot_pi``),
    shape (n,) -> (n,)."""
    fraction = x - np.floor(x)
    reduced = np.where(fraction > 0.5, fraction - 1.0, fraction)
    r = np.where((x < -0.5) | (x > 0.5), reduced, x)
    above = r > 0.25
    below = r < -0.25
    angle = np.where(above, sf._PI * (0.5 - r), np.where(below, sf._PI * (0.5 + r), sf._PI * r))
    tangent = _tan(angle)
    return np.where(above, tangent, np.where(below, -tangent, 1.0 / tangent))


# -- erf, erfc, lgamma, gamma ----------------------------------------------------------


@_over_arrays
def erf(x: np.ndarray) -> np.ndarray:
    """The error function (``math.erf`` of every element)."""
    return _each(math.erf, x)


@_over_arrays
def erfc(x: np.ndarray) -> np.ndarray:
    """The complementary error function (``math.erfc`` of every element)."""
    return _each(math.erfc, x)


@_over_arrays
def lgamma(x: np.ndarray) -> np.ndarray:
    """log|Gamma(x)| as ``specfun.lgamma``: ``+inf`` at the poles and at ``±inf``."""
    out = np.full(x.shape, np.inf)  # ±inf, poles, beyond _LGAMMA_MAX
    nan = np.isnan(x)
    out[nan] = x[nan]
    regular = np.isfinite(x) & ~_is_pole(x) & (x <= sf._LGAMMA_MAX)
    at_1 = regular & (x >= 0.5) & (x < 1.25)
    at_2 = regular & ~at_1 & (np.abs(x - 2.0) <= 0.75)
    _put(out, at_1, lambda t: sf._taylor(sf._LGAMMA_AT_1, t - 1.0), x)
    _put(out, at_2, lambda t: sf._taylor(sf._LGAMMA_AT_2, t - 2.0), x)
    _put(out, regular & ~at_1 & ~at_2, functools.partial(_each, math.lgamma), x)
    return out


@_over_arrays
def gamma(x: np.ndarray) -> np.ndarray:
    """Gamma(x) as ``specfun.gamma``: ``±inf`` at ``±0``, NaN at the negative integers and
    ``-inf``, ``+inf`` past ``_GAMMA_MAX``."""
    out = np.full(x.shape, np.nan)  # poles
    nan = np.isnan(x)
    out[nan] = x[nan]
    zero = x == 0.0
    out[zero] = np.copysign(np.inf, x[zero])
    big = x > sf._GAMMA_MAX
    out[big] = np.inf
    regular = ~nan & ~_is_pole(x) & ~big
    tiny = regular & (np.abs(x) < 1e-300)
    _put(out, tiny, lambda t: 1.0 / t, x)
    _put(out, regular & ~tiny, functools.partial(_each, math.gamma), x)
    return out


# -- digamma ---------------------------------------------------------------------------


def _digamma(x: np.ndarray) -> np.ndarray:
    """psi(x) = d/dx log Gamma(x) as ``specfun.digamma``: ``∓inf`` at ``±0``, NaN at the
    negative integers and ``-inf``."""
    out = np.full(x.shape, np.nan)  # the negative integers and -inf
    keep = np.isnan(x) | (x == np.inf)
    out[keep] = x[keep]
    zero = x == 0.0
    out[zero] = np.copysign(np.inf, -x[zero])
    regular = ~keep & ~_is_pole(x)
    window = regular & (x < 0.0) & (np.abs(x - sf._NEG_ROOT) < sf._NEG_WINDOW)
    _put(out, window, _digamma_window, x)
    _put(out, regular & ~window, _digamma_regular, x)
    return out


def _digamma_window(x: np.ndarray) -> np.ndarray:
    """psi(x) within ``_NEG_WINDOW`` of the negative zero: its Taylor series, (n,)."""
    return sf._taylor(sf._NEG_TAYLOR, (x - sf._NEG_ROOT) - sf._NEG_ROOT_LO)


def _digamma_regular(x: np.ndarray) -> np.ndarray:
    """psi(x) at finite non-poles outside the window about the negative zero, (n,) -> (n,):
    a shift of negative ``x`` (recurrence next to 0, reflection beyond), then the
    asymptotic series or the recurrence and the series about the positive zero."""
    result = np.zeros(x.shape)
    shifted = x.copy()
    near = (x < 0.0) & (x > -sf._TINY)  # psi(x) = psi(x + 1) - 1/x
    result[near] = -1.0 / x[near]
    shifted[near] = x[near] + 1.0
    reflect = (x < 0.0) & ~near  # psi(x) = psi(1 - x) - pi cot(pi x)
    result[reflect] = -sf._PI * _cot_pi(x[reflect])
    shifted[reflect] = 1.0 - x[reflect]
    out = np.empty(x.shape)
    large = shifted >= 10.0
    _put(out, large, _digamma_asymptotic, result, shifted)
    _put(out, ~large, _digamma_recurrence, result, shifted)
    return out


def _digamma_asymptotic(result: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``result + psi(x)`` for ``x >= 10`` by the asymptotic series, (n,), (n,) -> (n,)."""
    inv2 = 1.0 / (x * x)  # 0 when x * x overflows
    # the scalar code's Horner sum `series`, times inv2: the same operations
    series = sf._taylor(sf._DIGAMMA_ASYMPTOTIC, inv2)
    return result + (_log(x) - 0.5 / x - series)


def _digamma_recurrence(result: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``result + psi(x)`` for ``0 < x < 10``: recurrence into (1, 2], then the Taylor
    series about the positive zero, (n,), (n,) -> (n,)."""
    low = x < 1.0
    result = np.where(low, result - 1.0 / x, result)
    x = np.where(low, x + 1.0, x)
    # x - 1, x - 2, ... are exact, so the loop `while x > 2` steps ceil(x) - 2 times
    count = np.where(x > 2.0, np.ceil(x) - 2.0, 0.0).astype(np.int64)
    order, active = _descending(count)
    x = x[order]
    result = result[order]
    for size in active:  # at most 8 steps
        x[:size] -= 1.0
        result[:size] += 1.0 / x[:size]
    out = np.empty(x.shape)
    out[order] = result + sf._taylor(sf._POS_TAYLOR, (x - sf._POS_ROOT) - sf._POS_ROOT_LO)
    return out


def _descending(count: np.ndarray):
    """For per-element loop counts ``count`` (non-negative ints, shape (n,)): ``order``,
    which sorts them in decreasing order, and ``active``, shape (max(count),), the number
    of elements whose count exceeds ``j`` (a leading slice of the sorted elements), so
    that pass ``j`` of a loop over the sorted elements works on ``[:active[j]]``."""
    order = np.argsort(-count.astype(np.int16), kind="stable")  # a radix sort; count < 400
    exceeding = count.size - np.cumsum(np.bincount(count))
    return order, exceeding[:-1]


digamma = _over_arrays(_digamma)


# -- polygamma -------------------------------------------------------------------------


def polygamma(n, x) -> np.ndarray:
    """psi_n(x) as ``specfun.polygamma``: ``n`` and ``x`` broadcast together; NaN where
    ``n`` is not an integer in [0, 170]. Returns a float64 array of the broadcast shape."""
    n = np.asarray(n, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    shape = np.broadcast_shapes(n.shape, x.shape)
    flat_x = np.broadcast_to(x, shape).reshape(-1)
    out = np.full(flat_x.shape, np.nan)
    with np.errstate(all="ignore"):
        if n.ndim == 0:
            if _valid_order(n):
                out[:] = _polygamma_order(int(n), flat_x)
        else:
            flat_n = np.broadcast_to(n, shape).reshape(-1)
            valid = _valid_order(flat_n)
            for order in np.unique(flat_n[valid]):
                _put(
                    out,
                    valid & (flat_n == order),
                    functools.partial(_polygamma_order, int(order)),
                    flat_x,
                )
    return out.reshape(shape)


def _valid_order(n: np.ndarray) -> np.ndarray:
    """Where ``n`` is an integer in [0, 170] (``specfun.polygamma``'s test), bool."""
    return (n >= 0.0) & (n <= sf._MAX_ORDER) & (n == np.floor(n))


def _polygamma_order(k: int, x: np.ndarray) -> np.ndarray:
    """psi_k(x) for one order ``0 <= k <= 170``, shape (n,) -> (n,)."""
    if k == 0:
        return _digamma(x)
    odd = k % 2 == 1
    out = np.full(x.shape, np.inf if odd else -np.inf)  # the poles
    nan = np.isnan(x)
    out[nan] = x[nan]
    out[x == np.inf] = 0.0 if odd else -0.0
    finite = ~nan & (x != np.inf) & ~_is_pole(x)
    _put(out, finite, functools.partial(_polygamma_finite, k, odd), x)
    return out


def _polygamma_finite(k: int, odd: bool, x: np.ndarray) -> np.ndarray:
    """psi_k(x), ``k >= 1``, at finite non-poles (``specfun._polygamma_finite``), (n,)."""
    out = np.empty(x.shape)
    reflect = x <= -0.25
    near = (x < 0.0) & ~reflect
    _put(out, reflect, functools.partial(_polygamma_reflected, k), x)
    _put(out, near, functools.partial(_polygamma_near_zero, k, odd), x)
    positive = ~reflect & ~near
    if positive.any():
        magnitude = _zeta_scaled(k, x[positive])
        out[positive] = magnitude if odd else -magnitude
    return out


def _polygamma_reflected(k: int, x: np.ndarray) -> np.ndarray:
    """psi_k(x) for ``x <= -1/4`` by reflection, (n,) -> (n,)."""
    head = math.pow(sf._PI, k + 1.0) * sf._cot_derivative(k, _cot_pi(x))
    return -(head + _zeta_scaled(k, 1.0 - x))


def _polygamma_near_zero(k: int, odd: bool, x: np.ndarray) -> np.ndarray:
    """psi_k(x) for ``-1/4 < x < 0``: psi_k(x + 1) + k! |x|**-(k+1), (n,) -> (n,)."""
    magnitude = _scaled_power(sf._factorial(k), -x, k + 1)
    zeta = _zeta_scaled(k, x + 1.0)
    return magnitude + zeta if odd else magnitude - zeta


def _zeta_scaled(n: int, a: np.ndarray) -> np.ndarray:
    """``n! zeta(n + 1, a)`` for ``1 <= n <= 170`` and finite ``a > 0``, (m,) -> (m,), as
    ``specfun._zeta_scaled``: the Euler-Maclaurin tail at ``b = a + steps``, then the
    direct terms ``k = steps - 1, ..., 0`` added in that order (elements sorted by their
    number of steps, so the elements still adding are a leading slice)."""
    threshold = 10.0 + 2.0 * n
    steps = np.where(a < threshold, np.floor(threshold - a) + 1.0, 0.0)
    b = a + steps
    inv2 = 1.0 / (b * b)  # 0 when b * b overflows
    rising = 1.0  # n (n+1) ... (n+2j-1)
    power = 1.0  # b**-2j
    series = 0.0
    for j in range(len(sf._ZETA_TAIL)):
        rising *= (n + 2 * j) * (n + 2 * j + 1.0)
        power = power * inv2
        series = series + sf._ZETA_TAIL[j] * rising * power
    bracket = 1.0 + 0.5 * n / b + series
    total = _scaled_power(sf._factorial(n - 1) * bracket, b, n)
    order, active = _descending(steps.astype(np.int64))
    a = a[order]
    total = total[order]
    factorial = sf._factorial(n)
    for k in range(active.size - 1, -1, -1):  # the terms at a + k, largest k first
        size = active[k]
        total[:size] += _scaled_power(factorial, a[:size] + k, n + 1)
    out = np.empty(total.shape)
    out[order] = total
    return out


def _scaled_power(c, a: np.ndarray, s: int) -> np.ndarray:
    """``c * a**-s`` for finite ``c >= 0`` (a float or shape (m,)), finite ``a > 0``
    (m,) and ``1 <= s <= 1000``, as ``specfun._scaled_power``: below ``a = 1``
    mantissas and exponents are kept apart, so an overflowing result is ``inf``."""
    out = c * np.float_power(a, -float(s))
    small = a < 1.0
    if small.any():
        c_small = c[small] if np.ndim(c) else c
        out[small] = _scaled_power_small(c_small, a[small], s)
    return out


def _scaled_power_small(c, a: np.ndarray, s: int) -> np.ndarray:
    """``c * a**-s`` for ``0 < a < 1`` through ``frexp``/``ldexp``, shape (m,)."""
    c_mantissa, c_exponent = np.frexp(c)
    a_mantissa, a_exponent = np.frexp(a)  # a = am * 2**ae, am in [1/2, 1)
    mantissa, exponent = np.frexp(c_mantissa * np.float_power(a_mantissa, -float(s)))
    total = c_exponent.astype(np.int64) + exponent - a_exponent.astype(np.int64) * s
    return np.where(total > 1024, np.inf, np.ldexp(mantissa, np.minimum(total, 1025)))


# -- ndtri, erfinv, erfcinv ------------------------------------------------------------


def _ppnd_tail(s: np.ndarray, f_hi: float, f_lo: float) -> np.ndarray:
    """``f * -ndtri(p)`` for ``p = exp(-s) < 0.075`` (``specfun._ppnd_tail``), (n,)."""
    r = np.sqrt(s)
    out = np.empty(r.shape)
    near = r <= 5.0
    _put(out, near, _ratio_sum, sf._PPND_NEAR_NUM, sf._PPND_NEAR_DEN, r - 1.6, f_hi, f_lo)
    _put(out, ~near, _ratio_sum, sf._PPND_FAR_NUM, sf._PPND_FAR_DEN, r - 5.0, f_hi, f_lo)
    return out


def _ratio_sum(numerator, denominator, t: np.ndarray, f_hi: float, f_lo: float):
    """``hi + lo`` of ``specfun._scaled_ratio``: ``f * numerator(t) / denominator(t)``."""
    hi, lo = sf._scaled_ratio(numerator, denominator, t, f_hi, f_lo)
    return hi + lo


def _ndtri_central(q: np.ndarray) -> np.ndarray:
    """ndtri(1/2 + q) for ``|q| <= 0.425``, (n,) -> (n,)."""
    return sf._times(q, *sf._ppnd_central(q, 1.0, 0.0))


def _erfinv_central(x: np.ndarray) -> np.ndarray:
    """erfinv(x) = x (sqrt(2)/4) ndtri(1/2 + q) / q, ``q = x/2``, for ``|x| <= 0.85``."""
    return sf._times(x, *sf._ppnd_central(0.5 * x, sf._SQRT2_4_HI, sf._SQRT2_4_LO))


def _ndtri_lower(p: np.ndarray) -> np.ndarray:
    """ndtri(p) for ``0 < p < 0.075``, (n,) -> (n,)."""
    return -_ppnd_tail(-_log(p), 1.0, 0.0)


def _ndtri_upper(p: np.ndarray) -> np.ndarray:
    """ndtri(p) for ``0.925 < p < 1`` (``1 - p`` is exact), (n,) -> (n,)."""
    return _ppnd_tail(-_log(1.0 - p), 1.0, 0.0)


@_over_arrays
def ndtri(p: np.ndarray) -> np.ndarray:
    """The inverse of the standard normal CDF as ``specfun.ndtri``: ``-inf`` at 0,
    ``+inf`` at 1, NaN outside [0, 1]."""
    out = np.full(p.shape, np.nan)
    out[p == 0.0] = -np.inf
    out[p == 1.0] = np.inf
    inside = (p > 0.0) & (p < 1.0)
    q = p - 0.5
    central = inside & (np.abs(q) <= 0.425)
    _put(out, central, _ndtri_central, q)
    lower = inside & ~central & (q < 0.0)
    _put(out, lower, _ndtri_lower, p)
    _put(out, inside & ~central & ~lower, _ndtri_upper, p)
    return out


@_over_arrays
def erfinv(x: np.ndarray) -> np.ndarray:
    """The inverse of erf as ``specfun.erfinv``: ``±inf`` at ``±1``, NaN outside [-1, 1]."""
    out = np.full(x.shape, np.nan)
    zero = x == 0.0
    out[zero] = x[zero]
    a = np.abs(x)
    one = a == 1.0
    out[one] = np.copysign(np.inf, x[one])
    inside = ~zero & (a < 1.0)
    central = inside & (a <= 0.85)
    _put(out, central, _erfinv_central, x)
    tail = inside & ~central
    _put(out, tail, _erfinv_tail, x, a)
    return out


def _erfinv_tail(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """erfinv(x) for ``0.85 < |x| = a < 1``, (n,), (n,) -> (n,)."""
    value = _ppnd_tail(-_log(0.5 * (1.0 - a)), sf._SQRT1_2_HI, sf._SQRT1_2_LO)
    return np.copysign(value, x)


@_over_arrays
def erfcinv(y: np.ndarray) -> np.ndarray:
    """The inverse of erfc as ``specfun.erfcinv``: ``+inf`` at 0, ``-inf`` at 2, NaN
    outside [0, 2]."""
    out = np.full(y.shape, np.nan)
    out[y == 0.0] = np.inf
    out[y == 2.0] = -np.inf
    inside = (y > 0.0) & (y < 2.0)
    d = 1.0 - y
    central = inside & (np.abs(d) <= 0.85)
    _put(out, central, _erfinv_central, d)
    upper = inside & ~central & (d > 0.0)
    _put(out, upper, _erfcinv_small, y)
    _put(out, inside & ~central & ~upper, _erfcinv_large, y)
    return out


def _erfcinv_small(y: np.ndarray) -> np.ndarray:
    """erfcinv(y) for ``0 < y < 0.15``: the tail at ``p = y/2``, ``log(y/2)`` without
    rounding ``y/2``, (n,) -> (n,)."""
    s = np.where(y >= sf._HALVES_EXACTLY, -_log(0.5 * y), sf._LN2 - _log(y))
    return _ppnd_tail(s, sf._SQRT1_2_HI, sf._SQRT1_2_LO)


def _erfcinv_large(y: np.ndarray) -> np.ndarray:
    """erfcinv(y) for ``1.85 < y < 2``: minus the tail at ``1 - y/2`` (``2 - y`` is
    exact), (n,) -> (n,)."""
    return -_ppnd_tail(-_log(0.5 * (2.0 - y)), sf._SQRT1_2_HI, sf._SQRT1_2_LO)
