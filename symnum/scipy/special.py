"""Special functions over symbolic arrays (``import symnum.scipy.special``).

SymNum implementations of functions of :mod:`scipy.special`. Each acts elementwise on
scalars, SymbolicArrays, NumPy arrays and nested lists (with broadcasting for several
arguments), and agrees with SciPy on numeric input.

They are built from SymPy functions that code generation emits as library calls
(``erf``, ``erfc``, ``lgamma``, ``tgamma``, digamma / polygamma, ndtri / erfinv /
erfcinv) or as the accurate ``log1p`` / ``expm1`` of :mod:`sympy.codegen.cfunctions`,
and are written to be accurate and overflow-free over the whole double range:

* ``softplus(x) = logaddexp(x, 0)``, emitted as ``max(x, 0) + log1p(exp(-|x|))``, and
  ``logsumexp`` (max-shifted) never overflow; ``log_expit(x) = -softplus(-x)``.
* ``ndtr`` and ``log_ndtr`` use ``erfc`` of a non-negative argument only, so neither
  tail cancels; ``log_ndtr`` switches to its asymptotic series below ``x = -20``, where
  ``erfc`` underflows (the series is truncated where its terms fall below 1e-17).
* ``xlogy(x, y)`` is 0 where ``x == 0`` and ``y <= 0`` (where ``x * log(y)`` would be
  nan); elsewhere it is ``x * log(y)``, so its derivative in ``x`` is ``log(y)`` even at
  ``x == 0``. Unlike SciPy, ``xlogy(0, inf)`` is nan.
* ``ndtri`` (the inverse of ``ndtr``), ``erfinv`` and ``erfcinv`` are single nodes
  (``symnum.sym.nodes.Ndtri``, SymPy's ``erfinv`` / ``erfcinv``) that every backend
  computes with symnum's own implementation (:mod:`symnum.ir.specfun`, within 3 ulp
  over the whole domain, tiny and subnormal arguments included); their derivatives
  reuse their values: ``ndtri'(p) = sqrt(2 pi) exp(ndtri(p)**2 / 2)``,
  ``erfinv'(x) = sqrt(pi)/2 exp(erfinv(x)**2)``, ``erfcinv'(y) = -sqrt(pi)/2
  exp(erfcinv(y)**2)``.

Branches are ``Piecewise`` expressions: backends select the branch taken and the
derivative is that of the branch taken.
"""

from __future__ import annotations

import math

import numpy as np
import sympy
from sympy.codegen import cfunctions

from symnum.array import _add_all, is_scalar
from symnum.numpy._base import _apply, _as_array, _elementwise, _select, _ufunc
from symnum.numpy.derived import (
    _and,
    _eq,
    _floor,
    _folded,
    _ge,
    _gt,
    _horner,
    _isnan,
    _le,
    _lt,
    _or,
)
from symnum.numpy.reduce import logsumexp
from symnum.numpy.ufuncs import _softplus_scalar
from symnum.sym.nodes import Expit, Ndtri

__all__ = [
    "beta",
    "betaln",
    "boxcox",
    "boxcox1p",
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcinv",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gamma",
    "gammaln",
    "huber",
    "inv_boxcox",
    "inv_boxcox1p",
    "kl_div",
    "log1p",
    "log_expit",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "pseudo_huber",
    "psi",
    "rel_entr",
    "softmax",
    "softplus",
    "xlog1py",
    "xlogy",
]

_ZERO = sympy.Integer(0)
_ONE = sympy.Integer(1)
_SQRT1_2 = 1 / sympy.sqrt(2)
# 0.5 * log(2 * pi), to more digits than a double holds
_HALF_LOG_2PI = sympy.Float("0.91893853320467274178032973640561763986", 40)
# log_ndtr uses its asymptotic series below this point
_LOG_NDTR_ASYMPTOTIC_BELOW = -20
# number of terms of that series: the next one is below 1e-17 relative at x = -20
_LOG_NDTR_TERMS = 10


