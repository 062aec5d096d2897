"""From symbolic functions to the numeric functions users call.

:func:`numpify` / :func:`numpify_func` trace a function of symbolic arrays,
:func:`generate_func` lowers symbolic expressions to the IR (:mod:`symnum.lower`), and a
backend (:mod:`symnum.backends`) compiles the IR into a kernel. The result is a
:class:`NumericFunction`, which:

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
* pickles by value: the backend's generated source plus plain metadata, never a
  module reference. Unpickling rebuilds the kernel through the backend (and its cache)
  without re-tracing SymPy. Unpickling runs code, as with any pickle: only unpickle
  data you trust.

Backend hook
------------
A backend may define ``wrap(numeric_function) -> object``. When present it is called on
every freshly built :class:`NumericFunction` (also after unpickling) and whatever it
returns is handed to the user. The intended use is a faster call path: return an instance
of a subclass of :class:`NumericFunction` (create it with :meth:`NumericFunction._copy_as`)
that overrides ``__call__``, keeping :meth:`_call_slow` for anything that is not the
single-point, exact-shape, float64 fast case. Everything pickling needs is in the plain
attributes set by :meth:`NumericFunction.__init__`; ``__reduce__`` rebuilds the base class
from them and applies ``wrap`` again, so subclasses need no pickling code of their own.

Per-call fast path: with correctly shaped, C-contiguous float64 ``numpy.ndarray``
arguments ``__call__`` goes straight to ``kernel.point`` after a few identity and tuple
comparisons.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import sympy

from symnum import backends as _backends
from symnum import ir
from symnum.array import FunctionExpression, SymbolicArray, named_array
from symnum.lower import Lowerer

__all__ = [
    "BoundClosure",
    "FunctionExpression",
    "NumericFunction",
    "generate_func",
    "numpify",
    "numpify_func",
]

DEFAULT_BACKEND = "numpy"
_F64 = np.dtype(np.float64)
_C128 = np.dtype(np.complex128)
_ndarray = np.ndarray


# -- tracing ------------------------------------------------------------------------------


def _get_func_arg_names(func) -> tuple[str, ...]:
    names = getattr(func, "_arg_names", None)
    if names is None:
        code = func.__code__
        names = code.co_varnames[: code.co_argcount]
    return tuple(names)


def _safe_name(text: str) -> str:
    """A function name for generated code derived from ``text`` (never raises)."""
    text = re.sub(r"\W", "_", str(text).replace("<lambda>", "lambda")).strip("_") or "func"
    if text[0].isdigit() or not text.isascii():
        text = "f_" + text.encode("ascii", "replace").decode().replace("?", "_")
    try:
        return ir.check_identifier(text)
    except ValueError:
        return text + "_"


def _symbolic_argument(name: str, shape):
    ir.check_identifier(name, "argument name")
    if shape is None:
        return sympy.Symbol(name, real=True)
    return named_array(name, shape)


def numpify_func(func, *arg_shapes, **kwargs) -> NumericFunction:
    """Compile ``func``, a function of symbolic arrays, into a :class:`NumericFunction`.

    Args:
        func: takes one symbolic array per argument and returns a symbolic scalar,
            array, :class:`FunctionExpression` or a tuple of them.
        *arg_shapes: one shape per argument (an int, a tuple, or ``()`` / ``None`` for a
            scalar); defaults to ``func._arg_shapes``.
        **kwargs: passed to :func:`generate_func` (``backend=``, ``jit=``, ...).

    Returns:
        The numeric function; it has the 0.2.1 attributes ``_sympy_func``,
        ``_arg_shapes`` and ``_arg_names``.
    """
    if len(arg_shapes) == 0 and hasattr(func, "_arg_shapes"):
        arg_shapes = tuple(func._arg_shapes)
    arg_names = _get_func_arg_names(func)
    if len(arg_shapes) != len(arg_names):
        msg = (
            f"Shapes must be specified for all function arguments: "
            f"{getattr(func, '__name__', func)} takes {len(arg_names)} argument(s) "
            f"{arg_names}, got {len(arg_shapes)} shape(s)"
        )
        raise ValueError(msg)
    args = tuple(_symbolic_argument(n, s) for n, s in zip(arg_names, arg_shapes))
    func_name = _safe_name(getattr(func, "__name__", "func"))
    numeric = generate_func(args, func(*args), func_name=func_name, **kwargs)
    numeric._sympy_func = func
    numeric._arg_shapes = arg_shapes
    numeric._arg_names = arg_names
    return numeric


def numpify(*args, **kwargs):
    """Compile a function of symbolic arrays into a :class:`NumericFunction`.

    Two forms::

        @numpify((2,), backend="numpy")      # decorator: shapes, then options
        def f(x): ...

        g = numpify(f, (2,), backend="c")    # direct: function, shapes, options

    Shapes are ints, tuples, or ``()`` / ``None`` for scalar arguments. Options are
    those of :func:`generate_func`.
    """
    if args and callable(args[0]):
        return numpify_func(args[0], *args[1:], **kwargs)

    def decorator(func):
        return numpify_func(func, *args, **kwargs)

    return decorator


def _input_info(inputs):
    """``(name, shape, dtype, flat symbols)`` for each input of :func:`generate_func`."""
    infos = []
    for position, item in enumerate(inputs):
        if isinstance(item, sympy.Symbol):
            dtype = "float64" if item.is_real is not False else "complex128"
            infos.append((str(item), (), dtype, [item]))
            continue
        name = getattr(item, "_name", None)
        flat = list(item.flat) if hasattr(item, "flat") else None
        if flat is None:
            msg = f"input {position} ({item!r}) is neither a SymPy symbol nor a symbolic array"
            raise TypeError(msg)
        if name is None and flat and isinstance(flat[0], sympy.Symbol):
            name = str(flat[0]).split("[")[0]
        if name is None:
            msg = f"input {position} has no name: create it with symnum.named_array"
            raise ValueError(msg)
        dtype = np.dtype(getattr(item, "dtype", None) or np.float64)
        complex_ = dtype.kind == "c" or any(s.is_real is False for s in flat)
        infos.append((name, tuple(item.shape), "complex128" if complex_ else "float64", flat))
    for name, *_ in infos:
        ir.check_identifier(name, "argument name")
    seen = set()
    for name, *_ in infos:
        if name in seen:
            msg = f"two arguments are named {name!r}: argument names must be distinct"
            raise ValueError(msg)
        seen.add(name)
    return infos


def _flat_exprs(value):
    """``(shape, flat expressions)`` of an output value (array-like or scalar)."""
    if isinstance(value, SymbolicArray):
        return tuple(value.shape), list(value.flat)
    if isinstance(value, np.ndarray):
        return value.shape, list(value.flat)
    if isinstance(value, sympy.NDimArray):
        return tuple(value.shape), list(value)
    if isinstance(value, sympy.MatrixBase):
        return tuple(value.shape), list(value)
    if isinstance(value, list):
        array = np.array(value, dtype=object)
        return array.shape, list(array.flat)
    return (), [value]


def _output_spec(value):
    """Nested structure: tuples, ``("array", shape, exprs)``, ``("closure", fe)``."""
    if isinstance(value, tuple):
        return tuple(_output_spec(v) for v in value)
    if isinstance(value, FunctionExpression):
        return ("closure", value)
    shape, exprs = _flat_exprs(value)
    return ("array", shape, exprs)


def _build_ir(infos, spec, func_name: str, simplify: bool) -> ir.Function:
    symbols = {}
    for name, _, _, flat in infos:
        for index, symbol in enumerate(flat):
            symbols[symbol] = ir.Elem(name, index)
    params = tuple(ir.Param(name, shape, dtype) for name, shape, dtype, _ in infos)
    lowerer = Lowerer(symbols)

    def simplified(exprs):
        return [sympy.simplify(e) if simplify else e for e in exprs]

    def lower_arrays(node):
        if isinstance(node, tuple) and node and node[0] == "array":
            atoms = tuple(lowerer.lower(e) for e in simplified(node[2]))
            return ir.Output(node[1], atoms)
        if isinstance(node, tuple) and node and node[0] == "closure":
            return node
        return tuple(lower_arrays(sub) for sub in node)

    tree = lower_arrays(spec)
    outer_names = {p.name for p in params}

    def lower_closures(node):
        if isinstance(node, ir.Output):
            return node
        if node and node[0] == "closure":
            return _closure(node[1])
        return tuple(lower_closures(sub) for sub in node)

    def _closure(fe: FunctionExpression) -> ir.Closure:
        cinfos = _input_info(fe.args)
        cparams, csymbols = [], {}
        for name, shape, dtype, flat in cinfos:
            while name in outer_names:
                name += "_"
            cparams.append(ir.Param(name, shape, dtype))
            csymbols.update({s: ir.Elem(name, i) for i, s in enumerate(flat)})
        cspec = _output_spec(fe.return_val)
        leaves: list = []

        def collect(node):
            if node and node[0] == "array":
                leaves.append(node)
            elif node and node[0] == "closure":
                msg = "an operator-valued output cannot return another operator"
                raise TypeError(msg)
            else:
                for sub in node:
                    collect(sub)

        collect(cspec)
        exprs = [e for leaf in leaves for e in simplified(leaf[2])]
        body, atoms = lowerer.closure(csymbols, exprs)
        position = 0

        def rebuild(node):
            nonlocal position
            if node[0] == "array":
                size = math.prod(node[1])
                out = ir.Output(node[1], tuple(atoms[position : position + size]))
                position += size
                return out
            return tuple(rebuild(sub) for sub in node)

        return ir.Closure(tuple(cparams), body, rebuild(cspec))

    tree = lower_closures(tree)
    fn = ir.Function(func_name, params, tuple(lowerer.body), tree)
    if _is_complex(fn):
        fn = _as_complex(fn)
    return ir.check(fn)


def _is_complex(fn: ir.Function) -> bool:
    def consts(atoms):
        return any(type(a) is ir.Const and isinstance(a.value, complex) for a in atoms)

    if any(p.dtype == "complex128" for p in fn.params):
        return True
    if any(consts(s.args) for s in fn.body):
        return True
    for leaf in ir.iter_outputs(fn.outputs):
        if isinstance(leaf, ir.Output):
            if consts(leaf.atoms):
                return True
        else:
            if any(p.dtype == "complex128" for p in leaf.params):
                return True
            if any(consts(s.args) for s in leaf.body):
                return True
            if any(consts(o.atoms) for o in ir.iter_outputs(leaf.outputs)):
                return True
    return False


def _as_complex(fn: ir.Function) -> ir.Function:
    def convert(node):
        if isinstance(node, tuple):
            return tuple(convert(sub) for sub in node)
        if isinstance(node, ir.Output):
            return ir.Output(node.shape, node.atoms, "complex128")
        return ir.Closure(node.params, node.body, convert(node.outputs))

    return ir.Function(fn.name, fn.params, fn.body, convert(fn.outputs))


_GENERATE_OPTIONS = ("printer", "numpy_module", "namespace")


def generate_func(
    inputs,
    exprs,
    func_name: str,
    *,
    backend: str | None = None,
    jit: bool = False,
    simplify: bool = False,
    printer=None,
    numpy_module=None,
    namespace: dict | None = None,
) -> NumericFunction:
    """Compile symbolic expressions in ``inputs`` into a :class:`NumericFunction`.

    Args:
        inputs: the arguments, in order: symbolic arrays made by
            :func:`symnum.named_array` (or SymPy symbols for scalars).
        exprs: the return value: a symbolic scalar or array, a
            :class:`FunctionExpression` (returned as a callable), or a tuple / list of
            those (a one-element list returns its element, as in SymNum 0.2.1; nested
            tuples nest).
        func_name: name of the generated function (a Python identifier).
        backend: ``"numpy"`` (default), ``"numba"``, ``"c"`` or a registered backend.
        jit: SymNum 0.2.1's switch; ``True`` means ``backend="numba"``.
        simplify: run ``sympy.simplify`` on every expression first (slow).
        printer, numpy_module: accepted for compatibility with SymNum 0.2.1 and ignored
            (code is generated from symnum's IR, not by a SymPy printer).
        namespace: if given, the function is also stored there under ``func_name``.

    Returns:
        The numeric function; ``.source`` shows the generated code.
    """
    ir.check_identifier(func_name, "function name")
    if jit:
        if backend not in (None, "numba"):
            msg = f"jit=True means backend='numba'; it conflicts with backend={backend!r}"
            raise ValueError(msg)
        backend = "numba"
    backend = DEFAULT_BACKEND if backend is None else backend
    if printer is not None or numpy_module is not None:
        warnings.warn(
            "generate_func ignores printer= and numpy_module=: symnum generates code from "
            "its own IR",
            DeprecationWarning,
            stacklevel=2,
        )
    backend_module = _backends.get(backend)
    infos = _input_info(inputs)
    if isinstance(exprs, list) and len(exprs) == 1:
        exprs = exprs[0]
    elif isinstance(exprs, list):
        exprs = tuple(exprs)
    if isinstance(exprs, tuple) and len(exprs) == 1:
        exprs = exprs[0]
    spec = _output_spec(exprs)
    fn = _build_ir(infos, spec, func_name, simplify)
    numeric = NumericFunction.from_ir(fn, backend, backend_module=backend_module)
    if namespace is not None:
        namespace[func_name] = numeric
    return numeric


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

    def __init__(self, name, backend, params, spec, source, closures, kernel=None):
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
        for leaf, cfn in zip(ir.iter_outputs(fn.outputs), closure_fns):
            if cfn is None:
                closures.append(None)
                continue
            inner = cls.from_ir(cfn, backend, backend_module)
            closures.append(inner)
        spec = _spec_of(fn.outputs, iter(closures))
        numeric = cls(fn.name, backend, fn.params, spec, source, closures, kernel)
        numeric.ir = fn
        return _wrap(numeric, backend_module)

    def _setup(self, kernel) -> None:
        """Build the kernel (if not given) and the per-call fast path."""
        if kernel is None:
            kernel = _backends.get(self.backend).build(self._source)
        self._kernel = kernel
        self._nargs = len(self.params)
        self._dtypes = tuple(_C128 if p.dtype == "complex128" else _F64 for p in self.params)
        self._layout = tuple(
            (p.shape, _c_strides(p.shape, dt.itemsize)) for p, dt in zip(self.params, self._dtypes)
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
        backend_module = _backends.get(numeric.backend)
        return _wrap(numeric, backend_module)

    def _copy_as(self, subclass):
        """A copy of this function as an instance of ``subclass`` (for backend ``wrap``)."""
        new = subclass.__new__(subclass)
        new.__dict__.update(self.__dict__)
        return new

    #: attributes rebuilt by :meth:`_setup`, never pickled
    _RUNTIME = frozenset(
        ("_kernel", "_point", "_batch", "ir", "_nargs", "_dtypes", "_layout", "_shape0",
         "_strides0", "_dtype0")
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
            for a, dtype, layout in zip(args, self._dtypes, self._layout):
                if not (type(a) is _ndarray and a.dtype is dtype and (a.shape, a.strides) == layout):
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
        for arg, param in zip(args, self.params):
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
            shapes = ", ".join(f"{p.name}: {b}" for p, b in zip(self.params, batch_shapes))
            msg = f"batch dimensions of the arguments of {self.name}() do not broadcast: {shapes}"
            raise ValueError(msg) from None
        size = math.prod(batch)
        flat = [
            np.ascontiguousarray(np.broadcast_to(a, batch + p.shape)).reshape((size, *p.shape))
            for a, p in zip(arrays, self.params)
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
    def __name__(self) -> str:  # noqa: PLW3201 - functions have __name__; so do we
        return self.name


def _wrap(numeric: NumericFunction, backend_module):
    wrap = getattr(backend_module, "wrap", None)
    return numeric if wrap is None else wrap(numeric)


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
        return tuple(_bind_closures(r, s) for r, s in zip(result, spec))
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
    """``func`` if it pickles by reference (a module-level function), else ``None``."""
    if func is None:
        return None
    qualname = getattr(func, "__qualname__", "")
    module = getattr(func, "__module__", None)
    if module and qualname and "<" not in qualname:
        return func
    return None
