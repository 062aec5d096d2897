"""From symbolic functions to the numeric functions users call.

:func:`numpify` / :func:`numpify_func` trace a function of symbolic arrays,
:func:`generate_func` lowers symbolic expressions to the IR (:mod:`symnum.ir.lower`), and a
backend (:mod:`symnum.backends`) compiles the IR into a kernel. The result is a
:class:`~symnum.numeric.NumericFunction` (defined in :mod:`symnum.numeric`, which does
not import SymPy, so unpickling in a worker does not either), which checks and converts
its arguments, batches over leading dimensions like a generalised ufunc, returns
float64 (or complex128) arrays, returns operator-valued outputs as picklable
:class:`~symnum.numeric.BoundClosure` objects, and pickles by value.

The fast call path belongs to :mod:`symnum.numeric` and the backend contract
(``kernel.entry``, see :mod:`symnum.backends`); nothing here depends on a backend.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import re
import warnings

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from symnum import _log, ir
from symnum import backends as _backends
from symnum import data as _data
from symnum.array import (
    FunctionExpression,
    SymbolicArray,
    as_symbolic_array,
    is_array,
    is_valid_shape,
    named_array,
)
from symnum.diffops.symbolic import _get_func_arg_names
from symnum.ir import passes
from symnum.ir.dataplan import plan as _data_plan
from symnum.ir.lower import Lowerer
from symnum.numeric import BoundClosure, NumericFunction

__all__ = [
    "NUMBA_AVAILABLE",
    "BoundClosure",
    "FunctionExpression",
    "NumericFunction",
    "TupleArrayPrinter",
    "as_symbolic_array",
    "generate_func",
    "is_array",
    "is_valid_shape",
    "named_array",
    "numpify",
    "numpify_func",
]

DEFAULT_BACKEND = "numpy"

#: Whether numba is installed (SymNum 0.2.1's flag; ``jit=True`` needs it). Found without
#: importing numba, which takes a second.
NUMBA_AVAILABLE = importlib.util.find_spec("numba") is not None


class TupleArrayPrinter(NumPyPrinter):
    """SymPy's NumPy printer, printing array literals as ``numpy.array`` of nested tuples.

    SymNum 0.2.1 generated code with it (numba accepts tuple literals, not lists); symnum
    generates code from its own IR, so this printer is kept for code that uses it directly,
    e.g. ``TupleArrayPrinter().doprint(expr)``.
    """

    def _print_arraylike(self, array) -> str:
        def as_tuples(value):
            if isinstance(value, list):
                return tuple(as_tuples(item) for item in value)
            return value

        return f"numpy.array({self._print(as_tuples(array.tolist()))})"

    def _print_NDimArray(self, array) -> str:  # noqa: N802
        return self._print_arraylike(array)

    def _print_DenseNDimArray(self, array) -> str:  # noqa: N802
        return self._print_arraylike(array)

    def _print_ImmutableNDimArray(self, array) -> str:  # noqa: N802
        return self._print_arraylike(array)

    def _print_ImmutableDenseNDimArray(self, array) -> str:  # noqa: N802
        return self._print_arraylike(array)

    def _print_MatrixBase(self, array) -> str:  # noqa: N802
        return self._print_arraylike(array)


# -- tracing ------------------------------------------------------------------------------


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
    if isinstance(shape, tuple) and shape and shape[0] is None:
        # a data argument: any number of rows of shape ``shape[1:]``
        return _data.data_argument(name, shape[1:])
    return named_array(name, shape)


def numpify_func(sympy_func, *arg_shapes, **kwargs) -> NumericFunction:
    """Compile ``sympy_func``, a function of symbolic arrays, into a :class:`NumericFunction`.

    Args:
        sympy_func: takes one symbolic array per argument and returns a symbolic scalar,
            array, :class:`FunctionExpression` or a tuple of them.
        *arg_shapes: one shape per argument (an int, a tuple, or ``()`` / ``None`` for a
            scalar); defaults to ``func._arg_shapes``.
        **kwargs: passed to :func:`generate_func` (``backend=``, ``jit=``, ...).

    Returns:
        The numeric function; it has the 0.2.1 attributes ``_sympy_func``,
        ``_arg_shapes`` and ``_arg_names``.
    """
    func = sympy_func
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
    args = tuple(_symbolic_argument(n, s) for n, s in zip(arg_names, arg_shapes, strict=True))
    func_name = _safe_name(getattr(func, "__name__", "func"))
    # the symbolic operators of symnum.diffops canonicalise what they hand to users;
    # compiling needs only their raw, much cheaper to build, form
    raw = getattr(func, "_symnum_raw", func)
    with _log.build(func_name):
        with _log.phase("trace") as info, _data.tracing():
            traced = raw(*args)
            if _log.debugging():
                info["output_elements"] = _count_elements(traced)
        numeric = generate_func(args, traced, func_name=func_name, **kwargs)
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
        if _data.is_lazy(item) and item._n is None:
            infos.append(_DataInfo(item._name, item.template.shape, "float64", item.template._data))
            continue
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


class _DataInfo(tuple):
    """The input info of a data argument (its row shape, row symbols)."""

    __slots__ = ()

    def __new__(cls, *fields):
        return super().__new__(cls, fields)


def _flat_exprs(value):
    """``(shape, flat expressions)`` of an output value (array-like or scalar); for a
    data array, those of its row template."""
    if isinstance(value, SymbolicArray):
        if _data.is_lazy(value):
            value = value.template
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


def _count_elements(value) -> int:
    """How many scalar expressions an output value holds (for the build log)."""
    if isinstance(value, tuple):
        return sum(_count_elements(v) for v in value)
    if isinstance(value, FunctionExpression):
        return 1
    return len(_flat_exprs(value)[1])


def _count_statements(body) -> int:
    """IR statements in ``body``, those inside loops included (for the build log)."""
    return sum(1 + _count_statements(getattr(s, "body", ())) for s in body)


def _output_spec(value):
    """Nested structure: tuples, ``("array", shape, exprs)``, ``("closure", fe)``."""
    if isinstance(value, tuple):
        return tuple(_output_spec(v) for v in value)
    if isinstance(value, FunctionExpression):
        return ("closure", value)
    shape, exprs = _flat_exprs(value)
    return ("data" if _data.is_lazy(value) else "array", shape, exprs)


def _build_ir(infos, spec, func_name: str, simplify: bool) -> tuple[ir.Function, tuple]:
    """The IR of ``spec`` and the constant data arrays its data parameters take (in the
    order of those parameters, which follow the arguments)."""
    symbols = {}
    for name, _, _, flat in infos:
        for index, symbol in enumerate(flat):
            symbols[symbol] = ir.Elem(name, index)
    params = [
        ir.Param(name, shape, dtype, data=isinstance(info, _DataInfo))
        for info in infos
        for name, shape, dtype, _ in (info,)
    ]
    taken = {p.name for p in params}

    def simplified(exprs):
        return [sympy.simplify(e) if simplify else e for e in exprs]

    spec = _simplify_spec(spec, simplified)
    spec, plan = _data_plan(spec)
    constants = _constant_data_params(plan, params, symbols, taken)
    lowerer = Lowerer(symbols)
    _lower_loops(lowerer, plan, frozenset(p.name for p in params if p.data))
    positions = iter(range(10**9))

    def lower_arrays(node):
        if isinstance(node, tuple) and node and node[0] in ("array", "data"):
            position = next(positions)
            if node[0] == "data":
                return ir.Output(node[1], plan.stored[position], data=True)
            atoms = tuple(lowerer.lower(e) for e in node[2])
            return ir.Output(node[1], atoms)
        if isinstance(node, tuple) and node and node[0] == "closure":
            next(positions)
            return node
        return tuple(lower_arrays(sub) for sub in node)

    tree = lower_arrays(spec)
    outer_names = {p.name for p in params}

    def lower_closures(node):
        if isinstance(node, ir.Output):
            return node
        if node and node[0] == "closure":
            return _lower_closure(lowerer, node[1], outer_names, simplified)
        return tuple(lower_closures(sub) for sub in node)

    tree = lower_closures(tree)
    fn = passes.without_dead_code(ir.Function(func_name, tuple(params), tuple(lowerer.body), tree))
    fn = passes.without_duplicates(passes.shared_products(fn))
    if passes.is_complex(fn):
        if any(p.data for p in fn.params):
            msg = "functions over data rows must be real: complex data loops are not supported"
            raise NotImplementedError(msg)
        fn = _as_complex(fn)
    return ir.check(fn), tuple(constants)


def _lower_closure(lowerer: Lowerer, fe: FunctionExpression, outer_names, simplified) -> ir.Closure:
    """Lower the operator-valued output ``fe`` (its outer parts go to ``lowerer.body``)."""
    cinfos = _input_info(fe.args)
    cparams, csymbols = [], {}
    for original, shape, dtype, flat in cinfos:
        name = original
        while name in outer_names:
            name += "_"
        cparams.append(ir.Param(name, shape, dtype))
        csymbols.update({s: ir.Elem(name, i) for i, s in enumerate(flat)})
    cspec = _output_spec(fe.return_val)
    leaves: list = []

    def collect(node):
        if node and node[0] == "array":
            leaves.append(node)
        elif node and node[0] in ("closure", "data"):
            what = "another operator" if node[0] == "closure" else "an array over data rows"
            msg = f"an operator-valued output cannot return {what}"
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


def _constant_data_params(plan, params: list, symbols: dict, taken: set) -> list:
    """Add a data parameter per constant data array of ``plan`` (named ``data0``, ...);
    returns the arrays."""
    constants = []
    for source in plan.sources:
        if source.values is None:
            continue  # a data argument: its symbols are the argument's
        name = f"data{len(constants)}"
        while name in taken:
            name += "_"
        taken.add(name)
        params.append(ir.Param(name, source.row_shape, "float64", data=True))
        symbols.update((symbol, ir.Elem(name, j)) for j, symbol in enumerate(source.symbols))
        constants.append(source.values)
    return constants


def _lower_loops(lowerer: Lowerer, plan, data_names: frozenset) -> None:
    """Lower the passes over the data rows of ``plan``, in order."""
    for level in range(plan.levels):
        stores = [(pos, exprs) for pos, (lev, exprs) in plan.stores.items() if lev == level]
        reductions = plan.reductions.get(level, [])
        plan.stored.update(lowerer.loop(data_names, reductions, stores))


def _simplify_spec(spec, simplified):
    if isinstance(spec, tuple) and spec and spec[0] in ("array", "data"):
        return (spec[0], spec[1], simplified(spec[2]))
    if isinstance(spec, tuple) and spec and spec[0] == "closure":
        return spec
    return tuple(_simplify_spec(sub, simplified) for sub in spec)


def _as_complex(fn: ir.Function) -> ir.Function:
    def convert(node):
        if isinstance(node, tuple):
            return tuple(convert(sub) for sub in node)
        if isinstance(node, ir.Output):
            return ir.Output(node.shape, node.atoms, "complex128", node.data)
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
    # Lowering allocates many small objects while huge SymPy trees are alive: the
    # cyclic GC would re-traverse those trees over and over (half the lowering time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    with _log.build(func_name):
        try:
            with _log.phase("lower") as info:
                fn, data_values = _build_ir(infos, spec, func_name, simplify)
                if _log.debugging():
                    info["statements"] = _count_statements(fn.body)
        finally:
            if gc_was_enabled:
                gc.enable()
        with _log.phase("emit") as info:
            numeric = NumericFunction.from_ir(
                fn, backend, backend_module=backend_module, data=data_values
            )
            if _log.debugging():
                info["source_chars"] = len(numeric.source)
    # as in SymNum 0.2.1, the docstring shows the generated code
    numeric.__doc__ = f"Automatically generated {func_name} function.\n\n{numeric.source}"
    if namespace is not None:
        namespace[func_name] = numeric
    return numeric
