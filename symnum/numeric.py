"""NumericFunction: the callable users get, and BoundClosure, its operator-valued results.

A :class:`NumericFunction` wraps a backend kernel (see :mod:`symnum.backends`) and:

* checks its arguments before any generated code runs (count -> ``TypeError``; trailing
  shape -> ``ValueError`` naming the argument with expected and actual shapes; strings,
  objects, non-numeric dtypes and complex input to a real function -> ``TypeError``)
  and converts lists, scalars, integer, float32, Fortran-ordered, strided and read-only
  arrays to C-contiguous float64 (complex128 for complex arguments);
* batches: extra leading dimensions broadcast across arguments like a NumPy generalised
  ufunc (``.signature`` shows the core dimensions, e.g. ``(2)->(),(2)``);
* returns float64 arrays (``numpy.float64`` for shape ``()``), complex128 for functions
  traced on complex arrays;
* returns operator-valued outputs (Jacobian-vector products etc.) as picklable
  :class:`BoundClosure` objects wrapping a separately compiled closure kernel;
* pickles by value: the backend's generated source plus plain metadata, never a module
  reference. Unpickling rebuilds the kernel through the backend (and its cache) without
  tracing again; this module does not import SymPy, so neither does a worker that only
  unpickles and calls. Unpickling runs code, as with any pickle: only unpickle data you
  trust.

Fast entry
----------
A kernel may offer ``entry(slow, captured=None)`` (see :mod:`symnum.backends`): a
callable that runs exact single points itself and hands anything else to ``slow``.
Each function gets a subclass of :class:`NumericFunction` whose ``__call__`` is that
entry (a staticmethod: no bound-method frame), shared by every function built on the
same kernel. A kernel may also offer ``exports``, a dict of extra attributes of its
functions (numba: ``njit``, ``njit_batch`` and ``_numba_type_``); functions returning
closures have ``None`` for the public ones and none of the private ones.
"""

from __future__ import annotations

import math
import sys
import weakref

import numpy as np

from symnum import backends as _backends
from symnum import ir

__all__ = ["BoundClosure", "NumericFunction"]

_F64 = np.dtype(np.float64)
_C128 = np.dtype(np.complex128)
_ndarray = np.ndarray


# -- the numeric function ------------------------------------------------------------------


def _shape_text(shape) -> str:
    return "(" + ",".join(str(d) for d in shape) + ")"


def _signature(params, spec) -> str:
    def outputs(node, top):
        if not _is_leaf(node):
            inner = ",".join(outputs(sub, False) for sub in node)
            return inner if top else f"({inner})"
        if node[0] == "out":
            return _shape_text(node[1])
        closure = node[2]
        return f"({_signature(closure['params'], closure['spec'])})"

    return ",".join(_shape_text(p.shape) for p in params) + "->" + outputs(spec, True)


class BoundClosure:
    """An operator-valued result: a closure kernel bound to the values it captured.

    Calling it with the operator's arguments (e.g. ``v``) evaluates the product;
    leading batch dimensions broadcast like everywhere else. Pickles by value.
    """

    __slots__ = ("captured", "function")

    def __init__(self, function: NumericFunction, captured: np.ndarray):
        self.function = function
        self.captured = captured

    def __call__(self, *args):
        return self.function(self.captured, *args)

    @property
    def signature(self) -> str:
        params = self.function.params[1:]
        return _signature(params, self.function._spec)

    def __repr__(self) -> str:
        return f"<BoundClosure {self.function.name}{self.signature}>"

    def __reduce__(self):
        return (BoundClosure, (self.function, self.captured))


def _rebuild(state: dict):
    return NumericFunction._from_state(state)


