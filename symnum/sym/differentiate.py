"""Symbolic differentiation of SymPy expressions by a memoised chain rule.

Used by :meth:`symnum.array.SymbolicArray.diff`. The sum, product, power and chain rules
are applied over the expression DAG, iteratively and memoised on sub-expressions, and the
results are built with the unevaluated constructors of :mod:`symnum.sym.build`: unlike
``expr.diff``, this never calls ``simplify``, ``is_constant`` or the assumption queries
that take minutes (or overflow the stack) on modest sums. Results are exact, just not
canonicalised.
"""

from __future__ import annotations

import sympy
from sympy.codegen import cfunctions as _cfunctions
from sympy.codegen import numpy_nodes as _numpy_nodes
from sympy.logic.boolalg import Boolean

from symnum.sym.build import (
    _ONE,
    _ZERO,
    _add,
    _is_zero,
    _mask,
    _piecewise,
    _pow,
    apply_function,
)
from symnum.sym.build import _masked_product as _mul
from symnum.sym.data import DataReduce, data_derivative
from symnum.sym.dtypes import _COMPLEX, _expression_kind
from symnum.sym.nodes import Expit, Ndtri
from symnum.sym.walk import fold

# Piecewise-constant functions: derivative zero almost everywhere (as in JAX), rather
# than SymPy's DiracDelta terms, which no backend can evaluate.
_PIECEWISE_CONSTANT = (sympy.floor, sympy.ceiling, sympy.sign, sympy.Heaviside)


def _children(node) -> tuple:
    """The sub-expressions whose derivatives the derivative of ``node`` is built from."""
    if isinstance(node, sympy.Piecewise):
        return tuple(pair.expr for pair in node.args)
    if isinstance(node, (sympy.Add, sympy.Mul, sympy.Pow, sympy.Max, sympy.Min, DataReduce)):
        return node.args
    if isinstance(node, sympy.Abs) or _uses_fdiff(node):
        return node.args
    return ()


def _uses_fdiff(node) -> bool:
    return (
        isinstance(node, sympy.Function)
        and type(node)._eval_derivative is sympy.Function._eval_derivative
        and not isinstance(node, _PIECEWISE_CONSTANT)
    )


_TWO = sympy.Integer(2)
_HALF = sympy.Rational(1, 2)


def _square(a):
    return _pow(a, _TWO)


def _reciprocal(a):
    return _pow(a, -_ONE)


def _d_exp(node, a):
    return node


def _d_log(node, a):
    return _reciprocal(a)


def _d_sin(node, a):
    return apply_function(sympy.cos, a)


def _d_cos(node, a):
    return _mul([-_ONE, apply_function(sympy.sin, a)])


def _d_tan(node, a):
    return _add([_ONE, _square(node)])


def _d_asin(node, a):
    return _pow(_add([_ONE, _mul([-_ONE, _square(a)])]), -_HALF)


def _d_acos(node, a):
    return _mul([-_ONE, _d_asin(node, a)])


def _d_atan(node, a):
    return _reciprocal(_add([_ONE, _square(a)]))


def _d_expit(node, a):
    # expit(x) expit(-x): finite where exp(-x) overflows, unlike exp(-x) / (1 + exp(-x))**2
    return _mul([node, apply_function(Expit, _mul([-_ONE, a]))])


def _d_sinh(node, a):
    return apply_function(sympy.cosh, a)


def _d_cosh(node, a):
    return apply_function(sympy.sinh, a)


def _d_tanh(node, a):
    return _add([_ONE, _mul([-_ONE, _square(node)])])


def _d_asinh(node, a):
    return _pow(_add([_square(a), _ONE]), -_HALF)


def _d_acosh(node, a):
    return _mul([_pow(_add([a, -_ONE]), -_HALF), _pow(_add([a, _ONE]), -_HALF)])


def _d_atanh(node, a):
    return _reciprocal(_add([_ONE, _mul([-_ONE, _square(a)])]))


def _d_expm1(node, a):
    return apply_function(sympy.exp, a)


