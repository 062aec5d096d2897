"""Elementwise functions of :mod:`symnum.numpy` and their broadcasting.

Every function here acts elementwise on scalars, SymbolicArrays, NumPy and SymPy arrays
and nested lists; several operands broadcast as in NumPy. A scalar in gives a scalar
out; otherwise the result is a SymbolicArray of the broadcast shape.

``expm1``, ``log1p``, ``log2``, ``log10``, ``exp2`` and ``hypot`` are the accurate
functions of :mod:`sympy.codegen.cfunctions`, so they reach code generation as such
(``expm1(x)``, not ``exp(x) - 1``, which loses all precision for tiny ``x``). On float
input every function returns the value NumPy computes.

``where``, ``select``, ``piecewise`` and ``clip`` build ``Piecewise`` / binary ``Max``
and ``Min`` nodes, whose derivative is the derivative of the branch taken.

``logaddexp`` (and ``logaddexp2``, ``symnum.scipy.special.softplus``) is one SymPy node,
:class:`LogAddExp`, that lowering emits in the overflow-free form
``max(a, b) + log1p(exp(-|a - b|))``; its derivatives are overflow-free too.
"""

from __future__ import annotations

import operator

import numpy as np
import sympy
from sympy import S
from sympy.codegen import cfunctions, numpy_nodes

from symnum import array as _array_module
from symnum.array import SymbolicArray, _broadcast_data, is_scalar
from symnum.numpy._base import (
    _ZERO,
    _apply,
    _as_array,
    _as_condition,
    _broadcast_operands,
    _elementwise,
    _is_real_valued,
    _max2,
    _min2,
    _numpy_doc,
    _reject_extra,
    _select,
    _ufunc,
)
from symnum.sym.build import _extremum as _extremum_node
from symnum.sym.build import _piecewise

__all__ = [
    "LogAddExp",
    "abs",
    "absolute",
    "add",
    "angle",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "ceil",
    "clip",
    "conj",
    "conjugate",
    "cos",
    "cosh",
    "divide",
    "equal",
    "exp",
    "exp2",
    "expm1",
    "floor",
    "greater",
    "greater_equal",
    "hypot",
    "imag",
    "iscomplex",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "isreal",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "logaddexp2",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "multiply",
    "not_equal",
    "piecewise",
    "power",
    "real",
    "reciprocal",
    "select",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "subtract",
    "tan",
    "tanh",
    "where",
]

_LN2 = sympy.log(2)
_UNARY_SHAPES = "elementwise; the shape of ``x`` (a scalar for a scalar)."
_BINARY_SHAPES = "elementwise; the broadcast shape of ``x1`` and ``x2``."


# --------------------------------------------------------------------------------------
# Function factories (NumPy's extra ufunc arguments, out= and the like, are refused)


def _unary(scalar_func, name: str, summary: str = ""):
    """``name(x)``: ``scalar_func`` elementwise, with 0.2.1's signature."""
    doc = _numpy_doc(name, f"{summary}{' ' if summary else ''}{_UNARY_SHAPES}")
    return _ufunc(scalar_func, name, doc)


def _binary(scalar_func, name: str, summary: str = ""):
    """``name(x1, x2)``: ``scalar_func`` elementwise with broadcasting."""
    doc = _numpy_doc(name, f"{summary}{' ' if summary else ''}{_BINARY_SHAPES}")
    return _ufunc(scalar_func, name, doc, n_args=2)


def _operator(op, name: str, summary: str):
    """``name(x1, x2)`` as the Python operator ``op`` (SymbolicArray's broadcasting)."""

    def func(x1, x2, *args, **kwargs):
        _reject_extra(name, 2, args, kwargs)
        return op(x1, x2)

    func.__name__ = func.__qualname__ = name
    func.__doc__ = _numpy_doc(name, f"{summary}; {_BINARY_SHAPES}")
    return func


