"""Elementwise functions of :mod:`symnum.numpy` built from the others: rounding
(``trunc``, ``rint``, ``round``), remainders (``mod``, ``fmod``, ``floor_divide``),
signs (``signbit``, ``copysign``, ``heaviside``), NaN-ignoring extrema (``fmax``,
``fmin``), ``sinc``, ``cbrt``, unit conversions and ``float_power``.

Each is NumPy's function on numbers (floats, inf, nan) and, on symbolic input, a SymPy
expression of functions that lower to every backend: ``floor`` / ``ceiling``,
``Piecewise`` (the derivative is that of the branch taken), comparisons and the codegen
``isnan``. Broadcasting and the shapes are those of :mod:`symnum.numpy.ufuncs`.
"""

from __future__ import annotations

import numpy as np
import sympy
from sympy import S
from sympy.codegen import cfunctions

from symnum.ir import Const
from symnum.ir.lower import Lowerer
from symnum.numpy._base import _apply, _elementwise, _numeric_value, _select
from symnum.numpy.ufuncs import _binary, _extremum, _lazy, _unary
from symnum.sym.build import apply_function
from symnum.sym.nodes import Fmod

__all__ = [
    "around",
    "cbrt",
    "copysign",
    "deg2rad",
    "degrees",
    "divmod",
    "fabs",
    "fix",
    "float_power",
    "floor_divide",
    "fmax",
    "fmin",
    "fmod",
    "heaviside",
    "ldexp",
    "mod",
    "modf",
    "negative",
    "positive",
    "rad2deg",
    "radians",
    "remainder",
    "rint",
    "round",
    "signbit",
    "sinc",
    "trunc",
]


# what float('inf'), float('-inf') and float('nan') become in SymPy
_FLOAT_SPECIALS = frozenset({S.Infinity, S.NegativeInfinity, S.NaN})


def _is_numeric(args) -> bool:
    """Whether NumPy computes the value: all numbers, one a float, an infinity or nan
    (the test of :func:`symnum.numpy._base._apply`; exact numbers stay exact)."""
    return all(a.is_Number and a is not S.ComplexInfinity for a in args) and any(
        a.is_Float or a in _FLOAT_SPECIALS for a in args
    )


def _as_float(a) -> float:
    """A SymPy number as a float; nan as NumPy's (``float(S.NaN)`` has its sign bit set)."""
    return np.nan if a is S.NaN else float(a)


def _numeric_or(symbolic, numpy_func):
    """Scalar function: NumPy's value on numbers (see :func:`_is_numeric`), else
    ``symbolic`` of the SymPy scalars."""

    def scalar_func(*args):
        if _is_numeric(args):
            with np.errstate(all="ignore"):
                return _numeric_value(numpy_func(*(_as_float(a) for a in args)))
        return symbolic(*args)

    return scalar_func


def _folded(symbolic, n_args: int):
    """Scalar function: ``symbolic`` of the SymPy scalars, and on numbers (see
    :func:`_is_numeric`) the value of that expression as compiled code computes it.

    The expression is built once on dummy symbols and lowered with the numbers as
    constants, which folds it with the IR's reference interpreter: IEEE arithmetic
    (``1/0`` is ``inf``, comparisons with nan are false, ``log(-1)`` is nan) where
    SymPy's arithmetic on Floats would raise or go complex.
    """
    dummies = [sympy.Dummy(f"x{i}", real=True) for i in range(n_args)]
    expression = []

    def scalar_func(*args):
        if _is_numeric(args):
            if not expression:
                expression.append(symbolic(*dummies))
            atoms = {d: Const(_as_float(a)) for d, a in zip(dummies, args, strict=True)}
            with np.errstate(all="ignore"):
                value = Lowerer(atoms).lower(expression[0])
            return _numeric_value(value.value)
        return symbolic(*args)

    return scalar_func


def _relation(relation, a, b):
    """``relation(a, b)`` (a SymPy relational class), evaluated only on atoms.

    On numbers it follows IEEE: any comparison with nan is false (SymPy raises)."""
    a, b = sympy.sympify(a), sympy.sympify(b)
    if a.args or b.args:
        return relation(a, b, evaluate=False)
    if S.NaN in (a, b):
        return S.false
    return relation(a, b)


def _lt(a, b):
    return _relation(sympy.StrictLessThan, a, b)


def _le(a, b):
    return _relation(sympy.LessThan, a, b)


def _gt(a, b):
    return _relation(sympy.StrictGreaterThan, a, b)


def _ge(a, b):
    return _relation(sympy.GreaterThan, a, b)


def _eq(a, b):
    return _relation(sympy.Eq, a, b)