_UNARY_SHAPES = "Elementwise; the shape of ``x`` (a scalar for a scalar)."


def _unary(scalar_func, name: str, doc: str):
    """``name(x)``: ``scalar_func`` elementwise; ``doc`` gets the shape statement."""
    return _ufunc(scalar_func, name, f"{doc}\n\n{_UNARY_SHAPES}")


# --------------------------------------------------------------------------------------
# Gamma and error functions


gammaln = _unary(
    lambda x: _apply(sympy.loggamma, x),
    "gammaln",
    "SymNum implementation of :py:obj:`scipy.special.gammaln`: ``log|Gamma(x)|``"
    " (``lgamma``); derivative ``digamma(x)``.",
)
gamma = _unary(
    lambda x: _apply(sympy.gamma, x),
    "gamma",
    "SymNum implementation of :py:obj:`scipy.special.gamma` (``tgamma``).",
)
digamma = _unary(
    lambda x: _apply(sympy.digamma, x),
    "digamma",
    "SymNum implementation of :py:obj:`scipy.special.digamma`: the derivative of"
    " ``gammaln``; its derivative is ``polygamma(1, x)``.",
)
psi = digamma
erf = _unary(
    lambda x: _apply(sympy.erf, x), "erf", "SymNum implementation of :py:obj:`scipy.special.erf`."
)
erfc = _unary(
    lambda x: _apply(sympy.erfc, x),
    "erfc",
    "SymNum implementation of :py:obj:`scipy.special.erfc`: ``1 - erf(x)``, accurate"
    " in the right tail.",
)
expm1 = _unary(
    lambda x: _apply(cfunctions.expm1, x),
    "expm1",
    "SymNum implementation of :py:obj:`scipy.special.expm1`: accurate ``exp(x) - 1``.",
)
log1p = _unary(
    lambda x: _apply(cfunctions.log1p, x),
    "log1p",
    "SymNum implementation of :py:obj:`scipy.special.log1p`: accurate ``log(1 + x)``.",
)
exp2 = _unary(
    lambda x: _apply(cfunctions.exp2, x),
    "exp2",
    "SymNum implementation of :py:obj:`scipy.special.exp2`: ``2**x``.",
)


def _polygamma_scalar(n, x):
    if not (n.is_Integer and n >= 0):
        msg = f"polygamma: the order n must be a non-negative integer, got {n}"
        raise ValueError(msg)
    return _apply(sympy.polygamma, n, x)


def polygamma(n, x):
    """SymNum implementation of :py:obj:`scipy.special.polygamma`.

    The ``n``-th derivative of ``digamma``; ``n`` (non-negative integers, broadcast
    against ``x``) must be known numbers. Elementwise; the broadcast shape of ``n`` and
    ``x`` (a scalar for scalars).
    """
    return _elementwise(_polygamma_scalar, n, x)


def betaln(a, b):
    """SymNum implementation of :py:obj:`scipy.special.betaln`: ``log|B(a, b)|``.

    Elementwise; the broadcast shape of ``a`` and ``b`` (a scalar for scalars).
    """

    def scalar(x, y):
        return _apply(sympy.loggamma, x) + _apply(sympy.loggamma, y) - _apply(sympy.loggamma, x + y)

    return _elementwise(scalar, a, b)


def multigammaln(a, d):
    """SymNum implementation of :py:obj:`scipy.special.multigammaln` (``d`` an int).

    Elementwise in ``a``; the shape of ``a`` (a scalar for a scalar).
    """
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 1:
        msg = f"multigammaln: d must be a positive int, got {d!r}"
        raise ValueError(msg)
    d = int(d)
    constant = sympy.Rational(d * (d - 1), 4) * sympy.log(sympy.pi)

    def scalar(x):
        terms = [_apply(sympy.loggamma, x - sympy.Rational(j, 2)) for j in range(d)]
        return _add_all([constant, *terms])

    return _elementwise(scalar, a)


# --------------------------------------------------------------------------------------
# Logistic and normal distribution functions