def _lazy(sympy_func, numpy_func):
    """Scalar function: ``sympy_func`` built lazily, NumPy's value on floats."""

    def scalar_func(*args):
        return _apply(sympy_func, *args, numeric=numpy_func)

    return scalar_func


# --------------------------------------------------------------------------------------
# Exponentials, logarithms, trigonometric and rounding functions


exp = _unary(_lazy(sympy.exp, np.exp), "exp")
expm1 = _unary(_lazy(cfunctions.expm1, np.expm1), "expm1", "``exp(x) - 1``, accurate near 0;")
exp2 = _unary(_lazy(cfunctions.exp2, np.exp2), "exp2", "``2**x``;")
log = _unary(_lazy(sympy.log, np.log), "log")
log2 = _unary(_lazy(cfunctions.log2, np.log2), "log2")
log10 = _unary(_lazy(cfunctions.log10, np.log10), "log10")
log1p = _unary(_lazy(cfunctions.log1p, np.log1p), "log1p", "``log(1 + x)``, accurate near 0;")
sin = _unary(_lazy(sympy.sin, np.sin), "sin")
cos = _unary(_lazy(sympy.cos, np.cos), "cos")
tan = _unary(_lazy(sympy.tan, np.tan), "tan")
arcsin = _unary(_lazy(sympy.asin, np.arcsin), "arcsin")
arccos = _unary(_lazy(sympy.acos, np.arccos), "arccos")
arctan = _unary(_lazy(sympy.atan, np.arctan), "arctan")
sinh = _unary(_lazy(sympy.sinh, np.sinh), "sinh")
cosh = _unary(_lazy(sympy.cosh, np.cosh), "cosh")
tanh = _unary(_lazy(sympy.tanh, np.tanh), "tanh")
arcsinh = _unary(_lazy(sympy.asinh, np.arcsinh), "arcsinh")
arccosh = _unary(_lazy(sympy.acosh, np.arccosh), "arccosh")
arctanh = _unary(_lazy(sympy.atanh, np.arctanh), "arctanh")
ceil = _unary(_lazy(sympy.ceiling, np.ceil), "ceil")
floor = _unary(_lazy(sympy.floor, np.floor), "floor")
sqrt = _unary(_lazy(sympy.sqrt, np.sqrt), "sqrt")
abs = _unary(_lazy(sympy.Abs, np.abs), "abs")
absolute = _unary(_lazy(sympy.Abs, np.absolute), "absolute")
sign = _unary(_lazy(sympy.sign, np.sign), "sign")
conj = _unary(_lazy(sympy.conjugate, np.conj), "conj")
conjugate = _unary(_lazy(sympy.conjugate, np.conjugate), "conjugate")
real = _unary(_lazy(sympy.re, np.real), "real")
imag = _unary(_lazy(sympy.im, np.imag), "imag")
square = _unary(lambda v: v**2, "square", "``x**2``;")
reciprocal = _unary(lambda v: 1 / v, "reciprocal", "``1 / x``;")

arctan2 = _binary(_lazy(sympy.atan2, np.arctan2), "arctan2", "the angle of ``(x2, x1)``;")
hypot = _binary(_lazy(cfunctions.hypot, np.hypot), "hypot", "``sqrt(x1**2 + x2**2)``;")


def _extremum(sympy_func, numpy_func):
    """``maximum`` / ``minimum`` of two scalars: NumPy's value on numbers, an unevaluated
    ``Max`` / ``Min`` otherwise. SymPy's evaluation compares its arguments through the
    assumption system (1.5 s for 900 pairs of symbols) and rarely settles anything for
    the expressions of array code."""
    numeric = _lazy(sympy_func, numpy_func)

    def scalar_func(a, b):
        if a == b:
            return a
        if a.is_Number and b.is_Number:
            return numeric(a, b)
        return _extremum_node(sympy_func, a, b)

    return scalar_func


maximum = _binary(_extremum(sympy.Max, np.maximum), "maximum")
minimum = _binary(_extremum(sympy.Min, np.minimum), "minimum")


