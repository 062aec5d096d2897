"""Canonical SymPy forms of the expressions the symbolic API hands to users.

The front end builds expressions unevaluated (:mod:`symnum.sym.build`), which keeps
tracing and differentiation fast but leaves forms such as ``q*q`` or ``x + x`` that do
not compare equal to SymPy's own ``q**2`` or ``2*x``. :func:`canonical_list` rebuilds
expressions in SymPy's canonical form, once per distinct node, so derivatives returned
by :mod:`symnum.diffops.symbolic` and :meth:`SymbolicArray.diff` equal those SymPy (and
SymNum 0.2.1) computes, without ``simplify``. Code generation never needs this: it
compiles the raw forms.

Calling SymPy's constructors (``Add(*args)``, ...) would do, but costs milliseconds per
node on the expressions of models with data (minutes for a logistic-regression Hessian):
they query the assumption system and re-evaluate every ``exp`` met in a product. So the
canonical ``Add``, ``Mul`` and ``Pow`` are rebuilt here with SymPy's own rules for
commutative, finite expressions (collect like terms and powers, fold numbers, distribute
a number over a sum, sort with SymPy's ordering) and SymPy's evaluation is kept for what
those rules do not cover (infinities, powers of numbers, non-commutative terms).
Functions of compound arguments and conditions are kept as built: evaluating them only
asks the assumption system, which changes nothing for symbolic arguments.
"""

from __future__ import annotations

import functools

import sympy
from sympy.core.add import _addsort
from sympy.core.mul import _mulsort

from symnum.sym.build import _hashed, _piecewise
from symnum.sym.walk import fold

__all__ = ["canonical", "canonical_list"]

_ZERO, _ONE, _NEG_ONE = sympy.Integer(0), sympy.Integer(1), sympy.Integer(-1)
_E = sympy.E


def _plain_number(x) -> bool:
    """A finite SymPy number (not nan, oo or zoo)."""
    return x.is_Number and x.is_finite


def _simple(x) -> bool:
    """Whether the rules here cover ``x``: commutative, not a number (other than a
    finite one), no power of a number."""
    if x.is_Number:
        return _plain_number(x)
    if x.is_Pow and x.args[0].is_Number:
        return False
    return x.is_commutative is True


def _c_add_pair(terms: list):
    """SymPy's shortcut for a rational plus a product, or ``None`` where it does not
    apply."""
    if len(terms) != 2:
        return None
    a, b = terms
    if b.is_Rational:
        a, b = b, a
    if not (a.is_Rational and b.is_Mul):
        return None
    if not a:
        return b
    return _hashed(sympy.Add._from_args((a, b), True))


def _collect_terms(terms: list) -> tuple:
    """The numeric part of a sum and ``{term: coefficient}`` of the rest, nested sums
    flattened."""
    coeff = _ZERO
    collected: dict = {}
    stack = list(reversed(terms))
    while stack:
        t = stack.pop()
        if t.is_Number:
            coeff += t
            continue
        if t.is_Add:
            stack.extend(reversed(t.args))
            continue
        c, s = t.as_coeff_Mul() if t.is_Mul else (_ONE, t)
        collected[s] = collected[s] + c if s in collected else c
    return coeff, collected


def _scaled_term(c, s):
    """The term ``c*s`` of a sum, for a nonzero number ``c``."""
    if c is _ONE:
        return s
    if s.is_Mul:
        return s._new_rawargs(c, *s.args)
    if s.is_Add:
        return sympy.Mul(c, s, evaluate=False)
    return _c_mul([c, s])


def _c_add(terms: list):
    """``Add(*terms)`` for canonical ``terms``, by ``Add.flatten``'s rules."""
    if not all(_simple(t) for t in terms):
        return sympy.Add(*terms)
    pair = _c_add_pair(terms)
    if pair is not None:
        return pair
    coeff, collected = _collect_terms(terms)
    seq = [_scaled_term(c, s) for s, c in collected.items() if c]
    _addsort(seq)
    if coeff:
        seq.insert(0, coeff)
    if not seq:
        return _ZERO
    if len(seq) == 1:
        return seq[0]
    return _hashed(sympy.Add._from_args(seq, True))


