"""A NumPy-like API over symbolic arrays (``import symnum.numpy as snp``).

Functions accept SymbolicArrays, NumPy arrays, SymPy arrays, nested lists and scalars.
On symbolic input they return SymPy expressions or :class:`~symnum.array.SymbolicArray`
objects; on numeric input they return the same values NumPy computes, as SymPy numbers
(scalars) or SymbolicArrays of SymPy numbers (arrays), as SymNum 0.2.1 does.

``expm1``, ``log1p``, ``log2``, ``log10``, ``exp2`` and ``hypot`` are the accurate
functions of :mod:`sympy.codegen.cfunctions`, so they reach code generation as such
(``expm1(x)``, not ``exp(x) - 1``, which loses all precision for tiny ``x``).

``where``, ``select`` and ``piecewise`` build ``sympy.Piecewise`` expressions, whose
derivative is the derivative of the branch taken.
"""

import builtins as _builtins
import importlib as _importlib
import itertools as _itertools
import operator as _operator

import numpy as _np  # noqa: ICN001
import sympy as _sym
from sympy import S as _S
from sympy.codegen import cfunctions as _cfunctions
from sympy.logic.boolalg import Boolean as _Boolean

from symnum.array import (
    _FLOAT,
    _broadcast_data,
    _broadcast_shape,
    _convert_operand,
    _expression_kind,
    _positions,
    _to_basic,
)
from symnum.array import SymbolicArray as _SymbolicArray
from symnum.array import apply_function as _apply
from symnum.array import as_symbolic_array as _as_symbolic_array
from symnum.array import binary_broadcasting_func as _binary_broadcasting_func
from symnum.array import is_scalar as _is_scalar
from symnum.array import is_sympy_array as _is_sympy_array
from symnum.array import unary_elementwise_func as _unary_elementwise_func
from symnum.sym.build import _piecewise

# --------------------------------------------------------------------------------------
# Constants

pi = _S.Pi
inf = infty = Inf = Infinity = PINF = _S.Infinity
nan = NaN = NAN = _S.NaN
NINF = _S.NegativeInfinity
e = _S.Exp1
euler_gamma = _S.EulerGamma
newaxis = None


def _numpy_doc(name: str) -> str:
    return f"SymNum implementation of :py:obj:`numpy.{name}`."


# --------------------------------------------------------------------------------------
# Scalar building blocks


def _numeric_value(value):
    """A NumPy scalar result as a SymPy number (NaN as ``nan``)."""
    value = complex(value)
    if value.imag == 0:
        return _sym.Float(value.real)
    return _sym.Float(value.real) + _sym.Float(value.imag) * _S.ImaginaryUnit


def _lazy(sympy_func, numpy_func):
    """Scalar function applying ``sympy_func`` without costly automatic evaluation.

    Floating-point arguments are evaluated by ``numpy_func`` itself, so that numeric
    results are NumPy's (SymPy evaluates e.g. ``log1p(1e-22)`` as ``log(1 + 1e-22)``,
    which is 0); exact arguments (integers, rationals, constants) stay exact.
    """

    def scalar_func(x):
        x = _to_basic(x)
        if x.is_Float:
            with _np.errstate(all="ignore"):
                return _numeric_value(numpy_func(float(x)))
        return _apply(sympy_func, x)

    return scalar_func


def _lazy2(sympy_func, numpy_func):
    def scalar_func(x1, x2):
        x1, x2 = _to_basic(x1), _to_basic(x2)
        if (x1.is_Float or x2.is_Float) and x1.is_Number and x2.is_Number:
            with _np.errstate(all="ignore"):
                return _numeric_value(numpy_func(float(x1), float(x2)))
        return _apply(sympy_func, x1, x2)

    return scalar_func


def _as_condition(c):
    """A SymPy boolean for the truth value of ``c`` (NumPy: non-zero is true)."""
    c = _to_basic(c)
    if isinstance(c, _Boolean) and not isinstance(c, _sym.Expr):
        return c
    if c.is_Number:
        return _S.false if c.is_zero else _S.true
    return _sym.Ne(c, 0, evaluate=not c.args)


