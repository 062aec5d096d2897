"""Matrix products in data loops: the patterns the numpy backend emits as ``@``.

The numpy backend vectorises a :class:`~symnum.ir.Loop` over the rows: a data element
``X[j]`` is the column ``X[:, j]`` and each statement one NumPy operation over the rows.
A linear predictor ``c_0 * X[j_0] + ... + c_k * X[j_k]`` then takes ``k`` multiplies
and ``k`` additions over whole columns, and ``k`` row sums ``sum(w * X[j])`` take ``k``
multiplies and ``k`` reductions, where one matrix product (one BLAS call) does either.
:func:`rewrite`, handed one :class:`~symnum.ir.Loop` of a real function by the data
emitter (:mod:`.data`) with what it knows of the loop (the data parameters, the
per-row variables, the stored atoms), finds these patterns and replaces their
statements by :class:`RowDot` (a per-row value) and :class:`RowSums` (a group of
reductions), which the emitter writes as matrix products:

* a per-row sum (ADD) of terms ``c * X[j]`` (``c`` the same on every row: a constant,
  a parameter's element, an outer value; each term read by nothing else) or ``X[j]``
  -- at least :data:`MIN_TERMS` of them over distinct columns of the same data
  parameter -- gets those terms as one :class:`RowDot` ``X[:, cols] @ coeffs``; the
  other terms (a column's repeated terms too) stay;
* reductions ``sum(w * X[j])`` with the same per-row weight ``w`` (each product read
  by nothing else) become one :class:`RowSums`: ``w @ X[:, cols]`` for each data
  parameter ``X`` they read;
* when such weights are themselves ``u_i = w * A[i]`` (read by nothing but the
  group's products), their groups are one :class:`RowSums` over the pairs:
  ``(A[:, I].T * w) @ X[:, J]`` -- a Hessian's ``sum(w * A[i] * X[j])``, with
  ``A[:, I].T * w`` computed once for every ``X``.

The products are the same IEEE products the statements compute (``(w * A[i]) * X[j]``
included); only the order of the additions differs, so results differ by rounding
(and a sum of ``-0.0`` terms can come out ``+0.0``), NaN and infinities propagate as
before, and zero rows give zero sums. Complex functions are left as they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from symnum.ir import Assign, Atom, Const, Elem, Loop, Op, Reduce, Var

__all__ = ["MIN_TERMS", "RowDot", "RowSums", "rewrite"]

#: A row dot product needs at least this many terms over one data parameter.
MIN_TERMS = 2


@dataclass(frozen=True)
class RowDot:
    """``Var(target)`` on each row: the sum over ``k`` of ``coeffs[k]`` times column
    ``cols[k]`` of data parameter ``param`` (the coefficients do not vary per row)."""

    target: int
    param: str
    cols: tuple[int, ...]
    coeffs: tuple[Atom, ...]
    op: ClassVar[None] = None  # not an Op: scheduled like any statement

    @property
    def args(self) -> tuple[Atom, ...]:
        return self.coeffs


@dataclass(frozen=True)
class RowSums:
    """Sums over the rows by matrix products, one product a data parameter ``right``.

    Without ``left``: entry ``(target, None, right, j)`` is the sum of ``weight *
    right[j]``. With ``left``: entry ``(target, i, right, j)`` is the sum of ``weight *
    left[i] * right[j]``, and ``Var(scaled)`` holds the rows of ``left`` times
    ``weight`` that every product shares. ``weight`` is a per-row atom; ``results``
    names the product with each right parameter (in order of first appearance).
    """

    weight: Atom
    entries: tuple[tuple[int, int | None, str, int], ...]
    results: tuple[int, ...]
    left: str | None = None
    scaled: int | None = None

    def rights(self) -> list[str]:
        """The right parameters, in the order of :attr:`results`."""
        return list(dict.fromkeys(right for _, _, right, _ in self.entries))


def rewrite(
    loop: Loop, data: frozenset[str], varying: set[int], stored: tuple[Atom, ...], fresh: Iterator
) -> tuple[tuple, tuple]:
    """``loop``'s body and reductions with the patterns of the module docstring replaced
    (``data``: the data parameters' names; ``varying``: the loop variables that vary
    per row; ``stored``: the atoms of the loop's data outputs; ``fresh``: new variable
    ids). The body holds :class:`~symnum.ir.Assign` and :class:`RowDot`, the reductions
    :class:`~symnum.ir.Reduce` and :class:`RowSums`."""
    finder = _Finder(loop, data, varying, stored)
    body = finder.row_dots(fresh)
    reductions = finder.row_sums(body, fresh)
    body = tuple(s for s in body if s.target not in finder.removed)
    return body, reductions


class _Finder:
    def __init__(self, loop: Loop, data: frozenset[str], varying: set[int], stored):
        self.loop = loop
        self.data = data
        self.varying = set(varying)
        self.defs = {s.target: s for s in loop.body}
        self.reads: Counter[int] = Counter()
        atoms = [a for s in loop.body for a in s.args]
        atoms += [r.value for r in loop.reductions]
        atoms += stored
        self.reads.update(a.id for a in atoms if type(a) is Var)
        self.removed: set[int] = set()

    def column(self, atom) -> tuple[str, int] | None:
        if type(atom) is Elem and atom.param in self.data:
            return atom.param, atom.index
        return None

    def invariant(self, atom) -> bool:
        if type(atom) is Var:
            return atom.id not in self.varying
        return type(atom) is Const or atom.param not in self.data

    def per_row(self, atom) -> bool:
        return self.column(atom) is not None or (type(atom) is Var and atom.id in self.varying)

    def product(self, atom) -> tuple | None:
        """The two arguments of the loop MUL assigning ``atom``, or None."""
        if type(atom) is not Var:
            return None
        s = self.defs.get(atom.id)
        if type(s) is not Assign or s.op is not Op.MUL or len(s.args) != 2:
            return None
        return s.args

    def term(self, atom, readers: int):
        """``(param, column, coefficient)`` if ``atom`` is a column or a coefficient
        times a column read only ``readers`` times."""
        column = self.column(atom)
        if column is not None:
            return (*column, Const(1.0))
        args = self.product(atom)
        if args is None or self.reads[atom.id] != readers:
            return None
        for col, coeff in (args, args[::-1]):
            column = self.column(col)
            if column is not None and self.invariant(coeff):
                return (*column, coeff)
        return None

    # -- row dot products

    def row_dots(self, fresh: Iterator) -> list:
        body: list = []
        for s in self.loop.body:
            if s.op is Op.ADD and s.target in self.varying:
                body.extend(self.split_sum(s, fresh))
            else:
                body.append(s)
        return body

    def split_sum(self, s: Assign, fresh: Iterator) -> list:
        """``s`` as RowDots and what remains of the sum."""
        groups: dict[str, list[tuple[int, int, Atom]]] = {}
        for position, a in enumerate(s.args):
            found = self.term(a, s.args.count(a))
            if found is not None:
                param, j, coeff = found
                groups.setdefault(param, []).append((position, j, coeff))
        for param, found in list(groups.items()):
            # a column at most once: a repeated one stays a term of the sum
            counts = Counter(j for _, j, _ in found)
            terms = [term for term in found if counts[term[1]] == 1]
            if len(terms) >= MIN_TERMS:
                groups[param] = terms
            else:
                del groups[param]
        if not groups:
            return [s]
        matched = {position for terms in groups.values() for position, _, _ in terms}
        whole = len(groups) == 1 and len(matched) == len(s.args)
        dots, first = [], {}  # first: the position of a group's first term -> its RowDot
        for param, terms in groups.items():
            ordered = sorted(terms, key=lambda term: term[1])  # by column
            target = s.target if whole else next(fresh)
            cols = tuple(j for _, j, _ in ordered)
            dots.append(RowDot(target, param, cols, tuple(c for _, _, c in ordered)))
            first[terms[0][0]] = target
            self.varying.add(target)
            self.removed.update(s.args[k].id for k, _, _ in terms if type(s.args[k]) is Var)
        if whole:
            return dots
        args = [
            Var(first[k]) if k in first else a
            for k, a in enumerate(s.args)
            if k not in matched or k in first
        ]
        return [*dots, Assign(s.target, Op.ADD, tuple(args))]

    # -- row sums

    def row_sums(self, body: list, fresh: Iterator) -> tuple:
        """The loop's reductions with groups of ``sum(w * X[j])`` as RowSums."""
        defs = {s.target: s for s in body}
        self.defs = defs
        candidates: dict[int, list[tuple]] = {}  # reduction target -> [(weight, param, j)]
        for r in self.loop.reductions:
            if r.op is not Op.ADD:
                continue
            args = self.product(r.value)
            if args is None or self.reads[r.value.id] != 1:
                continue
            options = []
            for col, weight in (args[::-1], args):
                column = self.column(col)
                if column is not None and self.per_row(weight):
                    options.append((weight, *column))
            if options:
                candidates[r.target] = options
        counts = Counter(w for options in candidates.values() for w, _, _ in options)
        groups: dict[Atom, list[tuple[Reduce, str, int]]] = {}  # weight -> its sums
        for r in self.loop.reductions:
            options = candidates.get(r.target)
            if options:
                weight, param, j = max(options, key=lambda o: counts[o[0]])
                groups.setdefault(weight, []).append((r, param, j))
        return self.pairs(groups, fresh)

    def pairs(self, groups: dict, fresh: Iterator) -> tuple:
        """RowSums of the groups, those whose weights are ``w * A[i]`` merged."""
        merged: dict[tuple, list] = {}  # (w, A) -> [(u, i, members)]
        grouped: dict[int, RowSums] = {}  # first reduction's target -> its RowSums
        for weight, members in groups.items():
            inner = self.inner(weight, len(members))
            if inner is None:
                entries = tuple((r.target, None, p, j) for r, p, j in members)
                sums = RowSums(weight, entries, ())
                sums = RowSums(weight, entries, tuple(next(fresh) for _ in sums.rights()))
                grouped[members[0][0].target] = sums
                self.removed.update(r.value.id for r, _, _ in members)
            else:
                w, left, i = inner
                merged.setdefault((w, left), []).append((weight, i, members))
        for (w, left), parts in merged.items():
            entries = tuple((r.target, i, p, j) for _, i, members in parts for r, p, j in members)
            rights = RowSums(w, entries, ()).rights()
            results = tuple(next(fresh) for _ in rights)
            first = min((m[0][0].target for _, _, m in parts), key=self.order)
            grouped[first] = RowSums(w, entries, results, left, next(fresh))
            for u, _, members in parts:
                self.removed.add(u.id)
                self.removed.update(r.value.id for r, _, _ in members)
        done = {target for g in grouped.values() for target, _, _, _ in g.entries}
        reductions = []
        for r in self.loop.reductions:
            if r.target in grouped:
                reductions.append(grouped[r.target])
            elif r.target not in done:
                reductions.append(r)
        return tuple(reductions)

    def order(self, target: int) -> int:
        return next(k for k, r in enumerate(self.loop.reductions) if r.target == target)

    def inner(self, weight, readers: int):
        """``(w, A, i)`` if ``weight`` is ``w * A[i]`` (per-row ``w``) read only by
        ``readers`` statements."""
        args = self.product(weight)
        if args is None or self.reads[weight.id] != readers:
            return None
        for col, w in (args[::-1], args):
            column = self.column(col)
            if column is not None and self.per_row(w):
                return (w, *column)
        return None