def _keep_coeff(coeff, factor):
    """``coeff * factor`` as SymPy's ``_keep_coeff`` builds it (``factor`` has no numeric
    coefficient unless a ``Mul``)."""
    if coeff is _ONE:
        return factor
    if factor.is_Mul:
        args = list(factor.args)
        if args[0].is_Number:
            args[0] = args[0] * coeff
            if args[0] == 1:
                args.pop(0)
        else:
            args.insert(0, coeff)
        return args[0] if len(args) == 1 else _hashed(sympy.Mul._from_args(args, True))
    return _c_mul([coeff, factor])


def _c_mul_pair(factors: list):
    """SymPy's distribution of a rational over a sum (``2*(x + y)``), or ``None`` where
    it does not apply."""
    if len(factors) != 2:
        return None
    a, b = factors
    if b.is_Rational:
        a, b = b, a
    if not (a.is_Rational and a and a is not _ONE):
        return None
    r, rest = b.as_coeff_Mul()
    if not rest.is_Add:
        return None
    if r is not _ONE:
        ar = a * r
        return rest if ar is _ONE else sympy.Mul(ar, rest, evaluate=False)
    return _c_add([_keep_coeff(a, t) for t in rest.args])


def _collect_factors(factors: list) -> tuple:
    """The numeric part of a product and ``{base: {term of the exponent: [(numeric
    coefficient, factor)]}}`` of the rest, nested products flattened."""
    coeff = _ONE
    bases: dict = {}
    stack = list(reversed(factors))
    while stack:
        f = stack.pop()
        if f.is_Number:
            coeff *= f
            continue
        if f.is_Mul:
            stack.extend(reversed(f.args))
            continue
        b, e = f.as_base_exp()
        c, t = e.as_coeff_Mul()
        bases.setdefault(b, {}).setdefault(t, []).append((c, f))
    return coeff, bases


def _combine_powers(coeff, bases: dict) -> tuple:
    """Powers of one base with like exponents combined: the numeric coefficient (times
    any power that became a number) and the list of the other factors."""
    part = []
    for b, exps in bases.items():
        for t, items in exps.items():
            if len(items) == 1:
                part.append(items[0][1])  # a single factor: already canonical
                continue
            c = items[0][0]
            for other, _ in items[1:]:
                c += other
            if not c:
                continue
            p = _combined_power(b, c, t)
            if p.is_Number:
                coeff *= p
            else:
                part.append(p)
    return coeff, part


def _c_mul(factors: list):
    """``Mul(*factors)`` for canonical ``factors``, by ``Mul.flatten``'s rules."""
    if not all(_simple(f) for f in factors):
        return sympy.Mul(*factors)
    pair = _c_mul_pair(factors)
    if pair is not None:
        return pair
    coeff, bases = _collect_factors(factors)
    if not coeff:
        return _ZERO
    coeff, part = _combine_powers(coeff, bases)
    if not coeff:
        return _ZERO
    return _mul_from_parts(coeff, part)


def _mul_from_parts(coeff, part: list):
    """The product of a nonzero number ``coeff`` and the unsorted factors ``part``."""
    _mulsort(part)
    if coeff is not _ONE:
        part.insert(0, coeff)
        if len(part) == 2 and part[1].is_Add:
            return _c_add([_keep_coeff(coeff, t) for t in part[1].args])
    if not part:
        return _ONE
    if len(part) == 1:
        return part[0]
    return _hashed(sympy.Mul._from_args(part, True))


