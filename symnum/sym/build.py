"""Fast construction of SymPy expressions, without SymPy's automatic evaluation.

SymPy's evaluation of a new node (``a + b``, ``f(x)``) queries the assumption system and
re-sorts arguments, costing milliseconds per node on the sums of products that array code
produces. The constructors here (:func:`_add`, :func:`_mul`, :func:`_pow`,
:func:`apply_function`) fold numbers but otherwise build nodes unevaluated, which is exact
and leaves constant folding to lowering; the scalar operators ``_op_*`` on top of them are
what :class:`~symnum.array.SymbolicArray` applies elementwise, evaluating only where that
is cheap.
"""

from __future__ import annotations

import math
import operator

import sympy
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import Boolean

from symnum.sym.dtypes import _is_boolean

__all__ = ["apply_function"]

_ZERO = sympy.Integer(0)
_ONE = sympy.Integer(1)
_NEG_ONE = sympy.Integer(-1)


def _is_zero(x) -> bool:
    # ``not x`` on a SymPy number is cheap; ``x.is_zero`` builds an assumptions table
    return x.is_Number and not x


_FLATTEN_LIMIT = 16


def _hashed(node):
    # SymPy computes hashes lazily and recursively; hashing each new node once, when its
    # arguments' hashes are already known, keeps later hashing of deep expressions from
    # overflowing the stack
    hash(node)
    return node


def _mul(factors):
    """Product of SymPy factors, with numbers folded but no assumption queries."""
    numbers = []
    rest = []
    stack = list(reversed(factors))
    while stack:
        f = stack.pop()
        if f.is_Number:
            numbers.append(f)
        elif isinstance(f, sympy.Mul) and len(f.args) <= _FLATTEN_LIMIT:
            # flattening big products would copy them at every level of a chain rule,
            # quadratic in the depth of a composition
            stack.extend(reversed(f.args))
        else:
            rest.append(f)
    if numbers:
        coeff = numbers[0]
        for number in numbers[1:]:
            coeff = coeff * number
        if not coeff:
            return _ZERO
        if coeff is not _ONE:
            rest.insert(0, coeff)
    if len(rest) > 1 and sum(type(f) is sympy.Piecewise for f in rest) > 1:
        rest = _one_choice(rest)
        if rest is None:
            return _ZERO
    if not rest:
        return _ONE if not numbers else coeff
    if len(rest) == 1:
        return rest[0]
    return _hashed(sympy.Mul._from_args(rest))


def _masked_product(factors):
    """The product of ``factors``, where a factor ``where(c, e, 0)`` masks the others:
    ``where(c, e * rest, 0)``, zero where ``c`` is false even if ``rest`` is not finite
    there (the product would be NaN).

    For derivatives (:mod:`symnum.sym.differentiate`): a row that does not pick a
    parameter (``alpha[group]``, a gather's ``where(group == j, alpha[j], 0)``) does not
    depend on it, so its derivative is zero, as in the written-out rows, even where the
    rest of the chain rule is infinite or NaN (``expit'`` at a cut point ``-inf``).
    """
    product = _mul(factors)
    if type(product) is not sympy.Mul:
        return product
    args = list(product.args)
    masked = sum(_is_masked(f) for f in args)
    if not masked:  # the common case: a product like any other
        return product
    if masked > 1:
        args = _one_choice(args, any_value=True)
        if args is None:
            return _ZERO
    i = next(i for i, f in enumerate(args) if _is_masked(f))
    (value, cond), _ = args[i].args
    return _mask(_mul([value, _mul([*args[:i], *args[i + 1 :]])]), cond)


def _mask(value, cond):
    """``where(cond, value, 0)`` in a derivative (see :func:`_masked_product`), a
    ``value`` masked on the same subject folded in: ``where(g == j, where(g == k, a, 0),
    0)`` is zero for ``j != k`` (the derivative of a picked row with respect to another
    group's parameter)."""
    if _is_zero(value):
        return _ZERO
    if _is_masked(value):
        kept = _one_choice([_piecewise([(_ONE, cond), (_ZERO, sympy.true)]), value], True)
        if kept is None:
            return _ZERO
        if len(kept) == 1:
            return kept[0]
    return _piecewise([(value, cond), (_ZERO, sympy.true)])


def _is_masked(factor) -> bool:
    # ``where(c, e, 0)``: two pieces, the second zero where nothing else holds
    if type(factor) is not sympy.Piecewise or len(factor.args) != 2:
        return False
    other, always = factor.args[1]
    return always is sympy.true and other.is_Number and not other