def _d_log1p(node, a):
    return _reciprocal(_add([_ONE, a]))


def _d_exp2(node, a):
    return _mul([node, sympy.log(_TWO)])


def _d_log2(node, a):
    return _reciprocal(_mul([a, sympy.log(_TWO)]))


def _d_log10(node, a):
    return _reciprocal(_mul([a, sympy.log(sympy.Integer(10))]))


_SQRT_PI_2 = sympy.sqrt(sympy.pi) / 2
_SQRT_2PI = sympy.sqrt(2 * sympy.pi)


# the inverse functions' derivatives are built from their own value (``node``), so
# that generated code computes it once


def _d_erfinv(node, a):
    return _mul([_SQRT_PI_2, apply_function(sympy.exp, _square(node))])


def _d_erfcinv(node, a):
    return _mul([-_SQRT_PI_2, apply_function(sympy.exp, _square(node))])


def _d_ndtri(node, a):
    return _mul([_SQRT_2PI, apply_function(sympy.exp, _mul([_HALF, _square(node)]))])


# d f(a) / da for common one-argument functions, built without evaluation (see
# apply_function); other functions use their ``fdiff``, which evaluates.
_DERIVATIVE_RULES = {
    sympy.exp: _d_exp,
    sympy.log: _d_log,
    sympy.sin: _d_sin,
    sympy.cos: _d_cos,
    sympy.tan: _d_tan,
    sympy.asin: _d_asin,
    sympy.acos: _d_acos,
    sympy.atan: _d_atan,
    sympy.sinh: _d_sinh,
    sympy.cosh: _d_cosh,
    sympy.tanh: _d_tanh,
    sympy.asinh: _d_asinh,
    sympy.acosh: _d_acosh,
    sympy.atanh: _d_atanh,
    _cfunctions.expm1: _d_expm1,
    _cfunctions.log1p: _d_log1p,
    _cfunctions.exp2: _d_exp2,
    _cfunctions.log2: _d_log2,
    _cfunctions.log10: _d_log10,
    sympy.erfinv: _d_erfinv,
    sympy.erfcinv: _d_erfcinv,
    Ndtri: _d_ndtri,
    Expit: _d_expit,
}


# Conditions of derivatives are built unevaluated: evaluating ``a > b`` asks SymPy's
# assumption system about ``a - b``, which costs milliseconds per element on the
# expressions of models with data (issue 14: a logistic regression with logaddexp took
# 40x longer to differentiate than with log1p(exp(.))). Deciding a condition is left to
# the generated code.


def _gt(a, b):
    return sympy.StrictGreaterThan(a, b, evaluate=False)


def _lt(a, b):
    return sympy.StrictLessThan(a, b, evaluate=False)


def _ge(a, b):
    return sympy.GreaterThan(a, b, evaluate=False)


def _le(a, b):
    return sympy.LessThan(a, b, evaluate=False)


def _d_logaddexp(node, d_args: list):
    """d logaddexp(a, b) = s(a - b) da + s(b - a) db, with the logistic function ``s``
    written branchwise so that no derivative of any order overflows:
    ``s(g) = 1 / (1 + exp(-g))`` for ``g >= 0``, else ``exp(g) / (1 + exp(g))``."""
    a, b = node.args
    terms = []
    for wrt, other, d in ((a, b, d_args[0]), (b, a, d_args[1])):
        if _is_zero(d):
            continue
        gap = _add([wrt, _mul([-_ONE, other])])
        exp_gap = apply_function(sympy.exp, gap)
        exp_neg = apply_function(sympy.exp, _mul([-_ONE, gap]))
        logistic = _piecewise(
            [
                (_reciprocal(_add([_ONE, exp_neg])), _ge(gap, _ZERO)),
                (_mul([exp_gap, _reciprocal(_add([_ONE, exp_gap]))]), sympy.true),
            ]
        )
        terms.append(_mul([logistic, d]))
    return _add(terms)


def _d_add(node, d_args: list, symbol):
    return _add(d_args)


