"""Emitting C99 from the IR: kernels (:func:`emit`) and module text for the runtime.

Generated kernels take ``const double *restrict`` inputs and ``double *restrict``
outputs, flat in C order; each has a batch twin looping over points and a shape table
``<cname>_shapes`` describing its own arrays (the loader compares it with the metadata
it was given, so a stale or corrupt description is refused instead of trusted).
Literals are printed with Python's round-trip ``repr`` (always with a ``.`` or an
exponent, so never integer arithmetic). Very long bodies are split into several
functions so compilers do not spend minutes on one giant function; :class:`Source`
records the parts while emitting. Complex functions are refused at emit time.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from symnum import ir
from symnum.backends import UnsupportedOpError
from symnum.ir import Op

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
    Op.ATANH: "atanh", Op.HYPOT: "hypot", Op.ERF: "erf", Op.ERFC: "erfc",
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
_OP_NEEDS = {Op.DIGAMMA: ("digamma",), Op.POLYGAMMA: ("polygamma",)}

#: bodies longer than this are split into functions of _CHUNK statements each
#: (gcc -O2 time grows faster than linearly with function size: 15,000 statements
#: compile in ~40 s as one function, ~10 s in chunks of 500)
_SPLIT_ABOVE = 1000
_CHUNK = 500
#: work arrays larger than this many doubles go on the heap instead of the stack
_STACK_SLOTS = 2048


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
    """

    name: str
    cname: str
    code: str
    needs: tuple[str, ...]
    params: tuple[tuple[str, str, tuple[int, ...]], ...]
    outputs: tuple[tuple[int, ...], ...]
    tree: object
    parts: tuple[str, ...] = ()

    @property
    def split(self) -> bool:
        """Whether the body was split into :attr:`parts`."""
        return bool(self.parts)

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
    detail = (
        "the C backend does not support complex numbers; use backend='numpy' for complex functions"
    )
    for param in fn.params:
        if param.dtype != "float64":
            raise UnsupportedOpError(f"complex parameter {param.name!r}", "c", detail)
    for leaf in ir.iter_outputs(fn.outputs):
        if isinstance(leaf, ir.Output) and leaf.dtype != "float64":
            raise UnsupportedOpError("complex output", "c", detail)
        for atom in getattr(leaf, "atoms", ()):
            if isinstance(atom, ir.Const) and isinstance(atom.value, complex):
                raise UnsupportedOpError("complex constant", "c", detail)
    for stmt in fn.body:
        for atom in stmt.args:
            if isinstance(atom, ir.Const) and isinstance(atom.value, complex):
                raise UnsupportedOpError(stmt.op, "c", detail)


def _tree_indices(tree, counter) -> object:
    if isinstance(tree, tuple):
        return tuple(_tree_indices(sub, counter) for sub in tree)
    index = counter[0]
    counter[0] += 1
    return index


def _live(body, outputs) -> list[ir.Assign]:
    """The statements some output depends on (dead code would warn under -Wextra)."""
    used = {a.id for out in outputs for a in out.atoms if isinstance(a, ir.Var)}
    live = []
    for stmt in reversed(body):
        if stmt.target in used:
            live.append(stmt)
            used.update(a.id for a in stmt.args if isinstance(a, ir.Var))
    live.reverse()
    return live


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
        self.pnames = {}
        for p in fn.params:
            c = _c_identifier(p.name, taken)
            while own.fullmatch(c):
                c = _c_identifier(c + "_", taken)
            self.pnames[p.name] = c
        self.outputs = list(ir.iter_outputs(fn.outputs))

    def atom(self, atom, var) -> str:
        if isinstance(atom, ir.Var):
            return var(atom.id)
        if isinstance(atom, ir.Elem):
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
        def shape(s):
            return "[" + ", ".join(map(str, s)) + "]" if s else "scalar"

        ins = ", ".join(f"{self.pnames[p.name]} {shape(p.shape)}" for p in self.fn.params)
        outs = ", ".join(f"out{k} {shape(o.shape)}" for k, o in enumerate(self.outputs))
        return f"/* {self.fn.name}({ins}) -> {outs or 'nothing'}; arrays flat, C order */\n"

    def emit(self) -> str:
        live = _live(self.fn.body, self.outputs)
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
            lines += [f"    out{k}[{j}] = {self.atom(a, var)};" for j, a in enumerate(out.atoms)]
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
                else:
                    final.append((k, j, a))
        parts = [self.emit_chunk(c, chunk, slot, out_at) for c, chunk in enumerate(chunks)]
        main = self.emit_split_main(len(chunks), nslots, final)
        noinline = (
            "#ifndef SYMNUM_NOINLINE\n#if defined(__GNUC__)\n"
            "#define SYMNUM_NOINLINE __attribute__((noinline))\n"
            "#elif defined(_MSC_VER)\n#define SYMNUM_NOINLINE __declspec(noinline)\n"
            "#else\n#define SYMNUM_NOINLINE\n#endif\n#endif\n"
        )
        return noinline + "\n".join(parts) + "\n".join(main) + "\n" + self.batch()

    def emit_chunk(self, c: int, chunk, slot: dict, out_at: dict) -> str:
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
        head = self.signature(self.parts[-1], last="double *restrict w")
        lines = [f"SYMNUM_NOINLINE static {head}", "{"]
        lines += self.unused(read, written)
        if not uses_w:
            lines.append("    (void)w;")
        return "\n".join([*lines, *body, "}"]) + "\n"

    def emit_split_main(self, n_chunks: int, nslots: int, final: list) -> list[str]:
        """Lines of the entry of a split function: the work array ``w`` of ``nslots``
        (on the heap when large, outputs NaN if it cannot be had), the chunk calls and
        the outputs that are constants or parameters (``final``)."""
        args = [*self.pnames.values(), *(f"out{k}" for k in range(len(self.outputs)))]
        main = [self.comment() + self.signature(self.cname), "{"]
        if nslots > _STACK_SLOTS:
            self.needs.add("malloc")
            main.append(f"    double *w = (double *)malloc({nslots} * sizeof(double));")
            main.append("    if (w == NULL) {")
            for k, out in enumerate(self.outputs):
                if out.atoms:
                    main.append(f"        for (int j = 0; j < {out.size}; j++) out{k}[j] = NAN;")
            main += ["        return;", "    }"]
        else:
            main.append(f"    double w[{max(nslots, 1)}];")
        main += [f"    {self.cname}_part{c}({', '.join([*args, 'w'])});" for c in range(n_chunks)]
        main += [f"    out{k}[{j}] = {self.atom(a, str)};" for k, j, a in final]
        if nslots > _STACK_SLOTS:
            main.append("    free(w);")
        main.append("}")
        return main

    def batch(self) -> str:
        """The batch twin: ``n`` points, each argument advanced by its size per point."""
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


