"""The C backend: emits C99 from the IR, builds it with cffi, exports modules and C.

Three products share one emitter (:func:`emit`):

* :func:`build` compiles a kernel into the shared cache (cffi API mode) together with
  a small CPython-API runtime (``_c_runtime.h``), so calls reach C without Python-level
  argument handling: ``kernel.point`` / ``kernel.batch`` (the backend contract) and
  ``kernel.make_fast(slow)`` (a C callable with a fallback to a general Python path).
* :func:`build_extension` writes an importable extension module that needs only NumPy.
* :func:`export_c` writes standalone C99 (``name.h`` and ``name.c``, libm only).

Generated kernels take ``const double *restrict`` inputs and ``double *restrict``
outputs, flat in C order; each has a batch twin looping over points. Literals are
printed with Python's round-trip ``repr`` (always with a ``.`` or an exponent, so never
integer arithmetic). Very long bodies are split into several functions so compilers
do not spend minutes on one giant function. Complex functions are refused at emit time.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from symnum import cache, ir
from symnum.backends import BackendUnavailableError, UnsupportedOpError
from symnum.ir import Op

__all__ = [
    "CompileError",
    "Kernel",
    "Source",
    "available",
    "build",
    "build_extension",
    "emit",
    "export_c",
    "requirement_error",
    "wrap",
]

name = "c"
extra = "c"

_HERE = Path(__file__).resolve().parent
#: Bump when the emitted text or the runtime changes meaning without changing text.
_FORMAT = "1"


class CompileError(RuntimeError):
    """The C compiler failed on generated code (a bug in symnum, or a broken toolchain)."""


# ----------------------------------------------------------------------------------
# toolchain


def _import_cffi():
    try:
        import cffi  # noqa: PLC0415 - optional dependency, imported on demand
    except ImportError:
        return None
    return cffi


def _compiler_command() -> list[str]:
    """The C compiler setuptools will use (``CC`` overrides the interpreter's)."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def _find_compiler() -> str | None:
    """Path of the C compiler, or ``None`` when there is none."""
    if sys.platform == "win32":  # MSVC is located by setuptools itself
        return "msvc"
    command = _compiler_command()
    return shutil.which(command[0]) if command else None


def available() -> bool:
    """Whether cffi is importable and a C compiler is on the PATH."""
    return _import_cffi() is not None and _find_compiler() is not None


def requirement_error() -> Exception:
    """The error explaining what to install for the C backend."""
    if _import_cffi() is None:
        return BackendUnavailableError(
            'the C backend needs cffi: pip install "symnum[c]" (or pip install cffi)'
        )
    if _find_compiler() is None:
        cc = " ".join(_compiler_command())
        return BackendUnavailableError(
            f"the C backend needs a C compiler, and {cc!r} was not found: install gcc or "
            "clang (e.g. apt-get install gcc, or xcode-select --install on macOS), or set "
            "CC to a compiler"
        )
    return BackendUnavailableError("the C backend is available")


@functools.lru_cache(maxsize=1)
def _toolchain_id() -> str:
    """Everything about the toolchain a compiled artefact depends on."""
    command = _compiler_command()
    try:
        version = subprocess.run(  # noqa: S603 - the configured compiler, no shell
            [*command, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        version = "unknown"
    import numpy as np  # noqa: PLC0415 - only needed when building

    cffi = _import_cffi()
    parts = [
        " ".join(command),
        version,
        os.environ.get("CFLAGS", ""),
        os.environ.get("LDSHARED", ""),
        sysconfig.get_config_var("CFLAGS") or "",
        sysconfig.get_config_var("EXT_SUFFIX") or "",
        sysconfig.get_config_var("SOABI") or "",
        sysconfig.get_platform(),
        platform.machine(),
        sys.version,
        np.__version__,
        getattr(cffi, "__version__", "none"),
    ]
    return "\n".join(parts)


def _compile_args(large: bool = False) -> list[str]:
    """Compiler flags; ``large`` for split bodies, where -O3 costs compile time for
    nothing (the batch loop of a large kernel is dominated by the kernel itself)."""
    if sys.platform == "win32":
        return ["/O2"]
    # -fvisibility=hidden: kernels cannot be interposed, so the batch loop inlines the
    # point kernel (2x faster on small kernels); only PyInit_* is exported.
    # -ffp-contract=off: no fused multiply-adds, so results match NumPy bit for bit
    # wherever libm agrees; -fno-math-errno lets sqrt & co. inline; -g0 keeps .so small.
    level = "-O2" if large else "-O3"
    return [level, "-g0", "-fvisibility=hidden", "-fno-math-errno", "-ffp-contract=off"]


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
        "strcmp"
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


def _c_identifier(pyname: str, taken: set[str]) -> str:
    """``pyname`` itself if it is safe in generated C, else ``pyname`` + underscores."""
    cname = pyname
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
    indices in nested tuples). Picklable.
    """

    name: str
    cname: str
    code: str
    needs: tuple[str, ...]
    params: tuple[tuple[str, str, tuple[int, ...]], ...]
    outputs: tuple[tuple[int, ...], ...]
    tree: object

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
        out_at: dict[int, list[tuple[int, int]]] = {}
        final: list[tuple[int, int, ir.Atom]] = []
        for k, out in enumerate(self.outputs):
            for j, a in enumerate(out.atoms):
                if isinstance(a, ir.Var):
                    out_at.setdefault(a.id, []).append((k, j))
                else:
                    final.append((k, j, a))

        parts = []
        for c, chunk in enumerate(chunks):
            here = {s.target for s in chunk}

            def var(i, here=here):
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
            head = self.signature(f"{self.cname}_part{c}", last="double *restrict w")
            lines = [f"SYMNUM_NOINLINE static {head}", "{"]
            lines += self.unused(read, written)
            if not uses_w:
                lines.append("    (void)w;")
            parts.append("\n".join([*lines, *body, "}"]) + "\n")

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
        main += [
            f"    {self.cname}_part{c}({', '.join([*args, 'w'])});" for c in range(len(chunks))
        ]
        main += [f"    out{k}[{j}] = {self.atom(a, str)};" for k, j, a in final]
        if nslots > _STACK_SLOTS:
            main.append("    free(w);")
        main.append("}")
        noinline = (
            "#ifndef SYMNUM_NOINLINE\n#if defined(__GNUC__)\n"
            "#define SYMNUM_NOINLINE __attribute__((noinline))\n"
            "#elif defined(_MSC_VER)\n#define SYMNUM_NOINLINE __declspec(noinline)\n"
            "#else\n#define SYMNUM_NOINLINE\n#endif\n#endif\n"
        )
        return noinline + "\n".join(parts) + "\n".join(main) + "\n" + self.batch()

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


def _emit(fn: ir.Function, cname: str) -> Source:
    ir.check(fn)
    leaves = list(ir.iter_outputs(fn.outputs))
    if any(isinstance(leaf, ir.Closure) for leaf in leaves):
        msg = "emit() takes flat functions; split closures with symnum.ir.split_closures"
        raise ValueError(msg)
    _refuse_complex(fn)
    emitter = _Emitter(fn, cname)
    code = emitter.emit()
    return Source(
        name=fn.name,
        cname=cname,
        code=code,
        needs=tuple(sorted(emitter.needs)),
        params=tuple((p.name, emitter.pnames[p.name], tuple(p.shape)) for p in fn.params),
        outputs=tuple(tuple(leaf.shape) for leaf in leaves),
        tree=_tree_indices(fn.outputs, [0]),
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
    {n_out}, {p}_ondim, {p}_odims, {len(tokens)}, {p}_tree, {p}_point, {p}_batch}};
"""


def _module_text(
    modname: str,
    sources: list[Source],
    docs: list[str],
    exported: dict[str, int] | None = None,
    closures: dict[int, dict[int, int]] | None = None,
) -> str:
    """A translation unit (after <Python.h>): runtime, helpers, kernels, PyInit."""
    needs = {n for s in sources for n in s.needs}
    parts = [
        "#include <math.h>\n#include <stdlib.h>\n",
        "#if defined(_MSC_VER) && !defined(restrict)\n#define restrict __restrict\n#endif\n",
        (_HERE / "_c_runtime.h").read_text(),
        _helpers_text(needs - {"malloc"}),
    ]
    for source in sources:
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


# ----------------------------------------------------------------------------------
# building through cffi into the cache

_lock = threading.Lock()
_loaded: dict[str, Kernel] = {}


class Kernel:
    """A compiled kernel (see the contract in :mod:`symnum.backends`).

    ``point`` and ``batch`` are C callables; :meth:`make_fast` gives the callable
    NumericFunction uses for its fast path. ``cffi_module`` (with ``lib`` and ``ffi``)
    is the cffi module: after
    ``numba.core.typing.cffi_utils.register_module(kernel.cffi_module)``, numba code
    can call ``lib.<cname>(ffi.from_buffer(x), ..., ffi.from_buffer(out0), ...)`` and
    ``lib.<cname>_batch(n, ...)`` directly (arguments as in :attr:`Source.params`).
    """

    __slots__ = (
        "_runtime",
        "batch",
        "cffi_module",
        "cname",
        "ffi",
        "lib",
        "path",
        "point",
        "source",
    )

    def __init__(self, source: Source, path: Path, cffi_module, runtime):
        self.source = source
        self.path = path
        self.cname = source.cname
        self.cffi_module = cffi_module
        self.lib = cffi_module.lib
        self.ffi = cffi_module.ffi
        self._runtime = runtime
        self.point = runtime.make(0, None, (), 1)
        self.batch = runtime.make(0, None, (), 2)

    def make_fast(self, slow, prefix=()):
        """A C callable for user arguments: handles exact float64 C-contiguous arrays
        (a point, or any leading batch shape shared by all arguments) itself, and
        calls ``slow(*args, **kwargs)`` for anything else. ``prefix`` arrays are bound
        before the user's arguments (the captures of a closure)."""
        return self._runtime.make(0, slow, tuple(prefix), 0)

    def __reduce__(self):
        return build, (self.source,)


def wrap(numeric):
    """The backend hook of :class:`symnum.codegen.NumericFunction`: a copy of
    ``numeric`` whose call reaches C directly.

    The copy's class is a one-off subclass whose ``__call__`` is the kernel's C
    callable (builtin callables do not bind ``self``, so no Python frame runs per
    call); it handles exact float64 arrays itself and hands anything else to
    ``numeric._call_slow``. Functions returning closures are left as they are (their
    closure kernels are wrapped on their own).
    """
    kernel = getattr(numeric, "_kernel", None)
    if not isinstance(kernel, Kernel) or any(c is not None for c in numeric._closures):
        return numeric
    base = type(numeric)
    cls = type(base.__name__, (base,), {"__slots__": (), "__module__": base.__module__})
    cls.__qualname__ = base.__qualname__
    fast = numeric._copy_as(cls)
    call_slow = fast._call_slow

    def slow(*args, **kwargs):
        if kwargs:
            msg = f"{numeric.name}() takes no keyword arguments"
            raise TypeError(msg)
        return call_slow(args)

    cls.__call__ = kernel.make_fast(slow)
    return fast


def _cdef(source: Source) -> str:
    params = [f"const double *{c}" for _, c, _ in source.params]
    outs = [f"double *out{k}" for k in range(len(source.outputs))]
    point = ", ".join([*params, *outs]) or "void"
    batch = ", ".join(["long long n", *params, *outs])
    return f"void {source.cname}({point});\nvoid {source.cname}_batch({batch});\n"


def _load(path: Path, modname: str):
    """Import the extension at ``path`` under ``modname``, leaving sys.modules as it was
    (single-phase extension modules register themselves there; one entry per kernel
    would grow without bound)."""
    loader = importlib.machinery.ExtensionFileLoader(modname, str(path))
    spec = importlib.util.spec_from_file_location(modname, str(path), loader=loader)
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    finally:
        # cffi also registers "<name>.lib"
        for name in (modname, modname + ".lib"):
            sys.modules.pop(name, None)
    return module


def _key(text: str, cdef: str, flags) -> str:
    return cache.make_key("c", _FORMAT, text, cdef, _toolchain_id(), " ".join(flags))


def _is_large(source: Source) -> bool:
    return f"{source.cname}_part0(" in source.code


def build(source: Source) -> Kernel:
    """Compile ``source`` (or fetch it from the cache) and load it."""
    if not available():
        raise requirement_error()
    # the names of the two modules in one .so are fixed by the source, so a second
    # process loads the cached file under the names it was compiled with
    probe = _key(source.code + repr(source.tree) + repr(source.params), "", ())
    with _lock:
        kernel = _loaded.get(probe)
    if kernel is not None:
        return kernel
    modname = f"_symnum_c_{probe[:24]}"
    text = _module_text(f"{modname}_rt", [source], [_signature_doc(source)])
    # the kernel's C name may clash with a declaration in the headers above it
    text = text.replace(
        source.code, f"#define {source.cname} symnum_k_{source.cname}\n" + source.code, 1
    )
    cdef = _cdef(source)
    flags = _compile_args(large=_is_large(source))
    key = _key(text, cdef, flags)

    def compile_into(directory: Path) -> None:
        _cffi_compile(modname, text, cdef, directory, flags)

    directory = cache.entry("c", key, compile_into)
    path = directory / (modname + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    cffi_module = _load(path, modname)
    runtime = _load(path, modname + "_rt")
    kernel = Kernel(source, path, cffi_module, runtime)
    with _lock:
        _loaded.setdefault(probe, kernel)
        if len(_loaded) > 4096:  # bounded: old kernels stay alive only through users
            _loaded.pop(next(iter(_loaded)))
    return kernel


def _cffi_compile(modname: str, text: str, cdef: str, directory: Path, flags) -> None:
    import numpy as np  # noqa: PLC0415

    cffi = _import_cffi()
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(
        modname,
        text,
        include_dirs=[np.get_include()],
        extra_compile_args=flags,
        libraries=[] if sys.platform == "win32" else ["m"],
        # the runtime uses the full C API (vectorcall, NumPy's C API)
        py_limited_api=False,
        define_macros=[("_CFFI_NO_LIMITED_API", None)],
    )
    with tempfile.TemporaryDirectory(prefix="symnum-c-") as tmp:
        try:
            built = ffi.compile(tmpdir=tmp, verbose=False)
        except Exception as exc:  # cffi raises several types (VerificationError, ...)
            msg = f"compiling the C kernel {modname} failed: {exc}"
            raise CompileError(msg) from exc
        shutil.copy2(built, directory / Path(built).name)
        shutil.copy2(Path(tmp) / f"{modname}.c", directory / f"{modname}.c")


# ----------------------------------------------------------------------------------
# extension modules and C export


def _as_ir(function, what: str) -> ir.Function:
    if isinstance(function, ir.Function):
        return function
    fn = getattr(function, "ir", None)
    if isinstance(fn, ir.Function):
        return fn
    msg = f"{what} is not a symnum numeric function (no IR): {type(function).__name__}"
    raise TypeError(msg)


def _flatten(functions, cprefix: str):
    """Emit every function of ``functions`` and its closures.

    Returns ``(sources, exported, closures)``: sources in kernel order, exported
    maps the public name to its kernel index, closures maps a kernel index to
    {output leaf index: closure kernel index}.
    """
    if not hasattr(functions, "items"):
        msg = "functions must be a mapping of names to numeric functions"
        raise TypeError(msg)
    sources: list[Source] = []
    exported: dict[str, int] = {}
    closures: dict[int, dict[int, int]] = {}
    for public, function in functions.items():
        ir.check_identifier(public, "function name")
        outer, inner = ir.split_closures(_as_ir(function, f"functions[{public!r}]"))
        index = len(sources)
        exported[public] = index
        sources.append(_emit(outer, f"{cprefix}{public}"))
        for leaf, closure in enumerate(inner):
            if closure is not None:
                closures.setdefault(index, {})[leaf] = len(sources)
                sources.append(_emit(closure, f"{cprefix}{public}_closure{leaf}"))
    return sources, exported, closures


def build_extension(functions, directory, name: str) -> Path:
    """Build an importable CPython extension module ``name`` into ``directory``.

    ``functions`` maps names to numeric functions (or IR functions); the module has one
    callable per name taking NumPy arrays (a point, or any common leading batch shape)
    and returning NumPy arrays, like the numeric function. It needs only NumPy at
    import time. Arguments are converted to float64 and their shapes checked before
    any kernel runs (TypeError / ValueError otherwise). Returns the module's path.
    """
    ir.check_identifier(name, "module name")
    if _find_compiler() is None:
        raise requirement_error()
    sources, exported, closures = _flatten(functions, f"{name}_")
    docs = [_signature_doc(s) for s in sources]
    text = "#include <Python.h>\n" + _module_text(name, sources, docs, exported, closures)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="symnum-ext-") as tmp:
        large = any(_is_large(s) for s in sources)
        built = _setuptools_compile(name, text, Path(tmp), _compile_args(large=large))
        target = directory / built.name
        scratch = directory / f".{built.name}.{os.getpid()}.tmp"
        shutil.copy2(built, scratch)
        os.replace(scratch, target)
    return target


def _setuptools_compile(modname: str, text: str, tmp: Path, flags) -> Path:
    import numpy as np  # noqa: PLC0415
    from setuptools import Distribution, Extension  # noqa: PLC0415
    from setuptools.command.build_ext import build_ext  # noqa: PLC0415

    c_file = tmp / f"{modname}.c"
    c_file.write_text(text)
    ext = Extension(
        modname,
        [str(c_file)],
        include_dirs=[np.get_include()],
        extra_compile_args=flags,
        libraries=[] if sys.platform == "win32" else ["m"],
    )
    dist = Distribution({"name": modname, "ext_modules": [ext]})
    cmd = build_ext(dist)
    cmd.build_lib = str(tmp / "lib")
    cmd.build_temp = str(tmp / "temp")
    cmd.ensure_finalized()
    try:
        cmd.run()
    except Exception as exc:  # distutils raises CompileError/LinkError of its own
        msg = f"compiling the extension module {modname} failed: {exc}"
        raise CompileError(msg) from exc
    return Path(cmd.get_ext_fullpath(modname))


def _prototype_doc(source: Source, public: str) -> str:
    def shape(s):
        return "scalar" if not s else "[" + "][".join(map(str, s)) + "]"

    def count(s):
        size = math.prod(s)
        return f"{size} double" + ("" if size == 1 else "s")

    lines = [f" * {source.cname}: {public}"]
    for py, c, s in source.params:
        lines.append(f" *   in  {c}: {shape(s)} ({count(s)}){'' if py == c else ' (' + py + ')'}")
    for k, s in enumerate(source.outputs):
        lines.append(f" *   out out{k}: {shape(s)} ({count(s)})")
    return "\n".join(lines)


def export_c(functions, directory, name: str) -> tuple[Path, Path]:
    """Write standalone C99 for ``functions`` (names -> numeric or IR functions).

    Writes ``directory/name.h`` (documented prototypes) and ``directory/name.c``
    (needs only libm: link with ``-lm``). Each function ``f`` becomes
    ``void name_f(const double *in..., double *out...)`` for one point and
    ``void name_f_batch(long long n, ...)`` for ``n`` points (every array with a
    leading axis of length n); arrays are flat in C order. An operator-valued function
    (a closure) becomes ``name_f``, returning the captures, plus
    ``name_f_closure<k>(captured, ...)``. Returns the two paths.
    """
    ir.check_identifier(name, "module name")
    sources, _, closures = _flatten(functions, f"{name}_")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    guard = f"{name.upper()}_H_"
    header = [
        f"/* {name}.h: generated by symnum. C99; link {name}.c with -lm.",
        " *",
        " * All arrays are flat, C order. Each kernel `f` has a batch twin",
        " * `f_batch(n, ...)` evaluating n points: every array argument then holds n",
        " * consecutive blocks of the sizes below. Outputs must not overlap inputs.",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
    ]
    for index, source in enumerate(sources):
        public = source.name
        owner = next((i for i, m in closures.items() if index in m.values()), None)
        if owner is not None:
            public = f"operator returned by {sources[owner].cname} (captured: its output)"
        params = [f"const double *{c}" for _, c, _ in source.params]
        outs = [f"double *out{k}" for k in range(len(source.outputs))]
        header.append("/*\n" + _prototype_doc(source, public) + "\n */")
        header.append(f"void {source.cname}({', '.join([*params, *outs]) or 'void'});")
        header.append(f"void {source.cname}_batch({', '.join(['long long n', *params, *outs])});\n")
    header += ["#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {guard} */", ""]
    needs = {n for s in sources for n in s.needs}
    body = [
        f"/* {name}.c: generated by symnum. C99 + libm. */",
        f'#include "{name}.h"',
        "#include <math.h>",
        *(["#include <stdlib.h>"] if "malloc" in needs else []),
        "",
        _helpers_text(needs - {"malloc"}),
        *(s.code for s in sources),
    ]
    h_path, c_path = directory / f"{name}.h", directory / f"{name}.c"
    h_path.write_text("\n".join(header))
    c_path.write_text("\n".join(body))
    return h_path, c_path
