"""Backend registry: name -> backend.

A backend is an object (usually a module) with these attributes:

``name``
    The name users pass as ``backend=...``.
``extra``
    The pip extra that installs its toolchain (``None`` if it needs nothing).
``available() -> bool``
    Whether its toolchain can be imported / found on this machine.
``requirement_error() -> Exception``
    The error to raise when it is not available (names what to install).
``emit(fn: symnum.ir.Function) -> Source``
    Deterministic source text for a *flat* function (no closures in its outputs, see
    :func:`symnum.ir.split_closures`). ``Source`` is picklable and records what the
    text needs. An op the backend cannot express raises
    :class:`symnum.backends.UnsupportedOpError` here, naming the op and the backend.
``build(source) -> Kernel``
    Compile or exec, through :mod:`symnum.cache`.

A ``Kernel`` has two methods; the caller (:class:`symnum.numeric.NumericFunction`) has
already validated and converted every argument:

``kernel.point(*args)``
    One array per parameter, C-contiguous, of dtype float64 (complex128 for complex
    parameters) and exactly the parameter's shape. Returns the output tree with the
    nesting of ``fn.outputs``: a bare value for a single output, tuples for tuples.
    Outputs of shape ``()`` are NumPy scalars (``numpy.float64`` or
    ``numpy.complex128``), others fresh NumPy arrays of the output's shape and dtype.
``kernel.batch(*args)``
    The same, but every argument has one extra leading axis of a common length
    ``n >= 0``; every output gets the same leading axis (``(n, *shape)``).

Functions with data loops (see :mod:`symnum.ir`: data parameters, :class:`~symnum.ir.Loop`
statements, data outputs) follow the same two methods with one difference each:

* in ``point``, a data parameter's argument has shape ``(n, *shape)`` (C-contiguous
  float64), ``n >= 0`` common to every data parameter; a data output is returned with
  shape ``(n, *shape)``;
* in ``batch``, only the other arguments carry the batch axis: the data arguments are
  passed once, as in ``point``, and shared by every batch element (data outputs come
  back as ``(size, n, *shape)``).

``emit`` must write each loop as a loop over the rows (C, numba) or vectorise it over
the rows (numpy), never unroll it: the generated source must not depend on ``n``.
NumericFunction asks such a kernel for ``entry`` only if its ``data_entries`` is true
(below), never for ``method_entry`` or ``closure_entry``; closures never contain loops.

and optionally a fast entry, which is how calls skip Python-level checking:

``kernel.entry(slow, captured=None) -> callable``
    A callable ``f(*args)``. When every argument is a ``numpy.ndarray`` (exactly, not
    a subclass) of dtype float64 in native byte order, C-contiguous, aligned and of
    exactly its parameter's shape, ``f`` runs the kernel itself and returns what
    ``point`` would (shape-``()`` outputs as ``numpy.float64``); it may also accept
    such arrays with any common leading batch shape of at most 32 dimensions (as
    ``batch`` does, with the batch shape in front of every output). For anything else
    (lists, other dtypes, broadcasting, keyword arguments, a wrong count...) it
    returns ``slow(*args, **kwargs)``: the checked Python path, which converts,
    batches and raises the errors. ``captured``, when given, is an array bound in
    front of the user's arguments: the closure kernels of operator-valued results take
    the captured values as their first parameter, and ``f`` then takes the remaining
    ones (``slow`` too receives only those).

    A kernel whose class attribute ``data_entries`` is true also gives entries for
    functions with data loops, as ``entry(slow, data=arrays)``: data arguments the user
    passes are exact with any number of rows (common to all of them), and ``arrays``,
    when given, are bound after the user's arguments (a function's constant data, the
    last parameters; ``f`` and ``slow`` take the others). Without it NumericFunction
    checks such calls in Python and calls ``point``.

    Why a factory and not a per-call ``call(args, slow)`` method: that would run a
    Python frame (and build an argument tuple) on every call, which is most of the
    cost of a small kernel; ``entry`` is asked once per function, and NumericFunction
    calls what it returns from a subclass of its own (the backend's ``call_class``
    below, or one whose ``__call__`` is the entry: builtins do not bind ``self``), so
    an exact call runs no Python frame at all.

Two more optional entries make operator-valued results as cheap as plain ones (the C
backend has them as C callables, the numpy and numba backends as generated Python
functions; without them BoundClosure calls ``entry(slow, captured)``). A kernel may lack either
(``getattr(kernel, name, None)`` is then ``None``; a numpy kernel rebuilt from a source
pickled before they existed has neither):

``kernel.method_entry(slow) -> callable``
    Like ``entry(slow, captured)`` but meant as a class's ``__call__``: called on an
    instance (``obj(*args)``) it binds ``obj.captured`` in front itself; unusual calls
    (keyword arguments included, and captures that are not exact arrays, e.g. batched
    ones) return ``slow(obj, *args, **kwargs)``. It is installed as it is: a builtin
    (C) does not bind and runs no Python frame; a Python function (numpy, numba) binds as a
    method, so it receives ``obj`` first and runs one frame.
``kernel.closure_entry(slow, classes) -> callable``
    Like ``entry(slow)`` for a function whose outputs include closures' captures:
    output ``k`` is returned as a new instance of ``classes[k]`` (when that is not
    ``None``) whose attribute ``captured`` is the output, created without running the
    classes' ``__new__`` or ``__init__`` (they have ``__slots__`` and need neither: C
    allocates the instance, Python code calls ``object.__new__(cls)``). Keyword
    arguments go to ``slow``.

A backend may also define, besides the attributes above:

``call_class(base, method=False) -> type | None``
    ``None`` when the backend cannot make one here (numba: without the C toolchain,
    whose runtime it borrows). Otherwise a subclass of ``base`` whose instances,
    called, call the class attribute
    ``_fast_entry`` with no Python-level dispatch in between (C: CPython's vectorcall
    protocol, one type lookup; without it, calling an instance of a class whose
    ``__call__`` is a C callable builds an argument tuple and dispatches twice, about
    30 ns). With ``method``, the instance goes in front of the arguments (for
    ``method_entry``). NumericFunction sets ``_fast_entry`` to what ``entry``,
    ``closure_entry`` or ``method_entry`` returned. The class's instance layout
    extends ``base``'s, so instances are made as that class (``object.__new__(cls)``
    or its allocator), never by assigning ``__class__``.

``register_function_type(cls, kernel_of)``
    Called once with the NumericFunction class and a function returning a numeric
    function's kernel (``None`` for functions returning closures), so a toolchain can
    learn to take numeric functions as they are (numba: ``numba.extending``).
``kernel.exports``
    Extra attributes a NumericFunction shows as its own: a mapping (``in`` and ``[]``)
    of name to value (numba: ``njit``, ``njit_batch`` and numba's typing hook
    ``_numba_type_``, so users' ``@njit`` code can call the function). A function
    returning closures has no kernel to call: it shows ``None`` for the public names
    and none of the private ones. A function with data parameters shows the kernel's
    exports as they are (its callers pass the data arrays).
``kernel.exports_bound(data) -> mapping``
    The exports of a function whose last parameters are bound to the arrays ``data``
    (constant data the function was traced with): callables of the other arguments
    only. Without it such a function shows ``None`` for the public names.

Backends never import :mod:`symnum.numeric`, subclass NumericFunction by name or read
its private attributes (``call_class`` extends whatever class it is given): this
contract is the whole interface between them.

Third-party backends register through the entry-point group ``symnum.backends``; the
entry point's object must have the attributes above.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

__all__ = [
    "BackendUnavailableError",
    "UnsupportedOpError",
    "available",
    "get",
    "names",
    "register",
]

#: Built-in backends: name -> module path (imported lazily, so importing symnum does
#: not import numba or cffi).
_BUILTIN = {
    "numpy": "symnum.backends.numpy",
    "numba": "symnum.backends.numba",
    "c": "symnum.backends.c",
}
_registered: dict[str, object] = {}
_entry_points_loaded = False


class BackendUnavailableError(ImportError):
    """A backend is unknown, or its toolchain is not installed."""


class UnsupportedOpError(NotImplementedError):
    """A backend cannot express an IR op; raised at emit time, never at call time."""

    def __init__(self, op, backend: str, detail: str = ""):
        self.op = op
        self.backend = backend
        name = getattr(op, "name", str(op))
        msg = f"the {backend!r} backend cannot emit op {name}"
        super().__init__(msg + (f": {detail}" if detail else ""))


def register(name: str, backend: object) -> None:
    """Register ``backend`` (an object with the attributes above) under ``name``."""
    for attr in ("emit", "build", "available"):
        if not hasattr(backend, attr):
            msg = f"backend {name!r} has no attribute {attr!r}"
            raise TypeError(msg)
    _registered[name] = backend


def _load_entry_points() -> None:
    global _entry_points_loaded  # noqa: PLW0603
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group="symnum.backends"):
        if ep.name not in _BUILTIN and ep.name not in _registered:
            try:
                _registered[ep.name] = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break symnum
                _registered[ep.name] = _Broken(ep.name, exc)


class _Broken:
    """Stands in for a third-party backend whose entry point failed to load."""

    def __init__(self, name, exc):
        self.name, self.extra, self._exc = name, None, exc

    def available(self) -> bool:
        return False

    def requirement_error(self) -> Exception:
        return BackendUnavailableError(f"backend {self.name!r} failed to load: {self._exc}")

    def emit(self, fn):
        raise self.requirement_error()

    build = emit


def names() -> list[str]:
    """All known backend names, available or not."""
    _load_entry_points()
    return [*_BUILTIN, *(n for n in _registered if n not in _BUILTIN)]


def _module(name: str):
    if name in _registered:
        return _registered[name]
    if name in _BUILTIN:
        module = importlib.import_module(_BUILTIN[name])
        _registered[name] = module
        return module
    return None


def available() -> list[str]:
    """Names of the backends whose toolchains are installed here."""
    return [n for n in names() if _module(n).available()]


def get(name: str):
    """The backend called ``name``; raises :class:`BackendUnavailableError` if unknown
    or if its toolchain is missing, listing the available backends."""
    if not isinstance(name, str):
        msg = f"backend must be a string naming a backend, got {type(name).__name__}"
        raise TypeError(msg)
    _load_entry_points()
    backend = _module(name)
    if backend is None:
        msg = f"unknown backend {name!r}; available backends: {', '.join(available())}"
        raise BackendUnavailableError(msg)
    if not backend.available():
        err = backend.requirement_error()
        msg = f"{err} (available backends: {', '.join(available())})"
        raise BackendUnavailableError(msg) from err
    return backend
