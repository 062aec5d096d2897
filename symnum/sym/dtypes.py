"""Dtype inference for symbolic arrays: the NumPy dtype of SymPy expressions.

The kind (bool, int, float, complex or object) of an expression is worked out from its
structure with NumPy's promotion rules, never from SymPy's assumption system, whose
queries take minutes on large expressions. :class:`~symnum.array.SymbolicArray` re-exports
:func:`infer_array_dtype` and :func:`infer_scalar_dtype`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sympy
from sympy.core.basic import Basic
from sympy.logic.boolalg import Boolean

from symnum.sym.walk import fold

if TYPE_CHECKING:
    from symnum.array import SymbolicArray

__all__ = ["infer_array_dtype", "infer_scalar_dtype"]


def _is_boolean(obj) -> bool:
    # SymPy symbols are both Expr and Boolean; count them as numbers
    return isinstance(obj, Boolean) and not isinstance(obj, sympy.Expr)


# kinds, in promotion order, and their dtypes
_BOOL, _INT, _FLOAT, _COMPLEX, _OBJECT = range(5)
_KIND_DTYPES = (
    np.dtype(bool),
    np.dtype(np.int64),
    np.dtype(np.float64),
    np.dtype(np.complex128),
    np.dtype(object),
)
# functions whose value is real (float) whatever their argument
_REAL_VALUED = (sympy.Abs, sympy.re, sympy.im, sympy.arg)


def _atom_kind(atom) -> int:
    if atom.is_Integer:
        return _INT
    if atom.is_Number or atom.is_NumberSymbol:
        return _COMPLEX if atom is sympy.zoo else _FLOAT
    if atom is sympy.I:
        return _COMPLEX
    if _is_boolean(atom):
        return _BOOL
    return _assumed_kind(atom)


def _assumed_kind(atom) -> int:
    """Kind of a symbol from SymPy's assumptions on it."""
    if atom.is_integer:
        return _INT
    if atom.is_real:
        return _FLOAT
    if atom.is_complex:
        return _COMPLEX
    return _OBJECT


def _node_kind(node, child_kinds: list[int]) -> int:
    """Kind of a compound node from its children's kinds (NumPy-style promotion)."""
    if _is_boolean(node):
        return _BOOL
    kind = max(child_kinds, default=_INT)
    if kind == _OBJECT:
        return _OBJECT
    kind = max(kind, _INT)  # booleans in arithmetic are numbers
    if isinstance(node, (sympy.Add, sympy.Mul, sympy.Max, sympy.Min, sympy.Piecewise)):
        return kind
    if isinstance(node, sympy.Pow):
        exp = node.args[1]
        return kind if exp.is_Integer and exp >= 0 else max(kind, _FLOAT)
    if isinstance(node, _REAL_VALUED):
        return _FLOAT
    # other functions: real arguments give floats (as NumPy's ufuncs do)
    return max(kind, _FLOAT)


def _kind_children(node) -> tuple:
    if _is_boolean(node) or not node.args:
        return ()
    if isinstance(node, sympy.Piecewise):
        return tuple(pair.expr for pair in node.args)
    return node.args


def _kind(node, child_kinds: list[int]) -> int:
    if not node.args:
        return _atom_kind(node)
    return _node_kind(node, child_kinds)


def _expression_kind(expr, memo: dict) -> int:
    """NumPy kind of a SymPy expression, by structure (no assumption queries).

    ``memo`` (``id(node) -> (node, kind)``) may be shared between expressions.
    """
    if not expr.args:
        return _atom_kind(expr)
    return fold([expr], _kind_children, _kind, memo)[0]


def infer_array_dtype(array: SymbolicArray) -> np.dtype:
    """Infer the narrowest NumPy dtype able to represent every element of ``array``.

    Returns ``bool``, ``int64``, ``float64`` or ``complex128``, or ``object`` when a
    symbol's assumptions do not settle it. The kind is inferred from the expressions'
    structure with NumPy's promotion rules (functions of real values are floats), not
    from SymPy's assumption system, whose queries take minutes on large expressions.
    """
    memo: dict = {}
    kinds = [_expression_kind(el, memo) for el in array.flat]
    if not kinds:
        return np.dtype(np.float64)
    if all(k == _BOOL for k in kinds):
        return _KIND_DTYPES[_BOOL]
    return _KIND_DTYPES[max(*kinds, _INT)]


def infer_scalar_dtype(scalar) -> np.dtype:
    """Infer a NumPy dtype able to represent the (numeric or symbolic) ``scalar``."""
    if isinstance(scalar, (np.number, np.bool_)):
        return scalar.dtype
    if isinstance(scalar, (bool, int, float, complex)):
        return np.dtype(type(scalar))
    if isinstance(scalar, Basic):
        kind = _expression_kind(scalar, {})
        return _KIND_DTYPES[kind if kind == _BOOL else max(kind, _INT)]
    msg = f"expected a numeric or SymPy scalar, got {type(scalar).__name__}"
    raise TypeError(msg)