def shape_table(params, outputs) -> tuple[int, ...]:
    """The numbers of a shape table (see :class:`Source`) for these shapes."""
    numbers = [len(params)]
    for shape in params:
        numbers += [len(shape), *shape]
    numbers.append(len(outputs))
    for shape in outputs:
        numbers += [len(shape), *shape]
    return tuple(numbers)


def _shape_table(cname: str, params, leaves) -> str:
    numbers = shape_table([p.shape for p in params], [leaf.shape for leaf in leaves])
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
    """The runtime's description of one kernel, plus its pointer-array adapters."""
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
    return f"""
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
}}
static const char *const {p}_pnames[] = {{{names}}};
static const int {p}_pndim[] = {_int_array([len(s) for _, _, s in source.params])};
static const npy_intp {p}_pdims[] = {_int_array([d for _, _, s in source.params for d in s])};
static const int {p}_ondim[] = {_int_array([len(s) for s in source.outputs])};
static const npy_intp {p}_odims[] = {_int_array([d for s in source.outputs for d in s])};
static const int {p}_tree[] = {_int_array(tokens)};
static const symnum_spec {p} = {{
    {_c_string(source.name)}, {_c_string(doc)}, {n_in}, {p}_pnames, {p}_pndim, {p}_pdims,
    {n_out}, {p}_ondim, {p}_odims, {len(tokens)}, {p}_tree, {p}_point, {p}_batch,
    {source.shapes_name}, {len(shape_table([s for _, _, s in source.params], source.outputs))}}};
"""


def _private_code(source: Source) -> str:
    """``source.code`` shielded from the macros of the headers above it.

    Its file-scope names are renamed into symnum's namespace (``#undef``, then
    ``#define name symnum_k_name``), and a macro named like one of its parameters is
    set aside while the kernels are compiled (``push_macro``/``pop_macro``: GCC, Clang
    and MSVC), so any identifier works whatever the headers define (``linux``,
    ``M_PIf``, ``L_tmpnam``...).
    """
    params = sorted({c for _, c, _ in source.params})
    head = [f"#undef {g}\n#define {g} symnum_k_{g}\n" for g in source.globals]
    head += [f'#pragma push_macro("{c}")\n#undef {c}\n' for c in params]
    tail = [f'#pragma pop_macro("{c}")\n' for c in reversed(params)]
    return "".join(head) + source.code + "".join(tail)


def _module_text(
    modname: str,
    sources: list[Source],
    docs: list[str],
    exported: dict[str, int] | None = None,
    closures: dict[int, dict[int, int]] | None = None,
    *,
    private: bool = False,
) -> str:
    """A translation unit (after <Python.h>): runtime, helpers, kernels, PyInit.

    ``private``: every name a source defines at file scope is renamed by a macro into
    symnum's namespace, so a kernel named like something the headers declare (a libc
    function, say) cannot clash with it; the cffi module of :func:`build` needs that,
    as its kernel names are the user's function names.
    """
    needs = {n for s in sources for n in s.needs}
    parts = [
        "#include <math.h>\n#include <stdlib.h>\n",
        "#if defined(_MSC_VER) && !defined(restrict)\n#define restrict __restrict\n#endif\n",
        (_HERE / "_c_runtime.h").read_text(),
        _helpers_text(needs - {"malloc"}),
    ]
    for source in sources:
        if private:
            parts.append(_private_code(source))
        else:
            parts.append(source.code)
    for index, (source, doc) in enumerate(zip(sources, docs, strict=True)):
        parts.append(_spec_text(index, source, doc, (closures or {}).get(index)))
    parts.append(
        "static const symnum_spec *const symnum_specs[] = {"
        + ", ".join(f"&symnum_s{i}" for i in range(len(sources)))
        + "};\n"
    )
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


def _signature_doc(source: Source) -> str:
    def shape(s):
        return "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"

    ins = ", ".join(f"{py}: {shape(s)}" for py, _, s in source.params)
    outs = ", ".join(shape(s) for s in source.outputs)
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
