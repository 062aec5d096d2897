"""Emitting C99 from the IR: kernels (:func:`emit`) and module text for the runtime.

Generated kernels take ``const double *restrict`` inputs and ``double *restrict``
outputs, flat in C order; each has a batch twin looping over points and a shape table
``<cname>_shapes`` describing its own arrays (the loader compares it with the metadata
it was given, so a stale or corrupt description is refused instead of trusted).
Literals are printed with Python's round-trip ``repr`` (always with a ``.`` or an
exponent, so never integer arithmetic). Very long bodies are split into several
functions so compilers do not spend minutes on one giant function; :class:`Source`
records the parts while emitting. Complex functions are refused at emit time.

Functions with data parameters (see :mod:`symnum.ir`) become kernels taking the number
of rows ``n`` first, ``void f(long long n, const double *restrict X, ...)``: each data
array holds ``n`` rows of its parameter's shape, one after the other (row-major), each
:class:`~symnum.ir.Loop` is a ``for`` loop over the rows with pointers to the current
row of each data array, reductions are scalar accumulators and data outputs are written
row by row into ``(n, *shape)`` buffers. The text never depends on ``n``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from symnum import ir
from symnum.backends import UnsupportedOpError
from symnum.ir import Op, passes

__all__ = ["Source", "emit"]

_HERE = Path(__file__).resolve().parent

# ----------------------------------------------------------------------------------
# emitting C

#: C keywords and names the headers of a build may declare or define
_C_KEYWORDS = frozenset(
    (
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
        "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
        "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
        "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "_Bool",
        "_Complex", "_Imaginary", "_Alignas", "_Alignof", "_Atomic", "_Generic",
        "_Noreturn", "_Static_assert", "_Thread_local", "bool", "true", "false", "nullptr",
        "alignas", "alignof", "constexpr", "static_assert", "thread_local", "typeof",
        "typeof_unqual", "asm", "fortran", "main", "NULL", "I", "complex", "imaginary",
        "errno", "stdin", "stdout", "stderr", "assert", "offsetof", "signgam", "environ",
        "alloca", "memset", "memcpy", "memmove", "malloc", "calloc", "realloc", "free",
        "abort", "exit", "printf", "fprintf", "snprintf", "sprintf", "puts", "strlen",
        "strcmp", "math_errhandling", "isnormal", "isgreater", "isgreaterequal", "isless",
        "islessequal", "islessgreater", "isunordered", "import_array", "import_umath",
        "linux", "unix", "i386", "i486", "i586", "i686", "sun", "sparc", "mips", "vax",
        "ibm032", "m68k", "mc68000", "ns32000", "pyr", "tahoe", "pdp11", "hp9000",
        "hppa", "bsd4_2", "bsd4_3", "sequent", "ultrix", "gould", "cray", "nt", "msdos",
        "win32", "apple", "sgi", "hpux", "osf", "aix", "interix"
    )
)  # fmt: skip
#: libm names a kernel body may use
_C_MATH = frozenset(
    (
        "fabs", "floor", "ceil", "sqrt", "cbrt", "exp", "exp2", "expm1", "log", "log2",
        "log10", "log1p", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh",
        "cosh", "tanh", "asinh", "acosh", "atanh", "hypot", "erf", "erfc", "lgamma",
        "tgamma", "pow", "fmax", "fmin", "fmod", "round", "trunc", "nan", "frexp", "ldexp",
        "modf", "copysign", "nextafter", "remainder", "scalbn", "j0", "j1", "jn", "y0",
        "y1", "yn", "gamma", "isnan", "isinf", "isfinite", "signbit", "fpclassify",
        "INFINITY", "NAN", "HUGE_VAL"
    )
)  # fmt: skip
_RESERVED_PREFIXES = ("_", "Py", "PY", "NPY", "npy", "symnum", "SYMNUM", "cffi")
_INTERNAL = re.compile(r"^(t\d+|out\d+|w|n|i|in|out|p|pi)$")

_FUNCS = {
    Op.ABS: "fabs", Op.FLOOR: "floor", Op.CEIL: "ceil", Op.SQRT: "sqrt", Op.CBRT: "cbrt",
    Op.EXP: "exp", Op.EXP2: "exp2", Op.EXPM1: "expm1", Op.LOG: "log", Op.LOG2: "log2",
    Op.LOG10: "log10", Op.LOG1P: "log1p", Op.SIN: "sin", Op.COS: "cos", Op.TAN: "tan",
    Op.ASIN: "asin", Op.ACOS: "acos", Op.ATAN: "atan", Op.ATAN2: "atan2", Op.SINH: "sinh",
    Op.COSH: "cosh", Op.TANH: "tanh", Op.ASINH: "asinh", Op.ACOSH: "acosh",
    Op.ATANH: "atanh", Op.HYPOT: "hypot", Op.FMOD: "fmod", Op.ERF: "erf",
    Op.ERFC: "erfc",
    Op.LGAMMA: "lgamma", Op.GAMMA: "tgamma", Op.POW: "pow",
}  # fmt: skip

#: op -> C expression template over the formatted arguments {0}, {1}, {2}.
_TEMPLATES: dict[Op, str] = {
    **{op: fn + "({0})" for op, fn in _FUNCS.items() if ir.ARITY[op] == (1, 1)},
    **{op: fn + "({0}, {1})" for op, fn in _FUNCS.items() if ir.ARITY[op] == (2, 2)},
    Op.SUB: "{0} - {1}",
    Op.DIV: "{0} / {1}",
    Op.NEG: "-{0}",
    # NaN-propagating like numpy.maximum / numpy.minimum (fmax/fmin drop NaN)
    Op.MAX: "({0} > {1} || isnan({0})) ? {0} : {1}",
    Op.MIN: "({0} < {1} || isnan({0})) ? {0} : {1}",
    Op.SIGN: "{0} > 0.0 ? 1.0 : ({0} < 0.0 ? -1.0 : ({0} == 0.0 ? 0.0 : {0}))",
    Op.DIGAMMA: "symnum_digamma({0})",
    Op.NDTRI: "symnum_ndtri({0})",
    Op.ERFINV: "symnum_erfinv({0})",
    Op.ERFCINV: "symnum_erfcinv({0})",
    Op.REAL: "{0}",
    Op.IMAG: "((void){0}, 0.0)",
    Op.CONJ: "{0}",
    Op.ISNAN: "isnan({0}) ? 1.0 : 0.0",
    Op.ISINF: "isinf({0}) ? 1.0 : 0.0",
    Op.ISFINITE: "isfinite({0}) ? 1.0 : 0.0",
    Op.LT: "{0} < {1} ? 1.0 : 0.0",
    Op.LE: "{0} <= {1} ? 1.0 : 0.0",
    Op.GT: "{0} > {1} ? 1.0 : 0.0",
    Op.GE: "{0} >= {1} ? 1.0 : 0.0",
    Op.EQ: "{0} == {1} ? 1.0 : 0.0",
    Op.NE: "{0} != {1} ? 1.0 : 0.0",
    Op.NOT: "{0} == 0.0 ? 1.0 : 0.0",
    Op.AND: "{0} != 0.0 && {1} != 0.0 ? 1.0 : 0.0",
    Op.OR: "{0} != 0.0 || {1} != 0.0 ? 1.0 : 0.0",
    Op.XOR: "({0} != 0.0) != ({1} != 0.0) ? 1.0 : 0.0",
    Op.SELECT: "{0} != 0.0 ? {1} : {2}",
}
#: op -> helpers (sections of _c_helpers.h) its template calls
_OP_NEEDS = {
    Op.DIGAMMA: ("digamma",),
    Op.POLYGAMMA: ("polygamma",),
    Op.NDTRI: ("ndtri",),
    Op.ERFINV: ("erfinv",),
    Op.ERFCINV: ("erfcinv",),
}

#: bodies longer than this are split into functions of _CHUNK statements each
#: (gcc -O2 time grows faster than linearly with function size: 15,000 statements
#: compile in ~40 s as one function, ~10 s in chunks of 500)
_SPLIT_ABOVE = 1000
_CHUNK = 500
#: work arrays larger than this many doubles go on the heap instead of the stack
_STACK_SLOTS = 2048
#: outputs with at least this many elements that are +0.0 are zero-filled by a loop and
#: only their other elements stored (a 60-dimensional Rosenbrock Hessian: 3,481 zeros)
ZERO_FILL_ABOVE = 64


def _literal(value: float) -> str:
    """A C double literal that reads back as exactly ``value``."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    text = repr(float(value))  # shortest round-trip; always has "." or "e"
    return f"({text})" if text.startswith("-") else text


