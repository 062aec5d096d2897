"""Argument plumbing shared by the modules of :mod:`symnum.numpy` (and scipy.special).

Written once here: converting operands to SymbolicArrays, applying a SymPy function to
scalars (lazily on expressions, with NumPy's or SymPy's floating-point value on
floats), applying a scalar function elementwise with broadcasting, rejecting NumPy
arguments that are not supported, selections (``Piecewise``), balanced ``Max`` /
``Min`` trees, and the reality test on elements.
"""

from __future__ import annotations

import numpy as np
import sympy
from sympy.logic.boolalg import Boolean

from symnum import array as _array_module
from symnum.array import (
    _FLOAT,
    SymbolicArray,
    _broadcast_data,
    _broadcast_shape,
    _convert_operand,
    _expression_kind,
    _to_basic,
    apply_function,
    is_scalar,
)
from symnum.sym.build import _extremum, _piecewise

_ZERO = sympy.Integer(0)
_ONE = sympy.Integer(1)
# what float('inf'), float('-inf') and float('nan') become in SymPy
_NONFINITE = frozenset({sympy.oo, -sympy.oo, sympy.nan})


def _numpy_doc(name: str, summary: str = "") -> str:
    """Docstring of a SymNum implementation of ``numpy.<name>`` (plus a summary)."""
    doc = f"SymNum implementation of :py:obj:`numpy.{name}`"
    return f"{doc}: {summary}" if summary else f"{doc}."


# --------------------------------------------------------------------------------------
# Operands


def _as_array(obj, name: str = "a") -> SymbolicArray:
    """``obj`` as a SymbolicArray (scalars give 0-d arrays); TypeError if impossible."""
    array = _convert_operand(obj)
    if array is None:
        msg = f"{name} must be a scalar or an array, got {type(obj).__name__}"
        raise TypeError(msg)
    return array