softplus = _unary(
    _softplus_scalar,
    "softplus",
    "SymNum implementation of :py:obj:`scipy.special.softplus`: ``log(1 + exp(x))``,"
    " computed as ``max(x, 0) + log1p(exp(-|x|))`` (no overflow); derivative"
    " ``expit(x)``.",
)
log_expit = _unary(
    lambda x: -_softplus_scalar(-x),
    "log_expit",
    "SymNum implementation of :py:obj:`scipy.special.log_expit`: ``log(expit(x))`` ="
    " ``-softplus(-x)``, accurate in both tails.",
)
expit = _unary(
    lambda x: _apply(Expit, x),
    "expit",
    "SymNum implementation of :py:obj:`scipy.special.expit`: ``1 / (1 + exp(-x))``"
    " (the logistic sigmoid; relative accuracy in both tails).",
)
logit = _unary(
    lambda p: _apply(sympy.log, p) - _apply(cfunctions.log1p, -p),
    "logit",
    "SymNum implementation of :py:obj:`scipy.special.logit`: ``log(p) - log1p(-p)``.",
)


def _half_erfc(x):
    """``(erfc(x / sqrt(2)) / 2, erfc(-x / sqrt(2)) / 2)`` = ``(ndtr(-x), ndtr(x))``.

    Each is computed from ``erfc`` of a non-negative argument only where it is used:
    the first for ``x >= 0``, the second (as ``erfc(|x| / sqrt(2))``, whose argument
    SymPy cannot rewrite as ``2 - erfc(...)``) for ``x < 0``. Neither tail cancels.
    """
    upper = _apply(sympy.erfc, x * _SQRT1_2) / 2
    lower = _apply(sympy.erfc, _apply(sympy.Abs, x) * _SQRT1_2) / 2
    return upper, lower


def _ndtr_scalar(x):
    upper, lower = _half_erfc(x)
    return _select([(1 - upper, _ge(x, 0))], lower)


ndtr = _unary(
    _ndtr_scalar,
    "ndtr",
    "SymNum implementation of :py:obj:`scipy.special.ndtr`: the standard normal CDF,"
    " accurate in both tails.",
)


def _log_ndtr_asymptotic(x):
    """``log(ndtr(x))`` for ``x << 0`` from the asymptotic series of Mills' ratio.

    ``ndtr(x) ~ exp(-x**2/2) / (-x sqrt(2 pi)) * (1 + sum_k (-1)**k (2k-1)!! / x**(2k))``.
    """
    y = 1 / (x * x)
    series = _ZERO
    for k in range(_LOG_NDTR_TERMS, 0, -1):
        coefficient = (-1) ** k * math.prod(range(1, 2 * k, 2))
        series = y * (coefficient + series)
    return -(x * x) / 2 - _apply(sympy.log, -x) - _HALF_LOG_2PI + _apply(cfunctions.log1p, series)


def _log_ndtr_scalar(x):
    upper, lower = _half_erfc(x)
    return _select(
        [
            (_apply(cfunctions.log1p, -upper), _ge(x, 0)),
            (_apply(sympy.log, lower), _gt(x, _LOG_NDTR_ASYMPTOTIC_BELOW)),
        ],
        _log_ndtr_asymptotic(x),
    )


log_ndtr = _unary(
    _log_ndtr_scalar,
    "log_ndtr",
    "SymNum implementation of :py:obj:`scipy.special.log_ndtr`: ``log(ndtr(x))``,"
    " accurate for all ``x`` (``log1p(-erfc(x/sqrt(2))/2)`` for ``x >= 0``, the"
    " asymptotic series below ``x = -20``).",
)


