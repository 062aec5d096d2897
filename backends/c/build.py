"""Building C: the toolchain, compiling with absolute paths, loading kernels via cffi.

:func:`build` compiles a kernel (cffi API mode, plus a table describing it) into the
shared cache (:func:`symnum.cache.entry`) and loads it as a :class:`Kernel`, called
through the CPython-API runtime of ``_c_runtime.h``, which :func:`shared_runtime`
compiles once per toolchain (namespace ``c_runtime`` of the cache). The compiler runs
as a subprocess on absolute paths inside a private directory: nothing here changes the
process's working directory (cffi's own ``ffi.compile`` and setuptools do, which breaks
builds from several threads at once), so any number of threads may build at once.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

from symnum import cache
from symnum.backends import BackendUnavailableError

from .emit import Source, _kernel_module_text, _signature_doc, runtime_text

__all__ = ["CompileError", "Kernel", "available", "build", "requirement_error"]

#: Bump when the emitted text or the runtime changes meaning without changing text.
_FORMAT = "3"


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
    """The C compiler (``CC`` overrides the interpreter's)."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shlex.split(cc)


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
        os.environ.get("LDFLAGS", ""),
        os.environ.get("LDSHARED", ""),
        sysconfig.get_config_var("LDSHARED") or "",
        sysconfig.get_config_var("EXT_SUFFIX") or "",
        sysconfig.get_config_var("SOABI") or "",
        sysconfig.get_platform(),
        platform.machine(),
        sys.version,
        np.__version__,
        getattr(cffi, "__version__", "none"),
    ]
    return "\n".join(parts)


def ext_suffix() -> str:
    """The file name suffix of this interpreter's extension modules."""
    return sysconfig.get_config_var("EXT_SUFFIX") or ".so"


def _compile_args(large: bool = False) -> list[str]:
    """Optimisation flags; ``large`` for split bodies, where -O3 costs compile time for
    nothing (the batch loop of a large kernel is dominated by the kernel itself)."""
    if sys.platform == "win32":
        return ["/O2"]
    # -fvisibility=hidden: kernels cannot be interposed, so the batch loop inlines the
    # point kernel (2x faster on small kernels); only PyInit_* is exported.
    # -ffp-contract=off: no fused multiply-adds, so results match NumPy bit for bit
    # wherever libm agrees; -fno-math-errno lets sqrt & co. inline; -g0 keeps .so small.
    level = "-O2" if large else "-O3"
    return [level, "-g0", "-fvisibility=hidden", "-fno-math-errno", "-ffp-contract=off"]


def _link_args() -> list[str]:
    """What turns the compiler into a shared-library linker for this interpreter: the
    tail of sysconfig's LDSHARED after its compiler (``-shared`` and library paths)."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "")
    ldshared = shlex.split(os.environ.get("LDSHARED") or sysconfig.get_config_var("LDSHARED") or "")
    if cc and ldshared[: len(cc)] == cc:
        tail = ldshared[len(cc) :]
    else:
        tail = [a for a in ldshared[1:] if a.startswith("-")] or ["-shared"]
    if sys.platform == "darwin" and "-bundle" not in tail and "-shared" not in tail:
        tail = ["-bundle", "-undefined", "dynamic_lookup", *tail]
    return tail + shlex.split(os.environ.get("LDFLAGS", ""))


def compile_shared(c_file: Path, target: Path, flags, include_dirs=(), defines=()) -> Path:
    """Compile ``c_file`` into the CPython extension ``target`` (absolute paths only;
    the compiler runs as a subprocess in ``target``'s directory, and this process's
    working directory is never changed). Raises :class:`CompileError` with the
    compiler's output on failure."""
    import numpy as np  # noqa: PLC0415

    c_file, target = Path(c_file).resolve(), Path(target).resolve()
    if sys.platform == "win32":  # pragma: no cover - MSVC goes through setuptools
        return _setuptools_compile(c_file, target, flags, include_dirs, defines)
    includes = [sysconfig.get_paths()["include"], np.get_include(), *map(str, include_dirs)]
    command = [
        *_compiler_command(),
        *shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC"),
        "-DNDEBUG",
        "-fwrapv",
        *flags,
        *shlex.split(os.environ.get("CFLAGS", "")),
        *(f"-I{d}" for d in includes),
        *(f"-D{d}" for d in defines),
        str(c_file),
        "-o",
        str(target),
        *_link_args(),
        "-lm",
    ]
    try:
        result = subprocess.run(  # noqa: S603 - the configured compiler, no shell
            command, capture_output=True, text=True, cwd=target.parent, check=False
        )
    except OSError as exc:
        msg = f"running the C compiler {command[0]!r} failed: {exc}"
        raise CompileError(msg) from exc
    if result.returncode != 0:
        msg = (
            f"compiling {c_file.name} failed (exit code {result.returncode}):\n"
            f"{shlex.join(command)}\n{result.stdout}{result.stderr}"
        )
        raise CompileError(msg)
    return target