@functools.lru_cache(maxsize=4096)
def _combined_power(b, c, t):
    """``b**(c*t)``: the same few (``exp(z)*exp(z)`` of each data row, say) recur across
    the entries of a Hessian, and ``c*t`` distributes over a sum ``t``."""
    return _c_pow(b, t if c is _ONE else _keep_coeff(c, t))


def _c_pow(b, e):
    """``Pow(b, e)`` for canonical ``b`` and ``e``."""
    if e is _ZERO:
        return _ONE
    if e is _ONE:
        return b
    if b is _E:
        if not e.args:
            return sympy.exp(e)
        return _hashed(sympy.exp(e, evaluate=False))
    return _c_pow_number(b, e)


def _c_pow_number(b, e):
    """``Pow(b, e)`` for canonical ``b`` and ``e`` other than 0 and 1, ``b`` not ``E``."""
    if not b.args or not e.is_Number or not _simple(b) or not _plain_number(e):
        return sympy.Pow(b, e)
    if e.is_Integer:
        if b.is_Pow:
            return _c_pow(b.args[0], _c_mul([b.args[1], e]))
        if isinstance(b, sympy.exp):
            return _c_pow(_E, _c_mul([b.args[0], e]))
        if b.is_Mul:
            return _c_mul([_c_pow(f, e) for f in b.args])
    # SymPy's Pow of a Piecewise folds into the pieces and re-evaluates their conditions,
    # which raises "Invalid NaN comparison" when a condition compares with a NaN value
    if isinstance(b, sympy.Piecewise) or (b.is_Add and not any(a.is_Number for a in b.args[1:])):
        return _hashed(sympy.Pow(b, e, evaluate=False))
    return sympy.Pow(b, e)


def _children(node) -> tuple:
    if not isinstance(node, sympy.Expr) or not node.args:
        return ()
    if isinstance(node, sympy.Piecewise):
        return tuple(pair.expr for pair in node.args)
    return node.args


def _rebuild(node, args: list):
    if not isinstance(node, sympy.Expr) or not node.args:
        return node
    if node.is_Add:
        return _c_add(args)
    if node.is_Mul:
        return _c_mul(args)
    if node.is_Pow:
        return _c_pow(*args)
    return _rebuild_function(node, args)


def _rebuild_function(node, args: list):
    """A ``Piecewise`` or function call over the canonical forms ``args``."""
    if isinstance(node, sympy.Piecewise):
        return _piecewise([(value, pair.cond) for value, pair in zip(args, node.args, strict=True)])
    if isinstance(node, sympy.Function) and any(a.args for a in args):
        # kept unevaluated (see the module docstring)
        if all(a is b for a, b in zip(args, node.args, strict=True)):
            return node
        return _hashed(node.func(*args, evaluate=False))
    return node.func(*args)


# SymPy orders arguments with ``Basic.compare``, which recurses into both arguments: on
# expressions nested thousands deep it overflows the stack (after a long time), so those
# are returned as built
_MAX_DEPTH = 250


def _depth(node, child_depths: list) -> int:
    return 1 + max(child_depths, default=0)


def canonical_list(exprs, memo: dict | None = None) -> list:
    """The SymPy objects ``exprs`` in SymPy's canonical form (see the module docstring).

    ``memo`` (``id(node) -> (node, canonical form)``) may be shared between calls. An
    expression nested deeper than SymPy's ordering of arguments can handle (a few
    hundred levels) is returned as built.
    """
    memo = {} if memo is None else memo
    exprs = list(exprs)
    depths = fold(exprs, _children, _depth)
    results = []
    for expr, depth in zip(exprs, depths, strict=True):
        if depth > _MAX_DEPTH:
            results.append(expr)
            continue
        try:
            results.append(fold([expr], _children, _rebuild, memo)[0])
        except RecursionError:
            results.append(expr)
    return results


def canonical(expr):
    """``expr`` in SymPy's canonical form (see the module docstring)."""
    return canonical_list([expr])[0]