def _d_mul(node, d_args: list, symbol):
    args = node.args
    return _add(
        [_mul([*args[:i], da, *args[i + 1 :]]) for i, da in enumerate(d_args) if not _is_zero(da)]
    )


def _d_pow(node, d_args: list, symbol):
    base, exp = node.args
    d_base, d_exp = d_args
    if _is_zero(d_exp):
        return _mul([exp, _pow(base, _add([exp, -_ONE])), d_base])
    log_base = apply_function(sympy.log, base)
    if _is_zero(d_base):
        return _mul([node, log_base, d_exp])
    return _mul([node, _add([_mul([d_exp, log_base]), _mul([exp, d_base, _pow(base, -_ONE)])])])


def _d_piecewise(node, d_args: list, symbol):
    if len(node.args) == 2 and node.args[1].cond is sympy.true and _is_zero(d_args[1]):
        return _mask(d_args[0], node.args[0].cond)  # where(c, x, 0): masked, folded
    return _piecewise([(d, pair.cond) for d, pair in zip(d_args, node.args, strict=True)])


def _d_max_min(node, d_args: list, symbol):
    # the derivative of the branch taken; at a tie of two arguments the mean of their
    # derivatives (as JAX), whatever SymPy's argument order
    beats = _gt if isinstance(node, sympy.Max) else _lt
    args = node.args
    if len(args) == 2:
        (a, b), (da, db) = args, d_args
        mean = _mul([_HALF, _add([da, db])])
        return _piecewise([(da, beats(a, b)), (db, beats(b, a)), (mean, sympy.true)])
    not_worse = _ge if isinstance(node, sympy.Max) else _le
    pieces = [
        (d, sympy.And(*(not_worse(a, b) for b in args if b is not a), evaluate=False))
        for a, d in zip(args[:-1], d_args[:-1], strict=True)
    ]
    return _piecewise([*pieces, (d_args[-1], sympy.true)])


def _d_abs(node, d_args: list, symbol):
    (arg,) = node.args
    # Reality from the expression's structure, not SymPy's assumption system, which
    # answers None for large unevaluated expressions; SymPy's own Abs derivative
    # then gives nan where the argument is identically zero.
    if arg.is_extended_real or _expression_kind(arg, {}) < _COMPLEX:
        return _mul([apply_function(sympy.sign, arg), d_args[0]])
    return node.diff(symbol)


def _d_data(node, d_args: list, symbol):
    # a reduction over data rows: built from the template's derivative (symnum.sym.data)
    return data_derivative(node, d_args[0])


# structural rules, tried in order with ``isinstance`` (before the function rules)
_STRUCTURAL_RULES = (
    (DataReduce, _d_data),
    (sympy.Add, _d_add),
    (sympy.Mul, _d_mul),
    (sympy.Pow, _d_pow),
    (sympy.Piecewise, _d_piecewise),
    ((sympy.Max, sympy.Min), _d_max_min),
    (sympy.Abs, _d_abs),
)


def _d_function(node, d_args: list):
    """Derivative of an applied function ``node`` given its arguments' derivatives."""
    if isinstance(node, _numpy_nodes.logaddexp) and len(node.args) == 2:
        return _d_logaddexp(node, d_args)
    rule = _DERIVATIVE_RULES.get(type(node))
    if rule is not None and len(node.args) == 1:
        return _mul([rule(node, node.args[0]), d_args[0]])
    if isinstance(node, _cfunctions.hypot):
        # d hypot(x, y) = (x dx + y dy) / hypot(x, y)
        (x, y), (dx, dy) = node.args, d_args
        return _mul([_add([_mul([x, dx]), _mul([y, dy])]), _reciprocal(node)])
    if isinstance(node, sympy.atan2):
        # d atan2(y, x) = (x dy - y dx) / (x**2 + y**2)
        (y, x), (dy, dx) = node.args, d_args
        numerator = _add([_mul([x, dy]), _mul([-_ONE, y, dx])])
        return _mul([numerator, _reciprocal(_add([_square(x), _square(y)]))])
    # an applied function with partial derivatives ``fdiff``: the chain rule
    return _add([_mul([node.fdiff(i), da]) for i, da in enumerate(d_args, 1) if not _is_zero(da)])