class NumericFunction:
    """A compiled numeric function; see the module docstring for what it checks.

    Attributes:
        name: the function's name.
        backend: the name of the backend that compiled it.
        params: the :class:`symnum.ir.Param` of each argument (name, shape, dtype).
        signature: gufunc-style core shapes, e.g. ``(2)->(),(2)``.
        source: the generated source (outer kernel, then any closure kernels).
        ir: the IR :class:`~symnum.ir.Function` it was built from (``None`` after
            unpickling: only the generated source travels).
    """

    def __init__(self, name, backend, params, spec, source, closures, kernel=None):  # noqa: PLR0917
        self.name = name
        self.backend = backend
        self.params = tuple(params)
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
    def from_ir(cls, fn: ir.Function, backend: str, backend_module=None) -> NumericFunction:
        """Compile ``fn`` (which may have closures) with ``backend``."""
        backend_module = backend_module or _backends.get(backend)
        outer, closure_fns = ir.split_closures(fn)
        source = backend_module.emit(outer)
        kernel = backend_module.build(source)
        closures = []
        for cfn in closure_fns:
            closures.append(None if cfn is None else cls.from_ir(cfn, backend, backend_module))
        spec = _spec_of(fn.outputs, iter(closures))
        numeric = cls(fn.name, backend, fn.params, spec, source, closures, kernel)
        numeric.ir = fn
        return numeric._with_entry()

    def _setup(self, kernel) -> None:
        """Build the kernel (if not given) and the per-call fast path."""
        if kernel is None:
            kernel = _backends.get(self.backend).build(self._source)
        self._kernel = kernel
        self._nargs = len(self.params)
        self._dtypes = tuple(_C128 if p.dtype == "complex128" else _F64 for p in self.params)
        self._layout = tuple(
            (p.shape, _c_strides(p.shape, dt.itemsize))
            for p, dt in zip(self.params, self._dtypes, strict=True)
        )
        if self._nargs == 1:
            self._shape0, self._strides0 = self._layout[0]
            self._dtype0 = self._dtypes[0]
        has_closures = any(c is not None for c in self._closures)
        if has_closures:
            self._point = self._point_with_closures
            self._batch = self._batch_with_closures
        else:
            self._point = kernel.point
            self._batch = kernel.batch

    @classmethod
    def _from_state(cls, state: dict):
        numeric = cls.__new__(cls)
        numeric.__dict__.update(state)
        numeric.ir = None
        numeric._setup(None)
        return numeric._with_entry()

    def _with_entry(self):
        """This function, as an instance of the subclass calling the kernel's entry."""
        entry = getattr(self._kernel, "entry", None)
        if entry is None or any(c is not None for c in self._closures):
            return self
        # functions sharing a kernel share a source, so one entry serves them all
        cls = _entry_classes.get(id(self._kernel))
        if cls is None:
            call = entry(self._call_slow_args)
            cls = type(
                NumericFunction.__name__,
                (NumericFunction,),
                {"__call__": staticmethod(call), "__qualname__": NumericFunction.__qualname__},
            )
            _entry_classes[id(self._kernel)] = cls
        self.__class__ = cls
        return self

    def _call_slow_args(self, *args):
        return self._call_slow(args)

    def __getattr__(self, name: str):
        # extra attributes the backend's kernel gives its functions (``exports``)
        exports = getattr(self.__dict__.get("_kernel"), "exports", None)
        if exports is not None and name in exports:
            if not any(c is not None for c in self._closures):
                return exports[name]
            if not name.startswith("_"):
                return None  # e.g. ``njit``: there is no kernel to call
        msg = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg)

    #: attributes rebuilt by :meth:`_setup`, never pickled
    _RUNTIME = frozenset(
        (
            "_kernel",
            "_point",
            "_batch",
            "ir",
            "_nargs",
            "_dtypes",
            "_layout",
            "_shape0",
            "_strides0",
            "_dtype0",
        )
    )

    def __reduce__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in self._RUNTIME}
        state["_sympy_func"] = _picklable_func(self._sympy_func)
        return (_rebuild, (state,))

    # calling

    def __call__(self, *args):
        if self._nargs == 1 and len(args) == 1:
            a = args[0]
            if (
                type(a) is _ndarray
                and a.dtype is self._dtype0
                and a.shape == self._shape0
                and a.strides == self._strides0
            ):
                return self._point(a)
        elif len(args) == self._nargs:
            for a, dtype, layout in zip(args, self._dtypes, self._layout, strict=True):
                if not (
                    type(a) is _ndarray and a.dtype is dtype and (a.shape, a.strides) == layout
                ):
                    break
            else:
                return self._point(*args)
        return self._call_slow(args)

    def _call_slow(self, args):
        """Validate and convert ``args``, then run one point or a batch."""
        if len(args) != self._nargs:
            names = ", ".join(p.name for p in self.params)
            msg = (
                f"{self.name}() takes {self._nargs} argument(s) ({names}) "
                f"but {len(args)} were given"
            )
            raise TypeError(msg)
        arrays, batch_shapes = [], []
        for arg, param in zip(args, self.params, strict=True):
            array = self._convert(arg, param)
            core = len(param.shape)
            if array.ndim < core or array.shape[array.ndim - core :] != param.shape:
                msg = (
                    f"argument {param.name!r} of {self.name}() must have shape "
                    f"{param.shape} (or (..., {', '.join(map(str, param.shape))}) for a "
                    f"batch), got shape {array.shape}"
                )
                raise ValueError(msg)
            arrays.append(array)
            batch_shapes.append(array.shape[: array.ndim - core])
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
            msg = f"batch dimensions of the arguments of {self.name}() do not broadcast: {shapes}"
            raise ValueError(msg) from None
        size = math.prod(batch)
        flat = [
            np.ascontiguousarray(np.broadcast_to(a, batch + p.shape)).reshape((size, *p.shape))
            for a, p in zip(arrays, self.params, strict=True)
        ]
        try:
            result = self._batch(*flat)
        except Exception:
            self._show_source()
            raise
        return _reshape_tree(result, batch)

    @staticmethod
    def _convert(arg, param) -> np.ndarray:
        if isinstance(arg, (str, bytes)):
            msg = f"argument {param.name!r} must be numeric, got {type(arg).__name__}"
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
        return np.asarray(array, dtype=param.dtype)

    def _show_source(self) -> None:
        show = getattr(self._kernel, "show", None)
        if show is not None:
            show()

    def _point_with_closures(self, *args):
        return _bind_closures(self._kernel.point(*args), self._spec)

    def _batch_with_closures(self, *args):
        return _bind_closures(self._kernel.batch(*args), self._spec)

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