def _is_reserved(cname: str) -> bool:
    return (
        cname in _C_KEYWORDS
        or cname in _C_MATH
        or cname.startswith(_RESERVED_PREFIXES)
        or bool(_INTERNAL.match(cname))
        # macros are conventionally upper case; a trailing "_" makes a name safe
        or (len(cname) > 1 and cname.isupper() and not cname.endswith("_"))
    )


#: prefix of a Python name starting with a reserved prefix (``_x``, ``Py_model``):
#: appending ``_`` would never leave the reserved set, and no reserved name starts
#: with this, so prefixed names are safe
_SAFE_PREFIX = "u_"


def _c_identifier(pyname: str, taken: set[str]) -> str:
    """``pyname`` itself if it is safe in generated C, else a safe variant: ``u_`` in
    front of names with a reserved prefix, then ``_`` appended until the name is
    neither reserved (``sin`` -> ``sin_``) nor taken. Always terminates."""
    cname = _SAFE_PREFIX + pyname if pyname.startswith(_RESERVED_PREFIXES) else pyname
    while _is_reserved(cname) or cname in taken:
        cname += "_"
    taken.add(cname)
    return cname


@functools.lru_cache(maxsize=1)
def _helper_sections() -> dict[str, tuple[tuple[str, ...], str]]:
    """name -> (dependencies, C text) of the helpers in _c_helpers.h."""
    text = (_HERE / "_c_helpers.h").read_text()
    sections: dict[str, tuple[tuple[str, ...], str]] = {}
    for chunk in text.split("\n@@ ")[1:]:
        header, _, body = chunk.partition("\n")
        key, _, deps = header.partition(":")
        sections[key.strip()] = (tuple(deps.split()), body.strip() + "\n")
    return sections


def _helpers_text(needs) -> str:
    """The C text of the helpers ``needs`` and their dependencies, in dependency order."""
    sections = _helper_sections()
    order: list[str] = []

    def visit(key):
        if key in order:
            return
        for dep in sections[key][0]:
            visit(dep)
        order.append(key)

    for key in sorted(needs):
        visit(key)
    return "".join(sections[key][1] + "\n" for key in order)


@dataclass(frozen=True)
class Source:
    """C99 for one flat IR function: a point kernel ``cname`` and ``cname_batch``.

    ``code`` is the kernels' text without the helpers they call (``needs``), so several
    sources can share one copy of each helper; :attr:`text` is a complete translation
    unit. ``params`` are ``(python name, C name, shape)``; ``outputs`` the flat output
    shapes (kernel arguments ``out0``, ``out1``, ...) and ``tree`` their nesting (leaf
    indices in nested tuples). ``parts`` names the functions a long body was split
    into (empty when it was not split). Besides the kernels, ``code`` defines the
    shape table ``<cname>_shapes``: the number of parameters, then each one's rank and
    dimensions, then the same for the outputs (what the code itself was emitted for).
    Picklable.

    Functions with data: ``data`` holds the indices of the data parameters and
    ``data_outputs`` those of the data outputs (their shapes in ``params`` and
    ``outputs`` are one row's); the kernels then take the number of rows first (see
    :meth:`prototypes`) and the shape table gives such arrays a leading dimension
    ``-1`` (:attr:`param_shapes`, :attr:`output_shapes`). ``locals`` are the names the
    code gives to what is not a parameter but must not clash with one: the batch
    twin's point count, the row index, then the row pointers (the module text shields
    them from header macros like the parameters).
    """

    name: str
    cname: str
    code: str
    needs: tuple[str, ...]
    params: tuple[tuple[str, str, tuple[int, ...]], ...]
    outputs: tuple[tuple[int, ...], ...]
    tree: object
    parts: tuple[str, ...] = ()
    data: tuple[int, ...] = ()
    data_outputs: tuple[int, ...] = ()
    locals: tuple[str, ...] = ()

    @property
    def split(self) -> bool:
        """Whether the body was split into :attr:`parts`."""
        return bool(self.parts)

    @property
    def looped(self) -> bool:
        """Whether the function has data parameters (its kernels take ``n``)."""
        return bool(self.data)

    @property
    def param_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The parameters' full shapes, ``-1`` standing for ``n`` in front of data."""
        return tuple(
            (-1, *s) if i in self.data else tuple(s) for i, (_, _, s) in enumerate(self.params)
        )

    @property
    def output_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The outputs' full shapes, ``-1`` standing for ``n`` in front of data."""
        return tuple(
            (-1, *s) if k in self.data_outputs else tuple(s) for k, s in enumerate(self.outputs)
        )

    @property
    def batch_count(self) -> str:
        """The C name of the batch twin's point count (``n`` unless :attr:`looped`,
        where ``n`` counts the rows)."""
        return self.locals[0] if self.looped else "n"

    def prototypes(self) -> tuple[str, str]:
        """The C declarations (no ``;``) of the point kernel and of its batch twin."""
        params = [f"const double *{c}" for _, c, _ in self.params]
        outs = [f"double *out{k}" for k in range(len(self.outputs))]
        rows = ["long long n"] if self.looped else []
        point = ", ".join([*rows, *params, *outs]) or "void"
        batch = ", ".join([f"long long {self.batch_count}", *rows, *params, *outs])
        return f"void {self.cname}({point})", f"void {self.cname}_batch({batch})"

    @property
    def shapes_name(self) -> str:
        """The C name of the shape table."""
        return f"{self.cname}_shapes"

    @property
    def globals(self) -> tuple[str, ...]:
        """Every name ``code`` defines at file scope."""
        return (self.cname, f"{self.cname}_batch", *self.parts, self.shapes_name)

    @property
    def headers(self) -> tuple[str, ...]:
        return ("math.h", "stdlib.h") if "malloc" in self.needs else ("math.h",)

    @property
    def text(self) -> str:
        includes = "".join(f"#include <{h}>\n" for h in self.headers)
        helpers = _helpers_text([n for n in self.needs if n != "malloc"])
        return includes + "\n" + helpers + self.code

    def __str__(self) -> str:
        return self.text