def _combine_derivative(node, d_args: list, symbol):
    """Derivative of ``node`` given the derivatives of its children."""
    for cls, rule in _STRUCTURAL_RULES:
        if isinstance(node, cls):
            return rule(node, d_args, symbol)
    return _d_function(node, d_args)


def _diff(expr, symbol, memo: dict, masks: dict | None = None, bit: int = 0):
    """Derivative of ``expr`` with respect to the symbol ``symbol``.

    Unlike ``expr.diff(symbol)``, which asks SymPy's assumption system whether every
    intermediate derivative is zero (exponential in the depth of nested sums and
    quotients), this walks the expression DAG once, iteratively, applying the sum,
    product, power and chain rules and memoising on sub-expressions (``memo`` is shared
    across the elements of an array, for one symbol). Node types without a rule here
    fall back to ``expr.diff(symbol)``.

    ``masks`` (from :func:`_symbol_masks`) and the symbol's ``bit`` let the walk skip
    sub-expressions that do not contain the symbol, so that a gradient or a sparse
    Hessian costs about the size of the expressions, not that times the number of
    symbols.
    """
    if not expr.args:
        return _d_atom(expr, symbol)
    if masks is not None and not masks[id(expr)][1] & bit:
        return _ZERO

    def relevant(node) -> tuple:
        """The children whose derivatives ``node``'s needs: compound ones with the symbol."""
        if isinstance(node, (Boolean, *_PIECEWISE_CONSTANT)):
            return ()
        return tuple(
            c for c in _children(node) if c.args and (masks is None or masks[id(c)][1] & bit)
        )

    def combine(node, d_relevant: list):
        if isinstance(node, (Boolean, *_PIECEWISE_CONSTANT)):
            return _ZERO
        children = _children(node)
        if not children:
            return node.diff(symbol)
        found = {id(c): d for c, d in zip(relevant(node), d_relevant, strict=True)}
        d_children = [
            _d_atom(c, symbol) if not c.args else found.get(id(c), _ZERO) for c in children
        ]
        if all(_is_zero(d) for d in d_children):
            return _ZERO
        return _combine_derivative(node, d_children, symbol)

    return fold([expr], relevant, combine, memo)[0]


def _d_atom(atom, symbol):
    return _ONE if atom.is_Symbol and atom == symbol else _ZERO


def _collect_symbols(roots) -> set:
    """The free symbols of the expressions ``roots``.

    One walk over the shared DAG: SymPy's ``free_symbols`` recurses and revisits shared
    sub-expressions.
    """
    symbols: set = set()

    def children(node) -> tuple:
        if isinstance(node, (sympy.Derivative, sympy.Subs, sympy.Lambda)):
            return ()  # these bind variables: their free_symbols says which are free
        return node.args

    def collect(node, _) -> None:
        if node.is_Symbol:
            symbols.add(node)
        elif isinstance(node, (sympy.Derivative, sympy.Subs, sympy.Lambda)):
            symbols.update(node.free_symbols)

    fold(roots, children, collect)
    return symbols


def _args(node) -> tuple:
    return node.args


def _symbol_masks(roots, bits: dict) -> dict:
    """``id(node) -> (node, mask)`` for every node of ``roots``: the bits of the symbols
    (``bits``: symbol -> int with one bit set) the node contains, OR-ed."""

    def mask(node, child_masks: list) -> int:
        if not node.args:
            return bits.get(node, 0) if node.is_Symbol else 0
        result = 0
        for m in child_masks:
            result |= m
        return result

    masks: dict = {}
    fold(roots, _args, mask, masks)
    return masks


def _diff_elements(data: list, symbol, masks: dict | None = None, bit: int = 0) -> list:
    """Derivatives of the SymPy objects in ``data`` with respect to ``symbol``."""
    if not isinstance(symbol, sympy.Symbol):
        return [el.diff(symbol) for el in data]
    memo: dict = {}
    return [_diff(el, symbol, memo, masks, bit) for el in data]