_setuptools_lock = threading.Lock()


def _setuptools_compile(c_file, target, flags, include_dirs, defines):  # pragma: no cover
    """Windows: MSVC through setuptools (which may change the working directory, so
    one build at a time)."""
    import numpy as np  # noqa: PLC0415
    from setuptools import Distribution, Extension  # noqa: PLC0415
    from setuptools.command.build_ext import build_ext  # noqa: PLC0415

    modname = target.name.split(".")[0]
    with _setuptools_lock, tempfile.TemporaryDirectory(prefix="symnum-c-") as tmp:
        ext = Extension(
            modname,
            [str(c_file)],
            include_dirs=[np.get_include(), *map(str, include_dirs)],
            define_macros=[(d, None) for d in defines],
            extra_compile_args=list(flags),
        )
        cmd = build_ext(Distribution({"name": modname, "ext_modules": [ext]}))
        cmd.build_lib = str(Path(tmp) / "lib")
        cmd.build_temp = str(Path(tmp) / "temp")
        cmd.ensure_finalized()
        try:
            cmd.run()
        except Exception as exc:  # distutils raises CompileError/LinkError of its own
            msg = f"compiling the extension module {modname} failed: {exc}"
            raise CompileError(msg) from exc
        shutil.copy2(cmd.get_ext_fullpath(modname), target)
    return target


# ----------------------------------------------------------------------------------
# building through cffi into the cache

_lock = threading.Lock()
_loaded: dict[str, Kernel] = {}
_building: dict[str, threading.Lock] = {}