ndtri = _unary(
    _folded(lambda p: _apply(Ndtri, p), 1),
    "ndtri",
    "SymNum implementation of :py:obj:`scipy.special.ndtri`: the inverse of ``ndtr``"
    " on [0, 1] (``-inf`` at 0, ``inf`` at 1, nan outside); derivative"
    " ``sqrt(2 pi) exp(ndtri(p)**2 / 2)``.",
)
erfinv = _unary(
    _folded(lambda x: _apply(sympy.erfinv, x), 1),
    "erfinv",
    "SymNum implementation of :py:obj:`scipy.special.erfinv`: the inverse of ``erf``"
    " on [-1, 1] (``-inf`` at -1, ``inf`` at 1, nan outside); derivative"
    " ``sqrt(pi)/2 exp(erfinv(x)**2)``.",
)
erfcinv = _unary(
    _folded(lambda y: _apply(sympy.erfcinv, y), 1),
    "erfcinv",
    "SymNum implementation of :py:obj:`scipy.special.erfcinv`: the inverse of ``erfc``"
    " on [0, 2] (``inf`` at 0, ``-inf`` at 2, nan outside), accurate for tiny ``y``;"
    " derivative ``-sqrt(pi)/2 exp(erfcinv(y)**2)``.",
)


def _xlogy_scalar(x, y):
    return _select([(_ZERO, _and(_eq(x, 0), _le(y, 0)))], x * _apply(sympy.log, y))


def xlogy(x, y):
    """SymNum implementation of :py:obj:`scipy.special.xlogy`: ``x * log(y)``, 0 at ``x = 0``.

    The value is 0 where ``x == 0`` and ``y <= 0``; elsewhere it is ``x * log(y)``
    (which is already 0 at ``x == 0`` for positive finite ``y``), so the derivative in
    ``x`` is ``log(y)``. Elementwise; the broadcast shape of ``x`` and ``y`` (a scalar
    for scalars).
    """
    return _elementwise(_xlogy_scalar, x, y)


def _xlog1py_scalar(x, y):
    return _select([(_ZERO, _and(_eq(x, 0), _le(y, -1)))], x * _apply(cfunctions.log1p, y))


def xlog1py(x, y):
    """SymNum implementation of :py:obj:`scipy.special.xlog1py`: ``x * log1p(y)``, 0 at
    ``x = 0`` (see :func:`xlogy`).

    Elementwise; the broadcast shape of ``x`` and ``y`` (a scalar for scalars).
    """
    return _elementwise(_xlog1py_scalar, x, y)


# --------------------------------------------------------------------------------------
# Reductions


def log_softmax(x, axis=None):
    """SymNum implementation of :py:obj:`scipy.special.log_softmax`: ``x - logsumexp(x)``.

    ``logsumexp`` over ``axis`` (None: all axes); the shape of ``x``.
    """
    if is_scalar(x):
        return _ZERO
    array = _as_array(x, "x")
    lse = logsumexp(array, axis=axis, keepdims=True)
    return array - lse


def softmax(x, axis=None):
    """SymNum implementation of :py:obj:`scipy.special.softmax`: ``exp(log_softmax(x))``.

    Normalised over ``axis`` (None: all axes); the shape of ``x``.
    """
    if is_scalar(x):
        return _ONE
    return _elementwise(lambda v: _apply(sympy.exp, v), log_softmax(x, axis))


# --------------------------------------------------------------------------------------
# Beta function
#
# Conditions are built by symnum.numpy.ufuncs' helpers: evaluated on numbers (false for
# nan, as IEEE comparisons), unevaluated on expressions. Logarithms and exponentials of
# numbers take NumPy's values (nan, not SymPy's complex logarithm, for negative input).


def _log(x):
    return _apply(sympy.log, x, numeric=np.log)


def _log1p(x):
    return _apply(cfunctions.log1p, x, numeric=np.log1p)


def _exp(x):
    return _apply(sympy.exp, x, numeric=np.exp)


def _expm1(x):
    return _apply(cfunctions.expm1, x, numeric=np.expm1)


def _abs(x):
    return _apply(sympy.Abs, x, numeric=np.abs)


def _gamma(x):
    return _apply(sympy.gamma, x)


def _loggamma(x):
    return _apply(sympy.loggamma, x)


