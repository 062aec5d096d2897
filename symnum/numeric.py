"""NumericFunction: the callable users get, and BoundClosure, its operator-valued results.

A :class:`NumericFunction` wraps a backend kernel (see :mod:`symnum.backends`) and:

* checks its arguments before any generated code runs (count -> ``TypeError``; trailing
  shape -> ``ValueError`` naming the argument with expected and actual shapes; strings,
  objects, non-numeric dtypes, masked arrays and complex input to a real function ->
  ``TypeError``) and converts lists, scalars, integer, float32, byte-swapped,
  unaligned, Fortran-ordered, strided and read-only arrays to C-contiguous native
  float64 (complex128 for complex arguments);
* batches: extra leading dimensions broadcast across arguments like a NumPy generalised
  ufunc (``.signature`` shows the core dimensions, e.g. ``(2)->(),(2)``); at most
  :data:`MAX_BATCH_DIMS` of them (``ValueError`` beyond, on every backend);
* returns float64 arrays (``numpy.float64`` for shape ``()``), complex128 for functions
  traced on complex arrays;
* returns operator-valued outputs (Jacobian-vector products etc.) as picklable
  :class:`BoundClosure` objects wrapping a separately compiled closure kernel;
* pickles by value: the backend's generated source plus plain metadata, never a module
  reference. Unpickling rebuilds the kernel through the backend (and its cache) without
  tracing again; this module does not import SymPy, so neither does a worker that only
  unpickles and calls. Unpickling runs code, as with any pickle: only unpickle data you
  trust.

Masked arrays (:class:`numpy.ma.MaskedArray`) are refused with a ``TypeError`` rather
than converted: their masks cannot be honoured, and dropping them silently would give
results for values the caller masked out. Pass ``a.filled(value)`` or ``a.data``.

Fast calls
----------
This module knows the backend contract, never a backend. When a kernel offers
``entry(slow, captured=None)`` (see :mod:`symnum.backends`), the function's class
is a subclass that calls that entry: the backend's ``call_class`` when it has one (the
C backend: instances are called by vectorcall straight into the C entry), else a
subclass whose ``__call__`` *is* the entry (a builtin does not bind ``self``). Either
way an exact call (float64 arrays of the parameters' shapes) runs no Python frame at
all, and anything else reaches :meth:`NumericFunction._slow`, the one place arguments
are checked and converted in Python. Functions sharing a kernel share that class (and
their checks, which come from the same source); a call class's layout differs from
NumericFunction's, so :meth:`NumericFunction._allocate` picks the class before the
instance exists. Operator-valued results use ``closure_entry`` and ``method_entry``
when the kernel has them, so the whole ``f(x)(v)`` runs in the backend; otherwise
:class:`BoundClosure` calls ``entry(slow, captured)``. Functions with data loops use
``entry(slow, data=...)`` (their constant data bound after the user's arguments) when
the kernel's ``data_entries`` says it takes them, each from a call class of its own;
otherwise :class:`_DataCall` checks their calls in Python.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import weakref

import numpy as np

from symnum import backends as _backends
from symnum import ir

__all__ = ["MAX_BATCH_DIMS", "BoundClosure", "NumericFunction"]

#: The most leading (batch) dimensions a call may have; more raise ValueError.
MAX_BATCH_DIMS = 32

_F64 = np.dtype(np.float64)
_C128 = np.dtype(np.complex128)
_ndarray = np.ndarray
_MaskedArray = np.ma.MaskedArray


# -- signatures and output trees -----------------------------------------------------------


def _shape_text(shape) -> str:
    return "(" + ",".join(str(d) for d in shape) + ")"


def _param_text(param) -> str:
    return _shape_text(("n", *param.shape)) if param.data else _shape_text(param.shape)


def _signature(params, spec) -> str:
    def outputs(node, top):
        if not _is_leaf(node):
            inner = ",".join(outputs(sub, False) for sub in node)
            return inner if top else f"({inner})"
        if node[0] == "out":
            return _shape_text(("n", *node[1])) if node[3:] and node[3] else _shape_text(node[1])
        closure = node[2]
        return f"({_signature(closure['params'], closure['spec'])})"

    return ",".join(_param_text(p) for p in params) + "->" + outputs(spec, True)


def _spec_of(tree, closures):
    """The picklable description of an output tree: tuples, ``("out", shape, dtype)``,
    ``("closure", function, info)``."""
    if isinstance(tree, tuple):
        return tuple(_spec_of(sub, closures) for sub in tree)
    closure = next(closures)
    if isinstance(tree, ir.Output):
        return (
            ("out", tree.shape, tree.dtype, True) if tree.data else ("out", tree.shape, tree.dtype)
        )
    info = {"params": tree.params, "spec": _spec_of(tree.outputs, iter(_nones()))}
    return ("closure", closure, info)


def _nones():
    while True:
        yield None


def _is_leaf(spec) -> bool:
    return bool(spec) and isinstance(spec[0], str)


def _leaves(spec) -> list:
    """The leaves of an output spec in output order."""
    if _is_leaf(spec):
        return [spec]
    return [leaf for sub in spec for leaf in _leaves(sub)]


def _bind_closures(result, spec):
    if not _is_leaf(spec):
        return tuple(_bind_closures(r, s) for r, s in zip(result, spec, strict=True))
    if spec[0] == "closure":
        return BoundClosure(spec[1], result)
    return result


def _reshape_tree(result, batch):
    if type(result) is tuple:
        return tuple(_reshape_tree(r, batch) for r in result)
    if isinstance(result, BoundClosure):
        captured = result.captured
        return BoundClosure(result.function, captured.reshape(batch + captured.shape[1:]))
    return result.reshape(batch + result.shape[1:])


# -- operator-valued results ---------------------------------------------------------------


class BoundClosure:
    """An operator-valued result: a closure kernel bound to the values it captured.

    Calling it with the operator's arguments (e.g. ``v``) evaluates the product;
    leading batch dimensions broadcast like everywhere else. ``function`` is the
    closure's :class:`NumericFunction` (its first parameter takes ``captured``),
    ``captured`` the array bound to it. Pickles by value.

    Each closure function has its own subclass (``function`` is a class attribute), so
    a backend can create instances and call them without running Python code.
    """

    __slots__ = ("_call", "captured")
    function: NumericFunction

    def __new__(cls, function: NumericFunction, captured):
        new = object.__new__(function._closure_class())
        new.captured = captured
        return new

    def __call__(self, *args, **kwargs):
        # backends without method_entry: the kernel's entry bound to the captures
        try:
            call = self._call
        except AttributeError:
            call = self._call = self.function._entry_with(self.captured)
        return call(*args, **kwargs)

    def _slow(self, *args, **kwargs):
        """The checked path (``slow`` of the backend's method entry)."""
        return self.function._checked((self.captured, *args), kwargs, bound=1)

    @property
    def signature(self) -> str:
        return _signature(self.function.params[1:], self.function._spec)

    def __repr__(self) -> str:
        return f"<BoundClosure {self.function.name}{self.signature}>"

    def __reduce__(self):
        return (BoundClosure, (self.function, self.captured))


def _bound_class(function: NumericFunction) -> type:
    """The BoundClosure subclass of the closure function ``function``: a call class of
    the backend (see :func:`_call_class`) calling the kernel's method entry, or a
    Python subclass with that entry as its ``__call__``."""
    method_entry = getattr(function.kernel, "method_entry", None)
    if method_entry is not None:
        cls = _call_class(function.backend, BoundClosure, method=True)
        if cls is not None:
            cls.function = function
            cls._fast_entry = method_entry(BoundClosure._slow)
            return cls
    namespace = {
        "__slots__": (),
        "__module__": __name__,
        "__qualname__": BoundClosure.__qualname__,
        "function": function,
    }
    method_entry = getattr(function.kernel, "method_entry", None)
    if method_entry is not None:
        namespace["__call__"] = method_entry(BoundClosure._slow)
    return type(BoundClosure.__name__, (BoundClosure,), namespace)


def _call_class(backend: str, base: type, method: bool = False):
    """The backend's call class over ``base`` (its ``call_class``, see
    :mod:`symnum.backends`), or ``None`` when it has none: instances call the class
    attribute ``_fast_entry`` with no Python-level dispatch in between."""
    make = getattr(_backends.get(backend), "call_class", None)
    return None if make is None else make(base, method)


# -- the numeric function ------------------------------------------------------------------


def _rebuild(state: dict):
    return NumericFunction._from_state(state)


class _SharedSlow:
    """The ``slow`` of an entry shared by the functions of one kernel: any of them
    checks the arguments the same way (their checks come from the same source)."""

    __slots__ = ("__weakref__", "members")

    def __init__(self):
        self.members = weakref.WeakSet()

    def __call__(self, *args, **kwargs):
        for member in self.members:
            return member._slow(*args, **kwargs)
        msg = "the function this entry belonged to no longer exists"  # pragma: no cover
        raise RuntimeError(msg)  # pragma: no cover


#: kernel -> (class whose __call__ is the kernel's entry, its _SharedSlow)
_entry_classes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_entry_classes_lock = threading.Lock()
#: the entry of a call class made for one function before its entry exists (calling an
#: instance meanwhile raises TypeError: this is not callable)
_AWAITING_ENTRY = object()
#: backends whose register_function_type hook has run
_adopted: set[int] = set()


class NumericFunction:
    """A compiled numeric function; see the module docstring for what it checks.

    Attributes:
        name: the function's name.
        backend: the name of the backend that compiled it.
        params: the :class:`symnum.ir.Param` of each argument (name, shape, dtype).
        signature: gufunc-style core shapes, e.g. ``(2)->(),(2)``.
        source: the generated source (outer kernel, then any closure kernels).
        kernel: the backend's kernel (of the outer function, when it returns
            closures); see :mod:`symnum.backends`.
        ir: the IR :class:`~symnum.ir.Function` it was built from (``None`` after
            unpickling: only the generated source travels).
    """

    def __init__(self, name, backend, params, spec, source, closures, kernel=None, data=()):  # noqa: PLR0917
        self.name = name
        self.backend = backend
        # constant data arrays are the kernel's last parameters: bound here, by value
        self._data = tuple(data)
        params = tuple(params)
        self.params = params[: len(params) - len(self._data)]
        self._data_params = params[len(self.params) :]
        self._spec = spec
        self._source = source
        self._closures = tuple(closures)
        self.ir = None
        self._sympy_func = None
        self._arg_shapes = tuple(p.shape for p in self.params)
        self._arg_names = tuple(p.name for p in self.params)
        self._setup(kernel)

    # construction

    @classmethod
    def from_ir(
        cls, fn: ir.Function, backend: str, backend_module=None, data=()
    ) -> NumericFunction:
        """Compile ``fn`` (which may have closures) with ``backend``.

        ``data``: arrays for ``fn``'s last data parameters, bound to the function (the
        constant data it was traced with); the other parameters are its arguments.
        """
        backend_module = backend_module or _backends.get(backend)
        outer, closure_fns = ir.split_closures(fn)
        source = backend_module.emit(outer)
        kernel = backend_module.build(source)
        closures = []
        for cfn in closure_fns:
            closures.append(None if cfn is None else cls.from_ir(cfn, backend, backend_module))
        spec = _spec_of(fn.outputs, iter(closures))
        numeric = cls._allocate(backend, kernel, fn.params, closures, data)
        numeric.__init__(fn.name, backend, fn.params, spec, source, closures, kernel, data)
        numeric.ir = fn
        return numeric

    @classmethod
    def _from_state(cls, state: dict):
        kernel = _backends.get(state["backend"]).build(state["_source"])
        params = (*state["params"], *state.get("_data_params", ()))
        numeric = cls._allocate(
            state["backend"], kernel, params, state["_closures"], state.get("_data", ())
        )
        numeric.__dict__.update(state)
        numeric.ir = None
        numeric._setup(kernel)
        return numeric

    @classmethod
    def _allocate(cls, backend, kernel, params, closures, data):
        """A blank instance of the class its fast entry needs: the backend's call class
        (whose layout differs, so it is chosen here and not assigned later), or ``cls``.
        """
        if cls is not NumericFunction:
            return object.__new__(cls)
        has_closures = any(c is not None for c in closures)
        if data or any(p.data for p in params):
            # the entry binds this function's data (when the kernel takes them)
            own_class = getattr(kernel, "data_entries", False) and not has_closures
        elif has_closures:
            # the entry binds this function's _slow and closure classes
            own_class = getattr(kernel, "closure_entry", None) is not None
        elif getattr(kernel, "entry", None) is not None:
            return object.__new__(_kernel_class(kernel, backend)[0])
        else:
            own_class = False
        if own_class:
            # a call class of this function alone, whose entry _install_entry sets once
            # the instance exists
            fast = _call_class(backend, NumericFunction)
            if fast is not None:
                fast._fast_entry = _AWAITING_ENTRY
                return object.__new__(fast)
        return object.__new__(cls)

    def _setup(self, kernel) -> None:
        """Build the kernel (if not given) and install the fast entry."""
        backend_module = _backends.get(self.backend)
        if kernel is None:
            kernel = backend_module.build(self._source)
        self.kernel = kernel
        self._nargs = len(self.params)
        self._has_closures = any(c is not None for c in self._closures)
        self._has_data = bool(self._data) or any(p.data for p in self.params)
        if self._has_closures:
            self._point = self._point_with_closures
            self._batch = self._batch_with_closures
        else:
            self._point = kernel.point
            self._batch = kernel.batch
        _adopt(backend_module)
        self._install_entry()

    def _closure_class(self) -> type:
        """The BoundClosure subclass binding this (closure) function, made once."""
        cls = self.__dict__.get("_bound_class")
        if cls is None:
            cls = self.__dict__["_bound_class"] = _bound_class(self)
        return cls

    def _install_entry(self) -> None:
        """Make ``__call__`` the kernel's fast entry, when it has one."""
        kernel = self.kernel
        if self._has_data:
            if type(self).__dict__.get("_fast_entry") is _AWAITING_ENTRY:  # see _allocate
                type(self)._fast_entry = kernel.entry(self._slow, data=self._data or None)
            else:
                # the constant data are bound here: a Python-level check of exact arguments
                self.__class__ = _DataCall
            return
        if self._has_closures:
            closure_entry = getattr(kernel, "closure_entry", None)
            if closure_entry is None:
                return
            classes = [
                leaf[1]._closure_class() if leaf[0] == "closure" else None
                for leaf in _leaves(self._spec)
            ]
            entry = closure_entry(self._slow, classes)
            if type(self).__dict__.get("_fast_entry") is _AWAITING_ENTRY:  # see _allocate
                type(self)._fast_entry = entry
            else:
                self.__class__ = _entry_class(entry)
            return
        entry = getattr(kernel, "entry", None)
        if entry is None:
            return
        shared = type(self).__dict__.get("_shared_slow")
        if shared is None:  # made as NumericFunction(...), not by _allocate
            cls, shared = _kernel_class(kernel, self.backend)
            try:
                self.__class__ = cls
            except TypeError:  # a call class: its layout differs
                self.__class__ = _entry_class(entry(shared))
        shared.members.add(self)

    # constant data bound to the function, and their kernel parameters (none by default)
    _data: tuple = ()
    _data_params: tuple = ()

    #: attributes rebuilt by :meth:`_setup`, never pickled
    _RUNTIME = frozenset(
        (
            "kernel",
            "_point",
            "_batch",
            "ir",
            "_nargs",
            "_has_closures",
            "_has_data",
            "_bound_class",
            "_bound_exports",
        )
    )

    def __reduce__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in self._RUNTIME}
        # by value only: a worker must not import the module that defined the symbolic
        # function (nor SymPy), so the symbolic original does not travel
        state["_sympy_func"] = None
        return (_rebuild, (state,))

    def __getattr__(self, name: str):
        # only reached for missing attributes: what the kernel exports (numba's njit
        # dispatchers and its typing hook ``_numba_type_``, say); functions returning
        # closures have no kernel to call: None for public names, nothing private;
        # functions with constant data show the backend's exports with the data bound
        state = self.__dict__
        kernel = state.get("kernel")
        exports = getattr(kernel, "exports", None)
        if exports is not None and name in exports:
            if state.get("_has_closures"):
                pass  # no kernel to call
            elif state.get("_data"):  # constant data, bound as the last arguments
                exports = self._exports_with_data()
                if exports is not None:
                    return exports[name]
            else:
                return exports[name]  # a mapping of names to values
            if not name.startswith("_"):
                return None
        msg = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg)

    def _exports_with_data(self):
        """The kernel's exports with this function's constant data bound (made once),
        or ``None`` when the backend cannot bind them."""
        exports = self.__dict__.get("_bound_exports")
        if exports is None:
            bind = getattr(self.kernel, "exports_bound", None)
            if bind is None:
                return None
            exports = self.__dict__["_bound_exports"] = bind(self._data)
        return exports

    # calling

    def __call__(self, *args, **kwargs):
        return self._slow(*args, **kwargs)

    def _slow(self, *args, **kwargs):
        """The checked path: validate and convert ``args``, then run one point or a
        batch. The fast entries of backends hand every unusual call here."""
        return self._checked(args, kwargs)

    def _entry_with(self, captured):
        """A callable of the user's arguments with ``captured`` bound in front."""
        slow = functools.partial(self._bound_slow, captured)
        entry = getattr(self.kernel, "entry", None)
        return slow if entry is None else entry(slow, captured)

    def _bound_slow(self, captured, *args, **kwargs):
        return self._checked((captured, *args), kwargs, bound=1)

    def _checked(self, args, kwargs, bound=0):
        """The checks and conversions; ``bound`` leading arguments were bound by symnum
        (a closure's captures), so messages count and name only the others."""
        name = self.name if not bound else f"{self.name} (an operator)"
        if kwargs:
            msg = f"{name}() takes no keyword arguments (got {', '.join(kwargs)})"
            raise TypeError(msg)
        if len(args) != self._nargs:
            names = ", ".join(p.name for p in self.params[bound:])
            msg = (
                f"{name}() takes {self._nargs - bound} argument(s) ({names}) "
                f"but {len(args) - bound} were given"
            )
            raise TypeError(msg)
        arrays, batch_shapes = [], []
        rows = None
        for arg, param in zip(args, self.params, strict=True):
            array = self._convert(arg, param)
            if param.data:
                rows = self._check_data(array, param, name, rows)
                arrays.append(array)
                batch_shapes.append(())
                continue
            core = len(param.shape)
            if array.ndim < core or array.shape[array.ndim - core :] != param.shape:
                msg = (
                    f"argument {param.name!r} of {name}() must have shape "
                    f"{param.shape} (or (..., {', '.join(map(str, param.shape))}) for a "
                    f"batch), got shape {array.shape}"
                )
                raise ValueError(msg)
            lead = array.shape[: array.ndim - core]
            if len(lead) > MAX_BATCH_DIMS:
                msg = (
                    f"argument {param.name!r} of {name}() has {len(lead)} batch "
                    f"dimensions; at most {MAX_BATCH_DIMS} are supported"
                )
                raise ValueError(msg)
            arrays.append(array)
            batch_shapes.append(lead)
        arrays.extend(self._data)
        if not any(batch_shapes):
            try:
                return self._point(*(np.require(a, requirements="CA") for a in arrays))
            except Exception:
                self._show_source()
                raise
        try:
            batch = np.broadcast_shapes(*batch_shapes)
        except ValueError:
            shapes = ", ".join(
                f"{p.name}: {b}" for p, b in zip(self.params, batch_shapes, strict=True)
            )
            msg = f"batch dimensions of the arguments of {name}() do not broadcast: {shapes}"
            raise ValueError(msg) from None
        size = math.prod(batch)
        flat = [
            np.ascontiguousarray(a) if p.data else _batch_array(a, batch, p.shape, size)
            for a, p in zip(arrays, self.params + self._data_params, strict=True)
        ]
        try:
            result = self._batch(*flat)
        except Exception:
            self._show_source()
            raise
        return _reshape_tree(result, batch)

    @staticmethod
    def _check_data(array, param, name: str, rows):
        """Check a data argument's shape ``(n, *row shape)``; returns its ``n``."""
        core = len(param.shape)
        if array.ndim != core + 1 or array.shape[1:] != param.shape:
            expected = ", ".join(("n", *map(str, param.shape)))
            msg = (
                f"data argument {param.name!r} of {name}() must have shape ({expected})"
                f" (one row per data point; no batch dimensions), got shape {array.shape}"
            )
            raise ValueError(msg)
        if rows is not None and array.shape[0] != rows:
            msg = (
                f"data arguments of {name}() must have the same number of rows: "
                f"{param.name!r} has {array.shape[0]}, an earlier one {rows}"
            )
            raise ValueError(msg)
        return array.shape[0]

    @staticmethod
    def _convert(arg, param) -> np.ndarray:
        if isinstance(arg, (str, bytes)):
            msg = f"argument {param.name!r} must be numeric, got {type(arg).__name__}"
            raise TypeError(msg)
        if isinstance(arg, _MaskedArray):
            msg = (
                f"argument {param.name!r} is a masked array; its mask cannot be honoured: "
                "pass a.filled(value) or a.data instead"
            )
            raise TypeError(msg)
        try:
            array = arg if type(arg) is _ndarray else np.asarray(arg)
        except (ValueError, TypeError) as exc:
            msg = f"argument {param.name!r} cannot be converted to an array: {exc}"
            raise TypeError(msg) from None
        kind = array.dtype.kind
        if kind == "c" and param.dtype != "complex128":
            msg = (
                f"argument {param.name!r} is complex ({array.dtype}) but this function was "
                "traced with real arguments; trace it with a complex named_array instead"
            )
            raise TypeError(msg)
        if kind not in "biufc":
            msg = (
                f"argument {param.name!r} must be a numeric array, got dtype {array.dtype}"
                f" ({type(arg).__name__})"
            )
            raise TypeError(msg)
        # native byte order (dtype("float64") is native), a copy when swapped
        return np.asarray(array, dtype=param.dtype)

    def _show_source(self) -> None:
        show = getattr(self.kernel, "show", None)
        if show is not None:
            show()

    def _point_with_closures(self, *args):
        return _bind_closures(self.kernel.point(*args), self._spec)

    def _batch_with_closures(self, *args):
        return _bind_closures(self.kernel.batch(*args), self._spec)

    # introspection

    @property
    def signature(self) -> str:
        return _signature(self.params, self._spec)

    @property
    def source(self) -> str:
        texts = [str(getattr(self._source, "text", self._source))]
        texts.extend(c.source for c in self._closures if c is not None)
        return "\n\n".join(texts)

    def __repr__(self) -> str:
        args = ", ".join(p.name for p in self.params)
        return f"<NumericFunction {self.name}({args}) {self.signature} backend={self.backend!r}>"

    @property
    def __name__(self) -> str:  # functions have __name__; so do we
        return self.name


