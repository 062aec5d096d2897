"""Special functions over symbolic arrays (``import symnum.scipy.special``).

SymNum implementations of functions of :mod:`scipy.special`. Each acts elementwise on
scalars, SymbolicArrays, NumPy arrays and nested lists (with broadcasting for several
arguments), and agrees with SciPy on numeric input.

They are built from SymPy functions that code generation emits as library calls
(``erf``, ``erfc``, ``lgamma``, ``tgamma``, digamma / polygamma) or as the accurate
``log1p`` / ``expm1`` of :mod:`sympy.codegen.cfunctions`, and are written to be
accurate and overflow-free over the whole double range:

* ``softplus(x) = logaddexp(x, 0)``, emitted as ``max(x, 0) + log1p(exp(-|x|))``, and
  ``logsumexp`` (max-shifted) never overflow; ``log_expit(x) = -softplus(-x)``.
* ``ndtr`` and ``log_ndtr`` use ``erfc`` of a non-negative argument only, so neither
  tail cancels; ``log_ndtr`` switches to its asymptotic series below ``x = -20``, where
  ``erfc`` underflows (the series is truncated where its terms fall below 1e-17).
* ``xlogy(x, y)`` is 0 where ``x == 0`` and ``y <= 0`` (where ``x * log(y)`` would be
  nan); elsewhere it is ``x * log(y)``, so its derivative in ``x`` is ``log(y)`` even at
  ``x == 0``. Unlike SciPy, ``xlogy(0, inf)`` is nan.

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
from symnum.numpy.reduce import logsumexp
from symnum.numpy.ufuncs import _softplus_scalar

__all__ = [
    "betaln",
    "digamma",
    "erf",
    "erfc",
    "exp2",
    "expit",
    "expm1",
    "gamma",
    "gammaln",
    "log1p",
    "log_expit",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "polygamma",
    "psi",
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
    lambda x: 1 / (1 + _apply(sympy.exp, -x)),
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
    return _select([(1 - upper, x >= 0)], lower)


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
            (_apply(cfunctions.log1p, -upper), x >= 0),
            (_apply(sympy.log, lower), x > _LOG_NDTR_ASYMPTOTIC_BELOW),
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


def _xlogy_scalar(x, y):
    return _select([(_ZERO, sympy.And(sympy.Eq(x, 0), y <= 0))], x * _apply(sympy.log, y))


def xlogy(x, y):
    """SymNum implementation of :py:obj:`scipy.special.xlogy`: ``x * log(y)``, 0 at ``x = 0``.

    The value is 0 where ``x == 0`` and ``y <= 0``; elsewhere it is ``x * log(y)``
    (which is already 0 at ``x == 0`` for positive finite ``y``), so the derivative in
    ``x`` is ``log(y)``. Elementwise; the broadcast shape of ``x`` and ``y`` (a scalar
    for scalars).
    """
    return _elementwise(_xlogy_scalar, x, y)


def _xlog1py_scalar(x, y):
    return _select([(_ZERO, sympy.And(sympy.Eq(x, 0), y <= -1))], x * _apply(cfunctions.log1p, y))


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
