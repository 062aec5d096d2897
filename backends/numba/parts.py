"""Large bodies cut into parts: the point and batch kernels of a body of more than
:data:`PART_SIZE` statements call ``<name>_part0``, ``<name>_part1``, ...: njit functions
of at most that many statements each, passing values between them through a scratch
array (as the C backend does). numba's compile time and memory grow faster than linearly
with the size of one function; parts keep both bounded.

Before cutting, sums and products of more than :data:`VARIADIC_CHUNK` terms become chains
of partial results (same order, same rounding) and the statements are ordered depth
first from the results, so each partial result follows its terms and few values cross
from one part to the next: each is an array read, and LLVM's SROA pass takes time
quadratic in the array reads of a function (a part reading the 5,184 terms of one sum
compiled for over 15 minutes). A data loop is never cut: it counts as its statements,
reductions and stores, and one larger than :data:`PART_SIZE` gets a part of its own.

:class:`Parts` is the part of the emitter (:mod:`symnum.backends.numba.emit`) that does
this; it works on the emitter's state (its units, names and outputs) and is mixed into
it. The two constants are read when emitting, so tests may tune them here.
"""

from __future__ import annotations

from symnum import ir
from symnum.backends import _pysource
from symnum.ir import Elem, Loop, Var, passes

from .table import COMPLEX, JIT_OPTIONS, REAL

__all__ = ["PART_SIZE", "VARIADIC_CHUNK", "Parts"]

#: Terms per line of a long ADD or MUL.
VARIADIC_CHUNK = 64

#: Bodies with more statements (output stores included) than this are cut into parts of
#: at most this many, the C backend's threshold.
PART_SIZE = 1000


def _defines(stmt) -> tuple[int, ...]:
    """The outer variables a top-level statement assigns (a loop: its reductions')."""
    if type(stmt) is Loop:
        return tuple(red.target for red in stmt.reductions)
    return (stmt.target,)