def _angle_scalar(x, deg=False):
    x = _to_basic(x)
    if x.is_number:
        value = _np.angle(complex(x), deg=deg)
        return _sym.Float(float(value))
    if _is_real_valued(x):
        # arg of a real number: 0 for x >= 0, pi for x < 0
        negative = _sym.StrictLessThan(x, 0, evaluate=not x.args)
        result = _piecewise([(_S.Pi, negative), (_S.Zero, _S.true)])
    else:
        result = _sym.atan2(_apply(_sym.im, x), _apply(_sym.re, x), evaluate=not x.args)
    return result * 180 / _S.Pi if deg else result


def _logical_not_scalar(x):
    c = _as_condition(x)
    if c is _S.true:
        return _S.false
    if c is _S.false:
        return _S.true
    return _sym.Not(c, evaluate=_simple_condition(c))


def _simple_condition(c) -> bool:
    # SymPy's logic simplification of conditions on large expressions is slow
    return all(not a.args for a in c.args)


def _logical_binary(sympy_func):
    def scalar_func(x1, x2):
        c1, c2 = _as_condition(x1), _as_condition(x2)
        evaluate = _simple_condition(c1) and _simple_condition(c2)
        return sympy_func(c1, c2, evaluate=evaluate)

    return scalar_func


def _is_value(value):
    def predicate(x):
        return _to_basic(x) in value

    return predicate


def _is_real_valued(x) -> bool:
    # by structure (symnum.array's dtype inference), not by SymPy's assumption queries
    return _expression_kind(x, {}) <= _FLOAT


def _isreal_scalar(x):
    return _is_real_valued(_to_basic(x))


def _iscomplex_scalar(x):
    return not _is_real_valued(_to_basic(x))


_ISINF = {_S.Infinity, _S.NegativeInfinity, _S.ComplexInfinity}
_NONFINITE = {*_ISINF, _S.NaN}


def _isfinite_scalar(x):
    return _to_basic(x) not in _NONFINITE


# --------------------------------------------------------------------------------------
# Elementwise functions


def _make_unary(scalar_func, name: str):
    elementwise = _unary_elementwise_func(scalar_func, name, "")

    def func(x, *args, **kwargs):
        if args or kwargs:
            msg = f"only the first argument of {name} is supported"
            raise NotImplementedError(msg)
        return elementwise(x)

    func.__name__ = func.__qualname__ = name
    func.__doc__ = _numpy_doc(name)
    return func


def _make_binary(scalar_func, name: str):
    broadcasting = _binary_broadcasting_func(scalar_func, name, "")

    def func(x1, x2, *args, **kwargs):
        if args or kwargs:
            msg = f"only the first two arguments of {name} are supported"
            raise NotImplementedError(msg)
        return broadcasting(x1, x2)

    func.__name__ = func.__qualname__ = name
    func.__doc__ = _numpy_doc(name)
    return func


def _make_operator(op, name: str):
    def func(x1, x2, *args, **kwargs):
        if args or kwargs:
            msg = f"only the first two arguments of {name} are supported"
            raise NotImplementedError(msg)
        return op(x1, x2)

    func.__name__ = func.__qualname__ = name
    func.__doc__ = _numpy_doc(name)
    return func