def _refuse_complex(fn: ir.Function) -> None:
    """Raise for the first of :func:`symnum.ir.passes.complex_causes`, if any."""
    detail = (
        "the C backend does not support complex numbers; use backend='numpy' for complex functions"
    )
    for kind, node in passes.complex_causes(fn):
        if kind == "parameter":
            raise UnsupportedOpError(f"complex parameter {node.name!r}", "c", detail)
        if kind == "output":
            raise UnsupportedOpError("complex output", "c", detail)
        what = node.op if isinstance(node, ir.Assign) else "complex constant"
        raise UnsupportedOpError(what, "c", detail)


def _tree_indices(tree, counter) -> object:
    if isinstance(tree, tuple):
        return tuple(_tree_indices(sub, counter) for sub in tree)
    index = counter[0]
    counter[0] += 1
    return index


class _Emitter:
    """Emits one flat function; ``needs`` collects the helpers used while emitting."""

    def __init__(self, fn: ir.Function, cname: str):
        self.fn = fn
        self.cname = cname
        self.needs: set[str] = set()
        self.parts: list[str] = []  # the functions a split body went into
        # A parameter may not share a name with the kernel, its batch twin or its split
        # parts: inside them it would shadow the function being called.
        own = re.compile(rf"{re.escape(cname)}(_batch|_part\d+)?")
        taken: set[str] = set()

        def identifier(name: str) -> str:
            c = _c_identifier(name, taken)
            while own.fullmatch(c):
                c = _c_identifier(c + "_", taken)
            return c

        self.pnames = {p.name: identifier(p.name) for p in fn.params}
        self.outputs = list(ir.iter_outputs(fn.outputs))
        self.zeroed = {
            k for k, out in enumerate(self.outputs) if passes.zero_filled(out, ZERO_FILL_ABOVE)
        }
        # functions with data: names of the batch count, the row index and the row
        # pointers (data parameter -> its current row, data output -> its current row)
        self.data = {p.name for p in fn.params if p.data}
        self.locals: list[str] = []
        self.rows: dict[str, str] = {}
        self.out_rows: dict[int, str] = {}
        if self.data:
            self.count = identifier("m")
            self.r = identifier("r")
            self.locals += [self.count, self.r]
            for p in fn.params:
                if p.data:
                    self.rows[p.name] = identifier(self.pnames[p.name] + "_row")
                    self.locals.append(self.rows[p.name])
            for k, out in enumerate(self.outputs):
                if isinstance(out, ir.Output) and out.data:
                    self.out_rows[k] = identifier(f"out{k}_row")
                    self.locals.append(self.out_rows[k])

    def zero_fill(self, k: int) -> list[str]:
        """The loop filling output ``k`` with zeros when it is zero-filled (its zeros
        are then not stored one by one), else nothing."""
        if k not in self.zeroed:
            return []
        return [f"    for (int j = 0; j < {self.outputs[k].size}; j++) out{k}[j] = 0.0;"]

    def atom(self, atom, var) -> str:
        if isinstance(atom, ir.Var):
            return var(atom.id)
        if isinstance(atom, ir.Elem):
            if atom.param in self.data:
                return f"{self.rows[atom.param]}[{atom.index}]"
            return f"{self.pnames[atom.param]}[{atom.index}]"
        return _literal(atom.value)

    def expr(self, stmt: ir.Assign, var) -> str:
        args = [self.atom(a, var) for a in stmt.args]
        self.needs.update(_OP_NEEDS.get(stmt.op, ()))
        if stmt.op is Op.ADD:
            return " + ".join(args)
        if stmt.op is Op.MUL:
            return " * ".join(args)
        if stmt.op is Op.POLYGAMMA:
            order = stmt.args[0]
            if not (
                isinstance(order, ir.Const)
                and isinstance(order.value, float)
                and order.value.is_integer()
                and 0 <= order.value <= 1000
            ):
                raise UnsupportedOpError(
                    stmt.op, "c", "the order must be a constant non-negative integer"
                )
            return f"symnum_polygamma({int(order.value)}, {args[1]})"
        template = _TEMPLATES.get(stmt.op)
        if template is None:
            raise UnsupportedOpError(stmt.op, "c")
        return template.format(*args)

    def signature(self, name: str, first: str = "", last: str = "") -> str:
        params = [f"const double *restrict {self.pnames[p.name]}" for p in self.fn.params]
        outs = [f"double *restrict out{k}" for k in range(len(self.outputs))]
        args = [*([first] if first else []), *params, *outs, *([last] if last else [])]
        return f"void {name}({', '.join(args) or 'void'})"

    def unused(self, read: set[str], written: set[int], indent="    ") -> list[str]:
        lines = [f"{indent}(void){c};" for c in self.pnames.values() if c not in read]
        lines += [f"{indent}(void)out{k};" for k in range(len(self.outputs)) if k not in written]
        return lines

    def comment(self) -> str:
        def shape(s, data=False):
            if data:
                return "[" + ", ".join(["n", *map(str, s)]) + "]"
            return "[" + ", ".join(map(str, s)) + "]" if s else "scalar"

        ins = ", ".join(f"{self.pnames[p.name]} {shape(p.shape, p.data)}" for p in self.fn.params)
        outs = ", ".join(f"out{k} {shape(o.shape, o.data)}" for k, o in enumerate(self.outputs))
        if self.data:
            return (
                f"/* {self.fn.name}(n, {ins}) -> {outs or 'nothing'}; arrays flat, C order: "
                "a data array holds n rows, one after the other */\n"
            )
        return f"/* {self.fn.name}({ins}) -> {outs or 'nothing'}; arrays flat, C order */\n"

    def emit(self) -> str:
        if self.data:
            return self.emit_data()
        # only what the outputs read: dead code would warn under -Wextra
        live = passes.live(self.fn.body, self.outputs)
        if len(live) > _SPLIT_ABOVE:
            return self.emit_split(live)
        lines = [self.comment() + self.signature(self.cname), "{"]
        read = {self.pnames[a.param] for s in live for a in s.args if isinstance(a, ir.Elem)}
        for out in self.outputs:
            read.update(self.pnames[a.param] for a in out.atoms if isinstance(a, ir.Elem))
        written = {k for k, out in enumerate(self.outputs) if out.atoms}
        lines += self.unused(read, written)

        def var(i):
            return f"t{i}"

        lines += [f"    const double t{s.target} = {self.expr(s, var)};" for s in live]
        for k, out in enumerate(self.outputs):
            lines += self.zero_fill(k)
            lines += [
                f"    out{k}[{j}] = {self.atom(a, var)};"
                for j, a in enumerate(out.atoms)
                if not (k in self.zeroed and passes.is_plus_zero(a))
            ]
        lines.append("}")
        return "\n".join(lines) + "\n" + self.batch()

    def emit_split(self, live) -> str:
        """Chunks of _CHUNK statements in separate non-inlined functions.

        A value read by a later chunk is stored in a work array ``w``; slots are reused
        once no later chunk reads them. Outputs are written by the chunk that computes
        them, so only values crossing chunk boundaries take memory.
        """
        chunks = [live[i : i + _CHUNK] for i in range(0, len(live), _CHUNK)]
        slot, nslots = _work_slots(chunks)
        out_at: dict[int, list[tuple[int, int]]] = {}
        final: list[tuple[int, int, ir.Atom]] = []
        for k, out in enumerate(self.outputs):
            for j, a in enumerate(out.atoms):
                if isinstance(a, ir.Var):
                    out_at.setdefault(a.id, []).append((k, j))
                elif not (k in self.zeroed and passes.is_plus_zero(a)):
                    final.append((k, j, a))
        parts = [self.emit_chunk(c, chunk, slot, out_at) for c, chunk in enumerate(chunks)]
        main = self.emit_split_main(list(self.parts), nslots, final)
        return _NOINLINE + "\n".join(parts) + "\n".join(main) + "\n" + self.batch()

    def emit_chunk(self, c: int, chunk, slot: dict, out_at: dict, first: str = "") -> str:
        """The non-inlined function computing chunk ``c``: values read by later chunks go
        to their ``slot`` of ``w``, outputs (``out_at``: target -> (output, index)) are
        written here."""
        here = {s.target for s in chunk}

        def var(i):
            return f"t{i}" if i in here else f"w[{slot[i]}]"

        body = []
        read = set()
        written = set()
        for s in chunk:
            read.update(self.pnames[a.param] for a in s.args if isinstance(a, ir.Elem))
            body.append(f"    const double t{s.target} = {self.expr(s, var)};")
            if s.target in slot:
                body.append(f"    w[{slot[s.target]}] = t{s.target};")
            for k, j in out_at.get(s.target, ()):
                body.append(f"    out{k}[{j}] = t{s.target};")
                written.add(k)
        uses_w = any(
            isinstance(a, ir.Var) and a.id not in here for s in chunk for a in s.args
        ) or any(s.target in slot for s in chunk)
        self.parts.append(f"{self.cname}_part{c}")
        head = self.signature(self.parts[-1], first=first, last="double *restrict w")
        lines = [f"SYMNUM_NOINLINE static {head}", "{"]
        if first:
            lines.append("    (void)n;")
        lines += self.unused(read, written)
        if not uses_w:
            lines.append("    (void)w;")
        return "\n".join([*lines, *body, "}"]) + "\n"

    def emit_split_main(self, calls: list[str], nslots: int, final: list) -> list[str]:
        """Lines of the entry of a split function: the work array ``w`` of ``nslots``
        (on the heap when large, outputs NaN if it cannot be had), the calls of the
        parts ``calls`` and the outputs that are constants or parameters (``final``)."""
        args = [*self.pnames.values(), *(f"out{k}" for k in range(len(self.outputs)))]
        if self.data:
            args.insert(0, "n")
        first = "long long n" if self.data else ""
        main = [self.comment() + self.signature(self.cname, first=first), "{"]
        if nslots > _STACK_SLOTS:
            self.needs.add("malloc")
            main.append(f"    double *w = (double *)malloc({nslots} * sizeof(double));")
            main.append("    if (w == NULL) {")
            for k, out in enumerate(self.outputs):
                if out.atoms and out.data:
                    main.append(
                        f"        for (long long j = 0; j < n * {out.size}; j++) out{k}[j] = NAN;"
                    )
                elif out.atoms:
                    main.append(f"        for (int j = 0; j < {out.size}; j++) out{k}[j] = NAN;")
            main += ["        return;", "    }"]
        else:
            main.append(f"    double w[{max(nslots, 1)}];")
        for k in range(len(self.outputs)):  # before the parts write the other elements
            main += self.zero_fill(k)
        main += [f"    {call}({', '.join([*args, 'w'])});" for call in calls]
        main += [f"    out{k}[{j}] = {self.atom(a, str)};" for k, j, a in final]
        if nslots > _STACK_SLOTS:
            main.append("    free(w);")
        main.append("}")
        return main

    def batch(self) -> str:
        """The batch twin: ``n`` points, each argument advanced by its size per point."""
        if self.data:
            return self.batch_data()
        lines = [
            f"/* {self.cname} at n points: every array gets a leading axis of length n */",
            self.signature(f"{self.cname}_batch", first="long long n"),
            "{",
            "    long long i;",
            "    for (i = 0; i < n; i++) {",
        ]
        args = [f"{self.pnames[p.name]} + i * {p.size}" for p in self.fn.params]
        args += [f"out{k} + i * {o.size}" for k, o in enumerate(self.outputs)]
        lines += [f"        {self.cname}({', '.join(args)});", "    }", "}"]
        return "\n".join(lines) + "\n"

    # -- data loops ---------------------------------------------------------------

    def loop_atoms(self, loop: ir.Loop) -> list:
        """Every atom ``loop`` reads: its body's arguments, its reductions' values and
        the atoms of the data outputs it stores."""
        atoms = [a for s in loop.body for a in s.args]
        atoms += [r.value for r in loop.reductions]
        atoms += [a for k in loop.stores for a in self.outputs[k].atoms]
        return atoms

    def data_read(self, atoms) -> set[str]:
        """The data parameters (Python names) ``atoms`` read."""
        return {a.param for a in atoms if isinstance(a, ir.Elem) and a.param in self.data}

    def row_pointers(self, params: set[str], stores, indent: str) -> list[str]:
        """Declarations of the pointers to the current row of the data parameters
        ``params`` (Python names) and of the data outputs ``stores`` (positions)."""
        lines = [
            f"{indent}const double *restrict {self.rows[p.name]} = "
            f"{self.pnames[p.name]} + {self.r} * {p.size};"
            for p in self.fn.params
            if p.name in params
        ]
        lines += [
            f"{indent}double *restrict {self.out_rows[k]} = "
            f"out{k} + {self.r} * {self.outputs[k].size};"
            for k in sorted(stores)
        ]
        return lines

    def fold(self, reduction: ir.Reduce, var) -> str:
        """The statement folding this row's value into a reduction's accumulator (MAX
        and MIN with the NaN-propagating templates, like the interpreter's ops)."""
        acc, value = f"t{reduction.target}", self.atom(reduction.value, var)
        if reduction.op is Op.ADD:
            return f"{acc} += {value};"
        if reduction.op is Op.MUL:
            return f"{acc} *= {value};"
        return f"{acc} = {_TEMPLATES[reduction.op].format(acc, value)};"

    def loop_lines(self, loop: ir.Loop, var, indent: str = "    ") -> list[str]:
        """A loop over the ``n`` rows, its reductions' accumulators declared first;
        ``var`` names the variables the loop reads from outside."""
        local = {s.target for s in loop.body}

        def lvar(i):
            return f"t{i}" if i in local else var(i)

        inner = indent + "    "
        stores = [k for k in loop.stores if self.outputs[k].atoms]
        lines = [
            f"{indent}double t{r.target} = {_literal(ir.REDUCTIONS[r.op])};"
            for r in loop.reductions
        ]
        lines.append(f"{indent}for (long long {self.r} = 0; {self.r} < n; {self.r}++) {{")
        lines += self.row_pointers(self.data_read(self.loop_atoms(loop)), stores, inner)
        lines += [f"{inner}const double t{s.target} = {self.expr(s, lvar)};" for s in loop.body]
        lines += [f"{inner}{self.fold(r, lvar)}" for r in loop.reductions]
        for k in stores:
            row = self.out_rows[k]
            atoms = self.outputs[k].atoms
            lines += [f"{inner}{row}[{j}] = {self.atom(a, lvar)};" for j, a in enumerate(atoms)]
        lines.append(f"{indent}}}")
        return lines

    def data_read_written(self, body) -> tuple[set[str], set[int]]:
        """The parameters (C names) and outputs (positions) a live body touches."""
        atoms = [a for s in ir.iter_assigns(body) for a in s.args]
        atoms += [r.value for s in body if type(s) is ir.Loop for r in s.reductions]
        atoms += [a for out in self.outputs for a in out.atoms]
        read = {self.pnames[a.param] for a in atoms if isinstance(a, ir.Elem)}
        written = {k for k, out in enumerate(self.outputs) if out.atoms}
        return read, written

    def emit_data(self) -> str:
        """A function with data parameters: its loops stay loops over the rows."""
        data_outputs = {k: out for k, out in enumerate(self.outputs) if out.data}
        plain = [out for out in self.outputs if not out.data]
        body = passes.live(self.fn.body, plain, data_outputs=data_outputs)
        size = sum(len(s.body) + len(s.reductions) + 1 if type(s) is ir.Loop else 1 for s in body)
        if size > _SPLIT_ABOVE:
            return self.emit_data_split(body)
        lines = [self.comment() + self.signature(self.cname, first="long long n"), "{"]
        lines += self.unused(*self.data_read_written(body))
        if not any(type(s) is ir.Loop for s in body):
            lines.append("    (void)n;")

        def var(i):
            return f"t{i}"

        for stmt in body:
            if type(stmt) is ir.Loop:
                lines += self.loop_lines(stmt, var)
            else:
                lines.append(f"    const double t{stmt.target} = {self.expr(stmt, var)};")
        for k, out in enumerate(self.outputs):
            if not out.data:
                lines += [
                    f"    out{k}[{j}] = {self.atom(a, var)};" for j, a in enumerate(out.atoms)
                ]
        lines.append("}")
        return "\n".join(lines) + "\n" + self.batch()

    def emit_data_split(self, body) -> str:
        """A long function with data: runs of outer statements in chunks as in
        :meth:`emit_split`, each loop in a function of its own (its body split into
        per-row functions when long). Values crossing functions go through ``w``:
        outer ones in slots reused as in :func:`_work_slots`, and after those, a
        loop's per-row values read by a later per-row function or by the reductions."""
        units = _units(body)
        defines, reads = [], []
        for unit in units:
            if type(unit) is ir.Loop:
                local = {s.target for s in unit.body}
                defines.append([r.target for r in unit.reductions])
                atoms = self.loop_atoms(unit)
                reads.append({a.id for a in atoms if isinstance(a, ir.Var)} - local)
            else:
                defines.append([s.target for s in unit])
                reads.append({a.id for s in unit for a in s.args if isinstance(a, ir.Var)})
        slot, nslots = _unit_slots(defines, reads)
        out_at: dict[int, list[tuple[int, int]]] = {}
        final: list[tuple[int, int, ir.Atom]] = []
        for k, out in enumerate(self.outputs):
            if out.data:
                continue
            for j, a in enumerate(out.atoms):
                if isinstance(a, ir.Var):
                    out_at.setdefault(a.id, []).append((k, j))
                else:
                    final.append((k, j, a))
        parts, calls, row_slots = [], [], 0
        for unit in units:
            if type(unit) is ir.Loop:
                text, used = self.emit_loop_unit(unit, slot, out_at, nslots)
                parts.append(text)
                row_slots = max(row_slots, used)
            else:
                parts.append(self.emit_chunk(len(self.parts), unit, slot, out_at, "long long n"))
            calls.append(self.parts[-1])
        main = self.emit_split_main(calls, nslots + row_slots, final)
        return _NOINLINE + "\n".join(parts) + "\n".join(main) + "\n" + self.batch()

    def emit_loop_unit(self, loop: ir.Loop, slot: dict, out_at: dict, base: int):
        """The function running ``loop`` of a split function (preceded by its per-row
        functions when its body is long), and how many slots of ``w`` from ``base``
        on its rows use. Reduction results go to their ``slot`` and to the outputs
        that read them (``out_at``) after the loop."""
        local = {s.target for s in loop.body}
        stores = [k for k in loop.stores if self.outputs[k].atoms]
        written = set(stores)
        written.update(k for r in loop.reductions for k, _ in out_at.get(r.target, ()))
        atoms = self.loop_atoms(loop)
        read = {self.pnames[a.param] for a in atoms if isinstance(a, ir.Elem)}
        uses_w = any(isinstance(a, ir.Var) and a.id not in local for a in atoms)
        uses_w = uses_w or any(r.target in slot for r in loop.reductions)
        texts, used = [], 0
        if len(loop.body) > _SPLIT_ABOVE:
            texts, used, calls = self.emit_row_chunks(loop, slot, base)
            uses_w = True
            # every array is passed on to the per-row functions
            read = set(self.pnames.values())
            written = set(range(len(self.outputs)))
        self.parts.append(f"{self.cname}_part{len(self.parts)}")
        head = self.signature(self.parts[-1], first="long long n", last="double *restrict w")
        lines = [f"SYMNUM_NOINLINE static {head}", "{"]
        lines += self.unused(read, written)
        if not uses_w:
            lines.append("    (void)w;")

        def outer(i):
            return f"w[{slot[i]}]"

        if not texts:
            lines += self.loop_lines(loop, outer)
        else:
            lines += self.chunked_loop_lines(loop, calls, slot, base)
        for r in loop.reductions:
            if r.target in slot:
                lines.append(f"    w[{slot[r.target]}] = t{r.target};")
            lines += [f"    out{k}[{j}] = t{r.target};" for k, j in out_at.get(r.target, ())]
        lines.append("}")
        return "".join(texts) + "\n".join(lines) + "\n", used

    def emit_row_chunks(self, loop: ir.Loop, slot: dict, base: int):
        """The per-row functions of a long loop body: ``(texts, slots used, names)``.
        Each computes a chunk of one row (``r`` is its first argument) and writes the
        data outputs' elements it computes; values read by later chunks or by the
        reductions go to ``w[base + ...]``."""
        chunks = [loop.body[i : i + _CHUNK] for i in range(0, len(loop.body), _CHUNK)]
        local = {s.target for s in loop.body}
        after = {r.value.id for r in loop.reductions if isinstance(r.value, ir.Var)} & local
        defines = [[s.target for s in chunk] for chunk in chunks]
        reads = [{a.id for s in chunk for a in s.args if isinstance(a, ir.Var)} for chunk in chunks]
        row_slot, used = _unit_slots(defines, reads, after)
        self.row_slot = {t: base + k for t, k in row_slot.items()}
        store_at: dict[int, list[tuple[int, int]]] = {}
        for k in loop.stores:
            for j, a in enumerate(self.outputs[k].atoms):
                if isinstance(a, ir.Var) and a.id in local:
                    store_at.setdefault(a.id, []).append((k, j))
        texts, names = [], []
        for chunk in chunks:
            here = {s.target for s in chunk}

            def var(i, here=here):
                if i in here:
                    return f"t{i}"
                return f"w[{self.row_slot[i]}]" if i in local else f"w[{slot[i]}]"

            name = f"{self.cname}_part{len(self.parts)}"
            self.parts.append(name)
            names.append(name)
            stores = {k for s in chunk for k, _ in store_at.get(s.target, ())}
            params = self.data_read(a for s in chunk for a in s.args)
            read = {self.pnames[a.param] for s in chunk for a in s.args if isinstance(a, ir.Elem)}
            head = self.signature(name, first=f"long long {self.r}", last="double *restrict w")
            lines = [f"SYMNUM_NOINLINE static {head}", "{"]
            lines += self.unused(read, stores)
            if not params and not stores:
                lines.append(f"    (void){self.r};")
            uses_w = any(isinstance(a, ir.Var) and a.id not in here for s in chunk for a in s.args)
            if not uses_w and not any(s.target in self.row_slot for s in chunk):
                lines.append("    (void)w;")
            lines += self.row_pointers(params, stores, "    ")
            for s in chunk:
                lines.append(f"    const double t{s.target} = {self.expr(s, var)};")
                if s.target in self.row_slot:
                    lines.append(f"    w[{self.row_slot[s.target]}] = t{s.target};")
                lines += [
                    f"    {self.out_rows[k]}[{j}] = t{s.target};"
                    for k, j in store_at.get(s.target, ())
                ]
            texts.append("\n".join([*lines, "}"]) + "\n")
        return texts, used, names

    def chunked_loop_lines(self, loop: ir.Loop, calls, slot: dict, base: int) -> list[str]:
        """The loop of a long body: per row, the calls of its per-row functions, then
        the reductions and the stores of what those did not compute."""
        local = {s.target for s in loop.body}

        def var(i):
            return f"w[{self.row_slot[i]}]" if i in local else f"w[{slot[i]}]"

        args = ", ".join(
            [self.r, *self.pnames.values(), *(f"out{k}" for k in range(len(self.outputs))), "w"]
        )
        rest = [
            (k, j, a)
            for k in loop.stores
            for j, a in enumerate(self.outputs[k].atoms)
            if not (isinstance(a, ir.Var) and a.id in local)
        ]
        atoms = [r.value for r in loop.reductions] + [a for _, _, a in rest]
        lines = [
            f"    double t{r.target} = {_literal(ir.REDUCTIONS[r.op])};" for r in loop.reductions
        ]
        lines.append(f"    for (long long {self.r} = 0; {self.r} < n; {self.r}++) {{")
        lines += [f"        {call}({args});" for call in calls]
        lines += self.row_pointers(self.data_read(atoms), {k for k, _, _ in rest}, "        ")
        lines += [f"        {self.fold(r, var)}" for r in loop.reductions]
        lines += [f"        {self.out_rows[k]}[{j}] = {self.atom(a, var)};" for k, j, a in rest]
        lines.append("    }")
        return lines

    def batch_data(self) -> str:
        """The batch twin of a function with data: ``m`` points of the other
        arguments, each advanced by its size per point; the data arrays are shared by
        every point, and each data output gets ``m`` blocks of ``n`` rows."""
        m = self.count
        lines = [
            f"/* {self.cname} at {m} points: every array but the data parameters gets a"
            f" leading axis of length {m} (data outputs: {m} blocks of n rows) */",
            self.signature(f"{self.cname}_batch", first=f"long long {m}, long long n"),
            "{",
            "    long long i;",
            f"    for (i = 0; i < {m}; i++) {{",
        ]
        args = ["n"]
        args += [
            self.pnames[p.name] if p.data else f"{self.pnames[p.name]} + i * {p.size}"
            for p in self.fn.params
        ]
        args += [
            f"out{k} + i * n * {o.size}" if o.data else f"out{k} + i * {o.size}"
            for k, o in enumerate(self.outputs)
        ]
        lines += [f"        {self.cname}({', '.join(args)});", "    }", "}"]
        return "\n".join(lines) + "\n"