def _angle_scalar(x, deg=False):
    if x.is_number:
        return sympy.Float(float(np.angle(complex(x), deg=deg)))
    if _is_real_valued(x):
        # arg of a real number: 0 for x >= 0, pi for x < 0
        negative = sympy.StrictLessThan(x, 0, evaluate=not x.args)
        result = _piecewise([(S.Pi, negative), (S.Zero, S.true)])
    else:
        result = sympy.atan2(_apply(sympy.im, x), _apply(sympy.re, x), evaluate=not x.args)
    return result * 180 / S.Pi if deg else result


def angle(x, deg=False):
    """SymNum implementation of :py:obj:`numpy.angle` (radians, or degrees if ``deg``).

    Elementwise; the shape of ``x`` (a scalar for a scalar). Real arguments give
    ``Piecewise((pi, x < 0), (0, True))``; others ``atan2(im(x), re(x))``. The argument
    is named ``x`` as in SymNum 0.2.1 (NumPy calls it ``z``).
    """
    return _elementwise(lambda v: _angle_scalar(v, deg), x, name="angle: x")


# --------------------------------------------------------------------------------------
# Arithmetic and comparison operators as functions (comparisons give SymPy relationals,
# usable as conditions in ``where``)


add = _operator(operator.add, "add", "``x1 + x2``")
subtract = _operator(operator.sub, "subtract", "``x1 - x2``")
multiply = _operator(operator.mul, "multiply", "``x1 * x2``")
divide = _operator(operator.truediv, "divide", "``x1 / x2``")
power = _operator(operator.pow, "power", "``x1 ** x2``")
less = _operator(operator.lt, "less", "``x1 < x2``")
less_equal = _operator(operator.le, "less_equal", "``x1 <= x2``")
greater = _operator(operator.gt, "greater", "``x1 > x2``")
greater_equal = _operator(operator.ge, "greater_equal", "``x1 >= x2``")
equal = _binary(sympy.Eq, "equal", "``Eq(x1, x2)``;")
not_equal = _binary(sympy.Ne, "not_equal", "``Ne(x1, x2)``;")


# --------------------------------------------------------------------------------------
# Logic and predicates


def _simple_condition(c) -> bool:
    # SymPy's logic simplification of conditions on large expressions is slow
    return all(not a.args for a in c.args)


def _logical_not_scalar(x):
    c = _as_condition(x)
    if c is S.true:
        return S.false
    if c is S.false:
        return S.true
    return sympy.Not(c, evaluate=_simple_condition(c))


def _logical_binary(sympy_func):
    def scalar_func(x1, x2):
        c1, c2 = _as_condition(x1), _as_condition(x2)
        evaluate = _simple_condition(c1) and _simple_condition(c2)
        return sympy_func(c1, c2, evaluate=evaluate)

    return scalar_func


def _is_in(values):
    def predicate(x):
        return x in values

    return predicate


_ISINF = {S.Infinity, S.NegativeInfinity, S.ComplexInfinity}
_NONFINITE = {*_ISINF, S.NaN}

logical_not = _unary(_logical_not_scalar, "logical_not", "``Not(x)`` (non-zero is true);")
logical_and = _binary(_logical_binary(sympy.And), "logical_and", "``And(x1, x2)``;")
logical_or = _binary(_logical_binary(sympy.Or), "logical_or", "``Or(x1, x2)``;")
logical_xor = _binary(_logical_binary(sympy.Xor), "logical_xor", "``Xor(x1, x2)``;")
isinf = _unary(_is_in(_ISINF), "isinf")
isposinf = _unary(_is_in({S.Infinity}), "isposinf")
isneginf = _unary(_is_in({S.NegativeInfinity}), "isneginf")
isnan = _unary(_is_in({S.NaN}), "isnan")
isfinite = _unary(lambda x: x not in _NONFINITE, "isfinite")
isreal = _unary(_is_real_valued, "isreal", "real by structure (dtype inference);")
iscomplex = _unary(
    lambda x: not _is_real_valued(x), "iscomplex", "complex by structure (dtype inference);"
)


