"""Reference interpreter: the executable meaning of every IR op.

:func:`evaluate` runs an IR :class:`~symnum.ir.Function` statement by statement on NumPy
scalars and returns its output tree (closures become Python callables). It is slow and
simple on purpose: every backend is tested against it.

Semantics, shared by all backends:

* IEEE 754 double (or complex double) arithmetic with no exceptions: ``1/0`` is ``inf``,
  ``log(-1)`` is ``nan`` on a real kernel (NumPy's behaviour, warnings suppressed);
* booleans are ``1.0`` / ``0.0``; a condition is true when non-zero (NaN is true);
* ``MAX`` / ``MIN`` propagate NaN (like ``numpy.maximum``);
* ``SIGN`` is ``-1``, ``0`` or ``1`` (NaN for NaN);
* ``GAMMA`` follows C's ``tgamma`` and ``LGAMMA`` C's ``lgamma`` (``+inf`` at the
  poles); ``DIGAMMA`` and ``POLYGAMMA(n, x)`` are NaN at the poles (``x`` a
  non-positive integer), and ``POLYGAMMA`` also below ``x = -1e6``; the special
  functions are real-only.

The scalar special functions here (:func:`erf`, :func:`lgamma`, :func:`gamma`,
:func:`digamma`, :func:`polygamma`) take and return Python floats and never raise on
finite or non-finite input; the NumPy backend reuses them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from symnum.ir import Closure, Elem, Function, Op, Output, Var

__all__ = ["OPS", "apply", "digamma", "erf", "erfc", "evaluate", "gamma", "lgamma", "polygamma"]


# -- scalar special functions -----------------------------------------------------------

#: Bernoulli numbers B_2, B_4, ..., B_16.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


#: polygamma(n, x) is NaN below this (its upward recurrence takes |x| steps).
_MOST_NEGATIVE = -1e6


def _is_pole(x: float) -> bool:
    return x <= 0 and math.isfinite(x) and x == math.floor(x)


def erf(x: float) -> float:
    return math.erf(x)


def erfc(x: float) -> float:
    return math.erfc(x)


def lgamma(x: float) -> float:
    """log|Gamma(x)| like C's ``lgamma``: ``+inf`` at the poles, never raises."""
    if math.isnan(x):
        return x
    if _is_pole(x) or math.isinf(x):
        return math.inf
    try:
        return math.lgamma(x)
    except (ValueError, OverflowError):
        return math.inf


def gamma(x: float) -> float:
    """Gamma(x) like C's ``tgamma``: ``±inf`` at zero, NaN at negative integers."""
    if math.isnan(x):
        return x
    if x == 0:
        return math.copysign(math.inf, x)
    if _is_pole(x) or x == -math.inf:
        return math.nan
    if x == math.inf:
        return math.inf
    try:
        return math.gamma(x)
    except OverflowError:  # next to zero: +-inf; far left: underflow to zero
        return math.copysign(math.inf, x) if abs(x) < 1 else (math.inf if x > 0 else 0.0)
    except ValueError:
        return math.nan


def _cot_pi(x: float) -> float:
    """cot(pi x) for finite x, reducing x modulo 1 first so large |x| keep their accuracy."""
    frac = x - math.floor(x)  # exact
    if frac > 0.5:
        frac -= 1.0  # exact too; pi * frac then keeps its relative accuracy near poles
    return 1 / math.tan(math.pi * frac)


def digamma(x: float) -> float:
    """The digamma function psi(x) = d/dx log Gamma(x); NaN at the poles."""
    if math.isnan(x) or x == -math.inf or _is_pole(x):
        return math.nan
    if x == math.inf:
        return math.inf
    if x < -10:  # reflection: psi(x) = psi(1 - x) - pi cot(pi x)
        return digamma(1 - x) - math.pi * _cot_pi(x)
    result = 0.0
    while x < 10:  # psi(x) = psi(x + 1) - 1/x
        result -= 1 / x
        x += 1
    inv2 = 1 / (x * x)
    series = 0.0
    for k in range(len(_BERNOULLI) - 1, -1, -1):
        series = series * inv2 + _BERNOULLI[k] / (2 * (k + 1))
    return result + math.log(x) - 0.5 / x - series * inv2