_NOINLINE = (
    "#ifndef SYMNUM_NOINLINE\n#if defined(__GNUC__)\n"
    "#define SYMNUM_NOINLINE __attribute__((noinline))\n"
    "#elif defined(_MSC_VER)\n#define SYMNUM_NOINLINE __declspec(noinline)\n"
    "#else\n#define SYMNUM_NOINLINE\n#endif\n#endif\n"
)


def shape_table(params, outputs) -> tuple[int, ...]:
    """The numbers of a shape table (see :class:`Source`) for these shapes."""
    numbers = [len(params)]
    for shape in params:
        numbers += [len(shape), *shape]
    numbers.append(len(outputs))
    for shape in outputs:
        numbers += [len(shape), *shape]
    return tuple(numbers)


def _full_shape(node) -> tuple[int, ...]:
    """A parameter's or output's shape, with ``-1`` (for ``n``) in front of data."""
    return (-1, *node.shape) if node.data else tuple(node.shape)


def _shape_table(cname: str, params, leaves) -> str:
    numbers = shape_table([_full_shape(p) for p in params], [_full_shape(o) for o in leaves])
    return (
        f"/* {cname}: parameter count, (rank, dims) of each; output count, (rank, dims) */\n"
        f"const long long {cname}_shapes[{len(numbers)}] = "
        + "{"
        + ", ".join(map(str, numbers))
        + "};\n"
    )