# beta is the ratio of gammas where |a|, |b| and |a + b| are below this (tgamma is
# finite up to 171.6), else the sign times exp(betaln(a, b))
_BETA_DIRECT_BELOW = 160


def _gamma_sign(x):
    """The sign of ``Gamma(x)`` away from its poles: 1 for ``x > 0``, else
    ``(-1)**floor(x)`` (a step: derivative 0)."""
    f = _floor(x)
    parity = f - 2 * _floor(f / 2)
    return _select([(_ONE, _gt(x, 0))], 1 - 2 * parity)


def _beta_scalar(a, b):
    direct = _gamma(a) * _gamma(b) / _gamma(a + b)
    small = _and(
        _lt(_abs(a), _BETA_DIRECT_BELOW),
        _lt(_abs(b), _BETA_DIRECT_BELOW),
        _lt(_abs(a + b), _BETA_DIRECT_BELOW),
    )
    sign = _gamma_sign(a) * _gamma_sign(b) * _gamma_sign(a + b)
    large = sign * _exp(_loggamma(a) + _loggamma(b) - _loggamma(a + b))
    return _select([(direct, small)], large)


_BETA = _folded(_beta_scalar, 2)


def beta(a, b):
    """SymNum implementation of :py:obj:`scipy.special.beta`:
    ``Gamma(a) Gamma(b) / Gamma(a + b)``.

    Computed as that ratio where ``|a|``, ``|b|`` and ``|a + b|`` are below 160, else
    as the sign of the ratio times ``exp(gammaln(a) + gammaln(b) - gammaln(a + b))``
    (no overflow; relative error about ``1e-16 * |gammaln(a + b)|``). Derivative in
    ``a``: ``beta(a, b) (digamma(a) - digamma(a + b))``. At the poles (``a``, ``b`` or
    ``a + b`` a non-positive integer) the value is not SciPy's (0 or ``inf``).
    Elementwise; the broadcast shape of ``a`` and ``b`` (a scalar for scalars).
    """
    return _elementwise(_BETA, a, b)


# --------------------------------------------------------------------------------------
# Entropies


def _entr_scalar(x):
    return _select(
        [
            (-x * _log(x), _gt(x, 0)),
            (_ZERO, _eq(x, 0)),
            (-sympy.oo, _lt(x, 0)),
        ],
        x,  # nan
    )


entr = _unary(
    _folded(_entr_scalar, 1),
    "entr",
    "SymNum implementation of :py:obj:`scipy.special.entr`: ``-x log(x)`` for"
    " ``x > 0``, 0 at 0, ``-inf`` for ``x < 0`` (nan for nan). Derivative"
    " ``-log(x) - 1`` for ``x > 0``, 0 elsewhere (also at 0, where SciPy's limit is"
    " ``inf``).",
)


def _relative_entropy(with_linear_terms: bool):
    def scalar_func(x, y):
        value = x * _log(x / y)
        at_zero = _ZERO
        if with_linear_terms:
            value = value - x + y
            at_zero = y
        return _select(
            [
                (x + y, _or(_isnan(x), _isnan(y))),
                (value, _and(_gt(x, 0), _gt(y, 0))),
                (at_zero, _and(_eq(x, 0), _ge(y, 0))),
            ],
            sympy.oo,
        )

    return scalar_func


_REL_ENTR = _folded(_relative_entropy(False), 2)
_KL_DIV = _folded(_relative_entropy(True), 2)


def rel_entr(x, y):
    """SymNum implementation of :py:obj:`scipy.special.rel_entr`: ``x log(x / y)``.

    As SciPy: ``x log(x / y)`` for ``x > 0`` and ``y > 0``, 0 for ``x == 0`` and
    ``y >= 0``, nan if either is nan, else ``inf``. Derivatives (of the branch taken):
    ``log(x / y) + 1`` in ``x``, ``-x / y`` in ``y``. Elementwise; the broadcast shape
    of ``x`` and ``y`` (a scalar for scalars).
    """
    return _elementwise(_REL_ENTR, x, y)


