"""Rerolled bodies: large, regular straight-line code as loops over index tables.

numba's compile time grows with the number of statements (about a millisecond each to
type and lower, three for a read of an array element), not with the work they do. Large
derivative bodies are often a few kinds of statement repeated hundreds of times: the
closure of the Gaussian mixture's matrix-Tressian product is 468 statements of 6 kinds
(``captured[a] * (m[b] + m[c])`` and sums of 45 terms), 3 s of compile as straight-line
code. Rerolled, each kind of statement is one loop over constant tables of indices::

    for q in range(324):
        w[T3[q]] = captured[A3_0[q]] * w[A3_1[q]]

with every value of the body in a scratch vector ``w``. Statements join one loop when
they compute the same op on the same kinds of operands (a variable, an element of the
same parameter, a constant) and lie at the same depth of the body's dependency graph
(so every operand of a loop is computed by an earlier loop). The loops compute exactly
what the statements did, in the same order within each statement (sums and products
left to right), so results are bit for bit those of the straight-line code.

Only bodies worth it are rerolled (:func:`plan`): at least :data:`REROLL_ABOVE`
statements whose straight-line build numba would take :data:`REROLL_SECONDS` over (an
estimate from their statements and parameter reads), with at least
:data:`REROLL_RATIO` statements per loop, real-valued, without data loops: in practice
the closures of operator-valued products of models with many parameters, and long
regular sums. A call then reads its operands through the tables, which costs some
speed (0.4 us on that closure); straight-line code stays the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from symnum import ir
from symnum.ir import Const, Elem, Loop, Op, Var, passes

__all__ = [
    "READ_SECONDS",
    "REROLL_ABOVE",
    "REROLL_RATIO",
    "REROLL_SECONDS",
    "STATEMENT_SECONDS",
    "Group",
    "Plan",
    "output_sources",
    "plan",
]

#: Bodies of fewer statements stay straight-line code.
REROLL_ABOVE = 256
#: Bodies numba would compile in less than this many seconds, by the estimate below,
#: stay straight-line code: rerolled code costs some speed per call, worth paying only
#: where the straight-line build is slow.
REROLL_SECONDS = 2.0
#: The estimate: numba takes about this long over an arithmetic statement, and over a
#: read of a parameter element at a constant index (fitted to a 60-dimensional
#: Rosenbrock gradient, 530 statements reading 60 elements: 1.2 s, and the mixture's
#: matrix-Tressian closure, 468 statements reading 246: 2.9 s). Rerolled, the closure
#: compiled in 1.3 s (1.46 against 1.07 us a call); the gradient would have saved 0.4 s
#: and lost 4.5x of its batch throughput.
STATEMENT_SECONDS, READ_SECONDS = 1.2e-3, 9.5e-3
#: Bodies whose statements fall into fewer than this many per loop stay straight-line:
#: numba takes about as long over one rerolled loop (its reads through index tables) as
#: over 20-40 scalar statements. A data loop's body is never rerolled: the Gaussian
#: mixture's (2,211 statements in 103 groups) compiled in 10 s rerolled against 7.8 s.
REROLL_RATIO = 40

#: Statements of more operands than this must read only variables (a table of them;
#: CPython cannot compile an expression of thousands of operands)
_LONGEST = 64

#: Ops whose every operand is an ordinary value (an operand the emitter renders as a
#: literal, POW's small exponent or POLYGAMMA's order, is part of the kind instead)
_LITERAL_OPERAND = {Op.POW: 1, Op.POLYGAMMA: 0}


@dataclass(frozen=True)
class Group:
    """Statements computed by one loop: ``w[targets[q]] = op(operands of q)``.

    ``kinds[j]`` says what operand ``j`` is: ``("var",)`` (``w[tables[j][q]]``),
    ``("elem", param)`` (element ``tables[j][q]`` of ``param``, a flat index),
    ``("const",)`` (the value ``tables[j][q]``) or ``("literal", atom)`` (the same
    operand for every statement, rendered as the emitter renders it: a small integer
    exponent, a polygamma order)."""

    op: Op
    kinds: tuple
    targets: tuple[int, ...]
    tables: tuple[tuple, ...]

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True)
class Plan:
    """A rerolled body: ``groups`` in an order that respects every dependency, and the
    scratch slot of each variable the body defines (``slots``, ``nslots`` in all)."""

    groups: tuple[Group, ...]
    slots: dict
    nslots: int


def _kind(stmt: ir.Assign, j: int, atom, literal, kind_of) -> tuple:
    if _LITERAL_OPERAND.get(stmt.op) == j:
        text = literal(stmt, atom)
        if text is not None:
            return ("literal", text)
    return kind_of(atom)


def _groups(stmts, literal, kind_of, entry) -> tuple[list[Group], dict] | None:
    """The statements grouped (or ``None`` when the groups are too small on average),
    and the scratch slot of each variable they define."""
    depth: dict[int, int] = {}
    slots: dict[int, int] = {}
    order: dict[tuple, int] = {}  # group key -> position of its first statement
    members: dict[tuple, list] = {}
    for stmt in stmts:
        level = 1 + max((depth.get(a.id, 0) for a in stmt.args if isinstance(a, Var)), default=0)
        depth[stmt.target] = level
        slots[stmt.target] = len(slots)
        kinds = tuple(_kind(stmt, j, a, literal, kind_of) for j, a in enumerate(stmt.args))
        key = (level, stmt.op, kinds)
        order.setdefault(key, len(order))
        members.setdefault(key, []).append(stmt)
    if len(stmts) < REROLL_RATIO * len(members):
        return None
    groups = []
    for key in sorted(members, key=lambda k: (k[0], order[k])):
        _, op, kinds = key
        stmts_ = members[key]
        tables = tuple(
            () if kind[0] == "literal" else tuple(entry(s.args[j], slots) for s in stmts_)
            for j, kind in enumerate(kinds)
        )
        groups.append(Group(op, kinds, tuple(slots[s.target] for s in stmts_), tables))
    return groups, slots


def _real(fn: ir.Function) -> bool:
    return all(p.dtype == "float64" for p in fn.params) and not any(
        d == passes.COMPLEX128 for d in passes.dtypes(fn).values()
    )


def plan(fn: ir.Function, literal) -> Plan | None:
    """The rerolled form of ``fn``'s body, or ``None`` when it should stay straight-line
    code: fewer than :data:`REROLL_ABOVE` statements, an estimated straight-line build
    under :data:`REROLL_SECONDS`, fewer than :data:`REROLL_RATIO` statements per loop, a
    data loop, a complex value, a shape-``()`` parameter (read as a scalar, not an
    array) or a long sum of other operands than variables.
    ``literal(stmt, atom)`` renders an operand that is part of the statement's kind
    (:data:`_LITERAL_OPERAND`); it may raise like the emitter's own rendering, or return
    ``None`` for an ordinary operand."""
    body = fn.body
    if len(body) < REROLL_ABOVE or any(type(s) is Loop for s in body):
        return None
    reads = {(a.param, a.index) for s in body for a in s.args if isinstance(a, Elem)}
    if len(body) * STATEMENT_SECONDS + len(reads) * READ_SECONDS < REROLL_SECONDS:
        return None
    for stmt in body:  # a long sum or product is rerolled only as a table of variables
        if len(stmt.args) > _LONGEST and not all(isinstance(a, Var) for a in stmt.args):
            return None
    if any(p.data or not p.shape for p in fn.params) or not _real(fn):
        return None

    def kind_of(atom) -> tuple:
        if isinstance(atom, Var):
            return ("var",)
        if isinstance(atom, Elem):
            return ("elem", atom.param)
        return ("const",)

    def entry(atom, slots):
        if isinstance(atom, Var):
            return slots[atom.id]
        return atom.index if isinstance(atom, Elem) else atom.value

    found = _groups(body, literal, kind_of, entry)
    if found is None:
        return None
    groups, slots = found
    return Plan(tuple(groups), slots, len(slots))


def output_sources(atoms, slots, skip=None) -> tuple[list, list, list]:
    """Where the flat elements of an output come from: ``(position, slot)`` of those
    the body computes, ``(position, value)`` of constants and ``(position, (param,
    flat index))`` of parameters' elements; atoms for which ``skip(atom)`` is true (the
    zeros of a zero-filled output) are left out."""
    computed, constants, elements = [], [], []
    for position, atom in enumerate(atoms):
        if skip is not None and skip(atom):
            continue
        if isinstance(atom, Var):
            computed.append((position, slots[atom.id]))
        elif isinstance(atom, Const):
            constants.append((position, atom.value))
        else:
            elements.append((position, (atom.param, atom.index)))
    return computed, constants, elements