def _emit(fn: ir.Function, cname: str) -> Source:
    ir.check(fn)
    leaves = list(ir.iter_outputs(fn.outputs))
    if any(isinstance(leaf, ir.Closure) for leaf in leaves):
        msg = "emit() takes flat functions; split closures with symnum.ir.split_closures"
        raise ValueError(msg)
    _refuse_complex(fn)
    emitter = _Emitter(fn, cname)
    code = emitter.emit() + _shape_table(emitter.cname, fn.params, leaves)
    return Source(
        name=fn.name,
        cname=cname,
        code=code,
        needs=tuple(sorted(emitter.needs)),
        params=tuple((p.name, emitter.pnames[p.name], tuple(p.shape)) for p in fn.params),
        outputs=tuple(tuple(leaf.shape) for leaf in leaves),
        tree=_tree_indices(fn.outputs, [0]),
        parts=tuple(emitter.parts),
        data=tuple(i for i, p in enumerate(fn.params) if p.data),
        data_outputs=tuple(k for k, leaf in enumerate(leaves) if leaf.data),
        locals=tuple(emitter.locals),
    )


def emit(fn: ir.Function) -> Source:
    """C99 for the flat IR function ``fn`` (deterministic: same IR, same text).

    The point kernel is named after ``fn`` (with ``_`` appended if that would clash
    with C), takes one ``const double *restrict`` per parameter and one ``double
    *restrict out<k>`` per output leaf, all flat in C order; ``<name>_batch(n, ...)``
    evaluates ``n`` points. Raises :class:`symnum.backends.UnsupportedOpError` for
    complex functions and ops C cannot express.
    """
    return _emit(fn, _c_identifier(fn.name, set()))