# --------------------------------------------------------------------------------------
# Value-dependent selection


def where(condition, x=None, y=None):
    """SymNum implementation of :py:obj:`numpy.where` with three arguments.

    Elementwise ``x`` where ``condition`` holds, else ``y``, as
    ``Piecewise((x, condition), (y, True))``; the derivative is that of the branch
    taken. Conditions are SymPy booleans (e.g. from comparisons of SymbolicArrays) or
    numbers (non-zero is true). Returns the broadcast shape of the three arguments (a
    scalar if all three are scalars).
    """
    if x is None or y is None:
        msg = "where requires three arguments (condition, x, y); where(condition) is not supported"
        raise NotImplementedError(msg)
    hooks = _array_module._data_hooks
    if hooks is not None and hooks.involved(condition, x, y):
        lazy = hooks.elementwise(where, (condition, x, y))
        if lazy is not None:
            return lazy
    shape, (cs, xs, ys) = _broadcast_operands((condition, x, y), "where: operand")
    data = [_select([(xv, _as_condition(cv))], yv) for cv, xv, yv in zip(cs, xs, ys, strict=True)]
    if all(is_scalar(a) for a in (condition, x, y)):
        return data[0]
    return SymbolicArray._from_flat(data, shape)


def select(condlist, choicelist, default=0):
    """SymNum implementation of :py:obj:`numpy.select`.

    Elementwise the choice of the first condition that holds, else ``default``. Returns
    the broadcast shape of all conditions, choices and ``default`` (a scalar if all are
    scalars).
    """
    if len(condlist) != len(choicelist):
        msg = (
            "select: expected condlist and choicelist of the same length, got"
            f" {len(condlist)} and {len(choicelist)}"
        )
        raise ValueError(msg)
    if len(condlist) == 0:
        msg = "select with an empty condition list is not possible"
        raise ValueError(msg)
    n = len(condlist)
    operands = [*condlist, *choicelist, default]
    shape, data = _broadcast_operands(operands, "select: operand")
    conds, choices, defaults = data[:n], data[n : 2 * n], data[2 * n]
    result = [
        _select([(choices[k][i], _as_condition(conds[k][i])) for k in range(n)], defaults[i])
        for i in range(len(defaults))
    ]
    if all(is_scalar(a) for a in operands):
        return result[0]
    return SymbolicArray._from_flat(result, shape)


def piecewise(x, condlist, funclist, *args, **kw):
    """SymNum implementation of :py:obj:`numpy.piecewise`.

    ``funclist`` holds callables (applied to the whole of ``x``, with ``*args`` and
    ``**kw``) or constants, one per condition, plus optionally one more for where no
    condition holds (default 0). As in NumPy, a later condition takes precedence over
    an earlier one. Returns the shape of ``x`` (a scalar for a scalar).
    """
    x_array = _as_array(x, "piecewise: x")
    if isinstance(condlist, (SymbolicArray, np.ndarray)) or is_scalar(condlist):
        condlist = [condlist]
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        msg = (
            f"piecewise: expected {n} or {n + 1} functions for {n} conditions, got {len(funclist)}"
        )
        raise ValueError(msg)

    def evaluate(f):
        value = f(x, *args, **kw) if callable(f) else f
        return _broadcast_data(_as_array(value, "piecewise: value"), x_array.shape)

    values = [evaluate(f) for f in funclist]
    default = values[n] if len(funclist) == n + 1 else [S.Zero] * x_array.size
    cond_data = [
        _broadcast_data(_as_array(c, "piecewise: condition"), x_array.shape) for c in condlist
    ]
    result = [
        _select(
            [(values[k][i], _as_condition(cond_data[k][i])) for k in reversed(range(n))],
            default[i],
        )
        for i in range(x_array.size)
    ]
    if is_scalar(x):
        return result[0]
    return SymbolicArray._from_flat(result, x_array.shape)