def kl_div(x, y):
    """SymNum implementation of :py:obj:`scipy.special.kl_div`:
    ``x log(x / y) - x + y``.

    As SciPy: that for ``x > 0`` and ``y > 0``, ``y`` for ``x == 0`` and ``y >= 0``,
    nan if either is nan, else ``inf``. Derivatives (of the branch taken): ``log(x /
    y)`` in ``x``, ``1 - x / y`` in ``y``. Elementwise; the broadcast shape of ``x``
    and ``y`` (a scalar for scalars).
    """
    return _elementwise(_KL_DIV, x, y)


# --------------------------------------------------------------------------------------
# Huber losses


def _huber_scalar(delta, r):
    absolute = _abs(r)
    return _select(
        [(sympy.oo, _lt(delta, 0)), (r * r / 2, _le(absolute, delta))],
        delta * (absolute - delta / 2),
    )


_HUBER = _folded(_huber_scalar, 2)


def huber(delta, r):
    """SymNum implementation of :py:obj:`scipy.special.huber`.

    As SciPy: ``r**2 / 2`` for ``|r| <= delta``, ``delta (|r| - delta / 2)`` for
    ``|r| > delta``, ``inf`` for ``delta < 0``. Elementwise; the broadcast shape of
    ``delta`` and ``r`` (a scalar for scalars).
    """
    return _elementwise(_HUBER, delta, r)


def _pseudo_huber_scalar(delta, r):
    # delta**2 (sqrt(1 + (r/delta)**2) - 1) without cancellation or overflow:
    # r**2 / (hypot(1, r/delta) + 1) for |r| <= delta, and with w = delta / r,
    # delta |r| / (hypot(1, w) + |w|) for |r| > delta
    absolute = _abs(r)
    inner = r * r / (_apply(cfunctions.hypot, _ONE, r / delta) + 1)
    w = delta / r
    outer = delta * absolute / (_apply(cfunctions.hypot, _ONE, w) + _abs(w))
    return _select(
        [
            (sympy.oo, _lt(delta, 0)),
            (_ZERO, _and(_eq(delta, 0), _eq(r, 0))),
            (inner, _le(absolute, delta)),
        ],
        outer,
    )


_PSEUDO_HUBER = _folded(_pseudo_huber_scalar, 2)


def pseudo_huber(delta, r):
    """SymNum implementation of :py:obj:`scipy.special.pseudo_huber`:
    ``delta**2 (sqrt(1 + (r / delta)**2) - 1)``, ``inf`` for ``delta < 0``.

    Computed without cancellation or overflow as ``r**2 / (hypot(1, r / delta) + 1)``
    for ``|r| <= delta`` and ``delta |r| / (hypot(1, w) + |w|)``, ``w = delta / r``,
    otherwise: accurate where SciPy's formula is not (tiny ``r / delta``) and finite
    where it overflows (SciPy gives nan for ``pseudo_huber(1e-300, 1e10)``; its
    ``pseudo_huber(inf, r)`` is nan, this one ``r**2 / 2``). Derivatives are smooth
    across ``|r| == delta`` and exact at ``r == 0`` for ``delta > 0`` (second
    derivative 1 in ``r``). Elementwise; the broadcast shape of ``delta`` and ``r`` (a
    scalar for scalars).
    """
    return _elementwise(_PSEUDO_HUBER, delta, r)


# --------------------------------------------------------------------------------------
# Box-Cox transformations
#
# For |z| < _BOX_COX_SERIES_BELOW, z = lmbda * log(x), expm1(z) / lmbda is log(x) times
# the Taylor polynomial of expm1(z) / z (the first omitted term, z**8 / 9!, is below
# 3e-22), so that the value and its derivatives in lmbda are accurate at and near
# lmbda = 0; elsewhere the cancellation in the lmbda-derivatives costs at most a factor
# 2 / |z| <= 200 of rounding. The inverses use log1p(w) / w, w = lmbda * y, likewise.

