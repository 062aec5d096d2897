"""The numpy backend's data loops: the point and batch functions of a function with data.

:func:`_data_point` and :func:`_data_batch` are handed a flat :class:`symnum.ir.Function`
with data parameters (:mod:`symnum.ir` data loops), the module's :class:`~.syntax._Names`
and the names to use, and return the lines of the functions; :mod:`.emit` assembles them
into the module. Each :class:`~symnum.ir.Loop` is vectorised over the rows: a data
parameter's element j is the column view ``X[:, j]``, a loop statement that reads the
current row (directly or through another such statement) is one NumPy operation on
whole columns, and a loop statement that does not is computed once, like an outer
statement (it is pure, so where it runs does not matter). Reductions are
``numpy.<op>.reduce`` over the row axis; a reduction of a value that does not vary per
row (an outer variable, a constant) is computed in closed form (``n * v``, ``v ** n``,
``v``) with the empty-row values when ``n == 0``. Sums of columns times row-invariant
coefficients and groups of row sums against columns are matrix products instead
(``X @ beta``, ``w @ X``, ``(X.T * w) @ X``; see :mod:`.matmul`): one BLAS call where
there were k column passes. Never unrolled and never a Python loop over rows, so the
source does not depend on the number of rows.

Point: outer statements are scalar ``math`` code as in functions without data, loop
statements NumPy code on arrays of length n; all of it under ``errstate(all="ignore")``
inside the same ``try`` as there, whose fallback is the batch function on a batch of
one. Batch: every non-data value has shape ``(size, 1)`` (parameters' elements are
``x[:, i:i + 1]``), so it broadcasts against the rows: loop values are ``(size, n)``
(or ``(n,)`` when they read no batched value), reductions run over the last axis with
``keepdims``. :func:`~.runtime.data_batch` runs a batch in blocks of at most
``_BLOCK_VALUES`` (element, row) pairs, which bounds every temporary.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from symnum.ir import (
    Assign,
    Const,
    Elem,
    Function,
    Loop,
    Op,
    Reduce,
    Var,
    data_params,
    iter_assigns,
    passes,
)

from . import matmul
from .matmul import RowDot, RowSums
from .syntax import (
    BATCH,
    POINT,
    _expression,
    _Names,
    _point_output,
    _read_params,
    _statement,
    _tree_expr,
    _tree_leaves,
    _unpack_lines,
    _used_elems,
)


@dataclass
class _Step:
    """Lines of a data function's body, the variables they read and assign (``target``
    ``None``: nothing), and whether ``target`` holds one value per row."""

    lines: list[str]
    reads: set[int]
    target: int | None = None
    per_row: bool = False


def _var_reads(atoms) -> set[int]:
    return {a.id for a in atoms if type(a) is Var}


def _schedule(body, varying: set[int]) -> tuple[dict[int, int], dict]:
    """When a loop's values are computed: ``complete`` maps each variable to the body
    position after which it exists; ``folds`` maps a position to the accumulation
    steps ``(statement, k)`` run after it (argument ``k >= 1`` of a per-row ADD or MUL
    that reads other loop values, added as soon as it and the previous ones exist)."""
    complete: dict[int, int] = {}
    folds: dict[int, list[tuple[Assign, int]]] = {}
    for position, s in enumerate(body):
        terms = [complete[a.id] for a in s.args if type(a) is Var and a.id in complete]
        if s.op not in (Op.ADD, Op.MUL) or s.target not in varying or not terms:
            complete[s.target] = position
            continue
        # start with the first loop value: columns and outer values cost nothing to keep
        running = min(terms)
        for k, a in enumerate(s.args):
            if type(a) is Var and a.id in complete:
                running = max(running, complete[a.id])
            if k:
                folds.setdefault(running, []).append((s, k))
        complete[s.target] = running
    return complete, folds


class _DataEmitter:
    """The point or the batch (``batch=True``) body of a function with data loops."""

    def __init__(self, fn: Function, names: _Names, rows: str, size: str, batch: bool):
        self.fn = fn
        self.names = names
        self.rows = rows
        self.size = size
        self.batch = batch
        self.data = {p.name for p in fn.params if p.data}
        self.params = {p.name: p for p in fn.params}
        self.leaves: list = []
        _tree_leaves(fn.outputs, self.leaves)
        # each loop's body and reductions with matrix products (see .matmul)
        self.loops: dict[int, tuple[tuple, tuple]] = {}
        fresh = itertools.count(_max_id(fn) + 1)
        complex_fn = passes.is_complex(fn)
        for position, stmt in enumerate(fn.body):
            if type(stmt) is not Loop:
                continue
            if complex_fn:
                self.loops[position] = (stmt.body, stmt.reductions)
                continue
            varying = self.varying(stmt.body)
            stored = tuple(a for k in stmt.stores for a in self.leaves[k].atoms)
            data = frozenset(self.data)
            self.loops[position] = matmul.rewrite(stmt, data, varying, stored, fresh)
        self.used = _used_elems(fn, {k: _loop_reads(*loop) for k, loop in self.loops.items()})
        #: data parameters read as whole matrices
        self.matrices = {
            s.param for body, _ in self.loops.values() for s in body if type(s) is RowDot
        }
        for _, reductions in self.loops.values():
            for r in reductions:
                if type(r) is RowSums:
                    self.matrices.update([*r.rights(), r.left] if r.left else r.rights())

    def varying(self, body) -> set[int]:
        """The variables of a loop ``body`` that vary per row."""
        varying: set[int] = set()
        for s in body:
            if type(s) is RowDot or any(self.per_row(a, varying) for a in s.args):
                varying.add(s.target)
        return varying

    def scalar(self, text: str) -> str:
        """``text`` (a Python float literal) as a value that never raises (batch)."""
        return f"{self.names.glob('f64')}({text})" if self.batch else text

    def inf(self, sign: str) -> str:
        return self.scalar(f"{sign}{self.names.glob('inf')}")

    def steps(self) -> list[_Step]:
        table = BATCH if self.batch else POINT
        steps = []
        for position, stmt in enumerate(self.fn.body):
            if type(stmt) is Loop:
                steps.extend(self.loop_steps(stmt, *self.loops[position]))
            else:
                lines = _statement(self.names, table, stmt, self.batch)
                steps.append(_Step(lines, _var_reads(stmt.args), stmt.target))
        return steps

    def loop_steps(self, loop: Loop, body: tuple, reductions: tuple) -> list[_Step]:
        """A loop's statements in order, except that per-row sums and products are
        accumulated term by term as soon as each term exists (same left-to-right order,
        so the same rounding), and each reduction and stored column comes right after
        its value is complete: per-row temporaries die early. A sum of terms
        ``X[0]*b[0] + ...`` left out of a matrix product (``body`` and ``reductions``: the
        loop's, with :mod:`.matmul` products) then keeps two columns alive, not ten."""
        table = BATCH if self.batch else POINT
        varying = self.varying(body)
        complete, folds = _schedule(body, varying)
        # reductions and stored columns: right after their value is complete
        pending: dict[int | None, list] = {}
        steps = []
        for r in reductions:
            value = r.weight if type(r) is RowSums else r.value
            where = value.id if type(value) is Var and value.id in complete else None
            pending.setdefault(where, []).append(r)
        for number in loop.stores:
            leaf = self.leaves[number]
            steps.append(_Step([self.allocate(number, leaf)], set()))
            for k, a in enumerate(leaf.atoms):
                where = a.id if type(a) is Var and a.id in complete else None
                pending.setdefault(where, []).append((number, k, a))
        steps.extend(self.pending_steps(pending.pop(None, ()), varying))
        for position, s in enumerate(body):
            if complete[s.target] == position:
                per_row = s.target in varying
                if type(s) is RowDot:
                    lines = self.row_dot(s)
                else:
                    lines = _statement(
                        self.names, BATCH if per_row else table, s, self.batch or per_row
                    )
                steps.append(_Step(lines, _var_reads(s.args), s.target, per_row))
                steps.extend(self.pending_steps(pending.pop(s.target, ()), varying))
            for stmt, k in folds.get(position, ()):
                steps.append(self.fold_step(stmt, k))
                if k == len(stmt.args) - 1:
                    steps.extend(self.pending_steps(pending.pop(stmt.target, ()), varying))
        return steps

    def fold_step(self, stmt: Assign, k: int) -> _Step:
        """Accumulate argument ``k`` (>= 1) of the per-row sum or product ``stmt``."""
        names = self.names
        target = f"{names.temp}{stmt.target}"
        if k == 1:
            text = _expression(names, BATCH, stmt.op, stmt.args[:2], True)
            return _Step([f"{target} = {text}"], _var_reads(stmt.args[:2]), stmt.target, True)
        sign = BATCH[stmt.op].strip()
        term = names.atom(stmt.args[k], True)
        # in place on the point's (n,) arrays; in a batch the shape may still grow
        line = f"{target} = {target} {sign} {term}" if self.batch else f"{target} {sign}= {term}"
        return _Step([line], {stmt.target} | _var_reads(stmt.args[k : k + 1]))

    def pending_steps(self, items, varying: set[int]) -> list[_Step]:
        steps = []
        for item in items:
            if type(item) is Reduce:
                text = self.reduction(item, self.per_row(item.value, varying))
                line = f"{self.names.temp}{item.target} = {text}"
                steps.append(_Step([line], _var_reads((item.value,)), item.target))
            elif type(item) is RowSums:
                steps.extend(self.row_sums(item))
            else:
                position, k, atom = item
                out = self.names.scratch(f"out{position}")
                column = ":, :" if self.batch else ":"
                line = f"{out}[{column}, {k}] = {self.names.atom(atom, True)}"
                steps.append(_Step([line], _var_reads((atom,))))
        return steps

    def row_dot(self, dot: RowDot) -> list[str]:
        """The lines of a row dot product: ``X[:, cols] @ coeffs`` (with the batch axis
        ``coeffs @ X[:, cols].T``)."""
        names = self.names
        target = f"{names.temp}{dot.target}"
        matrix, _ = self.data_columns(dot.param, dot.cols, spare=False)
        whole = _whole_param(dot.coeffs)
        if whole is not None:
            q = self.params[whole]
            chosen = _select([a.index for a in dot.coeffs], q.size, ":, " if self.batch else "")
            if self.batch:
                flat = q.name if len(q.shape) == 1 else f"{q.name}.reshape({self.size}, {q.size})"
                return [f"{target} = {flat}{chosen} @ {matrix}.T"]
            flat = q.name if len(q.shape) == 1 else f"{q.name}.reshape({q.size})"
            return [f"{target} = {matrix} @ {flat}{chosen}"]
        atoms = [names.atom(a, self.batch) for a in dot.coeffs]
        if not self.batch or all(type(a) is Const for a in dot.coeffs):
            return [f"{target} = {matrix} @ {names.glob('np')}.array(({', '.join(atoms)},))"]
        # a (size, k) matrix of coefficients, each (size, 1) or a scalar
        coeffs = names.scratch("coeffs")
        empty, f64 = names.glob("empty"), names.glob("f64")
        lines = [f"{coeffs} = {empty}(({self.size}, {len(atoms)}), {f64})"]
        lines.extend(f"{coeffs}[:, {k}:{k + 1}] = {a}" for k, a in enumerate(atoms))
        return [*lines, f"{target} = {coeffs} @ {matrix}.T", f"del {coeffs}"]

    def row_sums(self, sums: RowSums) -> list[_Step]:
        """The steps of a group of row sums: a matrix product with each data parameter
        they read, then each sum taken from it (``+ 0.0``: a sum of ``-0.0`` terms is
        ``0.0``, as in a running sum from ``0.0``)."""
        names = self.names
        weight = names.atom(sums.weight, True)
        steps = []
        if sums.left is None:
            factor, reads = weight, _var_reads((sums.weight,))
        else:
            is_ = sorted({i for _, i, _, _ in sums.entries})
            left, positions = self.data_columns(sums.left, is_, spare=True)
            row = dict(zip(is_, positions, strict=True))
            factor, reads = f"{names.temp}{sums.scaled}", {sums.scaled}
            scaled = f"{weight}[..., None, :]" if self.batch else weight
            line = f"{factor} = {left}.T * {scaled}"
            # (k, n): deleted after use in the point function too
            steps.append(_Step([line], _var_reads((sums.weight,)), sums.scaled, per_row=True))
        for right, number in zip(sums.rights(), sums.results, strict=True):
            entries = [(t, i, j) for t, i, r, j in sums.entries if r == right]
            matrix, cols = self.data_columns(right, [j for _, _, j in entries], spare=True)
            where = [
                ((str(j),) if i is None else (str(row[i]), str(j)))
                for (_, i, _), j in zip(entries, cols, strict=True)
            ]
            result = f"{names.temp}{number}"
            product = f"{factor} @ {matrix} + 0.0"
            targets = [f"{names.temp}{target}" for target, _, _ in entries]
            if self.batch:
                steps.append(_Step([f"{result} = {product}"], reads, number))
                for (target, _, _), index in zip(entries, where, strict=True):
                    *lead, last = index
                    at = ", ".join([*lead, f"{last}:{int(last) + 1}"])
                    line = f"{names.temp}{target} = {result}[..., {at}]"
                    steps.append(_Step([line], {number}, target))
                continue
            lines = [f"{result} = ({product}).tolist()"]
            if sums.left is None and cols == list(range(len(cols))):
                lines.append(f"{', '.join(targets)}, = {result}")
            else:
                lines.extend(
                    f"{target} = {result}{''.join(f'[{k}]' for k in index)}"
                    for target, index in zip(targets, where, strict=True)
                )
            steps.append(_Step(lines, reads, number))
        return steps

    def data_columns(self, param: str, cols, spare: bool) -> tuple[str, list[int]]:
        """Columns ``cols`` of data parameter ``param`` as an ``(n, k)`` matrix, and the
        position of each in it. ``spare``: the matrix may have columns nobody asked
        for (a contiguous range or the whole row is cheaper than a copy)."""
        p = self.params[param]
        base = param if p.shape else f"{param}[:, None]"
        cols = list(cols)
        unique = sorted(set(cols))
        low, high = unique[0], unique[-1] + 1
        if spare and high - low <= 2 * len(unique):
            return base + _select(range(low, high), p.size, ":, "), [j - low for j in cols]
        if spare:
            return f"{base}[:, {unique}]", [unique.index(j) for j in cols]
        return base + _select(cols, p.size, ":, "), list(range(len(cols)))

    def per_row(self, atom, varying: set[int]) -> bool:
        return (type(atom) is Elem and atom.param in self.data) or (
            type(atom) is Var and atom.id in varying
        )

    def reduction(self, r, per_row: bool) -> str:
        names, rows = self.names, self.rows
        value = names.atom(r.value, self.batch)
        if per_row:
            axis = ", axis=-1, keepdims=True" if self.batch else ""
            ufunc = {Op.ADD: "add", Op.MUL: "multiply", Op.MAX: "maximum", Op.MIN: "minimum"}
            text = f"{names.glob('np')}.{ufunc[r.op]}.reduce({value}{axis})"
            if r.op is Op.ADD:
                return f"{text} + 0.0"  # 0.0 + -0.0 is 0.0, as in a running sum
            if r.op is Op.MUL:
                return text
            return f"({text} if {rows} else {self.inf('-' if r.op is Op.MAX else '')})"
        # the same value on every row: closed forms
        if type(r.value) is Const:
            value = self.scalar(value)
        if r.op is Op.ADD:
            total = f"{names.glob('np')}.multiply({value}, {rows})" if self.batch else value
            total += "" if self.batch else f" * {rows}"
            return f"({total} + 0.0 if {rows} else {self.scalar('0.0')})"
        if r.op is Op.MUL:
            return f"{names.glob('np')}.power({value}, {rows})"
        return f"({value} if {rows} else {self.inf('-' if r.op is Op.MAX else '')})"

    def allocate(self, position: int, leaf) -> str:
        """The line allocating data output ``position`` (``leaf``)."""
        names = self.names
        out = names.scratch(f"out{position}")
        dtype = names.glob("c128" if leaf.dtype == "complex128" else "f64")
        lead = f"{self.size}, {self.rows}" if self.batch else self.rows
        return f"{out} = {names.glob('empty')}(({lead}, {leaf.size}), {dtype})"

    def body(self) -> list[str]:
        """The steps with ``del`` of dead temporaries: per-row arrays after their last
        use (point and batch), other temporaries too in the batch function, where they
        are arrays over the batch."""
        steps = self.steps()
        kept = {a.id for leaf in self.leaves if not leaf.data for a in leaf.atoms if type(a) is Var}
        last: dict[int, int] = {}
        per_row: set[int] = set()
        for position, step in enumerate(steps):
            for v in step.reads:
                last[v] = position
            if step.target is not None:
                last.setdefault(step.target, position)
                if step.per_row:
                    per_row.add(step.target)
        dead: dict[int, list[int]] = {}
        for v, position in last.items():
            if v not in kept and (self.batch or v in per_row):
                dead.setdefault(position, []).append(v)
        lines = []
        for position, step in enumerate(steps):
            lines.extend(step.lines)
            if position in dead:
                dead_names = ", ".join(f"{self.names.temp}{v}" for v in sorted(dead[position]))
                lines.append(f"del {dead_names}")
        return lines or ["pass"]

    def columns(self) -> list[str]:
        """Bind the column of every data element the loops read (views, no copies)."""
        used = self.used
        lines = []
        for p in self.fn.params:
            if not p.data or not (used[p.name] or p.name in self.matrices):
                continue
            prefix = self.names.elem_prefix[p.name]
            if p.shape == ():
                if used[p.name]:  # a matrix product reads the array itself
                    lines.append(f"{prefix}0 = {p.name}")
                continue
            if len(p.shape) != 1:
                lines.append(f"{p.name} = {p.name}.reshape({self.rows}, {p.size})")
            lines.extend(f"{prefix}{i} = {p.name}[:, {i}]" for i in used[p.name])
        return lines

    def outputs(self, lines: list[str]) -> str:
        """Append the statements building the outputs; return the returned expression."""
        results = []
        for number, leaf in enumerate(self.leaves):
            out = self.names.scratch(f"out{number}")
            if leaf.data:
                lead = [self.size, self.rows] if self.batch else [self.rows]
                if leaf.shape != (leaf.size,):
                    dims = ", ".join([*lead, *(str(d) for d in leaf.shape)])
                    lines.append(f"{out} = {out}.reshape({dims})")
            elif self.batch:
                out = self.batch_output(number, leaf, lines)
            else:
                out = _point_output(self.names, number, leaf, lines)
            results.append(out)
        return _tree_expr(self.fn.outputs, iter(results))

    def batch_output(self, number: int, leaf, lines: list[str]) -> str:
        names = self.names
        out = names.scratch(f"out{number}")
        dtype = names.glob("c128" if leaf.dtype == "complex128" else "f64")
        lines.append(f"{out} = {names.glob('empty')}(({self.size}, {leaf.size}), {dtype})")
        for k, a in enumerate(leaf.atoms):
            lines.append(f"{out}[:, {k}:{k + 1}] = {names.atom(a, True)}")
        if leaf.shape != (leaf.size,):
            dims = "".join(f", {d}" for d in leaf.shape)
            lines.append(f"{out} = {out}.reshape({self.size}{dims})")
        return out


def _max_id(fn: Function) -> int:
    """The largest variable id of ``fn`` (-1 if none)."""
    ids = [s.target for s in iter_assigns(fn.body)]
    ids += [r.target for s in fn.body if type(s) is Loop for r in s.reductions]
    return max(ids, default=-1)


def _whole_param(coeffs) -> str | None:
    """The parameter all of ``coeffs`` are elements of, if any (its array holds them)."""
    first = coeffs[0]
    if type(first) is Elem and all(type(a) is Elem and a.param == first.param for a in coeffs):
        return first.param
    return None


def _select(indices, size: int, lead: str = "") -> str:
    """The subscript taking ``indices`` along the last axis of length ``size``: nothing
    for all of them in order, a slice for a contiguous range, else a list."""
    indices = list(indices)
    if indices == list(range(size)):
        return ""
    if indices == list(range(indices[0], indices[0] + len(indices))):
        return f"[{lead}{indices[0]}:{indices[-1] + 1}]"
    return f"[{lead}{indices}]"


def _loop_reads(body, reductions) -> list:
    """The atoms a loop (``body`` and ``reductions`` with :mod:`.matmul` products) reads
    one by one: its statements' arguments, except a row dot product's coefficients that
    are a parameter's whole array (the array is read), and its reductions' values (a
    group of row sums: its weight)."""
    atoms = [a for s in body if not (type(s) is RowDot and _whole_param(s.coeffs)) for a in s.args]
    atoms.extend(r.weight if type(r) is RowSums else r.value for r in reductions)
    return atoms


def _data_point(fn: Function, names: _Names, fnames: tuple[str, str], lengths) -> list[str]:
    """The single-point function of a function with data (see the module docstring)."""
    fname, bname = fnames
    rows, size = lengths
    first_data = data_params(fn)[0].name
    batch_args = ", ".join(p.name if p.data else f"{p.name}[None]" for p in fn.params)
    fallback = f"return {names.glob('first')}({bname}({batch_args}))"
    lines = [f"def {fname}({', '.join(names.params)}):"]
    if passes.is_complex(fn):
        return [*lines, f"    {fallback}"]
    emitter = _DataEmitter(fn, names, rows, size, batch=False)
    lines.append(f"    {rows} = {first_data}.shape[0]")
    lines.extend("    " + line for line in _unpack_lines(fn, names, emitter.used))
    lines.extend("    " + line for line in emitter.columns())
    lines.append(f"    with {names.glob('errstate')}(all='ignore'):")
    lines.append("        try:")
    lines.extend("            " + line for line in emitter.body())
    lines.append("        except (ArithmeticError, ValueError):")
    lines.append("            # math raised where IEEE gives inf/nan: redo it with NumPy")
    lines.append(f"            {fallback}")
    outputs: list[str] = []
    result = emitter.outputs(outputs)
    lines.extend("        " + line for line in outputs)
    lines.append(f"    return {result}")
    return lines


def _data_batch(fn: Function, names: _Names, fnames: tuple[str, str], lengths) -> list[str]:
    """The batch function of a function with data: a block function (every non-data
    argument batched, data shared) and ``bname``, which runs it through
    :func:`~.runtime.data_batch`."""
    bname, block = fnames
    rows, size = lengths
    emitter = _DataEmitter(fn, names, rows, size, batch=True)
    lines = [f"def {block}({', '.join(names.params)}):"]
    batched = [p for p in fn.params if not p.data]
    lines.append(f"    {size} = {batched[0].name}.shape[0]" if batched else f"    {size} = 1")
    lines.append(f"    {rows} = {data_params(fn)[0].name}.shape[0]")
    for p, prefix, idx in _read_params(fn, names, emitter.used):
        if len(p.shape) != 1:
            lines.append(f"    {p.name} = {p.name}.reshape({size}, {p.size})")
        lines.extend(f"    {prefix}{i} = {p.name}[:, {i}:{i + 1}]" for i in idx)
    lines.extend("    " + line for line in emitter.columns())
    lines.append(f"    with {names.glob('errstate')}(all='ignore'):")
    lines.extend("        " + line for line in emitter.body())
    result = emitter.outputs(lines_out := [])
    lines.extend("    " + line for line in lines_out)
    lines.append(f"    return {result}")
    data = tuple(p.data for p in fn.params)
    params = ", ".join(names.params)
    args = f"({params}{',' if len(fn.params) == 1 else ''})"
    lines.extend(["", "", f"def {bname}({params}):"])
    lines.append(f"    return {names.glob('data_batch')}({block}, {data!r}, {args})")
    return lines