# ----------------------------------------------------------------------------------
# module text: kernels + CPython runtime


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _tree_tokens(tree, closures=None) -> list[int]:
    """Prefix form of an output tree for the runtime (see SYMNUM_TREE_* there)."""
    if isinstance(tree, tuple):
        tokens = [0, len(tree)]
        for sub in tree:
            tokens += _tree_tokens(sub, closures)
        return tokens
    if closures and tree in closures:
        return [2, tree, closures[tree]]
    return [1, tree]


def _int_array(values) -> str:
    return "{" + ", ".join(str(v) for v in values or [0]) + "}"


def _spec_text(index: int, source: Source, doc: str, closures=None) -> str:
    """The runtime's description of one kernel, plus its pointer-array adapters.

    A kernel with data gets one adapter, ``_data(m, n, in, out)``: ``m`` points of the
    other arguments on ``n`` rows of data (``m`` is 1 for a point call)."""
    p = f"symnum_s{index}"
    n_in, n_out = len(source.params), len(source.outputs)
    sizes = [math.prod(s) for _, _, s in source.params]
    osizes = [math.prod(s) for s in source.outputs]
    in_args = [f"in[{i}]" for i in range(n_in)]
    out_args = [f"out[{k}]" for k in range(n_out)]
    batch_in = [f"in[{i}] + i * {sizes[i]}" for i in range(n_in)]
    batch_out = [f"out[{k}] + i * {osizes[k]}" for k in range(n_out)]
    tokens = _tree_tokens(source.tree, closures)
    names = ", ".join(_c_string(pyname) for pyname, _, _ in source.params) or "NULL"
    pshapes, oshapes = source.param_shapes, source.output_shapes
    if source.looped:
        data_in = [
            f"in[{i}]" if i in source.data else f"in[{i}] + i * {sizes[i]}" for i in range(n_in)
        ]
        data_out = [
            f"out[{k}] + i * n * {osizes[k]}"
            if k in source.data_outputs
            else f"out[{k}] + i * {osizes[k]}"
            for k in range(n_out)
        ]
        adapters = f"""
static void {p}_data(npy_intp m, npy_intp n, const double *const *in, double *const *out)
{{
    npy_intp i;
    (void)in;
    (void)out;
    for (i = 0; i < m; i++) {{
        {source.cname}({", ".join(["(long long)n", *data_in, *data_out])});
    }}
}}"""
        functions = (
            f"NULL, NULL,\n    {source.shapes_name}, {len(shape_table(pshapes, oshapes))}, {p}_data"
        )
    else:
        adapters = f"""
static void {p}_point(const double *const *in, double *const *out)
{{
    (void)in;
    (void)out;
    {source.cname}({", ".join([*in_args, *out_args])});
}}
static void {p}_batch(npy_intp n, const double *const *in, double *const *out)
{{
    npy_intp i;
    (void)in;
    (void)out;
    for (i = 0; i < n; i++) {{
        {source.cname}({", ".join([*batch_in, *batch_out])});
    }}
}}"""
        functions = (
            f"{p}_point, {p}_batch,\n    {source.shapes_name}, "
            f"{len(shape_table(pshapes, oshapes))}, NULL"
        )
    return f"""{adapters}
static const char *const {p}_pnames[] = {{{names}}};
static const int {p}_pndim[] = {_int_array([len(s) for s in pshapes])};
static const npy_intp {p}_pdims[] = {_int_array([d for s in pshapes for d in s])};
static const int {p}_ondim[] = {_int_array([len(s) for s in oshapes])};
static const npy_intp {p}_odims[] = {_int_array([d for s in oshapes for d in s])};
static const int {p}_tree[] = {_int_array(tokens)};
static const symnum_spec {p} = {{
    {_c_string(source.name)}, {_c_string(doc)}, {n_in}, {p}_pnames, {p}_pndim, {p}_pdims,
    {n_out}, {p}_ondim, {p}_odims, {len(tokens)}, {p}_tree, {functions}}};
"""