class Kernel:
    """A compiled kernel (the contract of :mod:`symnum.backends`).

    ``point`` and ``batch`` are C callables; :meth:`entry`, :meth:`method_entry` and
    :meth:`closure_entry` make the C callables NumericFunction and BoundClosure call.
    ``cffi_module`` (with ``lib`` and ``ffi``) is the cffi module: after
    ``numba.core.typing.cffi_utils.register_module(kernel.cffi_module)``, numba code
    can call ``lib.<cname>(ffi.from_buffer(x), ..., ffi.from_buffer(out0), ...)`` and
    ``lib.<cname>_batch(n, ...)`` directly (arguments as in :attr:`Source.params`; a
    kernel with data takes the number of rows first, see :meth:`Source.prototypes`).

    For a function with data, ``point`` takes each data argument as an ``(n, *shape)``
    array (any ``n``, common to the data arguments) and ``batch`` batches only the
    other arguments; both check every shape (and the common ``n``) in C before the
    kernel runs.
    """

    __slots__ = (
        "__weakref__",
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

    #: entries take kernels with data loops, and ``data`` (see :mod:`symnum.backends`)
    data_entries = True

    def entry(self, slow, captured=None, data=None):
        """A C callable for user arguments: exact float64 arrays (native byte order,
        aligned, C-contiguous; a point, or any leading batch shape shared by all
        arguments) run the kernel; anything else returns ``slow(*args, **kwargs)``.
        ``captured`` (an array) is bound in front of the user's arguments, the arrays
        ``data`` (a function's constant data) after them."""
        prefix = () if captured is None else (captured,)
        return self._runtime.make(0, slow, prefix, 0, None, 0, tuple(data or ()))

    def method_entry(self, slow):
        """Like :meth:`entry`, for a class's ``__call__``: called on an instance it binds
        the instance's ``captured`` attribute in front (no Python frame runs); anything
        unusual returns ``slow(instance, *args, **kwargs)``."""
        return self._runtime.make(0, slow, (), 0, None, 1)

    def closure_entry(self, slow, classes):
        """Like :meth:`entry`, but output ``k`` comes back as a new instance of
        ``classes[k]`` (when not ``None``) with the output as its ``captured``
        attribute, made without running Python code (``classes`` are plain classes
        with ``__slots__``; neither ``__new__`` nor ``__init__`` runs)."""
        return self._runtime.make(0, slow, (), 0, tuple(classes))

    def shapes(self) -> tuple[int, ...]:
        """The shape table the kernel's code was emitted for (see :class:`Source`)."""
        return self._runtime.shapes(0)

    def __reduce__(self):
        return build, (self.source,)

    def __repr__(self) -> str:
        return f"<C kernel {self.source.name}>"


def _cdef(source: Source) -> str:
    point, batch = source.prototypes()
    return f"{point};\n{batch};\n"


def load(path: Path, modname: str):
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


def build(source: Source) -> Kernel:
    """Compile ``source`` (or fetch it from the cache) and load it.

    Safe from many threads at once: one thread builds a given kernel, the others wait
    for it; different kernels build in parallel.
    """
    if not available():
        raise requirement_error()
    # the names of the two modules in one .so are fixed by the source, so a second
    # process loads the cached file under the names it was compiled with
    probe = _key(source.code + repr(source.tree) + repr(source.params), "", ())
    with _lock:
        kernel = _loaded.get(probe)
        if kernel is not None:
            return kernel
        building = _building.setdefault(probe, threading.Lock())
    with building:
        with _lock:
            kernel = _loaded.get(probe)
        if kernel is None:
            kernel = _build(source, probe)
            with _lock:
                _loaded.setdefault(probe, kernel)
                if len(_loaded) > 4096:  # bounded: old kernels stay alive only through users
                    _loaded.pop(next(iter(_loaded)))
    with _lock:
        _building.pop(probe, None)
    return kernel


class _Table:
    """The shared runtime's functions bound to one kernel module's table (a capsule):
    what :class:`Kernel` calls ``make`` and ``shapes``."""

    __slots__ = ("make", "shapes")

    def __init__(self, runtime, table):
        self.make = functools.partial(runtime.make, table)
        self.shapes = functools.partial(runtime.shapes, table)


_runtime_lock = threading.Lock()
_runtime_module = None

#: the shared runtime's module name (also its PyInit_ name, in _c_runtime.h)
_RUNTIME_NAME = "_symnum_c_runtime"


def shared_runtime():
    """The shared C runtime (``_c_runtime.h`` as an extension module of its own), built
    into the cache once per toolchain and loaded once per process. Every kernel module
    :func:`build` makes is called through it, so a kernel's own module holds only its
    kernels: compiling one takes a fraction of the time it took with the runtime in it.
    """
    global _runtime_module  # noqa: PLW0603 - one per process, made on first use
    with _runtime_lock:
        if _runtime_module is None:
            text = runtime_text()
            flags = _compile_args()
            key = cache.make_key("c", _FORMAT, "runtime", text, _toolchain_id(), " ".join(flags))
            suffix = ext_suffix()

            def compile_into(directory: Path) -> None:
                c_file = Path(directory).resolve() / f"{_RUNTIME_NAME}.c"
                c_file.write_text(text)
                compile_shared(c_file, c_file.with_name(_RUNTIME_NAME + suffix), flags)

            directory = cache.entry("c_runtime", key, compile_into)
            _runtime_module = load(directory / (_RUNTIME_NAME + suffix), _RUNTIME_NAME)
        return _runtime_module


def runtime_loaded() -> bool:
    """Whether :func:`shared_runtime` has been loaded in this process."""
    return _runtime_module is not None


def call_class(base: type, method: bool = False) -> type:
    """A subclass of ``base`` whose instances, called, call the class attribute
    ``_fast_entry`` through CPython's vectorcall protocol (the instance in front when
    ``method``): no argument tuple and no Python-level ``__call__`` in between. Its
    instance layout extends ``base``'s by one word (the vectorcall pointer, set when an
    instance is allocated), so instances must be made as this class (``__class__``
    cannot be assigned to or from it); it cannot be subclassed. See
    :mod:`symnum.backends`."""
    name = f"{base.__module__}.{base.__name__}".encode()
    cls = shared_runtime().call_class(base, name, bool(method))
    cls.__module__, cls.__qualname__ = base.__module__, base.__qualname__
    return cls


def _build(source: Source, probe: str) -> Kernel:
    runtime = shared_runtime()
    modname = f"_symnum_c_{probe[:24]}"
    text = _kernel_module_text(f"{modname}_rt", [source], [_signature_doc(source)])
    cdef = _cdef(source)
    flags = _compile_args(large=source.split)
    key = _key(text, cdef, flags)

    def compile_into(directory: Path) -> None:
        _cffi_compile(modname, text, cdef, directory, flags)

    directory = cache.entry("c", key, compile_into)
    path = directory / (modname + ext_suffix())
    cffi_module = load(path, modname)
    table = load(path, modname + "_rt").table
    # the runtime compares each description with its code's shape table (ImportError)
    runtime.adopt(table)
    kernel = Kernel(source, path, cffi_module, _Table(runtime, table))
    from .emit import shape_table  # noqa: PLC0415

    expected = shape_table(source.param_shapes, source.output_shapes)
    # this compares the code's table with the metadata the cffi declarations came from
    if kernel.shapes() != expected:
        msg = f"C kernel {source.name}: its code and its description disagree"
        raise ImportError(msg)
    return kernel


def _cffi_compile(modname: str, text: str, cdef: str, directory: Path, flags) -> None:
    """Write the cffi module's C into ``directory`` and compile it there."""
    cffi = _import_cffi()
    from cffi.recompiler import make_c_source  # noqa: PLC0415 - with cffi

    ffi = cffi.FFI()
    ffi.cdef(cdef)
    directory = Path(directory).resolve()
    c_file = directory / f"{modname}.c"
    # what ffi.emit_c_code writes, without its "generating ..." line on stdout
    make_c_source(ffi, modname, text, str(c_file), verbose=False)
    target = directory / (modname + ext_suffix())
    compile_shared(c_file, target, flags, defines=("_CFFI_NO_LIMITED_API",))
