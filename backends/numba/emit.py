"""Emit the numba kernels of a flat IR function as the text of a small Python module.

The module holds

* ``<name>(*params)``: the point kernel. It checks the parameter shapes (a kernel called
  from njit code gets no other validation, and must never read past an array), unpacks
  the elements it reads into locals, evaluates the body as scalar statements and fills
  each output array once. Shape-``()`` outputs are returned as scalars and tuples of
  outputs as tuples, so the kernel is an ordinary njit function that users' own
  ``@numba.njit`` code can call with arrays in and arrays out.
* ``<name>_batch(*params)``: the same body inside a compiled loop over a leading axis.
* ``<name>_py``: the point kernel seen from Python, turning scalar outputs into NumPy
  scalars (only when there are scalar outputs; otherwise the kernel itself is used).
* for bodies of more than :data:`~symnum.backends.numba.parts.PART_SIZE` statements,
  ``<name>_part0``, ... : the body cut into njit functions of bounded size (see
  :mod:`symnum.backends.numba.parts`); large regular bodies are rerolled into loops over
  index tables instead (:mod:`symnum.backends.numba.reroll`).

Data loops (see :mod:`symnum.ir`). A data parameter is an argument of shape
``(rows, *shape)`` of the kernels, in its place among the parameters; ``rows`` is the
first data argument's ``shape[0]`` (the others must agree) and never appears in the text,
so data of any length run the same compiled code (numba compiles per type signature,
and arrays of any length share one). Each :class:`~symnum.ir.Loop` is a
``for r in range(rows):`` loop reading the elements of the current row into locals,
running its statements, folding each reduction into a scalar accumulator (started at
``0``, ``1``, ``-inf`` or ``inf``; MAX and MIN propagate NaN like ``numpy.maximum``; a
large loop of many reductions (:data:`ARRAY_REDUCTION_COST`) folds them element by
element in arrays instead, as numba's SSA passes are slow on many reassigned variables)
and writing the data outputs it stores into row ``r`` of their ``(rows, *shape)`` arrays,
allocated before the first loop (a body cut into parts never cuts a loop). The batch
kernel of a function with data parameters is a loop over the batch calling the point
kernel, with the non-data arguments indexed (their leading axis is the batch) and the
data arguments shared; without non-data parameters the batch has one element. So
``njit`` (the point kernel) takes the data arrays as ordinary arguments, in parameter
order, and ``njit_batch`` takes them unbatched.

Statements come from the Python statement table shared with the numpy backend
(:data:`symnum.backends._pysource.SCALAR`), with numba's globals merged over the shared
ones (:data:`GLOBALS`) and the few templates that differ overridden (:data:`REAL`,
:data:`COMPLEX`). What the text imports from :mod:`symnum.backends.numba.runtime`
(special functions, complex division and powers) is recorded in :attr:`Source.needs`
while emitting. Ops numba cannot express on some dtype (the special functions and
``floor``, ``max``... of complex numbers) raise
:class:`~symnum.backends.UnsupportedOpError` here, never at call time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from symnum import ir
from symnum.backends import UnsupportedOpError, _pysource
from symnum.ir import Const, Elem, Loop, Op, Output, Var, passes

from . import parts, reroll
from .parts import Parts
from .table import (
    _MODULE_NAMES,
    BATCH_OPTIONS,
    COMPLEX,
    GLOBALS,
    JIT_OPTIONS,
    REAL,
    REAL_VALUED,
    RUNTIME,
)

__all__ = ["COMPLEX", "GLOBALS", "REAL", "REAL_VALUED", "Source", "emit"]

name = "numba"

#: Names the generated module binds at top level or takes from builtins; no local may
#: shadow them.
_RESERVED = (
    "math", "cmath", "np", "numba", "_sn_scalar", "_sn_ShapeError",
    *(f"_sn_{attr}" for module, attr in GLOBALS.values() if module == RUNTIME),
    "abs", "float", "complex", "range", "ValueError",
)  # fmt: skip
_SCALAR_IMPORT = "from symnum.backends.numba import scalar as _sn_scalar"
_SHAPE_ERROR_IMPORT = "from symnum.backends.numba import ShapeError as _sn_ShapeError"
#: Runs of more values than this are stored as a tuple and a loop over it (see
#: _Emitter.tuple_stores), smaller ones element by element. numba types and lowers an
#: indexed store statement by statement: 2-3 ms of compile each (the logistic-regression
#: Hessian's 100 stores: 270 of its 650 ms); the loop is typed once. It replaced an
#: ``@overload``-ed ``fill(out, offset, values)``, whose first compile per tuple length
#: cost 150-200 ms (measured on numba 0.68.1, CPU time of a fresh process: 100 values
#: 640 ms with fill, 410 element by element, 330 as a tuple loop; 1,600 values 6.9 s,
#: 17 s, 5.9 s; the same time per call within noise).
TUPLE_STORE_THRESHOLD = 8
#: Values per tuple. CPython compiles a tuple display of more than 30 non-constant
#: values (its STACK_USE_GUIDELINE) as a list converted to a tuple, which numba 0.65 types
#: as one tuple concatenation per value, in quadratic time: storing 100 values compiled in
#: 1.09 s as one tuple, 0.33 s as tuples of 30 (numba 0.68.1: 0.30 s and 0.36 s; 256
#: values: 0.73 s and 0.66 s).
TUPLE_CHUNK = 30
#: An output with at least this many elements that are the constant 0.0 is allocated
#: with ``np.zeros`` and those elements are not stored (a 60-dimensional Rosenbrock
#: Hessian's 3,481 zeros were 116 tuples of 30, and 4 s of its 7.5 s numba build).
ZERO_FILL_ABOVE = 64
#: A loop of more than ARRAY_REDUCTIONS reductions whose reductions x body statements
#: exceed ARRAY_REDUCTION_COST folds them in arrays (see _array_reductions): numba's SSA
#: passes take time proportional to that product (569 reductions of a 3,700-statement
#: body: 44 s). Smaller loops keep scalar accumulators, faster per row (the 69 of the
#: Gaussian mixture's Hessian: 6.9 us a call for 40 rows, 9.9 us in arrays).
ARRAY_REDUCTIONS = 16
ARRAY_REDUCTION_COST = 100_000
#: Kernel names are kept at most this long: numba names its cache files after them, and
#: a file name has at most 255 bytes.
MAX_NAME = 64


@dataclass(frozen=True)
class Source:
    """What :func:`emit` produces: the module text and what :func:`build` needs to
    turn it into a kernel, recorded while emitting. Plain data, so it pickles by value."""

    text: str
    name: str
    #: runtime functions the text imports (their aliases)
    needs: tuple[str, ...] = ()
    #: the functions of the text, with their line ranges
    parts: tuple[_pysource.Part, ...] = ()
    #: for each parameter, (shape, dtype): what an exact call passes
    params: tuple[tuple[tuple[int, ...], str], ...] = ()
    #: the outputs' nesting, each leaf True for a shape-() output (not a data output)
    scalars: object = ()
    #: positions of the data parameters (their arguments have a leading axis of rows)
    data: tuple[int, ...] = ()

    @property
    def point_name(self) -> str:
        return self.name

    @property
    def batch_name(self) -> str:
        return f"{self.name}_batch"

    @property
    def python_name(self) -> str:
        return f"{self.name}_py"

    @property
    def has_python_wrapper(self) -> bool:
        return any(part.name == self.python_name for part in self.parts)


class _Names:
    """Deterministic, collision-free names."""

    def __init__(self, reserved):
        self.used = set(reserved)

    def take(self, wanted: str) -> str:
        candidate = wanted
        while candidate in self.used:
            candidate += "_"
        self.used.add(candidate)
        return candidate


def _kernel_name(wanted: str) -> str:
    """``wanted``, or for a very long name a prefix of it plus a digest of the whole."""
    if len(wanted) <= MAX_NAME:
        return wanted
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:12]
    return f"{wanted[: MAX_NAME - 13]}_{digest}"


def _index(shape: tuple[int, ...], flat: int, lead: str | None = None) -> str:
    """``[i, j]``-style subscript of element ``flat`` (C order) of an array of
    ``shape``, after an optional leading batch index ``lead``."""
    digits = []
    for extent in reversed(shape):
        digits.append(str(flat % extent))
        flat //= extent
    parts = ([lead] if lead is not None else []) + digits[::-1]
    return "[" + ", ".join(parts) + "]" if parts else "[()]"


def _unravel(shape, flat: str, lead: str | None = None) -> str:
    """The subscript of the element at flat index ``flat`` (an expression) of an array
    of ``shape`` (C order; ``None``: a flat array), after an optional leading index."""
    if shape is None or len(shape) <= 1:
        digits = [flat]
    else:
        digits = []
        stride = 1
        for extent in reversed(shape):
            if stride == 1:
                digits.append(f"({flat}) % {extent}")
            elif len(digits) == len(shape) - 1:
                digits.append(f"({flat}) // {stride}")
            else:
                digits.append(f"({flat}) // {stride} % {extent}")
            stride *= extent
        digits.reverse()
    return "[" + ", ".join(([lead] if lead is not None else []) + digits) + "]"


def _subscript(shape, flat: int, lead: str | None = None) -> str:
    """The constant subscript of element ``flat`` of an array of ``shape`` (``None``: a
    flat array), after an optional leading index."""
    if shape is None:
        return _unravel(None, str(flat), lead)
    return _index(shape, flat, lead)


def _render_tree(tree, values) -> str:
    if isinstance(tree, tuple):
        items = [_render_tree(sub, values) for sub in tree]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return next(values)


def _scalars(tree):
    if isinstance(tree, tuple):
        return tuple(_scalars(sub) for sub in tree)
    return tree.shape == () and not tree.data


class _Emitter(Parts):
    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.needs: set[str] = set()
        self.imports: set[str] = set()
        # the kernels are module globals: a function called "np" must not shadow numpy
        self.kname = _Names(_RESERVED).take(_kernel_name(fn.name))
        self.leaves = list(ir.iter_outputs(fn.outputs))
        for leaf in self.leaves:
            if not isinstance(leaf, Output):
                msg = "the numba backend compiles flat functions: apply ir.split_closures"
                raise ir.IRError(msg)
        self.data = {p.name for p in fn.params if p.data}
        # units of work: a statement, an output element, or a whole loop (weighted by
        # its size; a loop is never cut, see _chunks)
        self.units = [("stmt", k) for k in range(len(fn.body))]
        # outputs allocated zero-filled, their zeros not stored (see ZERO_FILL_ABOVE)
        self.zero_filled = {
            k for k, leaf in enumerate(self.leaves) if passes.zero_filled(leaf, ZERO_FILL_ABOVE)
        }
        self.units += [
            ("store", k, flat)
            for k, leaf in enumerate(self.leaves)
            if not leaf.data
            for flat in range(leaf.size)
            if not (k in self.zero_filled and passes.is_plus_zero(leaf.atoms[flat]))
        ]
        self.dtypes = passes.dtypes(fn)
        self.param_dtypes = passes.param_dtypes(fn)
        # long sums and products cut into partial results: (statement, j) -> variable id
        self.partial_var: dict[tuple[int, int], int] = {}
        self.chunks = []
        # large regular bodies: loops over index tables (see .reroll), never parts
        self.reroll = reroll.plan(fn, self._literal)
        if self.reroll is None and sum(self._weight(unit) for unit in self.units) > parts.PART_SIZE:
            self.units = self._schedule(self._split_variadic(self.units))
            self.chunks = self._chunks()
        self.nparts = len(self.chunks)
        kernels = (
            self.kname,
            *(f"{self.kname}_{k}" for k in ("batch", "py")),
            *(f"{self.kname}_part{k}" for k in range(self.nparts)),
        )
        self.names = _Names((*_RESERVED, *kernels))
        self.arg = {p.name: self.names.take(p.name) for p in fn.params}
        self.complex_vars = {k for k, d in self.dtypes.items() if d == passes.COMPLEX128}
        self.var: dict[int, str] = {}
        self.elem: dict[tuple[str, int], str] = {}
        self.globals: dict[str, str] = {}
        # loop variables of the batch kernel
        self.i = self.names.take("i")
        self.n = self.names.take("n")
        # the index of tuple_stores' loops (one name for all: each loop assigns it)
        self.k = self.names.take("k")
        self.tuples = 0
        # module-level tables (rerolled bodies, see .reroll), each text once
        self.table_lines: list[str] = []
        self.tables: dict[str, str] = {}
        for stmt in fn.body:
            for s in stmt.body if type(stmt) is Loop else (stmt,):
                for atom in s.args:
                    self._register(atom)
                self.var[s.target] = self.names.take(f"t{s.target}")
            for r in stmt.reductions if type(stmt) is Loop else ():
                self._register(r.value)
                self.var[r.target] = self.names.take(f"t{r.target}")
        for leaf in self.leaves:
            for atom in leaf.atoms:
                self._register(atom)
        self._name_partials()
        # shape-() outputs need an array only in the batch kernel
        self.out = [self.names.take(f"out{k}") for k in range(len(self.leaves))]
        self.scratch = self.names.take("w")
        self.scratch_complex = self.names.take("wc")
        # name element locals in parameter order, then index order
        order = {p.name: k for k, p in enumerate(fn.params)}
        self.elem_order = sorted(self.elem, key=lambda key: (order[key[0]], key[1]))
        for param, index in self.elem_order:
            self.elem[(param, index)] = self.names.take(f"{self.arg[param]}_{index}")
        # loops: the row index and the number of rows
        self.r = self.names.take("r") if self.data else None
        self.rows = self.names.take("rows") if self.data else None

    def _register(self, atom) -> None:
        if isinstance(atom, Elem) and (atom.param, atom.index) not in self.elem:
            self.elem[(atom.param, atom.index)] = ""

    # globals -------------------------------------------------------------------------

    def glob(self, key: str) -> str:
        """How the text names global ``key`` (recording the import it needs)."""
        text = self.globals.get(key)
        if text is None:
            module, attr = GLOBALS[key]
            if module is None:
                text = attr
            elif module in _MODULE_NAMES:
                prefix = _MODULE_NAMES[module]
                text = prefix if attr is None else f"{prefix}.{attr}"
            else:
                text = f"_sn_{attr}"
                self.imports.add(f"from {module} import {attr} as {text}")
                self.needs.add(text)
            self.globals[key] = text
        return text

    def render(self, template: str, args: list[str]) -> str:
        fields = {f: self.glob(f) for f in _pysource.fields(template) if not f.isdigit()}
        return template.format(*args, **fields)

    # atoms ---------------------------------------------------------------------------

    def atom(self, atom) -> str:
        if isinstance(atom, Var):
            return self.var[atom.id]
        if isinstance(atom, Elem):
            return self.elem[(atom.param, atom.index)]
        value = atom.value
        if isinstance(value, complex):
            real, imag = (self._float(v) for v in (value.real, value.imag))
            return f"complex({real}, {imag})"
        return self._float(value)

    def _float(self, value: float) -> str:
        return _pysource.float_literal(value, self.glob("inf"), self.glob("nan"))

    def is_complex(self, atom) -> bool:
        return passes.atom_dtype(atom, self.dtypes, self.param_dtypes) == passes.COMPLEX128

    # statements ----------------------------------------------------------------------

    def statement(self, stmt: ir.Assign) -> list[str]:
        has_complex = any(self.is_complex(a) for a in stmt.args)
        if stmt.op is Op.SELECT:
            # the condition only needs to compare with zero, which complex supports
            has_complex = any(self.is_complex(a) for a in stmt.args[1:])
        template = (COMPLEX if has_complex else REAL)[stmt.op]
        if stmt.op is Op.POW and self._small_power(stmt.args[1]):
            template = REAL[Op.POW]  # x ** 3 is right for complex x too
        if template is None:
            raise UnsupportedOpError(stmt.op, name, "numba has no version for complex arguments")
        args = [self.atom(a) for a in stmt.args]
        if stmt.op is Op.POW:
            args[1] = self._exponent(stmt.args[1])
        elif stmt.op is Op.POLYGAMMA:
            args[0] = self._order(stmt.args[0])
        target = self.var[stmt.target]
        if stmt.op in _pysource.VARIADIC:
            return _pysource.variadic_lines(target, template, args, parts.VARIADIC_CHUNK)
        return [f"{target} = {self.render(template, args)}"]

    def loop(self, loop: Loop) -> list[str]:
        """A :class:`~symnum.ir.Loop` as a ``for`` loop over the rows (``rows`` must be
        defined before): reductions are scalar accumulators, data outputs are written
        one row at a time into their ``(rows, *shape)`` arrays."""
        r = self.r
        inner = [f"    {line}" for line in self._unpack_row(loop)]
        for stmt in loop.body:
            inner += [f"    {line}" for line in self.statement(stmt)]
        count = len(loop.reductions)
        if count > ARRAY_REDUCTIONS and count * len(loop.body) > ARRAY_REDUCTION_COST:
            init, fold, after = self._array_reductions(loop)
            inner += fold
            for position in loop.stores:
                inner += [f"    {line}" for line in self._store_row(position)]
            return [*init, f"for {r} in range({self.rows}):", *inner, *after]
        init = []
        for red in loop.reductions:
            target, value = self.var[red.target], self.atom(red.value)
            cplx = self.is_complex(red.value)
            if cplx and red.op in (Op.MAX, Op.MIN):
                raise UnsupportedOpError(red.op, name, "no complex maximum or minimum")
            start = ir.REDUCTIONS[red.op]
            init.append(f"{target} = {self.atom(Const(complex(start) if cplx else start))}")
            if red.op in _pysource.VARIADIC:
                update = REAL[red.op].join((target, value))
            else:
                update = self.render(REAL[red.op], [target, value])
            inner.append(f"    {target} = {update}")
        for position in loop.stores:
            inner += [f"    {line}" for line in self._store_row(position)]
        return [*init, f"for {r} in range({self.rows}):", *(inner or ["    pass"])]

    def _array_reductions(self, loop: Loop) -> tuple[list[str], list[str], list[str]]:
        """The reductions of ``loop`` folded in arrays, one per (op, dtype): each row
        makes tuples of its values and a loop over each folds them in. numba's SSA
        passes take time proportional to (variables assigned more than once) x
        (statements), so hundreds of scalar accumulators make a large loop compile for
        minutes. The fold is the scalar one (same order, same start), element by element.
        Returns the lines before the loop, the lines ending its body (indented) and the
        lines after it (the reductions' variables read back)."""
        groups: dict[tuple[Op, bool], list] = {}
        for red in loop.reductions:
            cplx = self.is_complex(red.value)
            if cplx and red.op in (Op.MAX, Op.MIN):
                raise UnsupportedOpError(red.op, name, "no complex maximum or minimum")
            groups.setdefault((red.op, cplx), []).append(red)
        init, fold, after = [], [], []
        k = self.k
        for (op, cplx), reds in groups.items():
            acc = self.names.take("acc")
            a, b = self.names.take("a"), self.names.take("b")
            start = ir.REDUCTIONS[op]
            dtype = "np.complex128" if cplx else "np.float64"
            value = self.atom(Const(complex(start) if cplx else start))
            init.append(f"{acc} = np.full({len(reds)}, {value}, {dtype})")
            if op in _pysource.VARIADIC:
                update = REAL[op].join((a, b))
            else:
                update = self.render(REAL[op], [a, b])
            for first in range(0, len(reds), TUPLE_CHUNK):
                chunk = reds[first : first + TUPLE_CHUNK]
                tup = self.names.take(f"v{self.tuples}")
                self.tuples += 1
                texts = ", ".join(
                    f"complex({self.atom(red.value)})"
                    if cplx and not self.is_complex(red.value)
                    else self.atom(red.value)
                    for red in chunk
                )
                position = f"{first} + {k}" if first else k
                fold += [
                    f"    {tup} = ({texts},)",
                    f"    for {k} in range({len(chunk)}):",
                    f"        {a} = {acc}[{position}]",
                    f"        {b} = {tup}[{k}]",
                    f"        {acc}[{position}] = {update}",
                ]
            after += [f"{self.var[red.target]} = {acc}[{j}]" for j, red in enumerate(reds)]
        return init, fold, after

    def _unpack_row(self, loop: Loop) -> list[str]:
        """The elements of the data parameters ``loop`` reads, for the current row."""
        wanted = set()
        atoms = [a for stmt in loop.body for a in stmt.args]
        atoms += [red.value for red in loop.reductions]
        atoms += [a for position in loop.stores for a in self.leaves[position].atoms]
        for atom in atoms:
            if isinstance(atom, Elem) and atom.param in self.data:
                wanted.add((atom.param, atom.index))
        params = {p.name: p for p in self.fn.params}
        lines = []
        for param, index in self.elem_order:
            if (param, index) in wanted:
                sub = _index(params[param].shape, index, self.r)
                lines.append(f"{self.elem[(param, index)]} = {self.arg[param]}{sub}")
        return lines

    def _store_row(self, position: int) -> list[str]:
        """The stores of the current row of data output ``position``."""
        leaf, out = self.leaves[position], self.out[position]
        values = list(enumerate(leaf.atoms))
        return self.tuple_stores(
            out, leaf.shape, values, lead=self.r, widen=leaf.dtype == "complex128"
        )

    @staticmethod
    def _small_power(atom) -> bool:
        # A small non-negative integer power compiles to multiplications; a negative
        # one stays a float power, as numba's integer power raises ZeroDivisionError
        # on a zero base instead of returning inf.
        return (
            isinstance(atom, Const)
            and isinstance(atom.value, float)
            and atom.value.is_integer()
            and 0 <= atom.value <= 64
        )

    def _exponent(self, atom) -> str:
        return str(int(atom.value)) if self._small_power(atom) else self.atom(atom)

    @staticmethod
    def _order(atom) -> str:
        value = atom.value if isinstance(atom, Const) else None
        if not (isinstance(value, float) and value.is_integer() and value >= 0):
            raise UnsupportedOpError(
                Op.POLYGAMMA, name, "the order must be a constant non-negative integer"
            )
        return str(int(value))

    def _literal(self, stmt: ir.Assign, atom) -> str | None:
        """How :func:`.reroll.plan` sees an operand rendered as a literal: a small
        integer exponent, a polygamma order; ``None`` for an ordinary operand."""
        if stmt.op is Op.POW:
            return self._exponent(atom) if self._small_power(atom) else None
        return self._order(atom)

    # whole function ------------------------------------------------------------------

    def emit(self) -> Source:
        fn = self.fn
        body = [self.loop(stmt) if type(stmt) is Loop else self.statement(stmt) for stmt in fn.body]
        module = _pysource.Lines()
        module.add([])  # the header, once every import is known
        # the kernels first, then the module-level tables they made go in front of them
        blocks: list[tuple[list[str], str]] = []
        if self.reroll is not None:
            self._reroll_tables()
            point = self._point_rerolled()
            batch = self._batch_rerolled()
        elif self.nparts:
            for number, part in enumerate(self._parts(body)):
                blocks.append((part, f"{self.kname}_part{number}"))
            point = self._point_parts()
            batch = self._batch_loops() if self.data else self._batch_parts()
        else:
            flat = [line for lines in body for line in lines]
            point = self._point(flat)
            batch = self._batch_loops() if self.data else self._batch(flat)
        if self.table_lines:
            module.add(self.table_lines)
        for block, block_name in blocks:
            module.add(block, block_name)
        module.add(point, self.kname)
        module.add(batch, f"{self.kname}_batch")
        python = self._python()
        if python:
            module.add(python, f"{self.kname}_py")
        header = [
            f'"""numba kernels for {fn.name}, generated by symnum; do not edit."""',
            "",
            "import cmath",
            "import math",
            "",
            "import numba",
            "import numpy as np",
            *sorted(self.imports),
        ]
        # the header block was added empty: shift every part by its length
        shift = len(header)
        parts = tuple(_pysource.Part(p.name, p.first + shift, p.stop + shift) for p in module.parts)
        text = "\n".join([*header, *module.lines]) + "\n"
        params = tuple((tuple(p.shape), p.dtype) for p in fn.params)
        data = tuple(k for k, p in enumerate(fn.params) if p.data)
        return Source(
            text, self.kname, tuple(sorted(self.needs)), parts, params, _scalars(fn.outputs),
            data,
        )  # fmt: skip

    def _signature(self) -> str:
        return ", ".join(self.arg[p.name] for p in self.fn.params)

    def _checks(self, batch: bool, params=None) -> list[str]:
        """Shape checks: kernels called from njit code get no other validation, and
        must never read past an array. ``params``: the parameters to check (all by
        default; in a batch, the first one gives the batch size)."""
        lines = []
        params = self.fn.params if params is None else params
        for p in params:
            arg = self.arg[p.name]
            offset = 1 if batch or p.data else 0
            dims = [f"{arg}.shape[{axis + offset}]" for axis in range(len(p.shape))]
            tests = [f"{dim} != {extent}" for dim, extent in zip(dims, p.shape, strict=True)]
            if batch and p is not params[0]:
                tests.append(f"{arg}.shape[0] != {self.n}")
            if not tests:
                continue
            lines.append(f"    if {' or '.join(tests)}:")
            where = f"argument {p.name!r} of {self.fn.name}()"
            if batch and not p.data:
                shape = ", ".join(["n", *map(str, p.shape)]) + ("," if not p.shape else "")
                msg = f"{where} must have shape ({shape}) in a batch"
                lines.append(f"        raise ValueError({msg!r})")
                continue
            self.imports.add(_SHAPE_ERROR_IMPORT)
            shape = f"(n, {', '.join(map(str, p.shape))})" if p.data else str(p.shape)
            msg = f"{where} must have shape {shape}, got shape"
            lines += [
                "        raise _sn_ShapeError(",
                f"            {msg!r}, {arg}.shape",
                "        )",
            ]
        return lines

    def _unpack(self, batch: bool, indent: str, wanted=None) -> list[str]:
        lines = []
        params = {p.name: p for p in self.fn.params}
        for param, index in self.elem_order:
            if (wanted is not None and (param, index) not in wanted) or param in self.data:
                continue
            p, arg, local = params[param], self.arg[param], self.elem[(param, index)]
            if not batch and not p.shape:
                # a 0-d array or, from njit code, a plain number
                self.imports.add(_SCALAR_IMPORT)
                lines.append(f"{indent}{local} = _sn_scalar({arg})")
            else:
                sub = _index(p.shape, index, self.i if batch else None)
                lines.append(f"{indent}{local} = {arg}{sub}")
        return lines

    def _alloc(self, batch: bool, flat: bool = False) -> list[str]:
        lines = []
        for k, (leaf, out) in enumerate(zip(self.leaves, self.out, strict=True)):
            if leaf.data or (not batch and not leaf.shape and not flat):
                continue
            dims = [self.n] if batch else []
            dims += [str(leaf.size)] if flat else [str(extent) for extent in leaf.shape]
            shape = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
            dtype = "np.complex128" if leaf.dtype == "complex128" else "np.float64"
            alloc = "zeros" if k in self.zero_filled else "empty"
            lines.append(f"    {out} = np.{alloc}({shape}, {dtype})")
        return lines

    def _fill(self, batch: bool, indent: str) -> list[str]:
        lines = []
        for k, (leaf, out) in enumerate(zip(self.leaves, self.out, strict=True)):
            if leaf.data or (not batch and not leaf.shape):
                continue
            values = list(enumerate(leaf.atoms))
            if k in self.zero_filled:
                values = [(flat, atom) for flat, atom in values if not passes.is_plus_zero(atom)]
            stores = self.tuple_stores(
                out,
                leaf.shape,
                values,
                lead=self.i if batch else None,
                widen=leaf.dtype == "complex128",
            )
            lines += [indent + line for line in stores]
        return lines

    def tuple_stores(
        self, out: str, shape, values: list, *, lead: str | None = None, widen: bool = False
    ) -> list[str]:
        """Lines storing ``values``, ``(flat index, atom)`` pairs in increasing flat
        order: each run of consecutive indices as :meth:`_tuple_stores` stores it (the
        zeros of a zero-filled output are left out, see :data:`ZERO_FILL_ABOVE`)."""
        lines: list[str] = []
        run: list = []
        for flat, atom in values:
            if run and flat != run[-1][0] + 1:
                lines += self._tuple_stores(out, shape, run, lead=lead, widen=widen)
                run = []
            run.append((flat, atom))
        if run:
            lines += self._tuple_stores(out, shape, run, lead=lead, widen=widen)
        return lines

    def _tuple_stores(
        self, out: str, shape, values: list, *, lead: str | None = None, widen: bool = False
    ) -> list[str]:
        """Lines storing ``values``, ``(flat index, atom)`` pairs with contiguous flat
        indices in order, into the array ``out`` of ``shape`` (C order; ``None``: a flat
        array), after a leading index ``lead`` when given. At most
        :data:`TUPLE_STORE_THRESHOLD` values are stored one statement each; more become
        tuples of :data:`TUPLE_CHUNK` values and a loop storing their elements, the
        indices unravelled from the flat one by constant divisions. A tuple has one type:
        with ``widen`` (a complex array) real values are made complex."""
        if len(values) <= TUPLE_STORE_THRESHOLD:
            return [
                f"{out}{_subscript(shape, flat, lead)} = {self.atom(atom)}" for flat, atom in values
            ]
        lines = []
        k = self.k
        for start in range(0, len(values), TUPLE_CHUNK):
            chunk = values[start : start + TUPLE_CHUNK]
            tup = self.names.take(f"v{self.tuples}")
            self.tuples += 1
            texts = ", ".join(
                f"complex({self.atom(a)})" if widen and not self.is_complex(a) else self.atom(a)
                for _, a in chunk
            )
            flat = f"{chunk[0][0]} + {k}" if chunk[0][0] else k
            lines += [
                f"{tup} = ({texts},)",
                f"for {k} in range({len(chunk)}):",
                f"    {out}{_unravel(shape, flat, lead)} = {tup}[{k}]",
            ]
        return lines

    def _result(self, batch: bool) -> str:
        def value(leaf, out):
            if batch or leaf.shape or leaf.data:
                return out
            return self.atom(leaf.atoms[0])

        values = iter(value(leaf, out) for leaf, out in zip(self.leaves, self.out, strict=True))
        return _render_tree(self.fn.outputs, values)

    def _point(self, body: list[str]) -> list[str]:
        lines = [f"@numba.njit({JIT_OPTIONS})", f"def {self.kname}({self._signature()}):"]
        lines += self._checks(batch=False)
        lines += self._rows()
        lines += self._unpack(batch=False, indent="    ")
        lines += ["    " + line for line in body]
        lines += self._alloc(batch=False)
        lines += self._fill(batch=False, indent="    ")
        lines.append(f"    return {self._result(batch=False)}")
        return lines

    def _rows(self) -> list[str]:
        """For a function with data parameters: ``rows``, the number of rows of the data
        arguments (the first one's; the others must agree), and the data outputs'
        arrays of ``(rows, *shape)``; nothing otherwise."""
        if not self.data:
            return []
        data = [p for p in self.fn.params if p.data]
        lines = [f"    {self.rows} = {self.arg[data[0].name]}.shape[0]"]
        if len(data) > 1:
            tests = " or ".join(f"{self.arg[p.name]}.shape[0] != {self.rows}" for p in data[1:])
            msg = f"the data arguments of {self.fn.name}() must have the same number of rows"
            lines += [f"    if {tests}:", f"        raise ValueError({msg!r})"]
        for leaf, out in zip(self.leaves, self.out, strict=True):
            if leaf.data:
                dtype = "np.complex128" if leaf.dtype == "complex128" else "np.float64"
                shape = _shape_text((self.rows, *leaf.shape))
                lines.append(f"    {out} = np.empty({shape}, {dtype})")
        return lines

    def _batch_loops(self) -> list[str]:
        """The batch kernel of a function with data parameters: a loop over the batch calling the
        point kernel, with the non-data arguments indexed and the data ones shared.
        Without non-data parameters the batch has one element."""
        fn = self.fn
        lines = [f"@numba.njit({BATCH_OPTIONS})", f"def {self.kname}_batch({self._signature()}):"]
        batched = [p for p in fn.params if not p.data]
        first = self.arg[batched[0].name] if batched else None
        lines.append(f"    {self.n} = {first}.shape[0]" if first else f"    {self.n} = 1")
        lines += self._checks(batch=True, params=batched)
        data = [p for p in fn.params if p.data]
        lines.append(f"    {self.rows} = {self.arg[data[0].name]}.shape[0]")
        for leaf, out in zip(self.leaves, self.out, strict=True):
            dims = (self.n, self.rows, *leaf.shape) if leaf.data else (self.n, *leaf.shape)
            dtype = "np.complex128" if leaf.dtype == "complex128" else "np.float64"
            lines.append(f"    {out} = np.empty({_shape_text(dims)}, {dtype})")
        results = [self.names.take(f"res{k}") for k in range(len(self.leaves))]
        args = ", ".join(
            self.arg[p.name] if p.data else f"{self.arg[p.name]}[{self.i}]" for p in fn.params
        )
        target = _render_tree(fn.outputs, iter(results))
        lines.append(f"    for {self.i} in range({self.n}):")
        lines.append(f"        {target} = {self.kname}({args})")
        k = self.names.take("k")
        for leaf, out, res in zip(self.leaves, self.out, results, strict=True):
            if not (leaf.shape or leaf.data):
                lines.append(f"        {out}[{self.i}] = {res}")
                continue
            # an element loop: numba's array assignment (out[i] = res) compiles slowly
            src, dst = self.names.take(f"{res}_flat"), self.names.take(f"{out}_flat")
            lines += [
                f"        {src} = {res}.reshape(-1)",
                f"        {dst} = {out}[{self.i}].reshape(-1)",
                f"        for {k} in range({src}.shape[0]):",
                f"            {dst}[{k}] = {src}[{k}]",
            ]
        lines.append(f"    return {_render_tree(fn.outputs, iter(self.out))}")
        return lines

    def _batch_head(self) -> list[str]:
        """The first lines of a batch kernel (no data): its definition, the batch size
        ``n`` (the first argument's leading extent) and the shape checks."""
        params = self.fn.params
        lines = [f"@numba.njit({BATCH_OPTIONS})", f"def {self.kname}_batch({self._signature()}):"]
        first = self.arg[params[0].name] if params else None
        lines.append(f"    {self.n} = {first}.shape[0]" if first else f"    {self.n} = 1")
        return lines + self._checks(batch=True)

    def _flat_result(self, batch: bool) -> str:
        """The output tree of a kernel writing into flat output arrays (parts, rerolled
        bodies): each reshaped to its output's shape (with ``n`` in front in a batch),
        a shape-``()`` one of a point read out."""

        def value(leaf, out):
            if leaf.data:
                return out
            if batch:
                return f"{out}.reshape({_shape_text((self.n, *leaf.shape))})"
            return f"{out}.reshape({_shape_text(leaf.shape)})" if leaf.shape else f"{out}[0]"

        values = iter(value(leaf, out) for leaf, out in zip(self.leaves, self.out, strict=True))
        return _render_tree(self.fn.outputs, values)

    def _batch(self, body: list[str]) -> list[str]:
        lines = self._batch_head()
        lines += self._alloc(batch=True)
        lines.append(f"    for {self.i} in range({self.n}):")
        inner = self._unpack(batch=True, indent="        ")
        inner += ["        " + line for line in body]
        inner += self._fill(batch=True, indent="        ")
        lines += inner or ["        pass"]
        lines.append(f"    return {self._result(batch=True)}")
        return lines

    # large regular bodies: rerolled ------------------------------------------------

    def _table(self, name: str, values, dtype: str = "np.intp") -> str:
        """A module-level constant array (numba freezes global arrays into the compiled
        code) named after ``name``; its definition goes to :attr:`table_lines`."""
        if dtype == "np.float64":
            items = ", ".join(self._float(v) for v in values)
        else:
            items = ", ".join(str(v) for v in values)
        text = f"np.array(({items},), {dtype})"
        known = self.tables.get(text)  # the point and batch kernels share their tables
        if known is None:
            known = self.tables[text] = self.names.take(name)
            self.table_lines.append(f"{known} = {text}")
        return known

    def _group_tables(self, prefix: str, plan) -> list:
        """The tables of ``plan``'s groups: per group ``None`` (a group of one, emitted
        with its indices) or a dict of names: ``"t"`` the targets, ``"sum"`` a 2-D table
        of a long sum's operands, ``j`` the tables of operand ``j`` (one per dimension
        for an element)."""
        params = {p.name: p for p in self.fn.params}
        names = []
        for g, group in enumerate(plan.groups):
            if len(group) == 1 and not self._summed(group):
                names.append(None)
                continue
            entry = {"t": self._table(f"{prefix}{g}_t", group.targets)}
            if self._summed(group):
                rows = ", ".join(
                    f"({', '.join(map(str, col))})" for col in zip(*group.tables, strict=True)
                )
                entry["sum"] = self.names.take(f"{prefix}{g}_s")
                self.table_lines.append(f"{entry['sum']} = np.array(({rows},), np.intp)")
            for j, (kind, values) in enumerate(zip(group.kinds, group.tables, strict=True)):
                if "sum" in entry or kind[0] == "literal":
                    continue
                if kind[0] == "elem":
                    shape = params[kind[1]].shape
                    cols = zip(*(np.unravel_index(v, shape) for v in values), strict=True)
                    entry[j] = [
                        self._table(f"{prefix}{g}_{j}_{d}", map(int, col))
                        for d, col in enumerate(cols)
                    ]
                else:
                    dtype = "np.float64" if kind[0] == "const" else "np.intp"
                    entry[j] = [self._table(f"{prefix}{g}_{j}", values, dtype)]
            names.append(entry)
        return names

    def _reroll_tables(self) -> None:
        """The tables of the rerolled function body and of its output stores, and the
        names of its loops' indices and accumulator."""
        self.q, self.j, self.acc = (self.names.take(k) for k in ("q", "j", "acc"))
        self.reroll_names = self._group_tables("_rr", self.reroll)
        self.reroll_stores = []
        for k, leaf in enumerate(self.leaves):
            skip = passes.is_plus_zero if k in self.zero_filled else None
            computed, constants, elements = reroll.output_sources(
                leaf.atoms, self.reroll.slots, skip
            )
            stores = []
            if len(computed) > TUPLE_STORE_THRESHOLD:
                positions, slots = zip(*computed, strict=True)
                positions = self._table(f"_ro{k}_p", positions)
                stores.append(("loop", positions, self._table(f"_ro{k}_w", slots)))
            else:
                stores += [
                    ("one", position, f"{self.scratch}[{slot}]") for position, slot in computed
                ]
            if len(constants) > TUPLE_STORE_THRESHOLD:  # a Hessian's thousands of zeros
                positions, values = zip(*constants, strict=True)
                positions = self._table(f"_rc{k}_p", positions)
                values = self._table(f"_rc{k}_v", values, "np.float64")
                stores.append(("constants", positions, values))
            else:
                stores += [("one", position, self._float(value)) for position, value in constants]
            stores += [("elem", position, source) for position, source in elements]
            self.reroll_stores.append(stores)

    @staticmethod
    def _summed(group) -> bool:
        """Whether ``group`` is a long sum or product of variables, emitted as an inner
        loop over a two-dimensional table (left to right, as the expression adds)."""
        return (
            group.op in _pysource.VARIADIC
            and len(group.kinds) > TUPLE_STORE_THRESHOLD
            and all(kind[0] == "var" for kind in group.kinds)
        )

    def _reroll_operand(self, kind, table, value, lead: str | None) -> str:
        """Operand of ``kind``: through the index ``table`` (a list of names, indexed by
        the group's loop index) or, without one, the entry ``value`` itself."""
        q = self.q
        if kind[0] == "literal":
            return kind[1]
        if kind[0] == "elem":
            shape = next(p.shape for p in self.fn.params if p.name == kind[1])
            if table is None:
                return f"{self.arg[kind[1]]}{_subscript(shape, value, lead)}"
            index = ([lead] if lead else []) + [f"{column}[{q}]" for column in table]
            return f"{self.arg[kind[1]]}[{', '.join(index)}]"
        if kind[0] == "const":
            return self._float(value) if table is None else f"{table[0]}[{q}]"
        w = self.scratch
        return f"{w}[{value}]" if table is None else f"{w}[{table[0]}[{q}]]"

    def _reroll_groups(self, lead: str | None) -> list[str]:
        """The loops computing the groups of the rerolled body into the scratch vector
        (elements read after the batch index ``lead``)."""
        lines = []
        q, w = self.q, self.scratch
        for group, entry in zip(self.reroll.groups, self.reroll_names, strict=True):
            template = REAL[group.op]
            if entry is not None and "sum" in entry:
                sep, table, acc = template.strip(), entry["sum"], self.acc
                lines += [
                    f"for {q} in range({len(group)}):",
                    f"    {acc} = {w}[{table}[{q}, 0]]",
                    f"    for {self.j} in range(1, {len(group.kinds)}):",
                    f"        {acc} = {acc} {sep} {w}[{table}[{q}, {self.j}]]",
                    f"    {w}[{entry['t']}[{q}]] = {acc}",
                ]
                continue
            args = []
            for j, kind in enumerate(group.kinds):
                if entry is None:  # a group of one: its own indices
                    value = None if kind[0] == "literal" else group.tables[j][0]
                    args.append(self._reroll_operand(kind, None, value, lead))
                else:
                    args.append(self._reroll_operand(kind, entry.get(j), None, lead))
            if group.op in _pysource.VARIADIC:
                value = template.join(args)
            else:
                value = self.render(template, args)
            if entry is None:
                lines.append(f"{w}[{group.targets[0]}] = {value}")
            else:
                lines += [
                    f"for {q} in range({len(group)}):",
                    f"    {w}[{entry['t']}[{q}]] = {value}",
                ]
        return lines

    def _reroll_body(self, indent: str, lead: str | None) -> list[str]:
        """The rerolled function body and the stores into the flat output arrays
        (``out[lead, position]`` in a batch)."""
        w, q = self.scratch, self.q
        lines = self._reroll_groups(lead)
        params = {p.name: p for p in self.fn.params}
        at = f"{lead}, " if lead else ""
        for out, stores in zip(self.out, self.reroll_stores, strict=True):
            for kind, position, source in stores:
                if kind in ("loop", "constants"):
                    value = f"{w}[{source}[{q}]]" if kind == "loop" else f"{source}[{q}]"
                    lines += [
                        f"for {q} in range({position}.shape[0]):",
                        f"    {out}[{at}{position}[{q}]] = {value}",
                    ]
                elif kind == "elem":
                    param, flat = source
                    element = f"{self.arg[param]}{_subscript(params[param].shape, flat, lead)}"
                    lines.append(f"{out}[{at}{position}] = {element}")
                else:
                    lines.append(f"{out}[{at}{position}] = {source}")
        return [indent + line for line in lines]

    def _point_rerolled(self) -> list[str]:
        lines = [f"@numba.njit({JIT_OPTIONS})", f"def {self.kname}({self._signature()}):"]
        lines += self._checks(batch=False)
        lines.append(f"    {self.scratch} = np.empty({max(self.reroll.nslots, 1)}, np.float64)")
        lines += self._alloc(batch=False, flat=True)
        lines += self._reroll_body("    ", None)
        lines.append(f"    return {self._flat_result(batch=False)}")
        return lines

    def _batch_rerolled(self) -> list[str]:
        lines = self._batch_head()
        lines.append(f"    {self.scratch} = np.empty({max(self.reroll.nslots, 1)}, np.float64)")
        lines += self._alloc(batch=True, flat=True)
        lines.append(f"    for {self.i} in range({self.n}):")
        lines += self._reroll_body("        ", self.i)
        lines.append(f"    return {self._flat_result(batch=True)}")
        return lines

    def _python(self) -> list[str]:
        """A Python wrapper turning shape-() outputs into NumPy scalars; [] if none."""
        if all(leaf.shape or leaf.data for leaf in self.leaves):
            return []
        results = [f"r{k}" for k in range(len(self.leaves))]
        target = _render_tree(self.fn.outputs, iter(results))
        wrapped = []
        for leaf, r in zip(self.leaves, results, strict=True):
            if leaf.shape or leaf.data:
                wrapped.append(r)
            else:
                scalar = "np.complex128" if leaf.dtype == "complex128" else "np.float64"
                wrapped.append(f"{scalar}({r})")
        value = _render_tree(self.fn.outputs, iter(wrapped))
        sig = self._signature()
        return [
            f"def {self.kname}_py({sig}):",
            f"    {target} = {self.kname}({sig})",
            f"    return {value}",
        ]


def _shape_text(dims) -> str:
    dims = [str(d) for d in dims]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def emit(fn: ir.Function) -> Source:
    """Source of the numba kernels for the flat function ``fn`` (see the module
    docstring). Deterministic: the same IR always gives the same text. Raises
    :class:`~symnum.backends.UnsupportedOpError` for an op numba cannot express."""
    ir.check(fn)
    return _Emitter(fn).emit()