def polygamma(n: float, x: float) -> float:
    """The n-th derivative of digamma (``n`` a non-negative integer); NaN at the poles."""
    if not math.isfinite(n) or n != int(n) or n < 0:
        return math.nan
    n = int(n)
    if n == 0:
        return digamma(x)
    if math.isnan(x) or x == -math.inf or _is_pole(x):
        return math.nan
    if x == math.inf:
        return 0.0
    if x < _MOST_NEGATIVE:  # the recurrence would take |x| steps
        return math.nan
    sign = -1.0 if n % 2 == 0 else 1.0
    try:
        return sign * math.factorial(n) * _hurwitz_zeta(n + 1, x)
    except OverflowError:
        return sign * math.inf


def _hurwitz_zeta(s: int, x: float) -> float:
    """zeta(s, x) = sum_k (x + k)^-s for an integer s >= 2 and x not a pole."""
    total = 0.0
    threshold = 14.0 + s
    while x < threshold:
        try:
            total += x**-s
        except OverflowError:  # x next to a pole: that term is the whole answer
            return math.copysign(math.inf, x) if s % 2 else math.inf
        x += 1
    tail = x ** (1 - s) / (s - 1) + 0.5 * x**-s
    rising = float(s)  # s (s+1) ... (s+2j-2)
    power = x ** (-s - 1)
    factorial = 2.0  # (2j)!
    for j, bernoulli in enumerate(_BERNOULLI, start=1):
        tail += bernoulli / factorial * rising * power
        rising *= (s + 2 * j - 1) * (s + 2 * j)
        power /= x * x
        factorial *= (2 * j + 1) * (2 * j + 2)
    return total + tail


# -- the op table -----------------------------------------------------------------------


def _real_only(fn: Callable[..., float], name: str) -> Callable:
    def apply_real(*args):
        if any(isinstance(a, (complex, np.complexfloating)) for a in args):
            msg = f"{name} is only defined for real arguments"
            raise TypeError(msg)
        return np.float64(fn(*(float(a) for a in args)))

    return apply_real


def _flag(value) -> np.float64:
    return np.float64(1.0 if value else 0.0)


def _add(*args):
    total = args[0]
    for a in args[1:]:
        total = total + a
    return total


def _mul(*args):
    total = args[0]
    for a in args[1:]:
        total = total * a
    return total


#: Op -> function of NumPy scalars (float64 or complex128) returning a NumPy scalar.
OPS: dict[Op, Callable] = {
    Op.ADD: _add,
    Op.SUB: np.subtract,
    Op.MUL: _mul,
    Op.DIV: np.true_divide,
    Op.NEG: np.negative,
    Op.POW: np.power,
    Op.ABS: np.abs,
    Op.SIGN: np.sign,
    Op.FLOOR: np.floor,
    Op.CEIL: np.ceil,
    Op.SQRT: np.sqrt,
    Op.CBRT: np.cbrt,
    Op.EXP: np.exp,
    Op.EXP2: np.exp2,
    Op.EXPM1: np.expm1,
    Op.LOG: np.log,
    Op.LOG2: np.log2,
    Op.LOG10: np.log10,
    Op.LOG1P: np.log1p,
    Op.SIN: np.sin,
    Op.COS: np.cos,
    Op.TAN: np.tan,
    Op.ASIN: np.arcsin,
    Op.ACOS: np.arccos,
    Op.ATAN: np.arctan,
    Op.ATAN2: np.arctan2,
    Op.SINH: np.sinh,
    Op.COSH: np.cosh,
    Op.TANH: np.tanh,
    Op.ASINH: np.arcsinh,
    Op.ACOSH: np.arccosh,
    Op.ATANH: np.arctanh,
    Op.HYPOT: np.hypot,
    Op.MAX: np.maximum,
    Op.MIN: np.minimum,
    Op.ERF: _real_only(erf, "erf"),
    Op.ERFC: _real_only(erfc, "erfc"),
    Op.LGAMMA: _real_only(lgamma, "lgamma"),
    Op.GAMMA: _real_only(gamma, "gamma"),
    Op.DIGAMMA: _real_only(digamma, "digamma"),
    Op.POLYGAMMA: _real_only(polygamma, "polygamma"),
    Op.REAL: np.real,
    Op.IMAG: np.imag,
    Op.CONJ: np.conj,
    Op.ISNAN: lambda a: _flag(np.isnan(a)),
    Op.ISINF: lambda a: _flag(np.isinf(a)),
    Op.ISFINITE: lambda a: _flag(np.isfinite(a)),
    Op.LT: lambda a, b: _flag(a < b),
    Op.LE: lambda a, b: _flag(a <= b),
    Op.GT: lambda a, b: _flag(a > b),
    Op.GE: lambda a, b: _flag(a >= b),
    Op.EQ: lambda a, b: _flag(a == b),
    Op.NE: lambda a, b: _flag(a != b),
    Op.NOT: lambda a: _flag(a == 0),
    Op.AND: lambda a, b: _flag(a != 0 and b != 0),
    Op.OR: lambda a, b: _flag(a != 0 or b != 0),
    Op.XOR: lambda a, b: _flag((a != 0) != (b != 0)),
    Op.SELECT: lambda c, a, b: a if c != 0 else b,
}
assert set(OPS) == set(Op), "the interpreter must define every op"  # noqa: S101


