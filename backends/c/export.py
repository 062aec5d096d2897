"""Extension modules and standalone C: :func:`build_extension` and :func:`export_c`.

Both emit every function (and the closure kernels of operator-valued ones) with
:mod:`.emit` under names prefixed by the module's name, so several functions share one
translation unit without clashing.
"""

from __future__ import annotations

import importlib.util
import keyword
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

from symnum import ir

from .build import _compile_args, _find_compiler, compile_shared, ext_suffix, requirement_error
from .emit import Source, _emit, _helpers_text, _module_text, _signature_doc, shape_table

__all__ = ["build_extension", "export_c"]


def _as_ir(function, what: str) -> ir.Function:
    if isinstance(function, ir.Function):
        return function
    fn = getattr(function, "ir", None)
    if isinstance(fn, ir.Function):
        return fn
    msg = f"{what} is not a symnum numeric function (no IR): {type(function).__name__}"
    raise TypeError(msg)


def _check_function_name(public: str) -> None:
    ir.check_identifier(public, "function name")
    if public.startswith("__") and public.endswith("__"):
        # a module attribute like __name__ or __getattr__ breaks importing the module
        msg = (
            f"function name {public!r} is reserved: names of the form __name__ are "
            "module attributes Python itself uses"
        )
        raise ValueError(msg)


def _check_module_name(name: str, directory: Path | None = None) -> None:
    """Refuse names that are not identifiers, Python keywords, and names of modules
    that exist already (the standard library's, or any importable one outside
    ``directory``): the new module would shadow them, or never be imported."""
    ir.check_identifier(name, "module name")
    taken = name in sys.stdlib_module_names or name in sys.builtin_module_names
    if not taken:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = getattr(spec, "origin", None)
        if spec is not None:
            inside = (
                directory is not None
                and origin is not None
                and Path(origin).resolve().parent == Path(directory).resolve()
            )
            taken = not inside
    if taken or keyword.iskeyword(name):
        msg = (
            f"module name {name!r} is taken by an existing module: the new module would "
            "shadow it (or be shadowed by it); choose another name"
        )
        raise ValueError(msg)


def _flatten(functions, cprefix: str):
    """Emit every function of ``functions`` and its closures.

    Returns ``(sources, exported, closures)``: sources in kernel order, exported
    maps the public name to its kernel index, closures maps a kernel index to
    {output leaf index: closure kernel index}. Raises ValueError when two functions
    would define the same C name (``f`` and ``f_batch``, say).
    """
    if not hasattr(functions, "items"):
        msg = "functions must be a mapping of names to numeric functions"
        raise TypeError(msg)
    sources: list[Source] = []
    exported: dict[str, int] = {}
    closures: dict[int, dict[int, int]] = {}
    defined: dict[str, str] = {}
    for public, function in functions.items():
        _check_function_name(public)
        outer, inner = ir.split_closures(_as_ir(function, f"functions[{public!r}]"))
        index = len(sources)
        exported[public] = index
        emitted = [_emit(outer, f"{cprefix}{public}")]
        for leaf, closure in enumerate(inner):
            if closure is not None:
                closures.setdefault(index, {})[leaf] = index + len(emitted)
                emitted.append(_emit(closure, f"{cprefix}{public}_closure{leaf}"))
        for source in emitted:
            for cname in source.globals:
                if cname in defined:
                    msg = (
                        f"functions {defined[cname]!r} and {public!r} would both define "
                        f"the C name {cname!r}; rename one of them"
                    )
                    raise ValueError(msg)
                defined[cname] = public
        sources += emitted
    return sources, exported, closures