_BOX_COX_SERIES_BELOW = sympy.Rational(1, 100)
_EXPM1_OVER_X = [sympy.Rational(1, math.factorial(k + 1)) for k in range(8)]
_LOG1P_OVER_X = [sympy.Rational((-1) ** k, k + 1) for k in range(10)]


def _box_cox(log_func):
    def scalar_func(x, lmbda):
        log_x = log_func(x)
        z = lmbda * log_x
        return _select(
            [
                (log_x * _horner(_EXPM1_OVER_X, z), _lt(_abs(z), _BOX_COX_SERIES_BELOW)),
                # only reached where z is nan: x == 0 or x infinite, lmbda == 0
                (log_x, _eq(lmbda, 0)),
            ],
            _expm1(z) / lmbda,
        )

    return scalar_func


def _inverse_box_cox(exp_func):
    def scalar_func(y, lmbda):
        w = lmbda * y
        return _select(
            [
                (exp_func(y * _horner(_LOG1P_OVER_X, w)), _lt(_abs(w), _BOX_COX_SERIES_BELOW)),
                # only reached where w is nan: y infinite, lmbda == 0
                (exp_func(y), _eq(lmbda, 0)),
            ],
            exp_func(_log1p(w) / lmbda),
        )

    return scalar_func


_BOXCOX = _folded(_box_cox(_log), 2)


def boxcox(x, lmbda):
    """SymNum implementation of :py:obj:`scipy.special.boxcox`:
    ``(x**lmbda - 1) / lmbda``, ``log(x)`` for ``lmbda == 0``.

    ``expm1(lmbda log(x)) / lmbda``, with a series in ``lmbda log(x)`` where that is
    below 0.01 in magnitude, so that derivatives in ``lmbda`` are exact at and near 0
    (``log(x)**2 / 2`` at ``lmbda == 0``). nan for ``x < 0``. Elementwise; the
    broadcast shape of ``x`` and ``lmbda`` (a scalar for scalars).
    """
    return _elementwise(_BOXCOX, x, lmbda)


_BOXCOX1P = _folded(_box_cox(_log1p), 2)


def boxcox1p(x, lmbda):
    """SymNum implementation of :py:obj:`scipy.special.boxcox1p`:
    ``((1 + x)**lmbda - 1) / lmbda``, ``log1p(x)`` for ``lmbda == 0``.

    As :func:`boxcox` with ``log1p(x)`` for ``log(x)``. Elementwise; the broadcast
    shape of ``x`` and ``lmbda`` (a scalar for scalars).
    """
    return _elementwise(_BOXCOX1P, x, lmbda)


_INV_BOXCOX = _folded(_inverse_box_cox(_exp), 2)


def inv_boxcox(y, lmbda):
    """SymNum implementation of :py:obj:`scipy.special.inv_boxcox`:
    ``exp(log1p(lmbda y) / lmbda)``, ``exp(y)`` for ``lmbda == 0``.

    With a series in ``lmbda y`` where that is below 0.01 in magnitude (exact
    derivatives in ``lmbda`` at and near 0). Elementwise; the broadcast shape of ``y``
    and ``lmbda`` (a scalar for scalars).
    """
    return _elementwise(_INV_BOXCOX, y, lmbda)


_INV_BOXCOX1P = _folded(_inverse_box_cox(_expm1), 2)


def inv_boxcox1p(y, lmbda):
    """SymNum implementation of :py:obj:`scipy.special.inv_boxcox1p`:
    ``expm1(log1p(lmbda y) / lmbda)``, ``expm1(y)`` for ``lmbda == 0``.

    As :func:`inv_boxcox`. Where ``|lmbda y| < 1e-154`` SciPy returns ``y``; this
    returns ``expm1(y (1 - lmbda y / 2 + ...))``, the value of the formula (the same
    for tiny ``y``). Elementwise; the broadcast shape of ``y`` and ``lmbda`` (a scalar
    for scalars).
    """
    return _elementwise(_INV_BOXCOX1P, y, lmbda)