exp = _make_unary(_lazy(_sym.exp, _np.exp), "exp")
expm1 = _make_unary(_lazy(_cfunctions.expm1, _np.expm1), "expm1")
exp2 = _make_unary(_lazy(_cfunctions.exp2, _np.exp2), "exp2")
log = _make_unary(_lazy(_sym.log, _np.log), "log")
log2 = _make_unary(_lazy(_cfunctions.log2, _np.log2), "log2")
log10 = _make_unary(_lazy(_cfunctions.log10, _np.log10), "log10")
log1p = _make_unary(_lazy(_cfunctions.log1p, _np.log1p), "log1p")
sin = _make_unary(_lazy(_sym.sin, _np.sin), "sin")
cos = _make_unary(_lazy(_sym.cos, _np.cos), "cos")
tan = _make_unary(_lazy(_sym.tan, _np.tan), "tan")
arcsin = _make_unary(_lazy(_sym.asin, _np.arcsin), "arcsin")
arccos = _make_unary(_lazy(_sym.acos, _np.arccos), "arccos")
arctan = _make_unary(_lazy(_sym.atan, _np.arctan), "arctan")
sinh = _make_unary(_lazy(_sym.sinh, _np.sinh), "sinh")
cosh = _make_unary(_lazy(_sym.cosh, _np.cosh), "cosh")
tanh = _make_unary(_lazy(_sym.tanh, _np.tanh), "tanh")
arcsinh = _make_unary(_lazy(_sym.asinh, _np.arcsinh), "arcsinh")
arccosh = _make_unary(_lazy(_sym.acosh, _np.arccosh), "arccosh")
arctanh = _make_unary(_lazy(_sym.atanh, _np.arctanh), "arctanh")
ceil = _make_unary(_lazy(_sym.ceiling, _np.ceil), "ceil")
floor = _make_unary(_lazy(_sym.floor, _np.floor), "floor")
sqrt = _make_unary(_lazy(_sym.sqrt, _np.sqrt), "sqrt")
abs = _make_unary(_lazy(_sym.Abs, _np.abs), "abs")
absolute = _make_unary(_lazy(_sym.Abs, _np.absolute), "absolute")
sign = _make_unary(_lazy(_sym.sign, _np.sign), "sign")
conj = _make_unary(_lazy(_sym.conjugate, _np.conj), "conj")
conjugate = _make_unary(_lazy(_sym.conjugate, _np.conjugate), "conjugate")
real = _make_unary(_lazy(_sym.re, _np.real), "real")
imag = _make_unary(_lazy(_sym.im, _np.imag), "imag")
logical_not = _make_unary(_logical_not_scalar, "logical_not")
isinf = _make_unary(_is_value(_ISINF), "isinf")
isposinf = _make_unary(_is_value({_S.Infinity}), "isposinf")
isneginf = _make_unary(_is_value({_S.NegativeInfinity}), "isneginf")
isnan = _make_unary(_is_value({_S.NaN}), "isnan")
isreal = _make_unary(_isreal_scalar, "isreal")
iscomplex = _make_unary(_iscomplex_scalar, "iscomplex")
isfinite = _make_unary(_isfinite_scalar, "isfinite")


def angle(z, deg=False):
    """SymNum implementation of :py:obj:`numpy.angle` (radians, or degrees if ``deg``).

    Real arguments give ``Piecewise((pi, x < 0), (0, True))``; others
    ``atan2(im(z), re(z))``.
    """
    return _unary_elementwise_func(lambda x: _angle_scalar(x, deg), "angle")(z)


arctan2 = _make_binary(_lazy2(_sym.atan2, _np.arctan2), "arctan2")
hypot = _make_binary(_lazy2(_cfunctions.hypot, _np.hypot), "hypot")
logical_and = _make_binary(_logical_binary(_sym.And), "logical_and")
logical_or = _make_binary(_logical_binary(_sym.Or), "logical_or")
logical_xor = _make_binary(_logical_binary(_sym.Xor), "logical_xor")
maximum = _make_binary(_lazy2(_sym.Max, _np.maximum), "maximum")
minimum = _make_binary(_lazy2(_sym.Min, _np.minimum), "minimum")

add = _make_operator(_operator.add, "add")
subtract = _make_operator(_operator.sub, "subtract")
multiply = _make_operator(_operator.mul, "multiply")
divide = _make_operator(_operator.truediv, "divide")
power = _make_operator(_operator.pow, "power")
matmul = _make_operator(_operator.matmul, "matmul")

# Comparisons as functions: SymPy relationals, usable as conditions in ``where``
less = _make_operator(_operator.lt, "less")
less_equal = _make_operator(_operator.le, "less_equal")
greater = _make_operator(_operator.gt, "greater")
greater_equal = _make_operator(_operator.ge, "greater_equal")


def _eq_scalar(x1, x2):
    return _sym.Eq(_to_basic(x1), _to_basic(x2))


def _ne_scalar(x1, x2):
    return _sym.Ne(_to_basic(x1), _to_basic(x2))


equal = _make_binary(_eq_scalar, "equal")
not_equal = _make_binary(_ne_scalar, "not_equal")


# --------------------------------------------------------------------------------------
# Value-dependent selection


def _piecewise_scalar(pairs, default):
    """``Piecewise`` of ``(value, condition)`` pairs, first true condition winning."""
    args = []
    for value, cond in pairs:
        if cond is _S.false:
            continue
        if cond is _S.true:
            default = value
            break
        args.append((value, cond))
    if not args:
        return default
    return _piecewise([*args, (default, _S.true)])


def _broadcast_all(*arrays):
    """Convert operands to SymbolicArrays and broadcast them to a common shape."""
    converted = []
    for a in arrays:
        c = _convert_operand(a)
        if c is None:
            msg = f"expected a scalar or an array, got {type(a).__name__}"
            raise TypeError(msg)
        converted.append(c)
    shape = _broadcast_shape(*(c.shape for c in converted))
    return shape, [_broadcast_data(c, shape) for c in converted]


