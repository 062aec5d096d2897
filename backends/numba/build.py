"""Build numba kernels: generated modules as real files in the cache, and their entries.

:func:`build` writes a :class:`~symnum.backends.numba.emit.Source` as ``kernel.py`` into
the shared content-addressed cache (:func:`symnum.cache.entry`) and imports it from
there. Every function in it is ``numba.njit(cache=True)``, which numba honours only for
functions defined in real files: a second process using the same function loads
numba's machine code from the entry's ``__pycache__`` instead of compiling. Files there
that are not whole pickles (truncated, empty, garbage) are deleted before the import, so
numba compiles again rather than fail on them.

:meth:`Kernel.entry` is the fast entry of the backend contract (:mod:`symnum.backends`);
:meth:`Kernel.method_entry` and :meth:`Kernel.closure_entry` are its two variants for
operator-valued results. All three wrap the same exact-type dispatcher: where the C
backend's toolchain is installed too (the ``c`` extra and a compiler, see
:func:`guard_runtime`), they are guards of its shared C runtime and :func:`call_class`
gives NumericFunction a class whose instances call them by vectorcall, so a call from
Python runs no Python frame; otherwise (and for output trees nested deeper than one
tuple) they are small Python functions generated per kernel (:func:`_entry_text`).

numba saves machine code when it compiles, on the call that compiles: on a full disk
(or any other failure to write there) the call raises ``OSError``. ``kernel.batch``,
``kernel.point`` (when it is the Python wrapper of a function with scalar outputs) and
the fast entries catch that error, report it once with
:func:`symnum.cache.write_failed` (a :class:`~symnum.cache.CacheWarning`) and go on with
the same module executed again without ``cache=True`` (its functions compile in memory
and save nothing), retrying the call there. ``kernel.njit`` and ``kernel.njit_batch``
stay numba's own caching dispatchers, compiled by whatever code calls them.

Importing this module does not import numba; :func:`build` does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import os
import pickle
import pickletools
import platform
import re
import sys
import threading
import weakref
from pathlib import Path
from types import ModuleType

import numpy as np

from symnum import _log, cache
from symnum.backends.numba import require_numba
from symnum.backends.numba.emit import _render_tree

__all__ = ["Kernel", "build", "cache_key", "call_class", "guard_runtime"]

MODULE_FILE = "kernel.py"
#: Bumped when the layout of generated modules or of the cache entry changes meaning.
LAYOUT_VERSION = "4"


class Kernel:
    """A compiled function: ``point`` and ``batch`` follow the contract of
    :mod:`symnum.backends`; ``njit`` is the point kernel's numba dispatcher, which
    ``@numba.njit`` code can call (``njit_batch`` likewise for the batch kernel)."""

    __slots__ = (
        "__weakref__", "_batch", "_calls", "_entry_code", "_exact", "_exports", "_lock",
        "_njit", "_njit_batch", "_point", "handed_out", "module", "source",
    )  # fmt: skip

    def __init__(self, source, module):
        self.source = source
        self.module = module
        self._njit = getattr(module, source.point_name)
        self._njit_batch = getattr(module, source.batch_name)
        self._calls = _Calls(source, module)
        self._batch = _guarded(self._calls, "batch")
        self._point = _guarded(self._calls, "point")
        self._exact = None
        self._entry_code = {}
        self._exports = None
        self._lock = threading.Lock()
        #: whether a function of the module was handed out (see :func:`_release`)
        self.handed_out = [False]

    @property
    def point(self):
        self.handed_out[0] = True
        return self._point

    @property
    def batch(self):
        self.handed_out[0] = True
        return self._batch

    @property
    def njit(self):
        self.handed_out[0] = True
        return self._njit

    @property
    def njit_batch(self):
        self.handed_out[0] = True
        return self._njit_batch

    def __reduce__(self):
        return build, (self.source,)

    def __repr__(self) -> str:
        return f"<numba kernel {self.source.name}>"

    @property
    def exports(self) -> dict:
        """Extra attributes of the functions built on this kernel: ``njit``,
        ``njit_batch`` and numba's typing hook ``_numba_type_`` (see :mod:`.interop`)."""
        if self._exports is None:
            from symnum.backends.numba import interop  # noqa: PLC0415 - imports numba

            self._exports = {
                "njit": self.njit,
                "njit_batch": self.njit_batch,
                "_numba_type_": interop.dispatcher_type(self.njit),
            }
        return self._exports

    def exports_bound(self, data: tuple) -> dict:
        """The exports of a function whose last parameters are bound to the arrays
        ``data`` (its constant data): ``njit`` and ``njit_batch`` take the other
        arguments only (see :func:`.interop.bind_data`)."""
        from symnum.backends.numba import interop  # noqa: PLC0415 - imports numba

        nargs = len(self.source.params) - len(data)
        njit = interop.bind_data(self.njit, nargs, tuple(data))
        return {
            "njit": njit,
            "njit_batch": interop.bind_data(self.njit_batch, nargs, tuple(data)),
            "_numba_type_": interop.dispatcher_type(njit),
        }

    def exact(self):
        """A dispatcher of the point kernel compiled for exactly the parameters'
        types (C-contiguous, aligned float64 or complex128 arrays of the parameters'
        ranks, writable but for data arguments) and closed to others: a call with
        anything else raises instead of compiling (``disable_compile``)."""
        with self._lock:
            if self._exact is None:
                numba = require_numba()
                from numba.core import types  # noqa: PLC0415

                data = getattr(self.source, "data", ())  # data arguments: a rows axis
                # data arguments are read-only (constant data are frozen; numba passes
                # writable arrays to read-only parameters as they are)
                arrays = [
                    types.Array(
                        types.complex128 if dtype == "complex128" else types.float64,
                        len(shape) + (k in data),
                        "C",
                        readonly=k in data,
                    )
                    for k, (shape, dtype) in enumerate(self.source.params)
                ]
                signature = [types.void(*arrays).args]
                # explicit signatures compile now and disable further compilation
                try:
                    jit = numba.njit(signature, cache=True, error_model="numpy")
                    self._exact = jit(self.njit.py_func)
                except Exception as exc:
                    error = _save_error(exc)
                    if error is None:
                        raise
                    uncached = self._calls.fall_back(error)
                    jit = numba.njit(signature, error_model="numpy")
                    self._exact = jit(getattr(uncached, self.source.point_name).py_func)
            return self._exact

    #: entries take kernels with data loops, and ``data`` (see :mod:`symnum.backends`)
    data_entries = True

    def entry(self, slow, captured=None, data=None):
        """The fast entry of the contract: ``f(*args)`` runs the compiled kernel for
        exact float64 (complex128) C-contiguous aligned arrays of the parameters' shapes
        and returns ``slow(*args, **kwargs)`` for anything else (``captured``, when
        given, is passed in front of the arguments, the arrays ``data`` after them; see
        :func:`_entry_text`).

        The entry checks the count, the type ``ndarray`` and the shapes; numba's
        dispatcher the rest in C (dtype, byte order, layout, alignment, writability:
        anything but the one compiled signature is refused before any compiled code
        runs). Either way ``slow`` takes over and raises the function's own error (not
        chained to numba's refusal). With the C toolchain (:func:`guard_runtime`) this
        is a guard of the C runtime and runs no Python frame; otherwise a generated
        Python function runs one per call (numba's public API has no way to route a
        refused call elsewhere without one)."""
        data = tuple(data or ())
        guard = self._guard(slow, 0 if captured is None else 1, captured, data=data)
        if guard is not None:
            return guard
        first = None if captured is None else "captured"
        return self._generated(first, (), slow, (), captured, keywords=False, data=data)

    def method_entry(self, slow):
        """``method_entry(slow)`` of the contract: a callable meant as a class's
        ``__call__``. Called on an instance with exact arrays (the instance's
        ``captured`` too: one point, not a batch) it runs the exact-type dispatcher with
        the captures in front; anything else (keyword arguments, batched captures,
        lists, other dtypes or shapes, a wrong count) returns
        ``slow(instance, *args, **kwargs)``. A C guard when :func:`guard_runtime`
        has one (it binds like a function as a class's ``__call__``), else a Python
        function (one frame per call)."""
        guard = self._guard(slow, 2)
        if guard is not None:
            return guard
        return self._generated("self", (), slow, ())

    def _shapes(self) -> tuple:
        """The shape of each parameter's argument, -1 for a data argument's rows."""
        data = getattr(self.source, "data", ())
        return tuple(
            (-1,) * (k in data) + tuple(shape) for k, (shape, _) in enumerate(self.source.params)
        )

    def _guard(self, slow, mode: int, captured=None, binds=None, data=()):
        """The C runtime's guard of the exact-type dispatcher (``mode`` 0: plain, 1:
        ``captured`` in front, 2: a method binding its instance's ``captured``; ``binds``:
        a closure entry's classes; ``data``: arrays bound after the user's arguments),
        or ``None`` without a runtime or for output trees deeper than one tuple."""
        runtime = guard_runtime()
        scalars = self.source.scalars
        flat = isinstance(scalars, tuple)
        leaves = scalars if flat else (scalars,)
        if runtime is None or any(isinstance(leaf, tuple) for leaf in leaves):
            return None
        if binds is not None and not any(cls is not None for cls in binds):
            binds = None
        flags = bytes(map(bool, leaves)) if any(leaves) or binds is not None else None
        shapes = self._shapes()[: len(self.source.params) - len(data)]
        return runtime.guard(
            self.exact(), slow, shapes, mode, captured, flags, flat, binds, tuple(data)
        )

    def closure_entry(self, slow, classes):
        """``closure_entry(slow, classes)`` of the contract: like :meth:`entry`, but
        output ``k`` comes back as ``object.__new__(classes[k])`` with the output as its
        ``captured`` (when ``classes[k]`` is not ``None``); keyword arguments go to
        ``slow``. A C guard when :func:`guard_runtime` has one, else a Python
        function."""
        classes = tuple(classes)
        if len(classes) != len(_flatten(self.source.scalars)):
            msg = "closure_entry needs one item per output in classes"
            raise TypeError(msg)
        guard = self._guard(slow, 0, binds=classes)
        if guard is not None:
            return guard
        closures = tuple(k for k, cls in enumerate(classes) if cls is not None)
        return self._generated(None, closures, slow, classes)

    def _generated(self, first, closures, slow, classes, captured=None, *, keywords=True, data=()):
        """The entry function of :func:`_entry_text` (``first``, ``closures``,
        ``keywords``, the number of ``data``) in a namespace of its own, where ``slow``,
        the classes, ``captured`` and ``data`` are bound."""
        exact = self.exact()  # compiled now: a full disk falls back here, once
        key = (first, closures, keywords, len(data))
        with self._lock:
            code = self._entry_code.get(key)
            if code is None:
                scalars = self.source.scalars
                shapes = self._shapes()
                text = _entry_text(shapes, scalars, first, closures, keywords, ndata=len(data))
                kind = "method-entry" if first == "self" else "entry"
                if closures:
                    kind = f"closure-{kind}"
                filename = f"<symnum-numba-{kind} {self.source.name}>"
                code = self._entry_code[key] = compile(text, filename, "exec")
        namespace = {
            "_exact": exact,
            "_slow": slow,
            "_captured": captured,
            "_data": tuple(data),
            "_ndarray": np.ndarray,
            "_new": object.__new__,
            "_float64": np.float64,
            "_complex128": np.complex128,
            **{f"_class{k}": cls for k, cls in enumerate(classes) if cls is not None},
        }
        exec(code, namespace)  # noqa: S102 - our own text, from plain counts and flags
        return namespace["_entry"]