class Parts:
    """The emitter's methods for bodies cut into parts (see the module docstring): the
    units of work are scheduled (:meth:`_split_variadic`, :meth:`_schedule`), cut
    (:meth:`_chunks`) and emitted as part functions (:meth:`_parts`) and the kernels
    calling them (:meth:`_point_parts`, :meth:`_batch_parts`)."""

    def _parts(self, body: list[list[str]]) -> list[list[str]]:
        """The body and the output stores cut into njit functions of at most
        :data:`PART_SIZE` statements each. A part takes the parameters (of one point),
        the scratch arrays and the outputs (flat, of one point); a value computed in
        one part and read in a later one goes through a scratch slot."""
        fn = self.fn
        chunks = self.chunks
        part_of: dict[int, int] = {}
        for number, chunk in enumerate(chunks):
            for unit in chunk:
                part_of.update(dict.fromkeys(self._unit_defines(unit), number))
        slots = self._scratch_slots(chunks, part_of)
        self.nslots = (len(slots[0]), len(slots[1]))
        signature = ", ".join(
            [*(self.arg[p.name] for p in fn.params), self.scratch, self.scratch_complex, *self.out]
        )
        return [
            self._part(number, chunk, body, signature=signature, part_of=part_of, slots=slots)
            for number, chunk in enumerate(chunks)
        ]

    def _unit_defines(self, unit: tuple) -> tuple[int, ...]:
        """The outer variables a unit assigns."""
        if unit[0] == "store":
            return ()
        if unit[0] == "partial":
            return (self.partial_var[unit[1:]],)
        return _defines(self.fn.body[unit[1]])

    def _split_variadic(self, units: list[tuple]) -> list[tuple]:
        """``units`` with each sum or product of more than :data:`VARIADIC_CHUNK` terms
        replaced by its partial results (``("partial", k, j)``: the result of partial
        ``j - 1`` combined with the next :data:`VARIADIC_CHUNK` terms, left to right, so
        the rounding is that of the whole expression), each a variable of its own; the
        last one assigns the statement's target. A part then reads a few partial
        results instead of thousands of terms."""
        body = self.fn.body
        next_id = passes.next_var_id(self.fn)
        result = []
        for unit in units:
            stmt = body[unit[1]] if unit[0] == "stmt" else None
            if not (
                type(stmt) is ir.Assign
                and stmt.op in _pysource.VARIADIC
                and len(stmt.args) > VARIADIC_CHUNK
            ):
                result.append(unit)
                continue
            count = -(-len(stmt.args) // VARIADIC_CHUNK)
            for j in range(count):
                if j == count - 1:
                    self.partial_var[(unit[1], j)] = stmt.target
                else:
                    self.partial_var[(unit[1], j)] = next_id
                    next_id += 1
                result.append(("partial", unit[1], j))
        return result

    def _schedule(self, units: list[tuple]) -> list[tuple]:
        """The statement units reordered depth first from the results (each unit after
        the units it reads, visited in the order it reads them), then the stores. The IR
        lists all the terms of a long sum before the sum; in this order each partial sum
        follows its terms, so few values cross from one part to the next (LLVM's SROA
        pass takes time quadratic in the array reads of a function, which load them)."""
        work = [unit for unit in units if unit[0] != "store"]
        definer = {var: unit for unit in work for var in self._unit_defines(unit)}

        def deps(unit):
            return [
                definer[a.id] for a in self._reads(unit) if isinstance(a, Var) and a.id in definer
            ]

        read = {dep for unit in work for dep in deps(unit)}
        order: list[tuple] = []
        seen: set[tuple] = set()
        # from the units no other unit reads (the results), in their order
        for root in [unit for unit in work if unit not in read] + work:
            if root in seen:
                continue
            seen.add(root)
            stack = [(root, iter(deps(root)))]
            while stack:
                unit, pending = stack[-1]
                for dep in pending:
                    if dep not in seen:
                        seen.add(dep)
                        stack.append((dep, iter(deps(dep))))
                        break
                else:
                    stack.pop()
                    order.append(unit)
        return order + [unit for unit in units if unit[0] == "store"]

    def _name_partials(self) -> None:
        """Names and dtypes of the partial results' variables (see _split_variadic)."""
        for (k, j), var in self.partial_var.items():
            stmt = self.fn.body[k]
            if var != stmt.target:
                self.var[var] = self.names.take(f"t{stmt.target}_{j}")
            reads = self._reads(("partial", k, j))
            if any(self.is_complex(a) for a in reads):
                self.dtypes[var] = passes.COMPLEX128
                self.complex_vars.add(var)
            else:
                self.dtypes.setdefault(var, passes.FLOAT64)

    def _partial_line(self, k: int, j: int) -> str:
        """The line computing partial result ``j`` of statement ``k``."""
        stmt = self.fn.body[k]
        template = (COMPLEX if self.is_complex(Var(stmt.target)) else REAL)[stmt.op]
        args = [self.atom(a) for a in self._reads(("partial", k, j))]
        return f"{self.var[self.partial_var[(k, j)]]} = {template.join(args)}"

    def _weight(self, unit: tuple) -> int:
        """How many statements a unit stands for: a loop's body, reductions and
        stores; 1 for anything else."""
        if unit[0] == "partial":
            return 1 + VARIADIC_CHUNK // 8
        if unit[0] != "stmt" or type(self.fn.body[unit[1]]) is not Loop:
            return 1
        loop = self.fn.body[unit[1]]
        stores = sum(self.leaves[position].size for position in loop.stores)
        return max(1, len(loop.body) + len(loop.reductions) + stores)

    def _chunks(self) -> list[list[tuple]]:
        """The units cut into runs of at most :data:`PART_SIZE` statements, in order; a
        loop larger than that gets a part of its own (a loop is never cut). The store of
        an output element whose value the current run computes stays in that run whatever
        its size: moved to the next, the value would cross through the scratch array, two
        array reads instead of none (the results of a large loop's reductions, its
        outputs, all did). Constant elements are stores like any other (the 3,400 zeros of
        a Rosenbrock-60 Hessian added to one part made its build 8 s -> 14 s)."""
        chunks: list[list[tuple]] = [[]]
        size = 0
        defined: set[int] = set()
        for unit in self.units:
            if unit[0] == "store" and chunks[-1]:
                atom = self.leaves[unit[1]].atoms[unit[2]]
                if type(atom) is Var and atom.id in defined:
                    chunks[-1].append(unit)
                    continue
            weight = self._weight(unit)
            if chunks[-1] and size + weight > PART_SIZE:
                chunks.append([])
                size = 0
                defined = set()
            chunks[-1].append(unit)
            size += weight
            defined.update(self._unit_defines(unit))
        return chunks

    def _reads(self, unit: tuple) -> tuple:
        """The atoms a unit of :meth:`_parts` reads (for a loop: the outer variables
        and the elements of other parameters it reads)."""
        if unit[0] == "store":
            return (self.leaves[unit[1]].atoms[unit[2]],)
        if unit[0] == "partial":
            k, j = unit[1:]
            args = self.fn.body[k].args[j * VARIADIC_CHUNK : (j + 1) * VARIADIC_CHUNK]
            return (Var(self.partial_var[(k, j - 1)]), *args) if j else args
        stmt = self.fn.body[unit[1]]
        if type(stmt) is not Loop:
            return stmt.args
        local = {s.target for s in stmt.body}
        atoms = [a for s in stmt.body for a in s.args]
        atoms += [red.value for red in stmt.reductions]
        atoms += [a for position in stmt.stores for a in self.leaves[position].atoms]
        return tuple(
            a
            for a in atoms
            if not (isinstance(a, Var) and a.id in local)
            and not (isinstance(a, Elem) and a.param in self.data)
        )

    def _scratch_slots(self, chunks: list, part_of: dict[int, int]) -> tuple[dict, dict]:
        """``({var: slot}, {complex var: slot})`` for the variables read in a later part
        than the one defining them; slots are numbered in definition order, so each
        part's are contiguous."""
        carried: set[int] = set()
        for number, chunk in enumerate(chunks):
            for unit in chunk:
                for a in self._reads(unit):
                    if isinstance(a, Var) and part_of[a.id] != number:
                        carried.add(a.id)
        slots: dict[int, int] = {}
        slots_complex: dict[int, int] = {}
        for unit in self.units:
            for target in self._unit_defines(unit):
                if target in carried:
                    table = slots_complex if target in self.complex_vars else slots
                    table[target] = len(table)
        return slots, slots_complex

    def _part_inputs(self, number: int, chunk: list, part_of: dict[int, int]) -> tuple:
        """The parameter elements ``(param, index)`` part ``number`` reads, and the
        variables it loads from scratch."""
        elems: set[tuple[str, int]] = set()
        loaded: set[int] = set()
        for unit in chunk:
            for a in self._reads(unit):
                if isinstance(a, Elem):
                    elems.add((a.param, a.index))
                elif isinstance(a, Var) and part_of[a.id] != number:
                    loaded.add(a.id)
        return elems, loaded

    def _part(
        self, number: int, chunk: list, body, *, signature: str, part_of: dict, slots: tuple
    ) -> list[str]:
        """The lines of the njit function computing part ``number``."""
        fn = self.fn
        slots_real, slots_complex = slots
        lines = [f"@numba.njit({JIT_OPTIONS})", f"def {self.kname}_part{number}({signature}):"]
        elems, loaded = self._part_inputs(number, chunk, part_of)
        lines += self._unpack(batch=False, indent="    ", wanted=elems)
        if any(unit[0] == "stmt" and type(fn.body[unit[1]]) is Loop for unit in chunk):
            data = next(p for p in fn.params if p.data)
            lines.append(f"    {self.rows} = {self.arg[data.name]}.shape[0]")
        for var in sorted(loaded):
            source = self.scratch_complex if var in self.complex_vars else self.scratch
            slot = (slots_complex if var in self.complex_vars else slots_real)[var]
            lines.append(f"    {self.var[var]} = {source}[{slot}]")
        saved: dict[str, list[tuple[int, object]]] = {}
        stores: list[tuple[int, int]] = []
        for unit in chunk:
            if unit[0] == "store":
                stores.append(unit[1:])
                continue
            if unit[0] == "partial":
                lines.append("    " + self._partial_line(*unit[1:]))
            else:
                lines += ["    " + line for line in body[unit[1]]]
            for array, table in (
                (self.scratch, slots_real),
                (self.scratch_complex, slots_complex),
            ):
                for target in self._unit_defines(unit):
                    if target in table:
                        saved.setdefault(array, []).append((table[target], Var(target)))
        # into flat arrays (scratch, and outputs allocated flat), as tuples when many
        for array, values in saved.items():
            lines += ["    " + line for line in self.tuple_stores(array, None, values)]
        for k, leaf in enumerate(self.leaves):
            run = [(flat, leaf.atoms[flat]) for leaf_k, flat in stores if leaf_k == k]
            if run:
                widen = leaf.dtype == "complex128"
                lines += [
                    "    " + line for line in self.tuple_stores(self.out[k], None, run, widen=widen)
                ]
        lines.append("    return")
        return lines

    def _scratch_alloc(self) -> list[str]:
        real, cplx = self.nslots
        return [
            f"    {self.scratch} = np.empty({max(real, 1)}, np.float64)",
            f"    {self.scratch_complex} = np.empty({max(cplx, 1)}, np.complex128)",
        ]

    def _part_calls(self, args: list[str], outs: list[str], indent: str) -> list[str]:
        call = ", ".join([*args, self.scratch, self.scratch_complex, *outs])
        return [f"{indent}{self.kname}_part{k}({call})" for k in range(self.nparts)]

    def _point_parts(self) -> list[str]:
        lines = [f"@numba.njit({JIT_OPTIONS})", f"def {self.kname}({self._signature()}):"]
        lines += self._checks(batch=False)
        lines += self._rows()
        lines += self._scratch_alloc()
        lines += self._alloc(batch=False, flat=True)
        args = [self.arg[p.name] for p in self.fn.params]
        lines += self._part_calls(args, self.out, "    ")
        lines.append(f"    return {self._flat_result(batch=False)}")
        return lines

    def _batch_parts(self) -> list[str]:
        fn = self.fn
        lines = self._batch_head()
        lines += self._scratch_alloc()
        lines += self._alloc(batch=True, flat=True)
        lines.append(f"    for {self.i} in range({self.n}):")
        args = [f"{self.arg[p.name]}[{self.i}]" for p in fn.params]
        outs = [f"{out}[{self.i}]" for out in self.out]
        lines += self._part_calls(args, outs, "        ")
        lines.append(f"    return {self._flat_result(batch=True)}")
        return lines
