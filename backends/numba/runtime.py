"""What generated numba modules call besides ``math``, ``cmath`` and NumPy.

Imported (with numba) by :func:`symnum.backends.numba.build` before any generated module:

* the njit version of :func:`~symnum.backends.numba.scalar`, registered with
  :func:`numba.extending.overload`;
* ``lgamma``, ``gamma``, ``digamma``, ``polygamma``, ``ndtri``, ``erfinv`` and
  ``erfcinv``: :mod:`symnum.ir.specfun`'s
  implementations (the one the interpreter and the numpy backend run) compiled with
  ``numba.njit`` unchanged;
* complex division and powers with NumPy's results where numba's differ;
* ``select(c, a, b)``, the ``a if c else b`` of every comparison, extremum and choice in
  generated code, as one LLVM ``select`` instruction (a :func:`numba.extending.intrinsic`).

Cached machine code of a generated module includes what it inlined from here, so the
cache key of every kernel contains a digest of this file and of ``specfun``
(:data:`DIGEST`).
"""

from __future__ import annotations

import hashlib
import inspect
import math
from pathlib import Path

import numba
from numba.core import types
from numba.extending import intrinsic, overload, register_jitable

from symnum.backends.numba import scalar
from symnum.ir import specfun

__all__ = [
    "DIGEST",
    "cdiv",
    "cpow",
    "digamma",
    "erfcinv",
    "erfinv",
    "gamma",
    "lgamma",
    "ndtri",
    "polygamma",
    "select",
]

_OPTIONS = {"cache": True, "error_model": "numpy"}


@overload(scalar, inline="always")
def _scalar(x):
    if isinstance(x, types.Array) and x.ndim == 0:
        return lambda x: x[()]
    if isinstance(x, types.Number):
        return lambda x: x
    return None


@intrinsic
def select(typingctx, c, a, b):
    """``a if c else b`` without a branch: both ``a`` and ``b`` are already values (the
    generated code's variables and constants), so nothing is evaluated that the
    conditional expression would have skipped. ``c`` is true as in Python (non-zero;
    NaN is true); ``a`` and ``b`` are numbers, the result of their common type.

    A conditional expression is three or four basic blocks of numba IR, and numba's
    compile time grows faster than linearly in them: the gradient of the median of 7
    symbols (492 conditionals) compiled in 4.6 s with them and 0.9 s with ``select``,
    the same machine code after LLVM's optimisation (equal batch throughput).
    """
    if not all(isinstance(t, (types.Boolean, types.Number)) for t in (c, a, b)):
        return None
    common = typingctx.unify_types(a, b)
    if not isinstance(common, types.Number):
        return None

    def codegen(context, builder, sig, args):
        cond = context.cast(builder, args[0], sig.args[0], types.boolean)
        yes = context.cast(builder, args[1], sig.args[1], common)
        no = context.cast(builder, args[2], sig.args[2], common)
        return builder.select(cond, yes, no)

    return common(c, a, b), codegen


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


def _specfun_functions():
    """Register every function of :mod:`symnum.ir.specfun` as callable from njit code
    (they call each other), unchanged."""
    for value in vars(specfun).values():
        if inspect.isfunction(value) and value.__module__ == specfun.__name__:
            register_jitable(value)


_specfun_functions()
lgamma = numba.njit(**_OPTIONS)(specfun.lgamma)
gamma = numba.njit(**_OPTIONS)(specfun.gamma)
digamma = numba.njit(**_OPTIONS)(specfun.digamma)
polygamma = numba.njit(**_OPTIONS)(specfun.polygamma)
ndtri = numba.njit(**_OPTIONS)(specfun.ndtri)
erfinv = numba.njit(**_OPTIONS)(specfun.erfinv)
erfcinv = numba.njit(**_OPTIONS)(specfun.erfcinv)
_SOURCES = (Path(__file__), Path(inspect.getfile(specfun)))

#: Digest of the code generated modules take from here (this file, specfun, and the
#: package's ``scalar``): part of every kernel's cache key.
DIGEST = hashlib.sha256(
    b"".join(p.read_bytes() for p in (*_SOURCES, Path(__file__).with_name("__init__.py")))
).hexdigest()
