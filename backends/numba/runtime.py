"""What generated numba modules call besides ``math``, ``cmath`` and NumPy.

Imported (with numba) by :func:`symnum.backends.numba.build` before any generated module:

* the njit versions of :func:`~symnum.backends.numba.scalar` and
  :func:`~symnum.backends.numba.fill`, registered with :func:`numba.extending.overload`;
* ``digamma`` and ``polygamma``: :mod:`symnum.ir.specfun`'s implementations (the one
  the interpreter and the numpy backend run) compiled with ``numba.njit`` unchanged;
  while that module does not exist, the implementations below stand in;
* complex division and powers with NumPy's results where numba's differ.

Cached machine code of a generated module includes what it inlined from here, so the
cache key of every kernel contains a digest of this file and of ``specfun``
(:data:`DIGEST`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
from pathlib import Path

import numba
from numba.core import types
from numba.extending import overload, register_jitable

from symnum.backends.numba import fill, scalar

__all__ = ["DIGEST", "cdiv", "cpow", "digamma", "polygamma"]

_OPTIONS = {"cache": True, "error_model": "numpy"}


@overload(scalar, inline="always")
def _scalar(x):
    if isinstance(x, types.Array) and x.ndim == 0:
        return lambda x: x[()]
    if isinstance(x, types.Number):
        return lambda x: x
    return None


@overload(fill, inline="always")
def _fill(out, offset, values):
    if not (isinstance(out, types.Array) and out.layout == "C"):
        return None
    if isinstance(values, types.UniTuple):

        def impl(out, offset, values):
            flat = out.reshape(-1)
            for k in range(len(values)):
                flat[offset + k] = values[k]

        return impl
    return None


@numba.njit(**_OPTIONS)
def cdiv(a, b):
    """a / b for complex numbers, with IEEE results instead of ZeroDivisionError."""
    a = complex(a)
    b = complex(b)
    if b.real == 0.0 and b.imag == 0.0:
        re = a.real / 0.0 if a.real != 0.0 else (math.nan if a.imag == 0.0 else 0.0)
        im = a.imag / 0.0 if a.imag != 0.0 else (math.nan if a.real == 0.0 else 0.0)
        if a.real != 0.0 and a.imag == 0.0:
            im = math.nan
        if a.imag != 0.0 and a.real == 0.0:
            re = math.nan
        return complex(re, im)
    return a / b


@numba.njit(**_OPTIONS)
def cpow(a, b):
    """a ** b for complex numbers; 0 ** b is 0 when b.real > 0, as in NumPy."""
    a = complex(a)
    b = complex(b)
    if a.real == 0.0 and a.imag == 0.0 and b.real > 0.0:
        return 0j
    return a**b


# -- special functions ------------------------------------------------------------------


def _fallback_digamma(x):
    """The digamma function psi(x) = d/dx log(gamma(x)) for real x."""
    if math.isnan(x) or x == -math.inf:
        return math.nan
    if x == math.inf:
        return math.inf
    if x <= 0.0 and x == math.floor(x):
        return math.nan  # the poles
    shift = 0.0
    if x < 0.0:
        # reflection: psi(x) = psi(1 - x) - pi / tan(pi x); tan has period pi, so
        # reduce x first to keep the argument of tan accurate
        r = x - math.floor(x)
        shift = -math.pi / math.tan(math.pi * r)
        x = 1.0 - x
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    y = 1.0 / (x * x)
    inner = 1.0 / 240.0 - y * (1.0 / 132.0 - y * (691.0 / 32760.0 - y / 12.0))
    series = y * (1.0 / 12.0 - y * (1.0 / 120.0 - y * (1.0 / 252.0 - y * inner)))
    return shift + math.log(x) - 0.5 / x - series


def _fallback_polygamma(n, x):
    """The n-th derivative of digamma at real x: (-1)**(n+1) n! zeta(n+1, x)."""
    if n == 0:
        return _fallback_digamma(x)
    sign = 1.0 if n % 2 == 1 else -1.0
    if math.isnan(x) or x == -math.inf or (x <= 0.0 and x == math.floor(x)):
        return math.nan  # -inf and the poles
    if x == math.inf:
        return 0.0
    s = n + 1
    factorial = 1.0
    for k in range(2, n + 1):
        factorial *= k
    # Hurwitz zeta(s, x): sum the first terms directly, then Euler-Maclaurin
    total = 0.0
    a = x
    threshold = 16.0 + s
    while a < threshold:
        total += a**-s
        a += 1.0
    total += a ** (1 - s) / (s - 1) + 0.5 * a**-s
    # B_2k / (2k)! for k = 1..8
    coefficients = (
        1.0 / 12.0,
        -1.0 / 720.0,
        1.0 / 30240.0,
        -1.0 / 1209600.0,
        1.0 / 47900160.0,
        -691.0 / 1307674368000.0,
        1.0 / 74724249600.0,
        -3617.0 / 10670622842880000.0,
    )
    rising = float(s)
    power = a ** (-s - 1)
    for k in range(8):
        total += coefficients[k] * rising * power
        rising *= (s + 2 * k + 1) * (s + 2 * k + 2)
        power /= a * a
    return sign * factorial * total


def _specfun_module():
    """:mod:`symnum.ir.specfun` with every function it defines made callable from njit
    code (its functions call each other), or ``None`` where it does not exist."""
    if importlib.util.find_spec("symnum.ir.specfun") is None:
        return None
    from symnum.ir import specfun  # noqa: PLC0415 - optional until the module lands

    for value in vars(specfun).values():
        if inspect.isfunction(value) and value.__module__ == specfun.__name__:
            register_jitable(value)
    return specfun


_specfun = _specfun_module()
if _specfun is not None:
    digamma = numba.njit(**_OPTIONS)(_specfun.digamma)
    polygamma = numba.njit(**_OPTIONS)(_specfun.polygamma)
    _SOURCES = (Path(__file__), Path(inspect.getfile(_specfun)))
else:
    _fallback_digamma = register_jitable(_fallback_digamma)
    digamma = numba.njit(**_OPTIONS)(_fallback_digamma)
    polygamma = numba.njit(**_OPTIONS)(_fallback_polygamma)
    _SOURCES = (Path(__file__),)

#: Digest of the code generated modules take from here (this file, specfun, and the
#: package's ``scalar`` / ``fill``): part of every kernel's cache key.
DIGEST = hashlib.sha256(
    b"".join(p.read_bytes() for p in (*_SOURCES, Path(__file__).with_name("__init__.py")))
).hexdigest()