def _result(data, shape, all_scalar: bool):
    if all_scalar and shape == ():
        return data[0]
    return _SymbolicArray._from_flat(data, shape)


def where(condition, x=None, y=None):
    """SymNum implementation of :py:obj:`numpy.where` with three arguments.

    Elementwise ``x`` where ``condition`` holds, else ``y``, as
    ``Piecewise((x, condition), (y, True))``; the derivative is that of the branch
    taken. Conditions are SymPy booleans (e.g. from comparisons of SymbolicArrays) or
    numbers (non-zero is true). Returns the broadcast shape of the three arguments.
    """
    if x is None or y is None:
        msg = "where requires three arguments (condition, x, y); where(condition) is not supported"
        raise NotImplementedError(msg)
    shape, (cs, xs, ys) = _broadcast_all(condition, x, y)
    data = [
        _piecewise_scalar([(xv, _as_condition(cv))], yv)
        for cv, xv, yv in zip(cs, xs, ys, strict=True)
    ]
    return _result(data, shape, all(_is_scalar(a) for a in (condition, x, y)))


def select(condlist, choicelist, default=0):
    """SymNum implementation of :py:obj:`numpy.select`.

    Elementwise the choice of the first condition that holds, else ``default``.
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
    shape, data = _broadcast_all(*condlist, *choicelist, default)
    conds, choices, defaults = data[:n], data[n : 2 * n], data[2 * n]
    result = [
        _piecewise_scalar(
            [(choices[k][i], _as_condition(conds[k][i])) for k in range(n)], defaults[i]
        )
        for i in range(len(defaults))
    ]
    operands = [*condlist, *choicelist, default]
    return _result(result, shape, all(_is_scalar(a) for a in operands))


def piecewise(x, condlist, funclist, *args, **kw):
    """SymNum implementation of :py:obj:`numpy.piecewise`.

    ``funclist`` holds callables (applied to the whole of ``x``) or constants, one per
    condition, plus optionally one more for where no condition holds (default 0). As
    in NumPy, a later condition takes precedence over an earlier one.
    """
    x_array = _as_symbolic_array(x)
    if isinstance(condlist, (_SymbolicArray, _np.ndarray)) or _is_scalar(condlist):
        condlist = [condlist]
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        msg = (
            f"piecewise: expected {n} or {n + 1} functions for {n} conditions, got {len(funclist)}"
        )
        raise ValueError(msg)

    def evaluate(f):
        value = f(x, *args, **kw) if callable(f) else f
        return _broadcast_data(_as_symbolic_array(value), x_array.shape)

    values = [evaluate(f) for f in funclist]
    default = values[n] if len(funclist) == n + 1 else [_S.Zero] * x_array.size
    cond_data = [_broadcast_data(_as_symbolic_array(c), x_array.shape) for c in condlist]
    result = [
        _piecewise_scalar(
            [(values[k][i], _as_condition(cond_data[k][i])) for k in reversed(range(n))],
            default[i],
        )
        for i in range(x_array.size)
    ]
    return _result(result, x_array.shape, _is_scalar(x))


# --------------------------------------------------------------------------------------
# Array creation


def _contains_symbolic(obj) -> bool:
    if isinstance(obj, (_SymbolicArray, _sym.Basic)) or _is_sympy_array(obj):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_symbolic(item) for item in obj)
    if isinstance(obj, _np.ndarray) and obj.dtype == object:
        return any(_contains_symbolic(item) for item in obj.flat)
    return False


def array(object_, dtype=None):
    """SymNum implementation of :py:obj:`numpy.array`.

    Returns a SymbolicArray if ``object_`` holds symbolic values (SymPy objects or
    SymbolicArrays) and a NumPy array otherwise; SymbolicArrays and numeric NumPy
    arrays are returned unchanged.
    """
    if isinstance(object_, _SymbolicArray) or (
        isinstance(object_, _np.ndarray) and object_.dtype != object
    ):
        return object_
    if _contains_symbolic(object_):
        return _SymbolicArray(object_, dtype=dtype)
    return _np.array(object_, dtype)


def _constant_array(value, shape, dtype=None):
    if isinstance(shape, (int, _np.integer)):
        shape = (int(shape),)
    shape = tuple(shape)
    size = int(_np.prod(shape, dtype=_np.int64))
    return _SymbolicArray([_to_basic(value)] * size, shape, dtype)


def eye(N, M=None, k=0, dtype=None):  # noqa: N803
    """SymNum implementation of :py:obj:`numpy.eye`."""
    M = N if M is None else M  # noqa: N806
    one, zero = _S.One, _S.Zero
    data = [one if j - i == k else zero for i in range(N) for j in range(M)]
    return _SymbolicArray._from_flat(data, (N, M), None if dtype is None else _np.dtype(dtype))


def identity(n, dtype=None):
    """SymNum implementation of :py:obj:`numpy.identity`."""
    return eye(n, n, 0, dtype)


def ones(shape, dtype=None):
    """SymNum implementation of :py:obj:`numpy.ones`."""
    return _constant_array(1, shape, dtype)


def zeros(shape, dtype=None):
    """SymNum implementation of :py:obj:`numpy.zeros`."""
    return _constant_array(0, shape, dtype)


def full(shape, fill_value, dtype=None):
    """SymNum implementation of :py:obj:`numpy.full`."""
    return _constant_array(fill_value, shape, dtype)


# --------------------------------------------------------------------------------------
# Reductions and joining


def sum(a, axis=None, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.sum` (``axis``: None, int or tuple)."""
    if isinstance(a, _np.ndarray):
        return a.sum(axis, keepdims=keepdims)
    return _as_symbolic_array(a).sum(axis, keepdims=keepdims)