#: id(kernel) -> the NumericFunction subclass calling its entry. The class holds its
#: first function (through ``slow``), which holds the kernel: the id stays valid.
_entry_classes: weakref.WeakValueDictionary[int, type] = weakref.WeakValueDictionary()


def _c_strides(shape, itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for dim in reversed(shape):
        strides.append(step)
        step *= max(dim, 1)
    return tuple(reversed(strides))


def _spec_of(tree, closures):
    """The picklable description of an output tree: tuples, ``("out", shape, dtype)``,
    ``("closure", index, info)``."""
    if isinstance(tree, tuple):
        return tuple(_spec_of(sub, closures) for sub in tree)
    closure = next(closures)
    if isinstance(tree, ir.Output):
        return ("out", tree.shape, tree.dtype)
    info = {"params": tree.params, "spec": _spec_of(tree.outputs, iter(_nones()))}
    return ("closure", closure, info)


def _nones():
    while True:
        yield None


def _is_leaf(spec) -> bool:
    return bool(spec) and isinstance(spec[0], str)


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


def _picklable_func(func):
    """``func`` if pickle can find it by reference (an importable module-level
    function), else ``None``: the numeric function never depends on it.

    Functions of a script's ``__main__`` are dropped too: another interpreter (a Dask
    worker, a later session) either lacks that name or binds it to something else.
    """
    if func is None or getattr(func, "__module__", None) in ("__main__", "__mp_main__"):
        return None
    module = sys.modules.get(getattr(func, "__module__", None) or "")
    target = module
    for part in (getattr(func, "__qualname__", "") or "<").split("."):
        target = getattr(target, part, None)
    return func if target is func else None