def _as_int(value, what: str) -> int:
    """``value`` as an int; TypeError naming ``what`` for bools, floats and the rest."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, np.integer, sympy.Integer)
    ):
        msg = f"{what} must be an int, got {value!r}"
        raise TypeError(msg)
    return int(value)


def _reject_extra(name: str, n_args: int, args: tuple, kwargs: dict) -> None:
    """NotImplementedError if NumPy arguments past the first ``n_args`` were given."""
    if args or kwargs:
        first = "the first argument" if n_args == 1 else "the first two arguments"
        msg = f"only {first} of {name} {'is' if n_args == 1 else 'are'} supported"
        raise NotImplementedError(msg)


def _reject_unsupported(name: str, **kwargs) -> None:
    """NotImplementedError naming the first keyword argument that is not None."""
    for key, value in kwargs.items():
        if value is not None:
            msg = f"{name}: argument {key}={value!r} is not supported"
            raise NotImplementedError(msg)


def _result(values: list, shape: tuple):
    """A scalar for shape ``()``, else a SymbolicArray of ``values`` (flat, C order)."""
    if shape == ():
        return values[0]
    return SymbolicArray._from_flat(values, shape)


def _object_array(array: SymbolicArray) -> np.ndarray:
    """The elements of ``array`` as a NumPy object array of its shape (for NumPy's
    slicing and axis moves on symbolic elements)."""
    values = np.empty(array.size, dtype=object)
    values[:] = array._data
    return values.reshape(array.shape)


def _from_object_array(values: np.ndarray):
    """The inverse of :func:`_object_array`: a SymbolicArray of the object array's
    shape (a scalar for shape ``()``), its elements as SymPy objects."""
    return _result([_to_basic(v) for v in values.ravel().tolist()], values.shape)


# --------------------------------------------------------------------------------------
# Scalar functions


def _numeric_value(value):
    """A NumPy scalar result as a SymPy number (NaN as ``nan``)."""
    value = complex(value)
    if value.imag == 0:
        return sympy.Float(value.real)
    return sympy.Float(value.real) + sympy.Float(value.imag) * sympy.I


def _apply(func, *args, numeric=None):
    """Apply the SymPy function ``func`` to SymPy scalars without costly evaluation.

    Expressions get :func:`symnum.array.apply_function` (no assumption queries).
    Floating-point arguments are evaluated directly: by ``numeric`` (a NumPy function)
    when given, so that the value is NumPy's; else by ``evalf`` of the unevaluated
    function. SymPy's automatic evaluation would rewrite e.g. ``log1p(1e-22)`` as
    ``log(1 + 1e-22)``, which is 0. Exact arguments (integers, constants) stay exact,
    except the infinities and nan that stand for the floats inf and nan: with
    ``numeric`` they give NumPy's values (``log(-inf)`` is nan, not SymPy's
    ``oo + I*pi``).
    """
    if numeric is not None:
        if all(a.is_Number and a is not sympy.zoo for a in args) and any(
            a.is_Float or a in _NONFINITE for a in args
        ):
            with np.errstate(all="ignore"):
                return _numeric_value(numeric(*(float(a) for a in args)))
        return apply_function(func, *args)
    if all(not a.args for a in args) and any(a.is_Float for a in args):
        value = func(*args, evaluate=False).evalf()
        if value.is_Number:
            return value
        return func(*args).evalf()
    return apply_function(func, *args)


def _evalf_if_float(result, *inputs):
    """Evaluate a closed-form number to a Float when an input was a Float (as NumPy)."""
    if (
        isinstance(result, sympy.Expr)
        and not result.is_Number
        and result.is_number
        and any(getattr(x, "is_Float", False) for x in inputs)
    ):
        return result.evalf()
    return result


def _is_real_valued(x) -> bool:
    """Whether ``x`` is real by structure (symnum's dtype inference), not by SymPy's
    assumption queries, which are slow on large expressions."""
    return _expression_kind(_to_basic(x), {}) <= _FLOAT


def _conj(x):
    """The complex conjugate of ``x``: ``x`` itself when it is real by structure."""
    return x if _is_real_valued(x) else sympy.conjugate(x)


# --------------------------------------------------------------------------------------
# Elementwise application with broadcasting


def _broadcast_operands(operands, name: str = "operand") -> tuple[tuple, list[list]]:
    """The broadcast shape of ``operands`` and each one's flat elements in that shape."""
    arrays = [_as_array(x, name) for x in operands]
    shape = _broadcast_shape(*(a.shape for a in arrays))
    return shape, [_broadcast_data(a, shape) for a in arrays]


def _elementwise(scalar_func, *operands, name: str = "operand"):
    """Apply ``scalar_func`` (of SymPy scalars) elementwise, with NumPy broadcasting.

    Returns ``scalar_func``'s value if every operand is a scalar, else a SymbolicArray
    of the broadcast shape. Closed-form numbers of float inputs are evaluated (as NumPy
    would compute them).
    """
    if all(is_scalar(x) for x in operands):
        args = [_to_basic(x) for x in operands]
        return _evalf_if_float(scalar_func(*args), *args)
    hooks = _array_module._data_hooks
    if hooks is not None:
        # on data rows, or on constant data alone (``gammaln(y + 1)``): a row template
        lazy = (hooks.elementwise if hooks.involved(*operands) else hooks.constant_elementwise)(
            lambda *rows: _elementwise(scalar_func, *rows, name=name), operands
        )
        if lazy is not None:
            return lazy
    shape, columns = _broadcast_operands(operands, name)
    data = [
        _evalf_if_float(_to_basic(scalar_func(*args)), *args) for args in zip(*columns, strict=True)
    ]
    return SymbolicArray._from_flat(data, shape)


def _ufunc(scalar_func, name: str, doc: str, n_args: int = 1):
    """A NumPy-style function applying ``scalar_func`` elementwise to its first
    ``n_args`` (1 or 2) arguments, with broadcasting, and refusing the further ufunc
    arguments of NumPy (``out=``, ``where=``, ...) with NotImplementedError."""
    if n_args == 1:

        def func(x, *args, **kwargs):
            _reject_extra(name, 1, args, kwargs)
            return _elementwise(scalar_func, x, name=f"{name}: x")

    else:

        def func(x1, x2, *args, **kwargs):
            _reject_extra(name, 2, args, kwargs)
            return _elementwise(scalar_func, x1, x2, name=f"{name}: operand")

    func.__name__ = func.__qualname__ = name
    func.__doc__ = doc
    return func


# --------------------------------------------------------------------------------------
# Selection and extrema


def _select(pairs, default):
    """``Piecewise`` of ``(value, condition)`` pairs then ``default``; first true wins.

    Conditions already known to be false are dropped and one known to be true ends the
    list, so numeric conditions give the chosen value itself.
    """
    args = []
    for value, cond in pairs:
        if cond is sympy.false:
            continue
        if cond is sympy.true:
            default = value
            break
        args.append((value, cond))
    if not args:
        return default
    return _piecewise([*args, (default, sympy.true)])


def _as_condition(c):
    """A SymPy boolean for the truth value of ``c`` (NumPy: non-zero is true)."""
    c = _to_basic(c)
    if isinstance(c, Boolean) and not isinstance(c, sympy.Expr):
        return c
    if c.is_Number:
        return sympy.false if c.is_zero else sympy.true
    return sympy.Ne(c, 0, evaluate=not c.args)


def _tree(combine, elements):
    """Combine ``elements`` pairwise in a balanced binary tree (depth log2(n)).

    SymPy's n-ary ``Max`` compares every pair of its arguments through the assumption
    system (seconds for a few dozen symbols) and its derivative rebuilds an (n-1)-ary
    ``Max`` per argument; a tree of binary nodes costs ``n - 1`` nodes.
    """
    level = list(elements)
    while len(level) > 1:
        paired = [combine(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _max2(a, b):
    """``Max(a, b)`` (``a`` itself if ``a == b``)."""
    if a == b:
        return a
    return _extremum(sympy.Max, a, b) if a.args or b.args else _apply(sympy.Max, a, b)


def _min2(a, b):
    """``Min(a, b)`` (``a`` itself if ``a == b``)."""
    if a == b:
        return a
    return _extremum(sympy.Min, a, b) if a.args or b.args else _apply(sympy.Min, a, b)