def _private_code(source: Source) -> str:
    """``source.code`` shielded from the macros of the headers above it.

    Its file-scope names are renamed into symnum's namespace (``#undef``, then
    ``#define name symnum_k_name``), and a macro named like one of its parameters (or
    :attr:`Source.locals`) is set aside while the kernels are compiled
    (``push_macro``/``pop_macro``: GCC, Clang and MSVC), so any identifier works
    whatever the headers define (``linux``, ``M_PIf``, ``L_tmpnam``...).
    """
    params = sorted({c for _, c, _ in source.params} | set(source.locals))
    head = [f"#undef {g}\n#define {g} symnum_k_{g}\n" for g in source.globals]
    head += [f'#pragma push_macro("{c}")\n#undef {c}\n' for c in params]
    tail = [f'#pragma pop_macro("{c}")\n' for c in reversed(params)]
    return "".join(head) + source.code + "".join(tail)


_PRELUDE = (
    "#include <math.h>\n#include <stdlib.h>\n"
    "#if defined(_MSC_VER) && !defined(restrict)\n#define restrict __restrict\n#endif\n"
)


def _kernels_text(sources: list[Source], docs: list[str], closures) -> list[str]:
    """The kernels of ``sources``, their helpers and the table of their descriptions
    (``symnum_specs``): what a module holds besides the runtime. Every name a source
    defines at file scope is renamed by a macro into symnum's namespace, so a kernel
    named like something the headers declare (a libc function, say) cannot clash with
    it."""
    needs = {n for s in sources for n in s.needs}
    parts = [_helpers_text(needs - {"malloc"})]
    parts.extend(_private_code(source) for source in sources)
    for index, (source, doc) in enumerate(zip(sources, docs, strict=True)):
        parts.append(_spec_text(index, source, doc, (closures or {}).get(index)))
    parts.append(
        "static const symnum_spec *const symnum_specs[] = {"
        + ", ".join(f"&symnum_s{i}" for i in range(len(sources)))
        + "};\n"
    )
    return parts