def build_extension(functions, directory, name: str) -> Path:
    """Build an importable CPython extension module ``name`` into ``directory``.

    ``functions`` maps names to numeric functions (or IR functions); the module has one
    callable per name taking NumPy arrays (a point, or any common leading batch shape)
    and returning NumPy arrays, like the numeric function. It needs only NumPy at
    import time. Arguments are converted to native float64 (lists, other dtypes,
    byte-swapped, unaligned or strided arrays) and their shapes checked before any
    kernel runs (TypeError / ValueError otherwise). Function names must be identifiers
    other than ``__dunder__`` names; the module name must not be that of an existing
    module (``math``, ``numpy``...). Returns the module's path.
    """
    directory = Path(directory)
    _check_module_name(name, directory)
    if _find_compiler() is None:
        raise requirement_error()
    sources, exported, closures = _flatten(functions, f"{name}_")
    docs = [_signature_doc(s) for s in sources]
    text = "#include <Python.h>\n" + _module_text(name, sources, docs, exported, closures)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ext_suffix()
    with tempfile.TemporaryDirectory(prefix="symnum-ext-") as tmp:
        c_file = Path(tmp).resolve() / f"{name}.c"
        c_file.write_text(text)
        large = any(s.split for s in sources)
        built = compile_shared(c_file, c_file.with_name(name + suffix), _compile_args(large))
        target = directory / built.name
        scratch = directory / f".{built.name}.{os.getpid()}.tmp"
        shutil.copy2(built, scratch)
        os.replace(scratch, target)
    return target


def _prototype_doc(source: Source, public: str) -> str:
    def shape(s, data=False):
        if data:
            return "[n]" + "".join(f"[{d}]" for d in s) + " data"
        return "scalar" if not s else "[" + "][".join(map(str, s)) + "]"

    def count(s, data=False):
        size = math.prod(s)
        doubles = f"{size} double" + ("" if size == 1 else "s")
        return f"n rows of {doubles}, row r at r * {size}" if data else doubles

    lines = [f" * {source.cname}: {public}"]
    if source.looped:
        lines.append(" *   in  n: the number of data rows (>= 0), common to every data array")
    for i, (py, c, s) in enumerate(source.params):
        data = i in source.data
        renamed = "" if py == c else " (" + py + ")"
        lines.append(f" *   in  {c}: {shape(s, data)} ({count(s, data)}){renamed}")
    for k, s in enumerate(source.outputs):
        data = k in source.data_outputs
        lines.append(f" *   out out{k}: {shape(s, data)} ({count(s, data)})")
    if source.looped:
        m = source.batch_count
        lines.append(
            f" *   {source.cname}_batch({m}, n, ...): {m} points of the other arrays (each"
            f" with {m} blocks),"
        )
        lines.append(
            f" *   the data arrays shared by all of them; data outputs get {m} blocks of n rows"
        )
    return "\n".join(lines)


_DATA_NOTE = [
    " *",
    " * Functions with data take the number of rows n first. A data array (marked",
    " * `data` below) holds n rows of its shape, row-major: row r (0 <= r < n) starts",
    " * at r times the row size, and every data array of a call has the same n (the",
    " * kernel reads n rows of each, so each must hold at least that many). Data",
    " * arguments come in the function's parameter order among the others; data",
    " * outputs (n rows too) are written row by row. The batch twin f_batch(m, n, ...)",
    " * takes m points of the other arrays and shares the data arrays between them.",
    " * In the shape tables, a data array's first dimension is -1 (its n rows).",
]


def export_c(functions, directory, name: str) -> tuple[Path, Path]:
    """Write standalone C99 for ``functions`` (names -> numeric or IR functions).

    Writes ``directory/name.h`` (documented prototypes) and ``directory/name.c``
    (needs only libm: link with ``-lm``). Each function ``f`` becomes
    ``void name_f(const double *in..., double *out...)`` for one point and
    ``void name_f_batch(long long n, ...)`` for ``n`` points (every array with a
    leading axis of length n); arrays are flat in C order. An operator-valued function
    (a closure) becomes ``name_f``, returning the captures, plus
    ``name_f_closure<k>(captured, ...)``. A function with data parameters becomes
    ``void name_f(long long n, ...)``: each data array holds ``n`` rows of its
    parameter's shape, row-major, and data outputs ``n`` rows of theirs; its batch
    twin ``name_f_batch(long long m, long long n, ...)`` takes ``m`` points of the
    other arrays, the data arrays being shared. Returns the two paths.
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
        " * `f_shapes` describes f's arrays for callers that need no other metadata:",
        " * the parameter count, each parameter's rank then dimensions, the output",
        " * count, each output's rank then dimensions.",
        *(_DATA_NOTE if any(source.looped for source in sources) else []),
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
        point, batch = source.prototypes()
        header.append("/*\n" + _prototype_doc(source, public) + "\n */")
        header.append(f"{point};")
        header.append(f"{batch};")
        table = shape_table(source.param_shapes, source.output_shapes)
        header.append(f"extern const long long {source.shapes_name}[{len(table)}];\n")
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
