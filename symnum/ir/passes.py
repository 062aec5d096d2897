"""Analyses and rewrites of IR functions that every backend needs, written once.

* :func:`dtypes`: the dtype (``"float64"`` or ``"complex128"``) of every variable, body
  and closure bodies alike, computed once on the IR instead of by each emitter
  (:func:`param_dtypes` and :func:`atom_dtype` give those of parameters and atoms);
* :func:`is_complex`: whether a function needs complex arithmetic at all, and
  :func:`complex_causes`: what makes it so, for error messages;
* :func:`live`: the statements of a body that given outputs depend on;
* :func:`without_dead_code`: a function without the statements no output reads;
* :func:`shared_products`: a function whose products compute the factor pairs they
  share once;
* :func:`without_duplicates`: a function that computes each distinct statement once;
* :func:`next_var_id`: the first variable id a rewrite may assign.

All of them take a checked :class:`~symnum.ir.Function` (see :func:`symnum.ir.check`)
and only read it; all of them know data loops (:class:`~symnum.ir.Loop` statements,
their reductions and the data outputs they store).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter

from symnum.ir import (
    COMPARISONS,
    LOGICAL,
    VARIADIC,
    Assign,
    Closure,
    Const,
    Elem,
    Function,
    Loop,
    Op,
    Output,
    Reduce,
    Var,
    iter_assigns,
    iter_outputs,
)
from symnum.ir import _map_tree as map_tree

__all__ = [
    "COMPLEX128",
    "FLOAT64",
    "REAL_VALUED",
    "atom_dtype",
    "complex_causes",
    "dtypes",
    "is_complex",
    "is_plus_zero",
    "live",
    "next_var_id",
    "param_dtypes",
    "shared_products",
    "without_dead_code",
    "without_duplicates",
    "zero_filled",
]

#: Ops whose result is real whatever their arguments.
REAL_VALUED = frozenset(
    COMPARISONS | LOGICAL | {Op.REAL, Op.IMAG, Op.ABS, Op.ISNAN, Op.ISINF, Op.ISFINITE}
)

FLOAT64 = "float64"
COMPLEX128 = "complex128"


def param_dtypes(fn: Function, closure: Closure | None = None) -> dict[str, str]:
    """``{name: dtype}`` of ``fn``'s parameters, and of ``closure``'s when given (a
    closure's parameter names differ from the function's; two closures' may agree)."""
    params = {p.name: p.dtype for p in fn.params}
    if closure is not None:
        params.update((p.name, p.dtype) for p in closure.params)
    return params


def atom_dtype(atom, types: dict[int, str], params: dict[str, str]) -> str:
    """The dtype of ``atom``, given the :func:`dtypes` of the variables (``types``) and
    the :func:`param_dtypes` of the parameters it may read (``params``).

    An atom reading an unknown variable or parameter is real: :func:`dtypes` then
    returns instead of raising on a function not checked yet (as
    :func:`symnum.ir.split_closures` may get), which :func:`symnum.ir.check` refuses
    later.
    """
    if isinstance(atom, Var):
        return types.get(atom.id, FLOAT64)
    if isinstance(atom, Elem):
        return params.get(atom.param, FLOAT64)
    return COMPLEX128 if isinstance(atom.value, complex) else FLOAT64


def dtypes(fn: Function) -> dict[int, str]:
    """``{variable id: dtype}`` for every statement of ``fn``, closures included.

    A statement is complex when one of its arguments is (a complex variable, an element
    of a complex parameter or a complex constant), except for the ops of
    :data:`REAL_VALUED`; ``SELECT(c, a, b)`` is complex when ``a`` or ``b`` is (a complex
    condition only compares with zero). The variables of a :class:`Loop` body are typed
    like the others, and a reduction has the dtype of the value it folds.
    """
    result: dict[int, str] = {}

    def visit(body, params: dict[str, str]) -> None:
        for stmt in body:
            if type(stmt) is Loop:
                visit(stmt.body, params)
                for r in stmt.reductions:
                    result[r.target] = atom_dtype(r.value, result, params)
                continue
            args = stmt.args[1:] if stmt.op is Op.SELECT else stmt.args
            complex_ = stmt.op not in REAL_VALUED and any(
                atom_dtype(a, result, params) == COMPLEX128 for a in args
            )
            result[stmt.target] = COMPLEX128 if complex_ else FLOAT64

    visit(fn.body, param_dtypes(fn))
    for leaf in iter_outputs(fn.outputs):
        if isinstance(leaf, Closure):
            visit(leaf.body, param_dtypes(fn, leaf))
    return result


def _complex_const(atom) -> bool:
    return isinstance(atom, Const) and isinstance(atom.value, complex)


def complex_causes(fn: Function):
    """Yield what makes ``fn`` complex, as ``(kind, node)`` pairs, in this order:
    ``("parameter", param)`` for each complex parameter; for each output leaf,
    ``("output", output)`` when its dtype is complex and ``("constant", output)`` for
    each complex constant among its atoms (a closure: its parameters, statements and
    outputs likewise); then ``("constant", statement)`` for each statement of the body
    (loops included: an :class:`~symnum.ir.Assign` or a :class:`~symnum.ir.Reduce`) that
    reads a complex constant (the statements first, then the reductions). Nothing for a
    real function."""
    for param in fn.params:
        if param.dtype == COMPLEX128:
            yield "parameter", param
    for leaf in iter_outputs(fn.outputs):
        if isinstance(leaf, Output):
            yield from _output_causes(leaf)
            continue
        for param in leaf.params:
            if param.dtype == COMPLEX128:
                yield "parameter", param
        yield from _body_causes(leaf.body)
        for out in iter_outputs(leaf.outputs):
            yield from _output_causes(out)
    yield from _body_causes(fn.body)


def _output_causes(out: Output):
    if out.dtype == COMPLEX128:
        yield "output", out
    for atom in out.atoms:
        if _complex_const(atom):
            yield "constant", out


def _body_causes(body):
    for stmt in iter_assigns(body):
        if any(_complex_const(a) for a in stmt.args):
            yield "constant", stmt
    for stmt in body:
        for r in stmt.reductions if type(stmt) is Loop else ():
            if _complex_const(r.value):
                yield "constant", r


def is_plus_zero(atom) -> bool:
    """Whether ``atom`` is the constant +0.0 (what a zero-filled array holds; -0.0 is
    not: its sign survives a multiplication)."""
    if type(atom) is not Const or atom.value != 0:
        return False
    value = atom.value
    parts = (value.real, value.imag) if isinstance(value, complex) else (value,)
    return all(math.copysign(1.0, part) > 0 for part in parts)


def zero_filled(out: Output, least: int) -> bool:
    """Whether backends should fill output ``out`` with zeros first and store only its
    other elements: at least ``least`` of them are +0.0 (the Hessian of a 60-dimensional
    Rosenbrock function has 3,481 zeros among 3,600 entries). Never a data output."""
    return not out.data and sum(map(is_plus_zero, out.atoms)) >= least


def is_complex(fn: Function) -> bool:
    """Whether ``fn`` has a complex parameter, output or constant anywhere (see
    :func:`complex_causes`)."""
    return next(complex_causes(fn), None) is not None


def live(body, outputs, keep=(), data_outputs=None) -> tuple:
    """The statements of ``body`` that ``outputs`` (:class:`Output` s) depend on, in order.

    ``keep`` holds further variable ids to keep (for example those a closure reads).
    Loops keep the reductions that are read and the statements those, and the data
    outputs they store (``data_outputs``: output position -> :class:`Output`), need; a
    loop with neither is dropped.
    """
    used = {a.id for out in outputs for a in out.atoms if isinstance(a, Var)}
    used.update(keep)
    kept = []
    for stmt in reversed(body):
        if type(stmt) is Loop:
            loop = _live_loop(stmt, used, data_outputs or {})
            if loop is not None:
                kept.append(loop)
        elif stmt.target in used:
            kept.append(stmt)
            used.update(a.id for a in stmt.args if isinstance(a, Var))
    kept.reverse()
    return tuple(kept)


def _live_loop(loop: Loop, used: set[int], data_outputs: dict) -> Loop | None:
    reductions = tuple(r for r in loop.reductions if r.target in used)
    stored = [data_outputs[p] for p in loop.stores if p in data_outputs]
    if not reductions and not stored:
        return None
    keep = {r.value.id for r in reductions if isinstance(r.value, Var)}
    inner = live(loop.body, stored, keep)
    used.update(a.id for stmt in inner for a in stmt.args if isinstance(a, Var))
    used.update(keep)
    used.update(a.id for out in stored for a in out.atoms if isinstance(a, Var))
    return Loop(inner, reductions, loop.stores)


def _reads(body, outputs) -> set[int]:
    """Variable ids read by ``body`` or ``outputs`` but not assigned in ``body``."""
    assigned = {stmt.target for stmt in body}
    read = {a.id for stmt in body for a in stmt.args if isinstance(a, Var)}
    read.update(a.id for out in outputs for a in out.atoms if isinstance(a, Var))
    return read - assigned


def without_dead_code(fn: Function) -> Function:
    """``fn`` without the statements no output reads, in its body and its closures'.

    The output tree is unchanged; a statement of the outer body that only a closure
    reads is kept.
    """
    closures: dict[int, Closure] = {}
    outer_outputs: list[Output] = []
    data_outputs: dict[int, Output] = {}
    captured: set[int] = set()
    for position, leaf in enumerate(iter_outputs(fn.outputs)):
        if isinstance(leaf, Output):
            if leaf.data:
                data_outputs[position] = leaf
            else:
                outer_outputs.append(leaf)
            continue
        inner_outputs = list(iter_outputs(leaf.outputs))
        body = live(leaf.body, inner_outputs)
        closures[id(leaf)] = Closure(leaf.params, body, leaf.outputs)
        captured |= _reads(body, inner_outputs)

    body = live(fn.body, outer_outputs, keep=captured, data_outputs=data_outputs)
    return Function(fn.name, fn.params, body, _with_closures(fn.outputs, closures))


def _with_closures(outputs, closures: dict):
    """The output tree with each closure leaf replaced by ``closures[id(leaf)]``."""
    return map_tree(outputs, lambda leaf: closures.get(id(leaf), leaf))


# --------------------------------------------------------------------------------------
# Duplicate statements


def without_duplicates(fn: Function) -> Function:
    """``fn`` computing each distinct statement once.

    A statement that applies the same op to the same atoms as an earlier statement of
    its body is dropped, and whatever read its variable (later statements, loop
    reductions, outputs, closures) reads the earlier one instead. ADD and MUL match
    whatever the order of their arguments; every other op only with its arguments in
    the same order. Constants match by their exact value (``0.0`` and ``-0.0`` differ).
    Each body is done on its own: the function's, each loop's (its statements stay in
    the loop) and each closure's (its captures do not change).

    Lowering gives such copies where the symbolic expressions differ only in the order
    of their terms (the two off-diagonal entries of a Hessian, ``d2f/dxdy`` and
    ``d2f/dydx``) and :func:`shared_products` leaves products that became the same
    after their shared pairs were taken out. Results differ from ``fn`` only in that a
    sum or product of three or more terms is evaluated in the order of its first copy:
    copies that differ only in the order of their terms become one variable, so their
    values are bit for bit equal.
    """
    replaced: dict[int, int] = {}
    # the outer body first: loops, closures and outputs read its variables
    body = _body_without_duplicates(fn.body, replaced)
    closures = {
        id(leaf): _closure_without_duplicates(leaf, replaced)
        for leaf in iter_outputs(fn.outputs)
        if isinstance(leaf, Closure)
    }

    def leaf_fn(leaf):
        if isinstance(leaf, Closure):
            return closures[id(leaf)]
        return _output_renamed(leaf, replaced)

    return Function(fn.name, fn.params, body, map_tree(fn.outputs, leaf_fn))


def _body_without_duplicates(body, replaced: dict[int, int]) -> tuple:
    """``body`` without repeated statements; records the dropped targets in
    ``replaced`` (dropped id -> kept id) and renames what reads them."""
    seen: dict[tuple, int] = {}
    kept = []
    for stmt in body:
        if type(stmt) is Loop:
            inner = _body_without_duplicates(stmt.body, replaced)
            reductions = tuple(
                Reduce(r.target, r.op, _renamed(r.value, replaced)) for r in stmt.reductions
            )
            kept.append(Loop(inner, reductions, stmt.stores))
            continue
        args = tuple(_renamed(a, replaced) for a in stmt.args)
        keys = tuple(_atom_key(a) for a in args)
        key = (stmt.op, tuple(sorted(keys)) if stmt.op in VARIADIC else keys)
        first = seen.get(key)
        if first is None:
            seen[key] = stmt.target
            kept.append(stmt if args == stmt.args else Assign(stmt.target, stmt.op, args))
        else:
            replaced[stmt.target] = first
    return tuple(kept)


def _closure_without_duplicates(leaf: Closure, replaced: dict[int, int]) -> Closure:
    body = _body_without_duplicates(leaf.body, replaced)
    outputs = map_tree(leaf.outputs, lambda out: _output_renamed(out, replaced))
    return Closure(leaf.params, body, outputs)


def _output_renamed(out: Output, replaced: dict[int, int]) -> Output:
    atoms = tuple(_renamed(a, replaced) for a in out.atoms)
    return out if atoms == out.atoms else Output(out.shape, atoms, out.dtype, out.data)


def _renamed(atom, replaced: dict[int, int]):
    if type(atom) is Var and atom.id in replaced:
        return Var(replaced[atom.id])
    return atom


def _atom_key(atom) -> tuple:
    """A hashable, orderable key equal for atoms that always hold the same value."""
    if type(atom) is Var:
        return (0, atom.id)
    if type(atom) is Const:
        value = atom.value
        if isinstance(value, complex):
            return (1, value.real.hex(), value.imag.hex())
        return (1, float(value).hex(), "")
    return (2, atom.param, atom.index)


# --------------------------------------------------------------------------------------
# Shared factor pairs


#: Products with more factors than this are left as they are: counting their pairs costs
#: quadratic time, and long products are rare in derivative code.
MAX_PAIRED_FACTORS = 16


def shared_products(fn: Function) -> Function:
    """``fn`` with each pair of factors that several products share computed once.

    Derivatives of products are products of many factors with long parts in common
    (``t1 * t5 * t54 * t89``, ``t1 * t54 * t89 * t132``, ...): the third derivatives of a
    Gaussian mixture have 3,600 multiplications in 1,200 products, 1,200 once the shared
    pairs are products of their own. Greedily, the pair of factors (two atoms, or an
    atom and itself) found in the most products (of at most :data:`MAX_PAIRED_FACTORS`
    factors) becomes a statement of its own, placed before its first user, or the
    two-factor product that already computes it moves there; repeated while a pair is
    in two products or more. Each body is done on its own: the function's, each loop's
    (its pairs stay in the loop) and each closure's. The result differs from ``fn`` in
    the rounding of products only; the output tree and every variable keep their ids.
    """
    ids = _Ids(next_var_id(fn))
    closures = {
        id(leaf): Closure(leaf.params, _share_products(leaf.body, ids), leaf.outputs)
        for leaf in iter_outputs(fn.outputs)
        if isinstance(leaf, Closure)
    }
    body = [
        Loop(_share_products(stmt.body, ids), stmt.reductions, stmt.stores)
        if type(stmt) is Loop
        else stmt
        for stmt in fn.body
    ]
    outputs = _with_closures(fn.outputs, closures)
    return Function(fn.name, fn.params, _share_products(body, ids), outputs)


def next_var_id(fn: Function) -> int:
    """The smallest variable id above every id ``fn`` assigns: its statements, those
    of its loops, their reductions and its closures' statements."""
    bodies = [fn.body]
    bodies += [leaf.body for leaf in iter_outputs(fn.outputs) if isinstance(leaf, Closure)]
    used = [-1]
    for body in bodies:
        used.extend(stmt.target for stmt in iter_assigns(body))
        used.extend(r.target for stmt in body if type(stmt) is Loop for r in stmt.reductions)
    return max(used) + 1


class _Ids:
    """Fresh variable ids, from ``start`` up."""

    def __init__(self, start: int):
        self._next = start

    def __call__(self) -> int:
        self._next += 1
        return self._next - 1


def _share_products(body, ids: _Ids) -> tuple:
    """One body (a sequence of statements; loops are opaque here) with shared pairs."""
    sharing = _PairSharing(body, ids)
    sharing.run()
    return sharing.result()


class _PairSharing:
    """The greedy pair extraction of :func:`shared_products` on one body."""

    def __init__(self, body, ids: _Ids):
        self.body = body
        self.ids = ids
        self.rank: dict = {}  # atom -> int, in order of first sight (a fixed pair order)
        self.atoms: list = []
        self.factors: dict[int, Counter] = {}  # statement index -> Counter of ranks
        for i, stmt in enumerate(body):
            product = type(stmt) is Assign and stmt.op is Op.MUL
            if product and len(stmt.args) <= MAX_PAIRED_FACTORS:
                self.factors[i] = Counter(self.rank_of(a) for a in stmt.args)
        self.users: dict[tuple[int, int], set[int]] = {}
        for i, counts in self.factors.items():
            for pair in _pairs(counts):
                self.users.setdefault(pair, set()).add(i)
        # statement index -> what goes just before it, in order: new statements, and the
        # indices of the two-factor products that move up to compute a pair
        self.before: dict[int, list] = {}
        self.moved: set[int] = set()
        self.defining: set[int] = set()  # two-factor products that define a pair

    def rank_of(self, atom) -> int:
        r = self.rank.get(atom)
        if r is None:
            r = self.rank[atom] = len(self.atoms)
            self.atoms.append(atom)
        return r

    def run(self) -> None:
        """Extract the most shared pair while one is in two products or more."""
        heap = [(-len(u), pair) for pair, u in self.users.items() if len(u) > 1]
        heapq.heapify(heap)
        while heap:
            negative, pair = heapq.heappop(heap)
            count = len(self.users.get(pair, ()))
            if count != -negative:  # a stale entry: the pair's users changed since
                if count > 1:
                    heapq.heappush(heap, (-count, pair))
                continue
            found = sorted(self.users.pop(pair))
            new = self.rank_of(Var(self._define(pair, found)))
            for i in found:
                for fresh in self._rewrite(i, pair, new):
                    heapq.heappush(heap, (-len(self.users[fresh]), fresh))

    def _define(self, pair, found: list[int]) -> int:
        """The variable id computing ``pair``, placed before its first user ``found[0]``:
        a product of just this pair when there is one (it moves up), else a new one."""
        first = found[0]
        exact = [i for i in found if sum(self.factors[i].values()) == 2]
        if exact:
            definer = exact[0]
            self.defining.add(definer)
            if definer != first:
                self.before.setdefault(first, []).append(definer)
                self.moved.add(definer)
            return self.body[definer].target
        target = self.ids()
        pair_atoms = (self.atoms[pair[0]], self.atoms[pair[1]])
        self.before.setdefault(first, []).append(Assign(target, Op.MUL, pair_atoms))
        return target

    def _rewrite(self, i: int, pair, new: int) -> list:
        """Product ``i`` with ``pair`` replaced by rank ``new`` (as often as it holds
        it); returns its pairs that now have two users or more."""
        counts = self.factors[i]
        if i in self.defining or sum(counts.values()) == 2:
            return []  # the definer, or a duplicate of it: left as it is
        for old in _pairs(counts):
            if old != pair:
                self.users[old].discard(i)
        a, b = pair
        while counts[a] > (a == b) and counts[b] > 0 and sum(counts.values()) > 2:
            counts[a] -= 1
            counts[b] -= 1
            counts[new] += 1
        for r in [r for r, c in counts.items() if c == 0]:
            del counts[r]
        shared = []
        for fresh in _pairs(counts):
            holders = self.users.setdefault(fresh, set())
            holders.add(i)
            if len(holders) > 1:
                shared.append(fresh)
        return shared

    def _final(self, i: int):
        stmt = self.body[i]
        counts = self.factors.get(i)
        if counts is None or Counter(self.rank[a] for a in stmt.args) == counts:
            return stmt
        return Assign(stmt.target, Op.MUL, tuple(self.atoms[r] for r in counts.elements()))

    def result(self) -> tuple:
        out = []
        for i in range(len(self.body)):
            for item in self.before.get(i, ()):
                out.append(self._final(item) if type(item) is int else item)
            if i not in self.moved:
                out.append(self._final(i))
        return tuple(out)


def _pairs(counts: Counter):
    """The pairs of factors of a product (its factor ranks with their multiplicity), as
    ``(low, high)`` rank tuples: ``(r, r)`` for a factor found twice or more."""
    ranks = sorted(counts)
    for k, a in enumerate(ranks):
        if counts[a] > 1:
            yield a, a
        for b in ranks[k + 1 :]:
            yield a, b