def _module_text(
    modname: str,
    sources: list[Source],
    docs: list[str],
    exported: dict[str, int] | None = None,
    closures: dict[int, dict[int, int]] | None = None,
) -> str:
    """A self-contained translation unit (after <Python.h>): runtime, helpers, kernels,
    PyInit; what :func:`symnum.backends.c.build_extension` and ``export_c`` compile.
    Kernel names are private (see :func:`_kernels_text`).
    """
    parts = [
        _PRELUDE,
        (_HERE / "_c_spec.h").read_text(),
        (_HERE / "_c_runtime.h").read_text(),
        *_kernels_text(sources, docs, closures),
    ]
    if exported:
        names = ", ".join(_c_string(n) for n in exported) + ", NULL"
        indices = ", ".join(str(i) for i in exported.values())
        parts.append(
            f"static const char *const symnum_exported_names[] = {{{names}}};\n"
            f"static const int symnum_exported[] = {{{indices}}};\n"
        )
        methods, names_arg, indices_arg = "NULL", "symnum_exported_names", "symnum_exported"
    else:
        methods, names_arg, indices_arg = "symnum_module_methods", "NULL", "NULL"
    doc = f"compiled by symnum: {', '.join(exported)}" if exported else "symnum C kernels"
    parts.append(f"""
static PyModuleDef symnum_moddef = {{
    PyModuleDef_HEAD_INIT, {_c_string(modname)}, {_c_string(doc)}, -1, {methods},
    NULL, NULL, NULL, NULL}};

PyMODINIT_FUNC PyInit_{modname}(void)
{{
    return symnum_init_module(&symnum_moddef, symnum_specs, {len(sources)}, {names_arg},
                              {indices_arg});
}}
""")
    return "\n".join(parts)


def _kernel_module_text(modname: str, sources: list[Source], docs: list[str]) -> str:
    """A translation unit (after <Python.h>) of kernels for the shared runtime
    (:func:`runtime_text`): helpers, kernels, and a module ``modname`` whose attribute
    ``table`` is a capsule of their descriptions. Kernel names are private (see
    :func:`_kernels_text`)."""
    parts = [
        _PRELUDE,
        (_HERE / "_c_spec.h").read_text(),
        *_kernels_text(sources, docs, None),
    ]
    parts.append(f"""
static const symnum_table symnum_kernel_table = {{
    SYMNUM_TABLE_ABI, (int)sizeof(symnum_spec), {len(sources)}, symnum_specs}};

static PyModuleDef symnum_moddef = {{
    PyModuleDef_HEAD_INIT, {_c_string(modname)}, "symnum C kernels", -1, NULL,
    NULL, NULL, NULL, NULL}};

PyMODINIT_FUNC PyInit_{modname}(void)
{{
    PyObject *module = PyModule_Create(&symnum_moddef), *table;
    if (module == NULL) {{
        return NULL;
    }}
    table = PyCapsule_New((void *)&symnum_kernel_table, SYMNUM_TABLE_CAPSULE, NULL);
    if (table == NULL || PyModule_AddObject(module, "table", table) < 0) {{
        Py_XDECREF(table);
        Py_DECREF(module);
        return NULL;
    }}
    return module;
}}
""")
    return "\n".join(parts)


def runtime_text() -> str:
    """The translation unit of the shared runtime (module ``_symnum_c_runtime``), which
    every kernel module of :func:`_kernel_module_text` is called through."""
    return "\n".join(
        [
            "#include <Python.h>\n#define SYMNUM_SHARED_RUNTIME 1\n",
            _PRELUDE,
            (_HERE / "_c_spec.h").read_text(),
            (_HERE / "_c_runtime.h").read_text(),
        ]
    )


def _signature_doc(source: Source) -> str:
    def shape(s):
        dims = ["n" if d < 0 else str(d) for d in s]
        return "(" + ", ".join(dims) + ("," if len(s) == 1 else "") + ")"

    ins = ", ".join(
        f"{py}: {shape(s)}"
        for (py, _, _), s in zip(source.params, source.param_shapes, strict=True)
    )
    outs = ", ".join(shape(s) for s in source.output_shapes)
    return f"{source.name}({ins}) -> {outs}"


def _work_slots(chunks: list) -> tuple[dict[int, int], int]:
    """``({target: slot of w}, number of slots)`` for the values a later chunk reads;
    a slot is reused once no later chunk reads its value."""
    home = {s.target: c for c, chunk in enumerate(chunks) for s in chunk}
    last_use: dict[int, int] = {}
    for c, chunk in enumerate(chunks):
        for s in chunk:
            for a in s.args:
                if isinstance(a, ir.Var) and home[a.id] != c:
                    last_use[a.id] = max(last_use.get(a.id, -1), c)
    slot: dict[int, int] = {}
    free: list[int] = []
    nslots = 0
    expiring: dict[int, list[int]] = {}
    for c, chunk in enumerate(chunks):
        for s in chunk:
            if s.target in last_use:
                if free:
                    slot[s.target] = free.pop()
                else:
                    slot[s.target] = nslots
                    nslots += 1
                expiring.setdefault(last_use[s.target], []).append(slot[s.target])
        free.extend(expiring.pop(c, ()))
    return slot, nslots


def _units(body) -> list:
    """The functions a long body with loops is split into: each loop, and each run of
    outer statements between them in chunks of at most _CHUNK statements."""
    units: list = []
    run: list = []

    def flush():
        units.extend(run[i : i + _CHUNK] for i in range(0, len(run), _CHUNK))
        run.clear()

    for stmt in body:
        if type(stmt) is ir.Loop:
            flush()
            units.append(stmt)
        else:
            run.append(stmt)
    flush()
    return units


def _unit_slots(defines: list, reads: list, after=()) -> tuple[dict[int, int], int]:
    """:func:`_work_slots` for units of any kind: ``defines[u]`` lists the values unit
    ``u`` computes (in order), ``reads[u]`` those it reads (values no unit defines are
    ignored), ``after`` those read once every unit has run."""
    home = {t: u for u, targets in enumerate(defines) for t in targets}
    last_use: dict[int, int] = {}
    for u, ids in enumerate(reads):
        for i in ids:
            if i in home and home[i] != u:
                last_use[i] = max(last_use.get(i, -1), u)
    for i in after:
        if i in home:
            last_use[i] = len(defines)
    slot: dict[int, int] = {}
    free: list[int] = []
    nslots = 0
    expiring: dict[int, list[int]] = {}
    for u, targets in enumerate(defines):
        for t in targets:
            if t in last_use:
                if free:
                    slot[t] = free.pop()
                else:
                    slot[t] = nslots
                    nslots += 1
                expiring.setdefault(last_use[t], []).append(slot[t])
        free.extend(expiring.pop(u, ()))
    return slot, nslots