def _indicator(factor, any_value: bool = False):
    """``(subject, choice, value)`` if ``factor`` is ``where(subject == choice, value,
    0)`` with a real number ``choice`` and a finite real number ``value`` (any value if
    ``any_value``), else None."""
    if not _is_masked(factor):
        return None
    value, cond = factor.args[0]
    if type(cond) is not sympy.Equality or not (
        any_value or (_is_real_number(value) and math.isfinite(value))
    ):
        return None
    left, right = cond.args
    if _is_real_number(right) and not left.is_Number:
        return left, float(right), value
    if _is_real_number(left) and not right.is_Number:
        return right, float(left), value
    return None


def _is_real_number(x) -> bool:
    # an integer, fraction or float (not oo, nan or zoo); no assumption queries
    return x.is_Rational or x.is_Float


def _one_choice(factors: list, any_value: bool = False) -> list | None:
    """``factors`` with indicators of one subject multiplied together: ``where(g == j,
    a, 0) * where(g == k, b, 0)`` is ``where(g == j, a * b, 0)`` if ``j == k`` and zero
    otherwise (None is returned then). Exact for finite numbers ``a`` and ``b``; for any
    ``a`` and ``b`` with ``any_value`` (where a false condition masks: see
    :func:`_masked_product`).

    A random effect ``alpha[group]`` is one such indicator per group in each data row
    (:func:`symnum.data._one_of`), so the second derivatives with respect to two
    different groups' effects are products of two indicators: zero in every row, but a
    loop reduction each (the square of the number of groups) unless seen to be zero here.
    """
    kept: list = []
    found: dict = {}  # subject -> (position in kept, choice, value)
    for factor in factors:
        indicator = _indicator(factor, any_value)
        if indicator is None:
            kept.append(factor)
            continue
        subject, choice, value = indicator
        if subject not in found:
            found[subject] = (len(kept), choice, value)
            kept.append(factor)
            continue
        at, first_choice, first_value = found[subject]
        if choice != first_choice:
            return None
        value = _mul([first_value, value])
        found[subject] = (at, choice, value)
        kept[at] = _piecewise([(value, kept[at].args[0].cond), (_ZERO, sympy.true)])
    return kept


def _add(terms):
    """Sum of SymPy terms, with numbers folded but no assumption queries."""
    numbers = []
    rest = []
    stack = list(reversed(terms))
    while stack:
        t = stack.pop()
        if t.is_Number:
            if t:
                numbers.append(t)
        elif isinstance(t, sympy.Add) and len(t.args) <= _FLATTEN_LIMIT:
            stack.extend(reversed(t.args))
        else:
            rest.append(t)
    if numbers:
        const = numbers[0]
        for number in numbers[1:]:
            const = const + number
        if const:
            rest.insert(0, const)
    if not rest:
        return _ZERO
    if len(rest) == 1:
        return rest[0]
    return _hashed(sympy.Add._from_args(rest))


def _pow(base, exp):
    if exp is _ONE:
        return base
    if exp.is_Number and base.is_Number:
        return sympy.Pow(base, exp)
    return sympy.Pow(base, exp, evaluate=False)


def _piecewise(pairs):
    """``Piecewise`` of ``(value, condition)`` pairs, built without SymPy's
    canonicalisation: ``Piecewise`` / ``ExprCondPair`` fold conditions that themselves
    hold a ``Piecewise`` (a ``where`` of a ``where``), which raises "Invalid NaN
    comparison" on some inputs and costs exponential time on nested selections."""
    return sympy.Basic.__new__(
        sympy.Piecewise,
        *(sympy.Basic.__new__(ExprCondPair, sympy.sympify(v), c) for v, c in pairs),
    )


def _extremum(cls, a, b):
    """Binary ``cls(a, b)`` (``sympy.Max`` or ``sympy.Min``) of ``a`` and ``b``, built
    directly when either is compound.

    SymPy's constructor sorts its arguments into a canonical order even unevaluated
    (``ordered``), counting the nodes of each argument as a tree: exponential in the
    nesting depth of shared subexpressions (a sorting network's ``Min`` / ``Max`` of 32
    elements took 10 s). The order does not matter to symnum: the derivative is that of
    the argument taken, the mean of both at a tie (:mod:`symnum.sym.differentiate`).
    """
    if not a.args and not b.args:
        return cls(a, b, evaluate=False)
    node = sympy.Expr.__new__(cls, a, b)
    node._argset = frozenset((a, b))
    return _hashed(node)


