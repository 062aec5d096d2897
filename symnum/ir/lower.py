"""Lowering: SymPy expressions -> IR statements.

:class:`Lowerer` walks SymPy trees once, memoised on the SymPy node, so a subexpression
shared between outputs (or within one) is computed once: this is the common-subexpression
elimination that ``sympy.cse`` used to do, at a fraction of its cost. A second memo on
``(op, args)`` removes duplicates that only appear after lowering (``x**2`` in one place,
``x*x`` in another).

The walk is iterative (an explicit stack of generator frames), so expressions nested
thousands of levels deep lower without ``RecursionError``. Each SymPy class is handled by a
``_lower_<ClassName>`` method found through the class's MRO, as SymPy's printers do. A
handler is a generator: it ``yield``s a tuple of SymPy subexpressions and receives their
atoms, then ``return``s the atom of its node.

Lowering rules worth knowing:

* numbers become float constants (complex for complex numbers); every op whose arguments
  are all constants is folded with the reference interpreter's definition;
* integer powers become multiplications (``x**2 -> x*x``, ``x**-2 -> 1/(x*x)``),
  ``x**0.5 -> sqrt(x)``, ``x**-0.5 -> 1/sqrt(x)``, half-integer powers ``x**(n+1/2)`` a
  product with ``sqrt(x)``, and ``x**(p/3)`` a power of the real cube root
  ``cbrt(x)`` (so ``Cbrt``'s derivative ``x**(-2/3)/3`` is real for negative ``x``);
  sums and products with negative coefficients use SUB, DIV
  and NEG;
* ``log(x)/log(2)`` and ``log(x)/log(10)`` (SymPy's ``log(x, 2)``) become LOG2 / LOG10;
* ``DiracDelta`` lowers to ``0``: it only appears as the derivative of ``sign``,
  ``Heaviside`` and friends, whose derivative is zero almost everywhere; likewise an
  unevaluated ``Derivative`` of ``floor``, ``ceiling``, ``sign`` or ``Heaviside``
  (and that of ``Mod(a, b)`` is taken as that of ``a - b*floor(a/b)``);
* ``Heaviside(x, h0)`` is ``1`` for ``x > 0``, ``0`` for ``x < 0`` and ``h0`` at zero;
* ``Piecewise`` lowers to nested SELECTs (no branch true and no ``True`` default: NaN);
* booleans are floats ``1.0`` / ``0.0``.

Anything else raises :class:`LoweringError` naming the SymPy class.
"""

from __future__ import annotations

import contextlib
import math

import sympy

from symnum.ir import COMPARISONS, LOGICAL, Assign, Const, Elem, Loop, Op, Reduce, Var, interpret

__all__ = ["Lowerer", "LoweringError"]

#: Integer powers up to this are written as a product of copies; larger ones by squaring.
_SMALL_POWER = 4
#: Integer exponents with magnitude above this stay a POW (repeated squaring stops paying).
_MAX_INT_POWER = 64

#: piecewise-constant functions: their derivatives are zero almost everywhere
_STEPS = (sympy.floor, sympy.ceiling, sympy.sign, sympy.Heaviside)
_ONE = Const(1.0)
_ZERO = Const(0.0)


class LoweringError(TypeError):
    """A SymPy expression contains something the IR cannot express."""


#: ops whose result is 1.0 (true) or 0.0 (false)
_CONDITION_OPS = COMPARISONS | LOGICAL | {Op.ISNAN, Op.ISINF, Op.ISFINITE}


def _is_real(atom, value: float) -> bool:
    """Whether ``atom`` is the real constant ``value`` (with its sign, for zero)."""
    return (
        type(atom) is Const
        and type(atom.value) is float
        and atom.value == value
        and math.copysign(1.0, atom.value) == math.copysign(1.0, value)
    )


def _number(value) -> Const:
    """A Const for a Python or SymPy number (float unless it has an imaginary part)."""
    if value is sympy.S.NaN:  # complex(nan) has a NaN imaginary part: NaN is real here
        return Const(math.nan)
    if getattr(value, "is_Rational", False):
        return Const(int(value.p) / int(value.q))  # int / int is correctly rounded
    if getattr(value, "is_Float", False):
        return Const(float(value))
    if isinstance(value, complex):
        return Const(complex(value)) if value.imag != 0 else Const(float(value.real))
    if isinstance(value, (int, float)):  # bool too: 1.0 or 0.0
        return Const(float(value))
    c = complex(value)
    return Const(c) if c.imag != 0 else Const(float(c.real))