def prod(a, axis=None, keepdims=False):
    """SymNum implementation of :py:obj:`numpy.prod` (``axis``: None, int or tuple)."""
    if isinstance(a, _np.ndarray):
        return a.prod(axis, keepdims=keepdims)
    return _as_symbolic_array(a).prod(axis, keepdims=keepdims)


def concatenate(arrays, axis=0):
    """SymNum implementation of :py:obj:`numpy.concatenate`.

    ``axis=None`` concatenates the flattened arrays.
    """
    arrays = [_as_symbolic_array(a) for a in arrays]
    if not arrays:
        msg = "need at least one array to concatenate"
        raise ValueError(msg)
    if axis is None:
        return _SymbolicArray._from_flat(
            list(_itertools.chain.from_iterable(a._data for a in arrays)),
            (_builtins.sum(a.size for a in arrays),),
        )
    ndim = arrays[0].ndim
    if ndim == 0:
        msg = "zero-dimensional arrays cannot be concatenated"
        raise ValueError(msg)
    if not -ndim <= axis < ndim:
        msg = f"axis {axis} is out of bounds for array of dimension {ndim}"
        raise _np.exceptions.AxisError(msg)
    axis %= ndim
    for i, a in enumerate(arrays[1:], 1):
        if a.ndim != ndim:
            msg = (
                "all the input arrays must have same number of dimensions, but the array"
                f" at index 0 has {ndim} dimension(s) and the array at index {i} has"
                f" {a.ndim} dimension(s)"
            )
            raise ValueError(msg)
        for d in range(ndim):
            if d != axis and a.shape[d] != arrays[0].shape[d]:
                msg = (
                    "all the input array dimensions except for the concatenation axis"
                    f" must match exactly, but along dimension {d}, the array at index 0"
                    f" has size {arrays[0].shape[d]} and the array at index {i} has size"
                    f" {a.shape[d]}"
                )
                raise ValueError(msg)
    # concatenate the position arrays of the operands, offset into a joint data list
    offsets = _np.cumsum([0] + [a.size for a in arrays[:-1]])
    positions = _np.concatenate(
        [_positions(a.shape) + off for a, off in zip(arrays, offsets, strict=True)], axis=axis
    )
    data = list(_itertools.chain.from_iterable(a._data for a in arrays))
    return _SymbolicArray._from_flat([data[i] for i in positions.ravel().tolist()], positions.shape)


# --------------------------------------------------------------------------------------
# Further API (symnum/numpy/_extra.py) and submodules


try:
    from symnum.numpy._extra import *  # noqa: F403
except ModuleNotFoundError as _error:  # pragma: no cover - only while _extra is absent
    if _error.name != "symnum.numpy._extra":
        raise


def __getattr__(name: str):
    # ``snp.linalg`` is symnum.numpy.linalg, imported on first use
    if name == "linalg":
        return _importlib.import_module("symnum.numpy.linalg")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