def apply_function(func, *args):
    """Apply the SymPy function ``func`` to ``args``, evaluating only cheap cases.

    SymPy's automatic evaluation of a function of a large expression queries the
    assumption system (is it zero? positive? a multiple of pi*I?), which costs
    milliseconds per call on the sums of products that array code produces. Functions
    of atoms (numbers, symbols) are evaluated as usual; others are built unevaluated,
    which is exact and leaves constant folding to lowering.
    """
    if all(not a.args for a in args):
        return func(*args)
    return func(*args, evaluate=False)


def _cheap(x) -> bool:
    """Whether SymPy's automatic evaluation of an operation on ``x`` is cheap.

    Evaluating an operation on a compound expression (a sum of products with float
    coefficients, say) queries the assumption system and re-sorts arguments, costing
    milliseconds per element; on atoms and on simple compounds of atoms it costs
    microseconds and keeps SymPy's canonical forms (``2*x``, ``x**2``, ``x + y``).
    """
    args = x.args
    return not args or (len(args) <= 2 and not args[0].args and not args[-1].args)


def _as_number(x):
    """NumPy's arithmetic on booleans: true is 1, false is 0, a condition c is c ? 1 : 0."""
    if isinstance(x, Boolean) and not isinstance(x, sympy.Expr):
        if x is sympy.true:
            return _ONE
        if x is sympy.false:
            return _ZERO
        return _piecewise([(_ONE, x), (_ZERO, sympy.true)])
    return x


def _evaluate_cheaply(a, b) -> bool:
    # number (op) atom is built directly by _add / _mul, which give SymPy's canonical
    # form (number first) without the assumption queries evaluation makes on new floats
    if a.is_Number != b.is_Number and not (a.args or b.args):
        return False
    return _cheap(a) and _cheap(b)


def _op_add(a, b):
    a, b = _as_number(a), _as_number(b)
    if _evaluate_cheaply(a, b):
        return a + b
    return _add([a, b])


def _op_sub(a, b):
    a, b = _as_number(a), _as_number(b)
    if _evaluate_cheaply(a, b):
        return a - b
    return _add([a, _mul([_NEG_ONE, b])])


def _op_mul(a, b):
    a, b = _as_number(a), _as_number(b)
    if _evaluate_cheaply(a, b):
        return a * b
    return _mul([a, b])


def _op_truediv(a, b):
    a, b = _as_number(a), _as_number(b)
    if _evaluate_cheaply(a, b) and not b.is_Number:
        return a / b
    return _mul([a, _pow(b, _NEG_ONE)])


def _op_pow(a, b):
    a, b = _as_number(a), _as_number(b)
    if _evaluate_cheaply(a, b):
        return a**b
    return _pow(a, b)


def _op_neg(a):
    if _cheap(a) or not isinstance(a, sympy.Expr):
        return -a
    return _mul([_NEG_ONE, a])


def _relational(cls):
    def compare(a, b):
        if _cheap(a) and _cheap(b):
            return cls(a, b)
        return cls(a, b, evaluate=False)

    compare.__name__ = cls.__name__
    return compare


_op_lt = _relational(sympy.StrictLessThan)
_op_le = _relational(sympy.LessThan)
_op_gt = _relational(sympy.StrictGreaterThan)
_op_ge = _relational(sympy.GreaterThan)
_op_eq = _relational(sympy.Eq)
_op_ne = _relational(sympy.Ne)


def _op_same(a, b):
    """``==`` on elements, as SymNum 0.2.1 and SymPy: structural equality (true or false,
    never a condition); ``symnum.numpy.equal`` gives the elementwise ``Eq`` condition."""
    return sympy.true if a == b else sympy.false


def _op_differ(a, b):
    """``!=`` on elements: structural inequality (see :func:`_op_same`)."""
    return sympy.false if a == b else sympy.true


def _op_abs(a):
    return apply_function(sympy.Abs, a)


def _simple_condition(c) -> bool:
    # SymPy's simplification of logic on conditions over large expressions is slow
    return all(not a.args for a in c.args)


def _invert(x):
    if _is_boolean(x):
        return sympy.Not(x, evaluate=_simple_condition(x))
    return ~x


def _logical(cls, operator_func):
    def combine(a, b):
        if _is_boolean(a) and _is_boolean(b):
            return cls(a, b, evaluate=_simple_condition(a) and _simple_condition(b))
        return operator_func(a, b)

    combine.__name__ = cls.__name__
    return combine


_op_and = _logical(sympy.And, operator.and_)
_op_or = _logical(sympy.Or, operator.or_)
_op_xor = _logical(sympy.Xor, operator.xor)