def _isnan(x):
    """``isnan(x)`` of :mod:`sympy.codegen.cfunctions` (true / false on numbers)."""
    if x is S.NaN:
        return S.true
    if x.is_Number:
        return S.false
    return apply_function(cfunctions.isnan, x)


def _or(*conditions):
    """``Or`` of conditions, simplified only when all are known."""
    if any(c is S.true for c in conditions):
        return S.true
    conditions = [c for c in conditions if c is not S.false]
    if not conditions:
        return S.false
    return conditions[0] if len(conditions) == 1 else sympy.Or(*conditions, evaluate=False)


def _and(*conditions):
    """``And`` of conditions, simplified only when all are known."""
    if any(c is S.false for c in conditions):
        return S.false
    conditions = [c for c in conditions if c is not S.true]
    if not conditions:
        return S.true
    return conditions[0] if len(conditions) == 1 else sympy.And(*conditions, evaluate=False)


def _floor(x):
    return apply_function(sympy.floor, x)


def _ceiling(x):
    return apply_function(sympy.ceiling, x)


def _horner(coefficients, u):
    """``sum(c_k * u**k)`` in Horner form (``coefficients`` from ``c_0``)."""
    result = S.Zero
    for c in reversed(coefficients):
        result = c + u * result
    return result


class _RealCbrt(cfunctions.Cbrt):
    """``Cbrt`` with the real cube root of negative numbers also in SymPy's evaluation
    (its derivative ``1 / (3 cbrt(x)**2)``, not the complex ``x**(-2/3) / 3``)."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        return 1 / (3 * self**2)

    def _eval_evalf(self, prec):
        x = self.args[0]._eval_evalf(prec)
        if x is None or not x.is_Number or not x.is_extended_real:
            return None
        root = sympy.Abs(x) ** sympy.Rational(1, 3)
        return (-root if x.is_extended_negative else root)._eval_evalf(prec)


def _cbrt_scalar(x):
    if x.is_Number and not x.is_Float and x not in _FLOAT_SPECIALS and x.is_extended_real:
        # exact: the real root of an exact number
        root = sympy.Abs(x) ** sympy.Rational(1, 3)
        return -root if x.is_extended_negative else root
    return _apply(_RealCbrt, x, numeric=np.cbrt)


fabs = _unary(_lazy(sympy.Abs, np.fabs), "fabs", "``|x|`` (real ``x``);")
cbrt = _unary(
    _cbrt_scalar,
    "cbrt",
    "the real cube root (``cbrt(-8) == -2``), emitted as the library ``cbrt``;",
)
positive = _unary(lambda v: v, "positive", "``+x``;")
negative = _unary(lambda v: -v, "negative", "``-x``;")
_RAD_PER_DEG = S.Pi / 180
_DEG_PER_RAD = 180 / S.Pi
deg2rad = _unary(
    _numeric_or(lambda v: v * _RAD_PER_DEG, np.deg2rad), "deg2rad", "``x * pi / 180``;"
)
radians = _unary(
    _numeric_or(lambda v: v * _RAD_PER_DEG, np.radians), "radians", "``x * pi / 180``;"
)
rad2deg = _unary(
    _numeric_or(lambda v: v * _DEG_PER_RAD, np.rad2deg), "rad2deg", "``x * 180 / pi``;"
)
degrees = _unary(
    _numeric_or(lambda v: v * _DEG_PER_RAD, np.degrees), "degrees", "``x * 180 / pi``;"
)
float_power = _binary(
    _numeric_or(lambda a, b: _apply(sympy.Pow, a, b), np.float_power),
    "float_power",
    "``x1 ** x2`` in floating point (nan for a negative base and a non-integer exponent);",
)


def _trunc_scalar(x):
    return _select([(_ceiling(x), _lt(x, 0))], _floor(x))


trunc = _unary(
    _numeric_or(_trunc_scalar, np.trunc),
    "trunc",
    "rounding towards zero, ``ceil(x)`` for ``x < 0`` and ``floor(x)`` otherwise (derivative 0);",
)
fix = _unary(_numeric_or(_trunc_scalar, np.fix), "fix", "rounding towards zero, as ``trunc``;")


def _rint_scalar(x):
    """``x`` rounded to the nearest integer, ties to even, exactly.

    ``r = floor(x)`` and ``d = x - r`` (exact in floating point) give ``r + 1`` for
    ``d > 1/2``, ``r`` plus the parity ``r - 2 floor(r / 2)`` (exact) of ``r`` for a
    tie, else ``r``. Infinities and nan give ``d = nan``, hence ``r``, which is ``x``.
    """
    r = _floor(x)
    d = x - r
    parity = r - 2 * _floor(r / 2)
    return _select([(r + 1, _gt(d, S.Half)), (r + parity, _eq(d, S.Half))], r)


rint = _unary(
    _numeric_or(_rint_scalar, np.rint),
    "rint",
    "the nearest integer, ties to even (``rint(2.5) == 2``), exactly (from ``floor``;"
    " ``rint(-0.3)`` is ``0.0``, not NumPy's ``-0.0``); derivative 0;",
)


def _round_scalar(decimals):
    def scalar_func(x):
        if decimals == 0:
            return _rint_scalar(x)
        # NumPy's scaling: x * 10**d for d > 0, x / 10**(-d) for d < 0
        if decimals > 0:
            scale = sympy.Float(10.0**decimals)
            return _rint_scalar(x * scale) / scale
        scale = sympy.Float(10.0**-decimals)
        return _rint_scalar(x / scale) * scale

    def numpy_func(x):
        return np.round(x, decimals)

    return _numeric_or(scalar_func, numpy_func)


def round(a, decimals=0, out=None):
    """SymNum implementation of :py:obj:`numpy.round`: ``a`` rounded to ``decimals``
    decimal places, ties to even, as NumPy: ``rint(a * 10**decimals) / 10**decimals``
    (see :func:`rint`); derivative 0.

    Elementwise; the shape of ``a`` (a scalar for a scalar). ``out`` is not supported.
    """
    if out is not None:
        msg = "round: argument out is not supported"
        raise NotImplementedError(msg)
    if isinstance(decimals, (bool, np.bool_)) or not isinstance(decimals, (int, np.integer)):
        msg = f"round: decimals must be an int, got {decimals!r}"
        raise TypeError(msg)
    return _elementwise(_round_scalar(int(decimals)), a, name="round: a")


def around(a, decimals=0, out=None):
    """SymNum implementation of :py:obj:`numpy.around`, the same as :func:`round`.

    Elementwise; the shape of ``a`` (a scalar for a scalar).
    """
    return round(a, decimals, out)


def _floor_divide_scalar(x1, x2):
    # nan for an infinite or nan x1, as NumPy
    return _select([(_floor(x1 / x2), _lt(apply_function(sympy.Abs, x1), S.Infinity))], S.NaN)


def _fmod_scalar(x1, x2):
    return apply_function(Fmod, x1, x2)


def _mod_scalar(x1, x2):
    """NumPy's ``mod``: the exact ``fmod`` moved into the divisor's sign (``+ x2`` where
    the signs differ), and a zero with the divisor's sign."""
    r = _fmod_scalar(x1, x2)
    opposite = _or(_and(_lt(r, 0), _gt(x2, 0)), _and(_gt(r, 0), _lt(x2, 0)))
    return _select([(_copysign_scalar(r, x2), _eq(r, 0)), (r + x2, opposite)], r)