class Lowerer:
    """Lower SymPy expressions into one growing list of IR statements.

    ``symbols`` maps each free SymPy symbol to the atom (usually an :class:`Elem`) it
    stands for. Call :meth:`lower` once per output expression; the statements are in
    :attr:`body`. :meth:`closure` lowers the body of an operator-valued output: its
    statements that depend only on outer values are hoisted into :attr:`body`.
    """

    def __init__(self, symbols: dict | None = None):
        self.symbols: dict = dict(symbols or {})
        self.body: list[Assign] = []
        self._memo: dict = {}
        self._ident: dict[int, tuple] = {}  # id(node) -> (node, atom)
        self._floats: dict[tuple, Const] = {}  # Float._mpf_ -> Const
        self._ops: dict = {}
        self._next_id = 0
        self._conditions: set[Var] = set()  # variables whose value is 1.0 or 0.0
        # closure state: the statements and variables that depend on closure params
        self._inner_body: list[Assign] | None = None
        self._inner_params: frozenset[str] = frozenset()
        self._inner_vars: set[int] = set()
        self._inner_memo: list = []
        self._inner_ops: list = []
        self._dispatch: dict[type, object] = {}
        # inside loop(): the row symbols (DataSymbols), for the factoring of products
        self._row_symbols: frozenset = frozenset()

    # -- statements --------------------------------------------------------------------

    def _is_inner(self, atom) -> bool:
        if isinstance(atom, Var):
            return atom.id in self._inner_vars
        return isinstance(atom, Elem) and atom.param in self._inner_params

    def emit(self, op: Op, *args) -> Const | Var:
        """The atom for ``op(*args)``: folded if all args are constants, else a Var
        (reused when the same statement was emitted before)."""
        if all(type(a) is Const for a in args):
            value = interpret.apply(op, [a.value for a in args])
            return _number(complex(value) if isinstance(value, complex) else float(value))
        key = (id(op), args)  # id: an Enum's hash is a Python-level call
        var = self._ops.get(key)
        if var is not None:
            return var
        var = Var(self._next_id)
        self._next_id += 1
        stmt = Assign(var.id, op, args)
        if op in _CONDITION_OPS:
            self._conditions.add(var)
        if self._inner_body is not None and any(self._is_inner(a) for a in args):
            self._inner_body.append(stmt)
            self._inner_vars.add(var.id)
            self._inner_ops.append(key)
        else:
            self.body.append(stmt)
        self._ops[key] = var
        return var

    def _add(self, atoms) -> object:
        atoms = [a for a in atoms if a != _ZERO]
        consts = [a for a in atoms if type(a) is Const]
        others = [a for a in atoms if type(a) is not Const]
        if len(consts) > 1:
            total = self.emit(Op.ADD, *consts)
            consts = [] if total == _ZERO else [total]
        atoms = others + consts
        if not atoms:
            return _ZERO
        if len(atoms) == 1:
            return atoms[0]
        return self._hoisting(Op.ADD, atoms, self._add)

    def _mul(self, atoms) -> object:
        consts = [a for a in atoms if type(a) is Const]
        others = [a for a in atoms if type(a) is not Const]
        if len(consts) > 1:
            consts = [self.emit(Op.MUL, *consts)]
        if consts and consts[0] == _ZERO:  # SymPy's algebra: 0*x is 0 (DiracDelta * ...)
            return _ZERO
        if consts and consts[0] == _ONE:
            consts = []
        if consts and consts[0] == Const(-1.0) and others:
            return self.emit(Op.NEG, self._mul(others))
        atoms = consts + others
        if not atoms:
            return _ONE
        if len(atoms) == 1:
            return atoms[0]
        return self._hoisting(Op.MUL, atoms, self._mul)

    def _hoisting(self, op: Op, atoms: list, combine):
        """``op(*atoms)``; inside a closure, the factors (terms) that do not depend on
        the closure's parameters are combined first, so that part is computed once per
        call of the outer function (``H[i, j] * v[j]``: ``H[i, j]`` in the outer body)."""
        if self._inner_body is not None:
            outer = [a for a in atoms if not self._is_inner(a)]
            if len(outer) > 1 and len(outer) < len(atoms):
                inner = [a for a in atoms if self._is_inner(a)]
                return self.emit(op, combine(outer), *inner)
        return self.emit(op, *atoms)

    def _int_power(self, base, n: int):
        """``base**n`` for an integer ``n >= 1`` as multiplications."""
        if n <= _SMALL_POWER:
            return base if n == 1 else self.emit(Op.MUL, *([base] * n))
        half = self._int_power(base, n // 2)
        square = self.emit(Op.MUL, half, half)
        return self.emit(Op.MUL, square, base) if n % 2 else square

    def power(self, base, exponent: float):
        """``base**exponent`` for a numeric exponent, in its cheapest form."""
        if exponent == 0:
            return _ONE
        if exponent < 0:
            positive = self.power(base, -exponent)
            return self.emit(Op.DIV, _ONE, positive)
        if exponent == int(exponent) and exponent <= _MAX_INT_POWER:
            return self._int_power(base, int(exponent))
        twice = 2 * exponent
        if twice == int(twice) and exponent <= _MAX_INT_POWER:
            root = self.emit(Op.SQRT, base)
            whole = int(exponent - 0.5)
            return root if whole == 0 else self.emit(Op.MUL, self._int_power(base, whole), root)
        return self.emit(Op.POW, base, Const(float(exponent)))

    def _thirds_power(self, base, numerator: int):
        """``base**(numerator/3)`` as a power of the real cube root (``x**(2/3)`` is
        ``cbrt(x)**2``: real for negative ``x``, as the derivative of ``Cbrt`` needs)."""
        root = self.emit(Op.CBRT, base)
        if numerator < 0:
            return self.emit(Op.DIV, _ONE, self._int_power(root, -numerator))
        return self._int_power(root, numerator)

    # -- the walk ----------------------------------------------------------------------

    def _handler(self, cls):
        handler = self._dispatch.get(cls)
        if handler is None:
            for klass in cls.__mro__:
                handler = getattr(type(self), f"_lower_{klass.__name__}", None)
                if handler is not None:
                    break
            else:
                handler = type(self)._unsupported
            self._dispatch[cls] = handler
        return handler

    def _known(self, node):
        """The atom of an already lowered ``node``, or None.

        Looked up by identity first: SymPy's structural hash and equality are slow (a
        Float's hash converts it to a float every time) and most repeats are the same
        object. Plain numbers become constants here without entering the memo."""
        hit = self._ident.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        if isinstance(node, (bool, int, float, complex)):
            atom = _number(node)
        elif node.is_Float:  # converting mpf -> float is slow; equal Floats share it
            atom = self._floats.get(node._mpf_)
            if atom is None:
                atom = self._floats[node._mpf_] = _number(node)
        elif node.is_Rational:
            atom = _number(node)
        elif node._mhash is None:
            # SymPy computes hashes recursively: hashing a deep tree whose hash is not
            # cached yet would overflow the stack. Its children are lowered (and hashed)
            # first; an equal node lowered before still yields the same statements
            # through the (op, args) memo in emit().
            return None
        else:
            try:
                atom = self._memo.get(node)
            except RecursionError:  # equal hashes, deep structural comparison
                atom = None
            if atom is None:
                return None
        self._ident[id(node)] = (node, atom)
        return atom

    def lower(self, expr):
        """The atom holding the value of ``expr`` (a SymPy expression or a number)."""
        if isinstance(expr, (bool, int, float, complex)):
            return _number(expr)
        if not isinstance(expr, sympy.Basic):
            if hasattr(expr, "dtype") and hasattr(expr, "item"):  # NumPy scalar
                return _number(expr.item())
            expr = sympy.sympify(expr)
        found = self._known(expr)
        if found is not None:
            return found
        self._lower_new(expr)
        return self._known(expr)

    def _lower_new(self, expr) -> None:
        """Lower ``expr``, not lowered yet, and the children it needs, iteratively: each
        node's handler is a generator that yields the children it awaits."""
        known = self._known
        # frames: [node, generator, children awaited (or None)]
        stack = [[expr, self._handler(type(expr))(self, expr), None]]
        while stack:
            frame = stack[-1]
            children = frame[2]
            if children is not None:
                atoms = [known(c) for c in children]
                if None in atoms:
                    for child, atom in zip(children, atoms, strict=True):
                        if atom is None:
                            handler = self._handler(type(child))
                            stack.append([child, handler(self, child), None])
                    continue
                sent = tuple(atoms)
            else:
                sent = None
                if known(frame[0]) is not None:  # lowered meanwhile, as another's child
                    stack.pop()
                    continue
            try:
                frame[2] = frame[1].send(sent)
            except StopIteration as stop:
                node, atom = frame[0], stop.value
                with contextlib.suppress(RecursionError):  # see _known: identity cache only
                    self._memo[node] = atom
                self._ident[id(node)] = (node, atom)
                if self._inner_body is not None and self._is_inner(atom):
                    self._inner_memo.append(node)
                stack.pop()

    @contextlib.contextmanager
    def _inner(self, param_names, row_symbols=frozenset()):
        """Inside: statements reading ``param_names`` (or variables that do) go to
        ``_inner_body`` (yielded), the rest to :attr:`body`. On leaving, what was
        lowered inner is forgotten, so no later statement outside reuses it."""
        self._inner_body = []
        self._inner_params = frozenset(param_names)
        self._inner_vars = set()
        self._inner_memo = []
        self._inner_ops = []
        self._row_symbols = row_symbols
        try:
            yield self._inner_body
        finally:
            for node in self._inner_memo:
                self._memo.pop(node, None)
                self._ident.pop(id(node), None)
            for key in self._inner_ops:
                self._ops.pop(key, None)
            self._inner_body = None
            self._inner_params = frozenset()
            self._inner_vars = set()
            self._row_symbols = frozenset()

    def closure(self, params, exprs):
        """Lower closure outputs ``exprs`` whose symbols in ``params`` (a mapping from
        SymPy symbol to :class:`Elem` of a closure parameter) vary per call.

        Returns ``(body, atoms)``: the statements that depend on the closure
        parameters, and one atom per expression. Statements independent of them go to
        :attr:`body` (computed once per call of the outer function)."""
        saved = {s: self.symbols.get(s) for s in params}
        self.symbols.update(params)
        for symbol in params:  # a symbol lowered before as an outer atom must not leak
            self._memo.pop(symbol, None)
            self._ident.pop(id(symbol), None)
        try:
            with self._inner(e.param for e in params.values()) as body:
                atoms = [self.lower(e) for e in exprs]
        finally:
            for symbol, old in saved.items():
                self._memo.pop(symbol, None)
                self._ident.pop(id(symbol), None)
                if old is None:
                    del self.symbols[symbol]
                else:
                    self.symbols[symbol] = old
        return tuple(body), atoms

    def loop(self, data_params, reductions, stores=()):
        """Lower one pass over the data rows and append it to :attr:`body` as a Loop.

        ``data_params`` names the data parameters (their elements vary per row);
        ``reductions`` is a list of ``(node, op)``: a :class:`~symnum.sym.data.DataReduce`
        node, whose template ``node.args[0]`` is lowered inside the loop, and its IR
        reduction op. After the call each node lowers to its reduction's variable.
        ``stores`` is a list of ``(output position, expressions)`` of data outputs
        written by this loop; returns ``{position: atoms}``. Statements of the templates
        that do not vary per row are hoisted before the loop.
        """
        names = frozenset(data_params)
        rows = frozenset(
            symbol
            for symbol, atom in self.symbols.items()
            if type(atom) is Elem and atom.param in names
        )
        with self._inner(names, rows) as body:
            values = [self.lower(node.args[0]) for node, _ in reductions]
            stored = {position: tuple(self.lower(e) for e in exprs) for position, exprs in stores}
        reduces: list[Reduce] = []
        targets: dict = {}
        for (node, op), value in zip(reductions, values, strict=True):
            key = (op, value)
            var = targets.get(key)
            if var is None:
                var = targets[key] = Var(self._next_id)
                self._next_id += 1
                reduces.append(Reduce(var.id, op, value))
            with contextlib.suppress(RecursionError):
                self._memo[node] = var
            self._ident[id(node)] = (node, var)
        self.body.append(Loop(tuple(body), tuple(reduces), tuple(p for p, _ in stores)))
        return stored

    # -- handlers ----------------------------------------------------------------------
    # Each is a generator: ``atoms = yield (child, ...)``; ``return atom``.

    def _unsupported(self, expr):
        msg = (
            f"cannot lower SymPy {type(expr).__name__} ({_short(expr)}) to numeric code: "
            "this function or object is not supported"
        )
        raise LoweringError(msg)
        yield  # pragma: no cover - makes this a generator like the other handlers

    def _lower_DataReduce(self, expr):  # noqa: N802
        # reductions over the function's loop axis were lowered by loop(); this is one
        # over constant rows of another length: written out row by row
        from symnum.sym.data import data_sources, unrolled  # noqa: PLC0415

        sources = data_sources(expr.args)
        if not sources or any(s.values is None or s.symbols[0] in self.symbols for s in sources):
            msg = (
                f"a reduction over data rows ({_short(expr)}) can only be lowered by the "
                "function that loops over its data"
            )
            raise LoweringError(msg)
        (atom,) = yield (unrolled(expr, sources),)
        return atom

    def _lower_Symbol(self, expr):  # noqa: N802
        atom = self.symbols.get(expr)
        if atom is None:
            msg = (
                f"free symbol {expr} is not an element of any argument; every symbol "
                "must come from the function's arguments"
            )
            raise LoweringError(msg)
        return atom
        yield  # pragma: no cover

    def _lower_Number(self, expr):  # noqa: N802
        return _number(expr)
        yield  # pragma: no cover

    def _lower_Rational(self, expr):  # noqa: N802
        return Const(int(expr.p) / int(expr.q))  # int / int is correctly rounded
        yield  # pragma: no cover

    def _lower_NumberSymbol(self, expr):  # noqa: N802
        return Const(float(expr.evalf(20)))
        yield  # pragma: no cover

    def _lower_Infinity(self, expr):  # noqa: N802
        return Const(math.inf)
        yield  # pragma: no cover

    def _lower_NegativeInfinity(self, expr):  # noqa: N802
        return Const(-math.inf)
        yield  # pragma: no cover

    def _lower_NaN(self, expr):  # noqa: N802
        return Const(math.nan)
        yield  # pragma: no cover

    def _lower_ComplexInfinity(self, expr):  # noqa: N802
        # SymPy's zoo (e.g. 1/0): an infinity of unknown sign; IEEE division gives +inf.
        return Const(math.inf)
        yield  # pragma: no cover

    def _lower_ImaginaryUnit(self, expr):  # noqa: N802
        return Const(1j)
        yield  # pragma: no cover

    def _lower_BooleanTrue(self, expr):  # noqa: N802
        return _ONE
        yield  # pragma: no cover

    def _lower_BooleanFalse(self, expr):  # noqa: N802
        return _ZERO
        yield  # pragma: no cover

    def _row_factors(self, term) -> list:
        """The row symbols that ``term`` (a product) has as factors, with repeats."""
        if term in self._row_symbols:
            return [term]
        if not term.is_Mul:
            return []
        found = []
        for factor in term.args:
            if factor in self._row_symbols:
                found.append(factor)
            elif (
                factor.is_Pow
                and factor.base in self._row_symbols
                and factor.exp.is_Integer
                and 0 < factor.exp <= _SMALL_POWER
            ):
                found.extend([factor.base] * int(factor.exp))
        return found

    def _factored_sum(self, expr):
        """``expr`` (a sum over row terms) with the row symbols every term has as factors
        taken out (``a*x_i*x_j - b*x_i*x_j`` is ``(a - b)*x_i*x_j``), or None.

        Inside a loop, the entries of a Hessian of a data sum differ only in such
        factors: taken out, the rest is one shared expression per row."""
        common = None
        for term in expr.args:
            found = self._row_factors(term)
            if not found:
                return None
            if common is None:
                common = found
            else:
                rest = list(found)
                common = [f for f in common if f in rest and not rest.remove(f)]
            if not common:
                return None
        rests = []
        for term in expr.args:
            factors = list(term.args) if term.is_Mul else [term]
            remaining = list(common)
            kept = []
            for factor in factors:
                if factor in remaining:
                    remaining.remove(factor)
                elif factor.is_Pow and factor.base in remaining and factor.exp.is_Integer:
                    k = int(factor.exp)
                    take = min(k, remaining.count(factor.base))
                    for _ in range(take):
                        remaining.remove(factor.base)
                    if k > take:
                        kept.append(sympy.Pow(factor.base, k - take))
                else:
                    kept.append(factor)
            rests.append(sympy.Mul(*kept, evaluate=False) if len(kept) > 1 else (kept or [1])[0])
        rest_sum = sympy.Add(*(sympy.sympify(r) for r in rests), evaluate=False)
        return sympy.Mul(rest_sum, *common, evaluate=False)

    def _lower_Add(self, expr):  # noqa: N802
        if self._row_symbols:
            factored = self._factored_sum(expr)
            if factored is not None:
                (atom,) = yield (factored,)
                return atom
        positive, negative, scale_neg = [], [], []
        for term in expr.args:
            split = _split_negative(term)
            if split is None:
                positive.append(term)
            else:
                negative.append(split[1])
                scale_neg.append(split[0])
        atoms = yield (*positive, *negative)
        pos = list(atoms[: len(positive)])
        # (atom, positive magnitude) of each subtracted term; the products are emitted
        # only once it is clear which sign each coefficient is used with
        subtracted = [
            (atom, self.emit(Op.NEG, _number(scale)))
            for atom, scale in zip(atoms[len(positive) :], scale_neg, strict=True)
        ]
        # a negative constant term is subtracted: x - 1 rather than x + (-1)
        consts = [a for a in pos if type(a) is Const]
        if len(consts) == 1 and isinstance(consts[0].value, float) and consts[0].value < 0:
            pos.remove(consts[0])
            subtracted.append((Const(-consts[0].value), _ONE))
        if not subtracted:
            return self._add(pos)

        def term(atom, magnitude):
            return atom if magnitude == _ONE else self._mul([magnitude, atom])

        if pos:
            return self.emit(Op.SUB, self._add(pos), self._add([term(*t) for t in subtracted]))
        # -a - b rather than -(a + b) (equal in IEEE arithmetic); a scaled first term
        # takes the sign into its coefficient: (-2*x) - y, one op fewer
        (atom, magnitude), rest = subtracted[0], subtracted[1:]
        if magnitude == _ONE:
            head = self.emit(Op.NEG, atom)
        else:
            head = self._mul([self.emit(Op.NEG, magnitude), atom])
        return head if not rest else self.emit(Op.SUB, head, self._add([term(*t) for t in rest]))

    def _lower_Mul(self, expr):  # noqa: N802
        # Numbers are read off the arguments directly, not with SymPy's as_coeff_mul:
        # on the unevaluated products differentiation builds, that re-evaluates them.
        numbers = [a for a in expr.args if a.is_Number]
        factors = [a for a in expr.args if not a.is_Number]
        special = _log_base(factors)
        if special is not None:
            op, arg = special
            (atom,) = yield (arg,)
            return self._mul([*(_number(n) for n in numbers), self.emit(op, atom)])
        num_exprs, num_exps, den_exprs, den_exps = [], [], [], []
        for factor in factors:
            if factor.is_Pow and factor.exp.is_Number:
                exponent = factor.exp
                if _negative(exponent):
                    den_exprs.append(factor.base)
                    den_exps.append(-exponent)
                else:
                    num_exprs.append(factor.base)
                    num_exps.append(exponent)
            else:
                num_exprs.append(factor)
                num_exps.append(None)
        atoms = yield (*num_exprs, *den_exprs)
        num = [
            a if e is None else self._pow_number(a, e)
            for a, e in zip(atoms[: len(num_exprs)], num_exps, strict=True)
        ]
        den = [
            self._pow_number(a, e) for a, e in zip(atoms[len(num_exprs) :], den_exps, strict=True)
        ]
        if len(numbers) == 1 and numbers[0].is_Rational and abs(numbers[0].p) == 1 != numbers[0].q:
            # x/3 as a division (exact when x is a multiple of 3), not x * 0.333...
            den.insert(0, Const(float(numbers[0].q)))
            if numbers[0].p < 0:
                num.insert(0, Const(-1.0))
        else:
            num[:0] = [_number(n) for n in numbers]
        if self._row_symbols:
            return self._row_product(num, den)
        value = self._mul(num)
        if den:
            value = self.emit(Op.DIV, value, self._mul(den))
        return value

    def _row_product(self, num: list, den: list):
        """A product inside a loop: the factors other than the row elements (in a fixed
        order, divided by the denominator) first, then the row elements one at a time
        in index order, so that ``w * x_i`` is shared by every ``w * x_i * x_j``."""
        rows = sorted((a for a in num if type(a) is Elem), key=lambda a: (a.param, a.index))
        others = sorted((a for a in num if type(a) is not Elem), key=_atom_key)
        value = self._mul(others) if others else _ONE
        if den:
            value = self.emit(Op.DIV, value, self._mul(sorted(den, key=_atom_key)))
        for atom in rows:
            value = atom if value == _ONE else self.emit(Op.MUL, value, atom)
        return value

    def _pow_number(self, base, exponent):
        """``base**exponent`` for a SymPy number exponent."""
        if exponent.is_Rational and exponent.q == 3 and abs(exponent.p) <= _MAX_INT_POWER:
            return self._thirds_power(base, int(exponent.p))
        if exponent.is_Rational:
            return self.power(base, int(exponent.p) / int(exponent.q))
        value = _number(exponent)
        if isinstance(value.value, complex):
            return self.emit(Op.POW, base, value)
        return self.power(base, value.value)

    def _lower_Pow(self, expr):  # noqa: N802
        base, exponent = expr.args
        if exponent.is_Number:
            (atom,) = yield (base,)
            return self._pow_number(atom, exponent)
        if base == 2:
            (atom,) = yield (exponent,)
            return self.emit(Op.EXP2, atom)
        if base is sympy.E:
            (atom,) = yield (exponent,)
            return self.emit(Op.EXP, atom)
        b, e = yield (base, exponent)
        return self.emit(Op.POW, b, e)

    def _unary(self, op, expr):
        (atom,) = yield (expr.args[0],)
        return self.emit(op, atom)

    def _binary(self, op, expr):
        a, b = yield expr.args[:2]
        return self.emit(op, a, b)

    def _lower_exp(self, expr):
        return (yield from self._unary(Op.EXP, expr))

    def _lower_log(self, expr):
        if len(expr.args) == 2:  # log(x, b) when SymPy leaves it unevaluated
            x, b = yield expr.args
            return self.emit(Op.DIV, self.emit(Op.LOG, x), self.emit(Op.LOG, b))
        return (yield from self._unary(Op.LOG, expr))

    def _lower_expm1(self, expr):
        return (yield from self._unary(Op.EXPM1, expr))

    def _lower_log1p(self, expr):
        return (yield from self._unary(Op.LOG1P, expr))

    def _lower_log2(self, expr):
        return (yield from self._unary(Op.LOG2, expr))

    def _lower_log10(self, expr):
        return (yield from self._unary(Op.LOG10, expr))

    def _lower_exp2(self, expr):
        return (yield from self._unary(Op.EXP2, expr))

    def _lower_Sqrt(self, expr):  # noqa: N802
        return (yield from self._unary(Op.SQRT, expr))

    def _lower_Cbrt(self, expr):  # noqa: N802
        return (yield from self._unary(Op.CBRT, expr))

    def _lower_hypot(self, expr):
        return (yield from self._binary(Op.HYPOT, expr))

    def _lower_Fmod(self, expr):  # noqa: N802
        return (yield from self._binary(Op.FMOD, expr))

    def _lower_fma(self, expr):
        a, b, c = yield expr.args
        return self._add([self._mul([a, b]), c])

    def _lower_isnan(self, expr):
        return (yield from self._unary(Op.ISNAN, expr))

    def _lower_isinf(self, expr):
        return (yield from self._unary(Op.ISINF, expr))

    def _lower_sin(self, expr):
        return (yield from self._unary(Op.SIN, expr))

    def _lower_cos(self, expr):
        return (yield from self._unary(Op.COS, expr))

    def _lower_tan(self, expr):
        return (yield from self._unary(Op.TAN, expr))

    def _reciprocal(self, op, expr):
        (atom,) = yield (expr.args[0],)
        return self.emit(Op.DIV, _ONE, self.emit(op, atom))

    def _lower_cot(self, expr):
        return (yield from self._reciprocal(Op.TAN, expr))

    def _lower_sec(self, expr):
        return (yield from self._reciprocal(Op.COS, expr))

    def _lower_csc(self, expr):
        return (yield from self._reciprocal(Op.SIN, expr))

    def _lower_coth(self, expr):
        return (yield from self._reciprocal(Op.TANH, expr))

    def _lower_sech(self, expr):
        return (yield from self._reciprocal(Op.COSH, expr))

    def _lower_csch(self, expr):
        return (yield from self._reciprocal(Op.SINH, expr))

    def _lower_asin(self, expr):
        return (yield from self._unary(Op.ASIN, expr))

    def _lower_acos(self, expr):
        return (yield from self._unary(Op.ACOS, expr))

    def _lower_atan(self, expr):
        return (yield from self._unary(Op.ATAN, expr))

    def _lower_acot(self, expr):
        (atom,) = yield (expr.args[0],)
        return self.emit(Op.ATAN, self.emit(Op.DIV, _ONE, atom))

    def _lower_atan2(self, expr):
        return (yield from self._binary(Op.ATAN2, expr))

    def _lower_sinh(self, expr):
        return (yield from self._unary(Op.SINH, expr))

    def _lower_cosh(self, expr):
        return (yield from self._unary(Op.COSH, expr))

    def _lower_tanh(self, expr):
        return (yield from self._unary(Op.TANH, expr))

    def _lower_asinh(self, expr):
        return (yield from self._unary(Op.ASINH, expr))

    def _lower_acosh(self, expr):
        return (yield from self._unary(Op.ACOSH, expr))

    def _lower_atanh(self, expr):
        return (yield from self._unary(Op.ATANH, expr))

    def _lower_acoth(self, expr):
        (atom,) = yield (expr.args[0],)
        return self.emit(Op.ATANH, self.emit(Op.DIV, _ONE, atom))

    def _lower_Abs(self, expr):  # noqa: N802
        return (yield from self._unary(Op.ABS, expr))

    def _lower_sign(self, expr):
        return (yield from self._unary(Op.SIGN, expr))

    def _lower_floor(self, expr):
        return (yield from self._unary(Op.FLOOR, expr))

    def _lower_ceiling(self, expr):
        return (yield from self._unary(Op.CEIL, expr))

    def _lower_Mod(self, expr):  # noqa: N802
        # NumPy's / Python's remainder: x - y*floor(x/y), sign of the divisor
        x, y = yield expr.args
        quotient = self.emit(Op.FLOOR, self.emit(Op.DIV, x, y))
        return self.emit(Op.SUB, x, self.emit(Op.MUL, y, quotient))

    def _fold(self, op, expr):
        atoms = yield expr.args
        value = atoms[0]
        for atom in atoms[1:]:
            value = self.emit(op, value, atom)
        return value

    def _lower_Max(self, expr):  # noqa: N802
        return (yield from self._fold(Op.MAX, expr))

    def _lower_Min(self, expr):  # noqa: N802
        return (yield from self._fold(Op.MIN, expr))

    def _lower_Heaviside(self, expr):  # noqa: N802
        args = expr.args if len(expr.args) == 2 else (*expr.args, sympy.S.Half)
        x, at_zero = yield args
        negative_or_zero = self.emit(Op.SELECT, self.emit(Op.LT, x, _ZERO), _ZERO, at_zero)
        return self.emit(Op.SELECT, self.emit(Op.GT, x, _ZERO), _ONE, negative_or_zero)

    def _lower_DiracDelta(self, expr):  # noqa: N802
        # Only ever the derivative of a step (sign, Heaviside, Abs'): zero almost everywhere.
        return _ZERO
        yield  # pragma: no cover

    def _lower_Derivative(self, expr):  # noqa: N802
        inner = expr.expr
        if isinstance(inner, _STEPS):
            return _ZERO
        if isinstance(inner, sympy.Mod):  # SymPy leaves d/dx Mod(a, b) unevaluated
            a, b = inner.args
            rewritten = sympy.diff(a - b * sympy.floor(a / b), *expr.variable_count)
            (atom,) = yield (rewritten,)
            return atom
        return (yield from self._unsupported(expr))

    def _lower_Subs(self, expr):  # noqa: N802
        # the chain rule through a step: Subs(Derivative(floor(xi), xi), xi, g(x))
        inner = expr.expr
        if isinstance(inner, sympy.Derivative) and isinstance(inner.expr, _STEPS):
            return _ZERO
        done = expr.doit()
        if isinstance(done, sympy.Subs):
            return (yield from self._unsupported(expr))
        (atom,) = yield (done,)
        return atom

    def _lower_Piecewise(self, expr):  # noqa: N802
        children = [part for pair in expr.args for part in pair]
        atoms = yield tuple(children)
        values, conds = atoms[0::2], atoms[1::2]
        result = Const(math.nan)
        for value, cond in zip(reversed(values), reversed(conds), strict=True):
            if type(cond) is Const:
                if cond.value != 0:
                    result = value
                continue
            if _is_real(value, 1.0) and _is_real(result, 0.0) and cond in self._conditions:
                result = cond  # where(c, 1, 0) of a comparison: the comparison's own value
                continue
            result = self.emit(Op.SELECT, cond, value, result)
        return result

    def _lower_ExprCondPair(self, expr):  # noqa: N802
        return (yield from self._unsupported(expr))

    def _lower_StrictLessThan(self, expr):  # noqa: N802
        return (yield from self._binary(Op.LT, expr))

    def _lower_LessThan(self, expr):  # noqa: N802
        return (yield from self._binary(Op.LE, expr))

    def _lower_StrictGreaterThan(self, expr):  # noqa: N802
        return (yield from self._binary(Op.GT, expr))

    def _lower_GreaterThan(self, expr):  # noqa: N802
        return (yield from self._binary(Op.GE, expr))

    def _lower_Equality(self, expr):  # noqa: N802
        return (yield from self._binary(Op.EQ, expr))

    def _lower_Unequality(self, expr):  # noqa: N802
        return (yield from self._binary(Op.NE, expr))

    def _lower_And(self, expr):  # noqa: N802
        return (yield from self._fold(Op.AND, expr))

    def _lower_Or(self, expr):  # noqa: N802
        return (yield from self._fold(Op.OR, expr))

    def _lower_Xor(self, expr):  # noqa: N802
        return (yield from self._fold(Op.XOR, expr))

    def _lower_Not(self, expr):  # noqa: N802
        return (yield from self._unary(Op.NOT, expr))

    def _lower_re(self, expr):
        return (yield from self._unary(Op.REAL, expr))

    def _lower_im(self, expr):
        return (yield from self._unary(Op.IMAG, expr))

    def _lower_conjugate(self, expr):
        return (yield from self._unary(Op.CONJ, expr))

    def _lower_arg(self, expr):
        (z,) = yield (expr.args[0],)
        return self.emit(Op.ATAN2, self.emit(Op.IMAG, z), self.emit(Op.REAL, z))

    def _lower_erf(self, expr):
        return (yield from self._unary(Op.ERF, expr))

    def _lower_erfc(self, expr):
        return (yield from self._unary(Op.ERFC, expr))

    def _lower_loggamma(self, expr):
        return (yield from self._unary(Op.LGAMMA, expr))

    def _lower_gamma(self, expr):
        return (yield from self._unary(Op.GAMMA, expr))

    def _lower_digamma(self, expr):
        return (yield from self._unary(Op.DIGAMMA, expr))

    def _lower_erfinv(self, expr):
        return (yield from self._unary(Op.ERFINV, expr))

    def _lower_erfcinv(self, expr):
        return (yield from self._unary(Op.ERFCINV, expr))

    def _lower_Expit(self, expr):  # noqa: N802
        # 1 / (1 + exp(-x)): 0 and 1 in the tails, exact
        (x,) = yield (expr.args[0],)
        return self.emit(Op.DIV, _ONE, self._add([_ONE, self.emit(Op.EXP, self.emit(Op.NEG, x))]))

    def _lower_Ndtri(self, expr):  # noqa: N802
        return (yield from self._unary(Op.NDTRI, expr))

    def _lower_trigamma(self, expr):
        (x,) = yield (expr.args[0],)
        return self.emit(Op.POLYGAMMA, _ONE, x)

    def _lower_polygamma(self, expr):
        order, x = expr.args
        if not (order.is_Integer and order >= 0):
            msg = f"polygamma order must be a non-negative integer constant, got {order}"
            raise LoweringError(msg)
        (atom,) = yield (x,)
        if order == 0:
            return self.emit(Op.DIGAMMA, atom)
        return self.emit(Op.POLYGAMMA, Const(float(order)), atom)

    def _lower_LogSumExp(self, expr):  # noqa: N802
        # m + log(sum(exp(a_i - m))) with m the largest argument, 0 when that is not
        # finite (all -inf gives -inf, any inf gives inf), as scipy.special.logsumexp
        atoms = yield expr.args
        biggest = atoms[0]
        for atom in atoms[1:]:
            biggest = self.emit(Op.MAX, biggest, atom)
        shift = self.emit(Op.SELECT, self.emit(Op.ISFINITE, biggest), biggest, _ZERO)
        terms = [self.emit(Op.EXP, self.emit(Op.SUB, a, shift)) for a in atoms]
        return self.emit(Op.ADD, shift, self.emit(Op.LOG, self._add(terms)))

    def _lower_logaddexp(self, expr):
        # log(exp(a) + exp(b)) = max(a, b) + log1p(exp(-|a - b|)), without overflow
        a, b = yield expr.args[:2]
        biggest = self.emit(Op.MAX, a, b)
        gap = self.emit(Op.NEG, self.emit(Op.ABS, self.emit(Op.SUB, a, b)))
        return self.emit(Op.ADD, biggest, self.emit(Op.LOG1P, self.emit(Op.EXP, gap)))


def _atom_key(atom) -> tuple:
    """A fixed order of atoms (for products whose factor order is free)."""
    if type(atom) is Const:
        return (0, str(atom.value), 0)
    if type(atom) is Elem:
        return (1, atom.param, atom.index)
    return (2, "", atom.id)


def _split_negative(term):
    """``(c, rest)`` if ``term`` is a product ``c * rest`` with one negative number
    ``c`` among its factors, else None (works on unevaluated products too)."""
    if not term.is_Mul:
        return None
    numbers = [a for a in term.args if a.is_Number]
    if len(numbers) != 1 or not _negative(numbers[0]):
        return None
    others = tuple(a for a in term.args if a is not numbers[0])
    if not others:
        return None
    rest = others[0] if len(others) == 1 else sympy.Mul._from_args(others)
    return numbers[0], rest


def _negative(number) -> bool:
    """Whether a SymPy number is negative, without SymPy's assumption machinery (whose
    first query on every new number dominates lowering time)."""
    if number.is_Rational:
        return number.p < 0
    return bool(number.is_Number) and float(number) < 0


def _log_base(factors):
    """``(LOG2 | LOG10, x)`` if ``factors`` is ``log(x), 1/log(2 | 10)``, else None."""
    if len(factors) != 2:
        return None
    for first, second in (factors, factors[::-1]):
        if (
            isinstance(first, sympy.log)
            and len(first.args) == 1
            and second.is_Pow
            and second.exp == -1
            and isinstance(second.base, sympy.log)
            and second.base.args[0] in (2, 10)
        ):
            return (Op.LOG2 if second.base.args[0] == 2 else Op.LOG10), first.args[0]
    return None


def _short(expr, limit: int = 80) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."