def _clip_scalar(x, low, high):
    if low is not None:
        x = _max2(x, low)
    if high is not None:
        x = _min2(x, high)
    return x


def clip(a, a_min=None, a_max=None, *, min=None, max=None):
    """SymNum implementation of :py:obj:`numpy.clip`: ``minimum(maximum(a, a_min), a_max)``.

    ``a_min`` / ``a_max`` (or ``min=`` / ``max=``) broadcast against ``a``; either may
    be None, not both. Returns the broadcast shape (a scalar if all are scalars).
    """
    if min is not None:
        if a_min is not None:
            msg = "clip: pass the lower bound as a_min or min=, not both"
            raise TypeError(msg)
        a_min = min
    if max is not None:
        if a_max is not None:
            msg = "clip: pass the upper bound as a_max or max=, not both"
            raise TypeError(msg)
        a_max = max
    if a_min is None and a_max is None:
        msg = "clip: at least one of a_min (min=) and a_max (max=) must be given"
        raise ValueError(msg)
    if a_min is None:
        return _elementwise(lambda x, hi: _clip_scalar(x, None, hi), a, a_max, name="clip: operand")
    if a_max is None:
        return _elementwise(lambda x, lo: _clip_scalar(x, lo, None), a, a_min, name="clip: operand")
    return _elementwise(_clip_scalar, a, a_min, a_max, name="clip: operand")


# --------------------------------------------------------------------------------------
# logaddexp


class LogAddExp(numpy_nodes.logaddexp):
    """``log(exp(a) + exp(b))`` as one SymPy node, with overflow-free derivatives.

    Lowering emits it as ``max(a, b) + log1p(exp(-|a - b|))``. Its partial derivative
    in ``a`` is the logistic function of ``a - b``, written branchwise so that no
    derivative of any order overflows, and smooth at ``a == b`` (where a sum of
    ``max`` and ``|a - b|`` terms would depend on how ties are broken).
    """

    def fdiff(self, argindex=1):
        if argindex not in (1, 2):
            raise sympy.ArgumentIndexError(self, argindex)
        wrt, other = self.args if argindex == 1 else self.args[::-1]
        gap = wrt - other
        return _piecewise(
            [
                (1 / (1 + sympy.exp(-gap)), gap >= 0),
                (sympy.exp(gap) / (1 + sympy.exp(gap)), sympy.true),
            ]
        )


def _logaddexp_scalar(a, b):
    if not a.args and not b.args and a.is_Number and b.is_Number:
        return sympy.Float(float(np.logaddexp(float(a), float(b))))
    if a == b:
        return a + _LN2
    return LogAddExp(a, b)


def _logaddexp2_scalar(a, b):
    if not a.args and not b.args and a.is_Number and b.is_Number:
        return sympy.Float(float(np.logaddexp2(float(a), float(b))))
    return _logaddexp_scalar(a * _LN2, b * _LN2) / _LN2


def _softplus_scalar(x):
    """``log(1 + exp(x))`` = ``logaddexp(x, 0)`` (used by symnum.scipy.special)."""
    return _logaddexp_scalar(x, _ZERO)


def logaddexp(x1, x2):
    """SymNum implementation of :py:obj:`numpy.logaddexp`: ``log(exp(x1) + exp(x2))``.

    Elementwise; the broadcast shape of ``x1`` and ``x2``. Computed as
    ``max(x1, x2) + log1p(exp(-|x1 - x2|))``, which neither overflows nor loses
    precision; the derivative in ``x1`` is ``1 / (1 + exp(x2 - x1))``.
    """
    return _elementwise(_logaddexp_scalar, x1, x2, name="logaddexp: operand")


def logaddexp2(x1, x2):
    """SymNum implementation of :py:obj:`numpy.logaddexp2`: ``log2(2**x1 + 2**x2)``.

    Elementwise; the broadcast shape of ``x1`` and ``x2``.
    """
    return _elementwise(_logaddexp2_scalar, x1, x2, name="logaddexp2: operand")