_REMAINDER_NOTE = (
    " exactly as NumPy computes it (from C's ``fmod``, exact: ``mod(1, 0.1)`` is"
    " 0.09999999999999995); nan for an infinite ``x1`` or a zero ``x2``. Derivatives:"
    " 1 in ``x1``, ``-floor(x1 / x2)`` in ``x2``;"
)
mod = _binary(
    _numeric_or(_mod_scalar, np.mod),
    "mod",
    "the remainder with the sign of the divisor ``x2`` (Python's ``%``)," + _REMAINDER_NOTE,
)
remainder = _binary(
    _numeric_or(_mod_scalar, np.remainder),
    "remainder",
    "the remainder with the sign of the divisor ``x2`` (as :func:`mod`)," + _REMAINDER_NOTE,
)
fmod = _binary(
    _numeric_or(_fmod_scalar, np.fmod),
    "fmod",
    "the remainder with the sign of the dividend ``x1`` (C's ``fmod``, exact; nan for"
    " an infinite ``x1`` or a zero ``x2``, ``x1`` for an infinite ``x2``); derivatives"
    " 1 in ``x1``, ``-trunc(x1 / x2)`` in ``x2``;",
)
floor_divide = _binary(
    _numeric_or(_floor_divide_scalar, np.floor_divide),
    "floor_divide",
    "``floor(x1 / x2)`` (nan for infinite ``x1``), the quotient that goes with"
    " :func:`mod` (NumPy's, derived from the exact remainder, can differ by one where"
    " ``x1 / x2`` rounds to an integer);",
)


def divmod(x1, x2, *args, **kwargs):
    """SymNum implementation of :py:obj:`numpy.divmod`: ``(floor_divide(x1, x2),
    mod(x1, x2))``, each of the broadcast shape of ``x1`` and ``x2``."""
    return floor_divide(x1, x2, *args, **kwargs), mod(x1, x2, *args, **kwargs)