def _scalar(value):
    if isinstance(value, (complex, np.complexfloating)):
        return np.complex128(value)
    return np.float64(value)


def apply(op: Op, values) -> np.float64 | np.complex128:
    """``op`` applied to Python or NumPy numbers, with IEEE semantics (no warnings)."""
    with np.errstate(all="ignore"):
        result = OPS[op](*(_scalar(v) for v in values))
    return _scalar(result)


# -- evaluation -------------------------------------------------------------------------


def _read(atom, env: dict, arrays: dict):
    if type(atom) is Var:
        return env[atom.id]
    if type(atom) is Elem:
        return arrays[atom.param][atom.index]
    return _scalar(atom.value)


def _run(body, env: dict, arrays: dict) -> None:
    with np.errstate(all="ignore"):
        for stmt in body:
            args = [_read(a, env, arrays) for a in stmt.args]
            env[stmt.target] = _scalar(OPS[stmt.op](*args))


def _bind(params, args, where: str) -> dict:
    if len(args) != len(params):
        msg = f"{where} takes {len(params)} arguments, got {len(args)}"
        raise TypeError(msg)
    arrays = {}
    for param, arg in zip(params, args, strict=True):
        array = np.asarray(arg, dtype=param.dtype)
        if array.shape != param.shape:
            msg = (
                f"argument {param.name!r} of {where} must have shape {param.shape}, "
                f"got {array.shape}"
            )
            raise ValueError(msg)
        arrays[param.name] = array.reshape(-1)
    return arrays


def _outputs(tree, env: dict, arrays: dict):
    if isinstance(tree, tuple):
        return tuple(_outputs(sub, env, arrays) for sub in tree)
    if isinstance(tree, Output):
        values = [_read(a, env, arrays) for a in tree.atoms]
        array = np.array(values, dtype=tree.dtype).reshape(tree.shape)
        return array[()] if tree.shape == () else array
    if isinstance(tree, Closure):
        return _closure(tree, env, arrays)
    msg = f"output tree node of unexpected type {type(tree).__name__}"
    raise TypeError(msg)


def _closure(closure: Closure, env: dict, arrays: dict):
    def call(*args):
        inner_arrays = dict(arrays)
        inner_arrays.update(_bind(closure.params, args, "closure"))
        inner_env = dict(env)
        _run(closure.body, inner_env, inner_arrays)
        return _outputs(closure.outputs, inner_env, inner_arrays)

    return call


def evaluate(fn: Function, *args):
    """Run ``fn`` on ``args`` (one array per parameter, of the parameter's shape).

    Returns the output tree: NumPy arrays of the outputs' shapes and dtypes (NumPy
    scalars for shape ``()``), tuples for tuples, and Python callables for closures.
    """
    arrays = _bind(fn.params, args, f"function {fn.name}")
    env: dict = {}
    _run(fn.body, env, arrays)
    return _outputs(fn.outputs, env, arrays)