_guard_lock = threading.Lock()
#: [the shared C runtime or None], once decided (see guard_runtime)
_guard_state: list = []


def guard_runtime():
    """The C backend's shared runtime (:func:`symnum.backends.c.build.shared_runtime`)
    when its toolchain is here (cffi and a C compiler: ``pip install "symnum[c]"``), else
    ``None``; decided once per process. Its guards are the kernels' fast entries (the
    checks of :func:`_entry_text` in C) and its call classes let NumericFunction call
    them with no Python frame, which is a third of a small kernel's call from Python.
    Environment variable ``SYMNUM_NUMBA_C_ENTRY=0`` turns this off (Python entries;
    nothing compiled with the C toolchain), and so does a cache that does not persist
    (``SYMNUM_DISABLE_CACHE``, or an unusable folder) unless the runtime is already
    loaded: every process would compile it again."""
    if _guard_state:
        return _guard_state[0]
    with _guard_lock:
        if not _guard_state:
            _guard_state.append(_load_guard_runtime())
    return _guard_state[0]


def _load_guard_runtime():
    if os.environ.get("SYMNUM_NUMBA_C_ENTRY", "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    from symnum.backends.c.build import available, runtime_loaded, shared_runtime  # noqa: PLC0415

    if not available():
        return None
    if not runtime_loaded() and not cache.persistent():
        # every process would compile it again (about 1.5 s): not worth it here
        return None
    try:
        return shared_runtime()
    except Exception as exc:  # noqa: BLE001 - the Python entries work without it
        _log.logger.info("numba entries stay in Python: the C runtime failed to build: %s", exc)
        return None


def call_class(base: type, method: bool = False):
    """``call_class`` of the backend contract: the C runtime's call class over
    ``base`` (see :func:`symnum.backends.c.build.call_class`) when
    :func:`guard_runtime` has a runtime, else ``None`` (NumericFunction then installs
    the entries as ``__call__``)."""
    if guard_runtime() is None:
        return None
    from symnum.backends.c.build import call_class as c_call_class  # noqa: PLC0415

    return c_call_class(base, method)


def _flatten(tree) -> list:
    """The leaves of a nested tuple, in order."""
    return [leaf for sub in tree for leaf in _flatten(sub)] if isinstance(tree, tuple) else [tree]


def _entry_text(
    shapes: tuple,
    scalars,
    first: str | None,
    closures: tuple[int, ...],
    keywords: bool,
    *,
    ndata: int = 0,
) -> str:
    """The source of ``_entry``, an entry of a kernel with parameters of ``shapes`` (-1:
    a data argument's rows, of any number) and the output tree ``scalars``
    (:attr:`Source.scalars`: shape-``()`` outputs come back as NumPy scalars). The first
    parameter is the caller's first argument (``first`` ``None``), the global
    ``_captured`` (``"captured"``: :meth:`Kernel.entry` of a closure kernel) or
    ``self.captured`` (``"self"``: a method entry, called on an instance); outputs
    numbered ``closures`` come back wrapped in new instances of ``_class<k>`` (a closure
    entry). With ``keywords`` keyword arguments go to ``_slow``; without, the entry
    takes none and Python refuses them, as ``NumericFunction.__call__`` does (accepting
    them would build a dict on every call). The last ``ndata`` parameters are the global
    ``_data`` (a function's constant data), after the caller's arguments.

    The checks before the call are the cheap ones (keywords, count, the type ``ndarray``
    itself: subclasses such as masked arrays take the checked path; the shapes: numba's
    refusal of a batch's rank builds an error message, 75 us, and a shape error raised
    by compiled code leaks memory, numba issue 1549); the exact-type dispatcher checks
    the rest in C (dtype, byte order, layout, alignment), and anything it refuses raises,
    which sends the call to ``_slow`` (outside the ``except``, so its errors are not
    chained to numba's)."""
    arrays = [f"a{k}" for k in range(len(shapes) - ndata)]

    def refused(k: int) -> str:
        shape, lead = shapes[k], ""
        if shape[:1] == (-1,):  # numba refuses a wrong rank
            shape, lead = shape[1:], "[1:]"
        return f"type(a{k}) is not _ndarray or a{k}.shape{lead} != {shape!r}"

    user = arrays if first is None else arrays[1:]
    given = "self, *args" if first == "self" else "*args"
    checks = ["kwargs"] if keywords else []
    checks.append(f"len(args) != {len(user)}")
    signature = ", ".join(["self"] * (first == "self") + ["*args"] + ["**kwargs"] * keywords)
    lines = [f"def _entry({signature}):"]
    if first is not None:
        lines.append("    a0 = self.captured" if first == "self" else "    a0 = _captured")
        checks.append(refused(0))
    lines.append(f"    if {' or '.join(checks)}:")
    lines.append(f"        return _slow({given}{', **kwargs' if keywords else ''})")
    if user:
        lines.append(f"    {', '.join(user)}, = args")
        exact_checks = " or ".join(refused(k) for k in range(len(arrays) - len(user), len(arrays)))
        lines.append(f"    if {exact_checks}:")
        lines.append(f"        return _slow({given})")
    target = _render_tree(scalars, (f"r{k}" for k in itertools.count()))
    values = []
    body = []
    for k, scalar in enumerate(_flatten(scalars)):
        if scalar:  # a Python float or complex from numba: a NumPy scalar
            body.append(f"r{k} = (_complex128 if type(r{k}) is complex else _float64)(r{k})")
        if k in closures:
            body.append(f"b{k} = _new(_class{k})")
            body.append(f"b{k}.captured = r{k}")
            values.append(f"b{k}")
        else:
            values.append(f"r{k}")
    lines.append("    try:")
    call = ", ".join(arrays + ["*_data"] * (ndata > 0))
    lines.append(f"        {target} = _exact({call})")
    lines.append("    except Exception:")
    lines.append("        pass")
    lines.append("    else:")
    lines.extend(f"        {line}" for line in body)
    lines.append(f"        return {_render_tree(scalars, iter(values))}")
    lines.append(f"    return _slow({given})")
    return "\n".join(lines) + "\n"


class _Calls:
    """What ``kernel.point`` and ``kernel.batch`` call: the module's functions, or after
    a failure to save compiled code, those of the module executed without caching."""

    __slots__ = ("batch", "lock", "module", "point", "source", "uncached")

    def __init__(self, source, module):
        self.source = source
        self.module = module
        self.point = _point_of(source, module)
        self.batch = getattr(module, source.batch_name)
        self.uncached = None
        self.lock = threading.Lock()

    def fall_back(self, error: OSError):
        """Warn (once) and switch to the module without caching; return that module."""
        with self.lock:
            if self.uncached is None:
                cache.write_failed(Path(self.module.__file__).parent / "__pycache__", error)
                module = _uncached_module(self.source, self.module)
                self.point = _point_of(self.source, module)
                self.batch = getattr(module, self.source.batch_name)
                self.uncached = module
            return self.uncached


def _point_of(source, module):
    """The module's point function: its Python wrapper (which turns scalar outputs into
    NumPy scalars), or the njit dispatcher itself when there is none."""
    python = getattr(module, source.python_name, None)
    return getattr(module, source.point_name) if python is None else python


def _guarded(calls: _Calls, name: str):
    """``calls.<name>(*args)``, retried without caching if numba cannot save."""

    def call(*args):
        try:
            return getattr(calls, name)(*args)
        except Exception as exc:
            error = _save_error(exc)
            if error is None:
                raise
            calls.fall_back(error)
        return getattr(calls, name)(*args)

    return call


def _save_error(exc: BaseException) -> OSError | None:
    """The ``OSError`` behind ``exc`` (itself, its cause or its context), if any.

    Generated kernels raise no ``OSError``: one comes from numba saving (or loading)
    compiled code, possibly wrapped by the compile of a caller."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


_CACHED_JIT = re.compile(r"^@numba\.njit\(cache=True, ", re.MULTILINE)


def _uncached_module(source, module) -> ModuleType:
    """The generated module executed again with ``cache=True`` removed from every njit
    decorator: its functions compile in memory only (their callees in the module too)."""
    text = _CACHED_JIT.sub("@numba.njit(", source.text)
    uncached = ModuleType(f"{module.__name__}_uncached")
    uncached.__file__ = module.__file__
    code = compile(text, module.__file__, "exec")
    exec(code, uncached.__dict__)  # noqa: S102 - our own generated text, as imported
    return uncached


_kernels: weakref.WeakValueDictionary[str, Kernel] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def cache_key(source) -> str:
    """The cache key of ``source``: its text and everything numba's output depends on."""
    numba = require_numba()
    import llvmlite  # noqa: PLC0415 - comes with numba

    from symnum.backends.numba import runtime  # noqa: PLC0415 - imports numba

    return cache.make_key(
        source.text,
        "numba",
        LAYOUT_VERSION,
        runtime.DIGEST,
        numba.__version__,
        llvmlite.__version__,
        np.__version__,
        sys.implementation.cache_tag or "",
        platform.machine(),
        sys.platform,
    )


def build(source) -> Kernel:
    """Write ``source`` into the cache as a module, import it and return its kernel.

    Compilation is lazy (numba compiles on the first call for the argument types it
    sees) and cached on disk next to the module, so another process importing the same
    entry loads machine code instead of compiling.
    """
    require_numba()
    key = cache_key(source)
    with _lock:
        kernel = _kernels.get(key)
        if kernel is not None:
            return kernel
        directory = cache.entry(
            "numba", key, lambda d: (d / MODULE_FILE).write_text(source.text, encoding="utf-8")
        )
        _drop_damaged_machine_code(directory / "__pycache__")
        module_name = f"_symnum_numba_{key[:32]}"
        module = _import_file(module_name, directory / MODULE_FILE)
        kernel = Kernel(source, module)
        weakref.finalize(kernel, _release, module_name, weakref.ref(module), kernel.handed_out)
        _kernels[key] = kernel
        return kernel


def _is_whole_pickle(data: bytes) -> bool:
    """Whether ``data`` is a complete pickle stream (checked without unpickling)."""
    if not data:
        return False
    try:
        for _ in pickletools.genops(io.BytesIO(data)):
            pass
    except Exception:  # noqa: BLE001 - any damage at all
        return False
    return True


def _drop_damaged_machine_code(pycache) -> None:
    """Delete numba's cache files in ``pycache`` that are not whole pickles.

    numba's index (``.nbi``: a pickled version, then the pickled index) and data files
    (``.nbc``) are pickles; numba raises on a damaged one, which would make the function
    unusable until someone deletes the file. A deleted file is simply a cache miss."""
    if not pycache.is_dir():
        return
    for path in sorted(pycache.iterdir()):
        if path.suffix not in (".nbi", ".nbc"):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        whole = _is_whole_pickle(data)
        if whole and path.suffix == ".nbi":
            stream = io.BytesIO(data)
            try:
                pickle.load(stream)  # noqa: S301 - numba's version string, our cache
            except Exception:  # noqa: BLE001
                whole = False
            else:
                whole = _is_whole_pickle(stream.read())
        if not whole:
            with contextlib.suppress(OSError):
                path.unlink()


def _import_file(module_name: str, path):
    """Import the module at ``path`` as ``module_name``.

    numba finds a function's module through ``sys.modules`` when it compiles and when it
    loads cached machine code (a function whose module it cannot find is compiled as
    "dynamic" and its cache entry cannot be loaded elsewhere), so the module stays
    registered while its kernel lives; :func:`_release` removes it, keeping
    ``sys.modules`` bounded by the live kernels.
    """
    from symnum.backends.numba import runtime  # noqa: F401, PLC0415 - overloads first

    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _release(module_name: str, module_ref, handed_out) -> None:
    """Unregister a kernel's module once the kernel is gone, if none of its functions
    was ever handed out. A function handed out may still be held (``kernel.njit`` in
    user code, ``build(source).point(x)`` under way) and numba may compile it later; a
    function whose module is not in ``sys.modules`` is compiled as "dynamic", into
    cache entries no process can load. Such modules stay registered."""
    module = module_ref()
    if not handed_out[0] and module is not None and sys.modules.get(module_name) is module:
        del sys.modules[module_name]