def modf(x, *args, **kwargs):
    """SymNum implementation of :py:obj:`numpy.modf`: ``(x - trunc(x), trunc(x))``, the
    fractional and integral parts, both with the sign of ``x`` and of its shape
    (derivatives 1 and 0)."""
    integral = trunc(x, *args, **kwargs)
    return _elementwise(lambda v, i: v - i, x, integral, name="modf: x"), integral


def _ldexp_scalar(x1, x2):
    return x1 * _apply(sympy.Pow, S(2), x2)


def _ldexp_numbers(x1: float, x2: float):
    if not (np.isfinite(x2) and float(x2).is_integer()):
        msg = f"ldexp: the exponent x2 must be an integer, got {x2!r}"
        raise TypeError(msg)
    return np.ldexp(x1, int(x2))


ldexp = _binary(
    _numeric_or(_ldexp_scalar, _ldexp_numbers),
    "ldexp",
    "``x1 * 2**x2`` (``x2`` an integer exponent, symbolic or not);",
)


def _signbit_condition(x):
    """Whether the sign bit of ``x`` is set: ``x < 0`` or ``1/x < 0`` (true for -0.0)."""
    if x.is_Number:
        return S.true if x.is_extended_negative else S.false
    return _or(_lt(x, 0), _lt(1 / x, 0))


def _signbit_scalar(x):
    if _is_numeric((x,)):
        return S.true if np.signbit(_as_float(x)) else S.false
    return _signbit_condition(x)


signbit = _unary(
    _signbit_scalar,
    "signbit",
    "whether the sign bit is set, a condition as the comparisons give (1.0 / 0.0 in"
    " compiled code; true for -0.0 there, while numeric input has no -0.0);",
)


def _copysign_scalar(x1, x2):
    magnitude = apply_function(sympy.Abs, x1)
    return _select([(-magnitude, _signbit_condition(x2))], magnitude)


copysign = _binary(
    _numeric_or(_copysign_scalar, np.copysign),
    "copysign",
    "``|x1|`` with the sign bit of ``x2`` (so ``copysign(1, -0.0) == -1`` in compiled"
    " code); derivative ``+-sign(x1)`` in ``x1``, 0 in ``x2``;",
)


def _heaviside_scalar(x1, x2):
    # the last branch is only taken for nan, which it passes on
    return _select([(S.Zero, _lt(x1, 0)), (x2, _eq(x1, 0)), (S.One, _gt(x1, 0))], x1)


heaviside = _binary(
    _numeric_or(_heaviside_scalar, np.heaviside),
    "heaviside",
    "0 for ``x1 < 0``, ``x2`` at ``x1 == 0``, 1 for ``x1 > 0`` and nan for nan;",
)


def _extremum_ignoring_nan(extremum):
    def scalar_func(x1, x2):
        return _select([(x2, _isnan(x1)), (x1, _isnan(x2))], extremum(x1, x2))

    return scalar_func


fmax = _binary(
    _numeric_or(_extremum_ignoring_nan(_extremum(sympy.Max, np.maximum)), np.fmax),
    "fmax",
    "the larger of ``x1`` and ``x2``, ignoring nan (nan only if both are nan);",
)
fmin = _binary(
    _numeric_or(_extremum_ignoring_nan(_extremum(sympy.Min, np.minimum)), np.fmin),
    "fmin",
    "the smaller of ``x1`` and ``x2``, ignoring nan (nan only if both are nan);",
)


# sinc(x) = sum_k (-1)**k u**k / (2k + 1)!, u = (pi x)**2, for |x| < _SINC_SERIES_BELOW:
# the first omitted term, u**7 / 15!, is below 1e-19 there; above, sin(pi x) / (pi x)
# loses at most a few digits in its derivatives (cos(pi x) / x - sin(pi x) / (pi x**2)).
_SINC_SERIES_BELOW = sympy.Rational(1, 10)
_SINC_COEFFICIENTS = [sympy.Rational((-1) ** k, sympy.factorial(2 * k + 1)) for k in range(7)]


def _sinc_scalar(x):
    if x.is_Number:
        return S.One if x.is_zero else _apply(sympy.sin, S.Pi * x) / (S.Pi * x)
    y = S.Pi * x
    series = _horner(_SINC_COEFFICIENTS, y**2)
    return _select(
        [(series, _lt(apply_function(sympy.Abs, x), _SINC_SERIES_BELOW))],
        apply_function(sympy.sin, y) / y,
    )


sinc = _unary(
    _numeric_or(_sinc_scalar, np.sinc),
    "sinc",
    "the normalised ``sin(pi x) / (pi x)``, 1 at 0; its Taylor polynomial for"
    " ``|x| < 0.1``, so that the value and all derivatives are finite at 0 and accurate"
    " near it;",
)