def _exact(array, param) -> bool:
    """Whether ``array`` can go to the kernel as it is (no conversion, no batch)."""
    if type(array) is not _ndarray or array.dtype is not _F64:
        return False
    flags = array.flags
    if not (flags.c_contiguous and flags.aligned):
        return False
    if param.data:
        return array.shape[1:] == param.shape and array.ndim == len(param.shape) + 1
    return array.shape == param.shape


class _DataCall(NumericFunction):
    """A function over data rows whose kernel takes no data in its entries (or whose
    backend has no call class): exact float64 arguments of the parameters' shapes go
    straight to the kernel with the bound data (about 1.5 µs of Python checks instead
    of the 5 µs of the checked path); anything else takes the checked path."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != self._nargs:
            return self._slow(*args, **kwargs)
        rows = None
        for array, param in zip(args, self.params, strict=True):
            if not _exact(array, param):
                return self._slow(*args)
            if param.data:
                if rows is not None and array.shape[0] != rows:
                    return self._slow(*args)
                rows = array.shape[0]
        return self._point(*args, *self._data)


def _kernel_class(kernel, backend: str) -> tuple:
    """The class of the functions of ``kernel`` (a call class of the backend, or a
    subclass whose ``__call__`` is the kernel's entry) and its :class:`_SharedSlow`,
    made once per kernel."""
    with _entry_classes_lock:  # one class per kernel, also when threads build at once
        try:
            return _entry_classes[kernel]
        except (KeyError, TypeError):  # TypeError: a kernel that is not weakly referable
            pass
        shared = _SharedSlow()
        cls = _call_class(backend, NumericFunction)
        if cls is None:
            cls = _entry_class(kernel.entry(shared))
        else:
            cls._fast_entry = kernel.entry(shared)
        cls._shared_slow = shared  # what _install_entry registers the instance with
        with contextlib.suppress(TypeError):
            _entry_classes[kernel] = (cls, shared)
        return cls, shared


def _entry_class(entry) -> type:
    """A subclass of NumericFunction whose ``__call__`` is ``entry``.

    A builtin entry is stored as it is (builtins do not bind ``self``, so calling an
    instance calls the entry with the user's arguments only, and no Python frame
    runs); anything with ``__get__`` (a Python function, a dispatcher) is wrapped in
    ``staticmethod`` so it does not bind either.
    """
    if hasattr(type(entry), "__get__"):
        entry = staticmethod(entry)
    return type(
        NumericFunction.__name__,
        (NumericFunction,),
        {
            "__slots__": (),
            "__call__": entry,
            "__module__": NumericFunction.__module__,
            "__qualname__": NumericFunction.__qualname__,
        },
    )


def _kernel_of(numeric) -> object:
    """The kernel a backend's own code may call for ``numeric`` (None when it returns
    closures or loops over data): what register_function_type hooks receive."""
    state = numeric.__dict__
    if state.get("_has_closures", True) or state.get("_has_data", True):
        return None
    return state.get("kernel")


def _adopt(backend_module) -> None:
    """Run the backend's optional ``register_function_type`` hook once."""
    if id(backend_module) in _adopted:
        return
    _adopted.add(id(backend_module))
    hook = getattr(backend_module, "register_function_type", None)
    if hook is not None:
        hook(NumericFunction, _kernel_of)


def _batch_array(array, batch: tuple, core: tuple, size: int):
    """``array`` broadcast to ``batch + core`` as a writable C-contiguous array of shape
    ``(size, *core)``: a copy only when it broadcasts or is read-only. Never the read-only
    view ``broadcast_to`` makes, whose type numba's kernels would compile for anew (the
    exact entry is compiled for writable arrays)."""
    if array.shape != batch + core:
        array = np.broadcast_to(array, batch + core)
    return np.require(array, requirements="CAW").reshape((size, *core))
