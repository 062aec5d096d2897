"""The NumPy backend: emits Python source over ``math`` (one point) and NumPy (batches).

:func:`emit` turns a flat IR function into one Python module with three functions:

* ``<name>(*params)`` for a single point: parameters are unpacked to Python floats
  (``x_0, x_1 = x.tolist()``), statements are scalar Python over ``math`` -- about twice
  as cheap as NumPy scalar arithmetic on small inputs -- and each output array is built
  once. ``math`` raises where IEEE arithmetic returns ``inf``/``nan`` (``log(0)``,
  ``1/0``, overflow); the scalar body runs inside ``try`` (free in CPython 3.11 when
  nothing is raised) and on such an error the point is re-evaluated by the batch function,
  so results always follow IEEE semantics.
* ``<name>_batch(*params)``: every parameter has an extra leading axis; the same
  statements over NumPy ufuncs on the batch axis (constants broadcast), dead temporaries
  deleted so memory stays bounded.
* ``<name>_call(*params)``: the entry of :meth:`Kernel.entry`, the point function's
  statements behind an exactness check of the arguments (anything else goes to the
  caller's checked path). :class:`EntryVariants` records the few lines that turn it into
  the method entry of a closure kernel (``p(v)``: the captures read from ``p.captured``)
  and into the closure entry of an operator's outer kernel (``f(x)``: closure outputs
  wrapped in their BoundClosure classes), compiled on request: ``f(x)(v)`` runs two
  generated functions and nothing else.

Complex functions use the batch function for single points too. Per-op syntax lives in
the tables :data:`POINT` and :data:`BATCH`; functions they need are recorded while
emitting and become the module's imports.

Functions with data parameters (:mod:`symnum.ir` data loops) get a point and a batch
function of their own and no entry function: each loop is vectorised over the rows
(NumPy operations on column views of the data, reductions by ``numpy.<ufunc>.reduce``,
linear predictors and row sums against the data as matrix products),
never unrolled and never a Python loop over rows, so the source does not depend on the
number of rows. See the section "data loops" below.

:func:`build` compiles the module with ``compile``/``exec`` (no module object, nothing
added to ``sys.modules``) under a content-addressed file name, and registers the source
in :mod:`linecache` so tracebacks show generated lines. At most :data:`LINECACHE_SIZE`
sources are kept there (least recently registered dropped first); :meth:`Kernel.show`
re-registers a kernel's source, and :class:`symnum.codegen.NumericFunction` calls it when
a kernel raises.
"""

from __future__ import annotations

import builtins
import itertools
import linecache
import marshal
import math
import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symnum import cache
from symnum.backends import UnsupportedOpError, _data_matmul, _pysource
from symnum.backends._data_matmul import RowDot, RowSums
from symnum.cache import make_key
from symnum.ir import (
    Assign,
    Const,
    Elem,
    Function,
    Loop,
    Op,
    Output,
    Reduce,
    Var,
    check,
    data_params,
    iter_assigns,
    iter_outputs,
    passes,
    specfun,
)

__all__ = ["Kernel", "Source", "available", "build", "emit", "name", "requirement_error"]

name = "numpy"
extra = None
VERSION = "1"
#: How many generated sources :mod:`linecache` keeps at most.
LINECACHE_SIZE = 256
#: Outputs up to this size are filled element by element into ``numpy.empty``.
_SMALL_OUTPUT = 8
#: Point bodies up to this many statements are inlined into the entry function.
_INLINE_STATEMENTS = 200
#: Inlined expressions nest at most this deep.
_INLINE_DEPTH = 4
#: Sums and products of more terms than this are split over several lines.
_CHUNK = 64
#: Sources at least this long are compiled through the on-disk cache.
_CACHE_TEXT = 50_000
#: Import lines longer than this are split, one name a line.
_LINE = 88


def available() -> bool:
    return True


def requirement_error() -> Exception:
    return ImportError("the numpy backend needs only NumPy, which is installed")


# -- helpers the generated code imports -------------------------------------------------


def first(tree):
    """Element 0 of every array in an output tree (a batch of one -> one point)."""
    if type(tree) is tuple:
        return tuple(first(sub) for sub in tree)
    return tree[0]


FLOAT64 = np.dtype(np.float64)
COMPLEX128 = np.dtype(np.complex128)


#: Default of the entry function's parameters: "not passed".
MISSING = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


def given(missing, values: tuple, rest: tuple) -> tuple:
    """The arguments an entry function was called with, as a tuple."""
    return tuple(v for v in values if v is not missing) + rest


def no_slow_path(*args):
    """The entry function's fallback until :meth:`Kernel.entry` provides one."""
    msg = "arguments must be exact arrays here; call the function through symnum"
    raise TypeError(msg)


scalar_cbrt = getattr(math, "cbrt", lambda x: math.copysign(abs(x) ** (1 / 3), x))
scalar_exp2 = getattr(math, "exp2", lambda x: math.pow(2.0, x))


def _vectorised(fn, nargs: int):
    ufunc = np.frompyfunc(fn, nargs, 1)

    def apply(*args):
        return np.asarray(ufunc(*args), dtype=np.float64)

    apply.__name__ = fn.__name__
    return apply


batch_erf = _vectorised(specfun.erf, 1)
batch_erfc = _vectorised(specfun.erfc, 1)
batch_lgamma = _vectorised(specfun.lgamma, 1)
batch_gamma = _vectorised(specfun.gamma, 1)
batch_digamma = _vectorised(specfun.digamma, 1)
batch_polygamma = _vectorised(specfun.polygamma, 2)


# -- the tables -------------------------------------------------------------------------
# Fields: {0}, {1}, ... are the arguments; any other field names a global, looked up in
# GLOBALS and imported by the generated module. ADD and MUL (variadic) are joined.

#: global name -> (module, attribute): the shared table plus what only this backend's
#: generated code (batch functions, entry) names.
GLOBALS = {
    **_pysource.GLOBALS,
    "f64": ("numpy", "float64"),
    "c128": ("numpy", "complex128"),
    "empty": ("numpy", "empty"),
    "zeros": ("numpy", "zeros"),
    "fromiter": ("numpy", "fromiter"),
    "errstate": ("numpy", "errstate"),
    "where": ("numpy", "where"),
    "first": ("symnum.backends.numpy", "first"),
    "ndarray": ("numpy", "ndarray"),
    "float64_dtype": ("symnum.backends.numpy", "FLOAT64"),
    "complex128_dtype": ("symnum.backends.numpy", "COMPLEX128"),
    "slow": ("symnum.backends.numpy", "no_slow_path"),
    "missing": ("symnum.backends.numpy", "MISSING"),
    "given": ("symnum.backends.numpy", "given"),
    "batch_erf": ("symnum.backends.numpy", "batch_erf"),
    "batch_erfc": ("symnum.backends.numpy", "batch_erfc"),
    "batch_lgamma": ("symnum.backends.numpy", "batch_lgamma"),
    "batch_gamma": ("symnum.backends.numpy", "batch_gamma"),
    "batch_digamma": ("symnum.backends.numpy", "batch_digamma"),
    "batch_polygamma": ("symnum.backends.numpy", "batch_polygamma"),
    "data_batch": ("symnum.backends.numpy", "data_batch"),
}

#: Single-point templates over Python floats (real functions only): the shared table.
POINT: dict[Op, str] = _pysource.SCALAR

#: Batch templates over NumPy arrays (any dtype); run under ``errstate(all="ignore")``.
BATCH: dict[Op, str] = {
    Op.ADD: " + ",
    Op.MUL: " * ",
    Op.SUB: "{0} - {1}",
    Op.DIV: "{0} / {1}",
    Op.NEG: "-{0}",
    Op.POW: "{np}.power({0}, {1})",
    Op.ABS: "{np}.abs({0})",
    Op.SIGN: "{np}.sign({0})",
    Op.FLOOR: "{np}.floor({0})",
    Op.CEIL: "{np}.ceil({0})",
    Op.SQRT: "{np}.sqrt({0})",
    Op.CBRT: "{np}.cbrt({0})",
    Op.EXP: "{np}.exp({0})",
    Op.EXP2: "{np}.exp2({0})",
    Op.EXPM1: "{np}.expm1({0})",
    Op.LOG: "{np}.log({0})",
    Op.LOG2: "{np}.log2({0})",
    Op.LOG10: "{np}.log10({0})",
    Op.LOG1P: "{np}.log1p({0})",
    Op.SIN: "{np}.sin({0})",
    Op.COS: "{np}.cos({0})",
    Op.TAN: "{np}.tan({0})",
    Op.ASIN: "{np}.arcsin({0})",
    Op.ACOS: "{np}.arccos({0})",
    Op.ATAN: "{np}.arctan({0})",
    Op.ATAN2: "{np}.arctan2({0}, {1})",
    Op.SINH: "{np}.sinh({0})",
    Op.COSH: "{np}.cosh({0})",
    Op.TANH: "{np}.tanh({0})",
    Op.ASINH: "{np}.arcsinh({0})",
    Op.ACOSH: "{np}.arccosh({0})",
    Op.ATANH: "{np}.arctanh({0})",
    Op.HYPOT: "{np}.hypot({0}, {1})",
    Op.MAX: "{np}.maximum({0}, {1})",
    Op.MIN: "{np}.minimum({0}, {1})",
    Op.ERF: "{batch_erf}({0})",
    Op.ERFC: "{batch_erfc}({0})",
    Op.LGAMMA: "{batch_lgamma}({0})",
    Op.GAMMA: "{batch_gamma}({0})",
    Op.DIGAMMA: "{batch_digamma}({0})",
    Op.POLYGAMMA: "{batch_polygamma}({0}, {1})",
    Op.REAL: "{np}.real({0})",
    Op.IMAG: "{np}.imag({0})",
    Op.CONJ: "{np}.conj({0})",
    Op.ISNAN: "{np}.isnan({0}) * 1.0",
    Op.ISINF: "{np}.isinf({0}) * 1.0",
    Op.ISFINITE: "{np}.isfinite({0}) * 1.0",
    Op.LT: "({0} < {1}) * 1.0",
    Op.LE: "({0} <= {1}) * 1.0",
    Op.GT: "({0} > {1}) * 1.0",
    Op.GE: "({0} >= {1}) * 1.0",
    Op.EQ: "({0} == {1}) * 1.0",
    Op.NE: "({0} != {1}) * 1.0",
    Op.NOT: "({0} == 0) * 1.0",
    Op.AND: "{np}.logical_and({0}, {1}) * 1.0",
    Op.OR: "{np}.logical_or({0}, {1}) * 1.0",
    Op.XOR: "{np}.logical_xor({0}, {1}) * 1.0",
    Op.SELECT: "{where}({0}, {1}, {2})",
}
assert set(BATCH) == set(Op), "every op needs a batch template"  # noqa: S101


#: op -> how often each argument appears in its point template (None: variadic, once)
_PLACEHOLDERS: dict[Op, tuple[int, ...] | None] = {
    op: None
    if op in (Op.ADD, Op.MUL)
    else tuple(
        _pysource.fields(template).count(str(k)) for k in range(max(1, _pysource.arity(template)))
    )
    for op, template in POINT.items()
}


@dataclass(frozen=True)
class Source:
    """The generated module: its text, the names of its functions and where each one's
    lines are (recorded while emitting, so building never searches the text)."""

    text: str
    point: str
    batch: str
    is_complex: bool
    entry: str = ""
    slow: str = ""
    parts: tuple[_pysource.Part, ...] = ()
    #: how to make the method and closure entries (None: no entry function)
    variants: EntryVariants | None = None

    def lines_of(self, function: str) -> tuple[int, int]:
        """The index range of the lines of top-level ``function``."""
        for part in self.parts:
            if part.name == function:
                return part.first, part.stop
        raise KeyError(function)

    def __str__(self) -> str:
        return self.text


class _Names:
    """Deterministic, collision-free names for one generated module."""

    def __init__(self, fn: Function):
        self.params = [p.name for p in fn.params]
        taken = set(self.params)
        self.elem_prefix = {}
        for p in fn.params:
            prefix = p.name + "_"
            while any(re.fullmatch(re.escape(prefix) + r"\d+", other) for other in taken):
                prefix += "_"
            self.elem_prefix[p.name] = prefix
        self.temp = "t"
        while any(re.fullmatch(re.escape(self.temp) + r"\d+", other) for other in taken):
            self.temp += "_"
        self.locals = set(taken)
        self.globals: dict[str, str] = {}  # key in GLOBALS -> alias
        self._placeholder: str | None = None
        self._templates: dict = {}

    def local(self, base: str) -> str:
        candidate = base
        while candidate in self.locals or self._is_generated(candidate):
            candidate += "_"
        self.locals.add(candidate)
        return candidate

    def _is_generated(self, candidate: str) -> bool:
        if re.fullmatch(re.escape(self.temp) + r"\d+", candidate):
            return True
        return any(
            re.fullmatch(re.escape(prefix) + r"\d+", candidate)
            for prefix in self.elem_prefix.values()
        )

    def scratch(self, base: str) -> str:
        """A function-local name (not registered: each function may reuse it)."""
        candidate = base
        while candidate in self.locals or self._is_generated(candidate):
            candidate += "_"
        return candidate

    def placeholder(self) -> str:
        """The throw-away local for unpacked elements nobody reads."""
        if self._placeholder is None:
            self._placeholder = self.local("_")
        return self._placeholder

    def glob(self, key: str) -> str:
        alias = self.globals.get(key)
        if alias is None:
            alias = self.local("_" + key)
            self.globals[key] = alias
        return alias

    def template(self, table: dict, op: Op) -> str:
        """``table[op]`` with this module's aliases of the globals it names filled in."""
        key = (id(table), op)
        text = self._templates.get(key)
        if text is None:
            template = table[op]
            fields = {f: self.glob(f) for f in _pysource.fields(template) if not f.isdigit()}
            # {0}, {1}, ... stay fields for the arguments
            arity = _pysource.arity(template)
            text = template.format(*(f"{{{k}}}" for k in range(arity)), **fields)
            self._templates[key] = text
        return text

    def atom(self, atom, batch: bool) -> str:
        if type(atom) is Var:
            return f"{self.temp}{atom.id}"
        if type(atom) is Elem:
            return f"{self.elem_prefix[atom.param]}{atom.index}"
        return self.const(atom.value)

    def const(self, value) -> str:
        if isinstance(value, complex):
            if math.isfinite(value.real) and math.isfinite(value.imag):
                return repr(value)
            return f"complex({self.const(value.real)}, {self.const(value.imag)})"
        inf = self.glob("inf") if math.isinf(value) else ""
        nan = self.glob("nan") if math.isnan(value) else ""
        return _pysource.float_literal(value, inf, nan)


def _statement(names: _Names, table: dict, stmt, batch: bool, inlined=None) -> list[str]:
    """The line(s) assigning one IR statement. Long sums and products are split into
    running partial results (same left-to-right order, so the same rounding): one
    expression of thousands of ``+`` would overflow CPython's compiler stack."""
    target = f"{names.temp}{stmt.target}"
    args = stmt.args
    if stmt.op not in (Op.ADD, Op.MUL) or len(args) <= _CHUNK:
        return [f"{target} = {_expression(names, table, stmt.op, args, batch, inlined=inlined)}"]
    lines = [
        f"{target} = {_expression(names, table, stmt.op, args[:_CHUNK], batch, inlined=inlined)}"
    ]
    for start in range(_CHUNK, len(args), _CHUNK - 1):
        chunk = args[start : start + _CHUNK - 1]
        rest = table[stmt.op].join(_text(names, a, batch, inlined) for a in chunk)
        lines.append(f"{target} = {target}{table[stmt.op]}{rest}")
    return lines


def _text(names: _Names, atom, batch: bool, inlined) -> str:
    if inlined and type(atom) is Var and atom.id in inlined:
        return inlined.pop(atom.id)
    return names.atom(atom, batch)


def _inlinable(fn: Function) -> set[int]:
    """Temporaries of the point body worth writing inline into their single reader:
    read exactly once, by a later statement whose template mentions that argument once
    (never by an output), and not nested deeper than :data:`_INLINE_DEPTH`. Saves a
    store and a load per temporary; each operation is still evaluated (and rounded)
    exactly as written."""
    reads: dict[int, int] = {}
    for stmt in fn.body:
        counts = _PLACEHOLDERS[stmt.op]
        for position, a in enumerate(stmt.args):
            if type(a) is Var:
                weight = 1 if counts is None else counts[min(position, len(counts) - 1)]
                reads[a.id] = reads.get(a.id, 0) + weight
    for leaf in iter_outputs(fn.outputs):
        for a in leaf.atoms:
            if type(a) is Var:
                reads[a.id] = reads.get(a.id, 0) + 2
    depth: dict[int, int] = {}
    chosen: set[int] = set()
    for stmt in fn.body:
        if len(stmt.args) > _CHUNK or reads.get(stmt.target) != 1:
            continue
        nested = max((depth.get(a.id, 0) for a in stmt.args if type(a) is Var), default=0)
        if nested < _INLINE_DEPTH:
            depth[stmt.target] = nested + 1
            chosen.add(stmt.target)
    return chosen


def _expression(
    names: _Names, table: dict, op: Op, args: tuple, batch: bool, *, inlined=None
) -> str:
    texts = [_text(names, a, batch, inlined) for a in args]
    if batch and all(type(a) is Const for a in args):
        # keep IEEE semantics (1/0 -> inf) when no argument is an array
        scalar = names.glob("c128" if isinstance(args[0].value, complex) else "f64")
        texts[0] = f"{scalar}({texts[0]})"
    if op is Op.ADD or op is Op.MUL:
        return table[op].join(texts)
    return names.template(table, op).format(*texts)


_REAL_ONLY = frozenset({Op.ERF, Op.ERFC, Op.LGAMMA, Op.GAMMA, Op.DIGAMMA, Op.POLYGAMMA})


def _refuse_complex_special(fn: Function) -> None:
    """Special functions are real-only here: refuse them on complex values at emit time."""
    if not passes.is_complex(fn):
        return
    types, params = passes.dtypes(fn), passes.param_dtypes(fn)
    for stmt in iter_assigns(fn.body):
        if stmt.op in _REAL_ONLY and any(
            passes.atom_dtype(a, types, params) == passes.COMPLEX128 for a in stmt.args
        ):
            raise UnsupportedOpError(stmt.op, name, "special functions take real arguments only")


def _used_elems(fn: Function, loops=None) -> dict[str, list[int]]:
    """The flat indices of each parameter's elements that ``fn`` reads; ``loops``:
    ``{position: (body, reductions)}`` of its loops as :class:`_DataEmitter` emits them."""
    used: dict[str, set[int]] = {p.name: set() for p in fn.params}
    for position, stmt in enumerate(fn.body):
        if type(stmt) is Loop:
            body, reductions = (loops or {}).get(position, (stmt.body, stmt.reductions))
        else:
            body, reductions = (stmt,), ()
        for s in body:
            if type(s) is RowDot and _whole_param(s.coeffs):
                continue  # the parameter's array is read, not its elements
            for a in s.args:
                if type(a) is Elem:
                    used[a.param].add(a.index)
        for r in reductions:
            value = r.weight if type(r) is RowSums else r.value
            if type(value) is Elem:
                used[value.param].add(value.index)
    for leaf in iter_outputs(fn.outputs):
        for a in leaf.atoms:
            if type(a) is Elem:
                used[a.param].add(a.index)
    return {k: sorted(v) for k, v in used.items()}


def _tree_leaves(tree, out: list) -> None:
    if isinstance(tree, tuple):
        for sub in tree:
            _tree_leaves(sub, out)
    else:
        out.append(tree)


def _tree_expr(tree, names_iter) -> str:
    if isinstance(tree, tuple):
        inner = [_tree_expr(sub, names_iter) for sub in tree]
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
    return next(names_iter)


def _index(shape: tuple[int, ...], flat: int) -> str:
    idx = []
    for dim in reversed(shape):
        idx.append(flat % dim)
        flat //= dim
    return ", ".join(str(i) for i in reversed(idx))


def _read_params(fn: Function, names: _Names, used=None):
    """``(param, prefix, indices)`` for each (non-data) parameter whose elements ``fn``
    reads (``used``: :func:`_used_elems`): the prefix of its element locals and the flat
    indices read, ascending."""
    used = _used_elems(fn) if used is None else used
    for p in fn.params:
        if used[p.name] and not p.data:
            yield p, names.elem_prefix[p.name], used[p.name]


def _unpack_lines(fn: Function, names: _Names, used=None) -> list[str]:
    """Parameters' elements into Python scalars (only the elements the body reads)."""
    lines = []
    for p, prefix, idx in _read_params(fn, names, used):
        if p.size == 1:
            lines.append(f"{prefix}0 = {p.name}.item()")
        elif 3 * len(idx) >= p.size:
            wanted = set(idx)
            placeholder = names.placeholder() if len(idx) < p.size else ""
            targets = [f"{prefix}{i}" if i in wanted else placeholder for i in range(p.size)]
            flat = p.name if len(p.shape) == 1 else f"{p.name}.ravel()"
            lines.append(f"{', '.join(targets)}, = {flat}.tolist()")
        else:
            lines.extend(f"{prefix}{i} = {p.name}.item({i})" for i in idx)
    return lines


def _unpacks_whole(fn: Function, param) -> bool:
    """Whether :func:`_unpack_lines` unpacks all of a 1-D ``param`` with ``tolist()``
    (unpacking then fails for any other length)."""
    used = _used_elems(fn)[param.name]
    return len(param.shape) == 1 and param.size > 1 and 3 * len(used) >= param.size


def _point_body(
    fn: Function, names: _Names, bname: str, indent: str, *, unpack=True, results=None
) -> list[str]:
    """The statements of the single-point function (parameters already bound);
    ``results``, a list, receives the local names of the built outputs."""
    lines = _unpack_lines(fn, names) if unpack else []
    lines.append("try:")
    inline = _inlinable(fn)
    pending: dict[int, str] = {}
    body = []
    for stmt in fn.body:
        if stmt.target in inline:
            pending[stmt.target] = (
                f"({_expression(names, POINT, stmt.op, stmt.args, False, inlined=pending)})"
            )
        else:
            body.extend(_statement(names, POINT, stmt, False, pending))
    lines.extend("    " + line for line in body or ["pass"])
    lines.append("except (ArithmeticError, ValueError):")
    lines.append("    # math raised where IEEE arithmetic gives inf/nan: redo it with NumPy")
    batch_args = ", ".join(f"{p}[None]" for p in names.params)
    lines.append(f"    return {names.glob('first')}({bname}({batch_args}))")
    leaves: list = []
    _tree_leaves(fn.outputs, leaves)
    built = [_point_output(names, number, leaf, lines) for number, leaf in enumerate(leaves)]
    if results is not None:
        results.extend(built)
    lines.append(f"return {_tree_expr(fn.outputs, iter(built))}")
    return [indent + line for line in lines]


def _point_output(names: _Names, number: int, leaf, lines: list[str]) -> str:
    """Append to ``lines`` the statements building output ``number`` (``leaf``) of a
    single point; return the name of the built value."""
    out = names.scratch(f"out{number}")
    atoms = [names.atom(a, False) for a in leaf.atoms]
    if leaf.shape == ():
        lines.append(f"{out} = {names.glob('f64')}({atoms[0]})")
        return out
    shape = repr(leaf.shape) if len(leaf.shape) > 1 else str(leaf.shape[0])
    nonzero = [k for k, a in enumerate(leaf.atoms) if a != Const(0.0)]
    if leaf.size <= _SMALL_OUTPUT or len(nonzero) * 2 <= leaf.size:
        alloc = "empty" if leaf.size <= _SMALL_OUTPUT else "zeros"
        lines.append(f"{out} = {names.glob(alloc)}({shape})")
        positions = range(leaf.size) if alloc == "empty" else nonzero
        lines.extend(f"{out}[{_index(leaf.shape, k)}] = {atoms[k]}" for k in positions)
    else:
        values = ", ".join(atoms)
        reshape = f".reshape({shape})" if len(leaf.shape) > 1 else ""
        lines.append(
            f"{out} = {names.glob('fromiter')}(({values},), "
            f"{names.glob('f64')}, {leaf.size}){reshape}"
        )
    return out


def _point_function(fn: Function, names: _Names, fname: str, bname: str) -> list[str]:
    return [f"def {fname}({', '.join(names.params)}):", *_point_body(fn, names, bname, "    ")]


@dataclass(frozen=True)
class _Form:
    """Which of the entry functions :func:`_entry_function` writes: the plain entry
    (``self`` and ``kwargs`` empty), the closure entry (``kwargs``: keyword arguments go
    to the fallback, which refuses them with symnum's message) or the method entry
    (``self`` too: the first parameter is read from ``self.captured``)."""

    rest: str
    kwargs: str = ""
    self: str = ""


def _entry_function(
    fn: Function, names: _Names, fnames: tuple[str, str, str], form: _Form, results=None
) -> list[str]:
    """``<name>_call(*params)``: what users' calls run.

    Exact single points are evaluated here; anything else goes to ``_slow(*args)``, the
    NumericFunction's checked path. The guard is as cheap as it can be while still
    exact: the dtype object (by identity), then the rank for 1-D parameters whose
    ``tolist()`` unpacking here checks the length (a wrong length raises ValueError) or
    the whole shape otherwise; objects without ``dtype`` raise AttributeError. Any
    strides are fine. Small bodies are inlined, larger (and complex) ones call the point
    function (one frame is then negligible; its parameters' shapes are checked whole).
    ``form`` (:class:`_Form`) chooses the plain entry or one of the variants
    :class:`EntryVariants` records; every form has the same lines, line for line
    (``results``: see :func:`_point_body`)."""
    ename, fname, bname = fnames
    missing = names.glob("missing")
    rest = form.rest
    params = names.params
    user = params[1:] if form.self else params
    # positional-only, like NumericFunction.__call__: the plain entry refuses keywords
    # with Python's TypeError, the variants hand them to the fallback
    signature = ", ".join(
        [
            *([form.self] if form.self else []),
            *(f"{p}={missing}" for p in user),
            *(["/"] if form.self or user else []),
            f"*{rest}",
            *([f"**{form.kwargs}"] if form.kwargs else []),
        ]
    )
    values = f"({user[0]},)" if len(user) == 1 else f"({', '.join(user)})"
    given = f"{names.glob('given')}({missing}, {values}, {rest})"
    keywords = f", **{form.kwargs}" if form.kwargs else ""
    bound = f"{form.self}, " if form.self else ""
    slow = f"return {names.glob('slow')}({bound}*{given}{keywords})"
    inline = not passes.is_complex(fn) and len(fn.body) <= _INLINE_STATEMENTS
    conditions = [f"{rest} or {form.kwargs}" if form.kwargs else rest]
    for p in fn.params:
        dtype = names.glob("complex128_dtype" if p.dtype == "complex128" else "float64_dtype")
        # exactly ndarray: a subclass (a masked array, say) takes the checked path
        read = p.name
        if form.self and p.name == params[0]:
            read = f"({p.name} := {form.self}.captured)"
        conditions.append(f"{read}.__class__ is not {names.glob('ndarray')}")
        conditions.append(f"{p.name}.dtype is not {dtype}")
        if inline and _unpacks_whole(fn, p):  # the unpacking below checks the length
            conditions.append(f"{p.name}.ndim != 1")
        elif p.shape == ():
            conditions.append(f"{p.name}.ndim != 0")
        else:
            conditions.append(f"{p.name}.shape != {p.shape!r}")
    lines = [f"def {ename}({signature}):", "    try:"]
    if len(conditions) <= 3:
        lines.append(f"        if {' or '.join(conditions)}:")
    else:
        lines.append("        if (")
        lines.append(f"            {conditions[0]}")
        lines.extend(f"            or {c}" for c in conditions[1:])
        lines.append("        ):")
    lines.append(f"            {slow}")
    if inline:
        lines.extend("        " + line for line in _unpack_lines(fn, names))
    lines.append("    except (AttributeError, ValueError):")
    lines.append(f"        {slow}")
    if inline:
        lines.extend(_point_body(fn, names, bname, "    ", unpack=False, results=results))
    else:
        lines.append(f"    return {fname}({', '.join(params)})")
    return lines


@dataclass(frozen=True)
class EntryVariants:
    """How :class:`Kernel` makes the method and closure entries from the module's entry
    function, by replacing some of its lines (so line numbers, and tracebacks, match the
    module's text):

    ``method``, ``closure``
        ``(index, line)`` pairs (index within the entry function) turning it into the
        method entry (``self`` first, the first parameter read from ``self.captured``)
        and into the closure entry (``None``: no method entry, for a function without
        parameters). Both take and forward keyword arguments.
    ``returns``
        The indices of the lines returning a point's outputs (``return <expression>``),
        which the closure entry replaces by lines wrapping closure outputs (see
        :func:`closure_return`).
    ``tree``
        The output tree: nested tuples of leaf numbers (a bare number for one output).
    ``leaves``, ``bound``
        Per output leaf: the local holding it, and a free local for its wrapper.
    ``new``, ``classes``
        Free global names for ``object.__new__`` and for each leaf's class.
    """

    method: tuple[tuple[int, str], ...] | None
    closure: tuple[tuple[int, str], ...]
    returns: tuple[int, ...]
    tree: object
    leaves: tuple[str, ...]
    bound: tuple[str, ...]
    new: str
    classes: tuple[str, ...]


def _leaf_numbers(tree, counter) -> object:
    if isinstance(tree, tuple):
        return tuple(_leaf_numbers(sub, counter) for sub in tree)
    return next(counter)


def _entry_variants(
    fn: Function, names: _Names, fnames, plain: list[str], *, results: list, rest: str
) -> EntryVariants:
    """The :class:`EntryVariants` of the entry function ``plain`` (written with the
    local ``rest``; ``results``: the names of its outputs, if it builds them)."""
    slow = names.glob("slow")
    kwargs, this = names.local("kwargs"), names.local("self")
    leaves: list = []
    _tree_leaves(fn.outputs, leaves)
    if not results:  # the entry calls the point function: its outputs get these names
        results = [names.scratch(f"out{k}") for k in range(len(leaves))]
    bound = tuple(names.scratch(f"bound{k}") for k in range(len(leaves)))
    new = names.local("_new")
    classes = tuple(names.local(f"_class{k}") for k in range(len(leaves)))

    def edits(form: _Form) -> tuple[tuple[int, str], ...]:
        lines = _entry_function(fn, names, fnames, form)
        if len(lines) != len(plain):  # pragma: no cover - the forms are line for line
            msg = "entry variants must keep the entry function's lines"
            raise AssertionError(msg)
        return tuple((k, line) for k, line in enumerate(lines) if line != plain[k])

    returns = tuple(
        k
        for k, line in enumerate(plain)
        if line.lstrip().startswith("return ") and not line.lstrip().startswith(f"return {slow}(")
    )
    return EntryVariants(
        method=edits(_Form(rest, kwargs, this)) if fn.params else None,
        closure=edits(_Form(rest, kwargs)),
        returns=returns,
        tree=_leaf_numbers(fn.outputs, itertools.count()),
        leaves=tuple(results),
        bound=bound,
        new=new,
        classes=classes,
    )


def closure_return(line: str, variants: EntryVariants, closures: tuple[int, ...]) -> str:
    """``line``, a ``return <expression>`` of a point's outputs, as one line that unpacks
    them, wraps output ``k`` for each ``k`` in ``closures`` in a new instance of the
    global ``variants.classes[k]`` (``object.__new__``, then ``captured``) and returns
    the tree."""
    indent = line[: len(line) - len(line.lstrip())]
    expression = line.strip().removeprefix("return ")
    target = _tree_expr(variants.tree, iter(variants.leaves))
    statements = [] if expression == target else [f"{target} = {expression}"]
    values = list(variants.leaves)
    for k in closures:
        statements.append(f"{variants.bound[k]} = {variants.new}({variants.classes[k]})")
        statements.append(f"{variants.bound[k]}.captured = {variants.leaves[k]}")
        values[k] = variants.bound[k]
    statements.append(f"return {_tree_expr(variants.tree, iter(values))}")
    return indent + "; ".join(statements)


def _point_via_batch(fn: Function, names: _Names, fname: str, bname: str) -> list[str]:
    batch_args = ", ".join(f"{p}[None]" for p in names.params)
    return [
        f"def {fname}({', '.join(names.params)}):",
        f"    return {names.glob('first')}({bname}({batch_args}))",
    ]


def _batch_function(fn: Function, names: _Names, bname: str) -> list[str]:
    lines = [f"def {bname}({', '.join(names.params)}):"]
    n = names.local("n")
    if fn.params:
        lines.append(f"    {n} = {fn.params[0].name}.shape[0]")
    else:
        lines.append(f"    {n} = 1")
    for p, prefix, idx in _read_params(fn, names):
        if len(p.shape) != 1:
            lines.append(f"    {p.name} = {p.name}.reshape({n}, {p.size})")
        lines.extend(f"    {prefix}{i} = {p.name}[:, {i}]" for i in idx)
    leaves: list = []
    _tree_leaves(fn.outputs, leaves)
    dead_after = _dead_after(fn, leaves)
    lines.append(f"    with {names.glob('errstate')}(all='ignore'):")
    for position, s in enumerate(fn.body):
        lines.extend("        " + line for line in _statement(names, BATCH, s, True))
        if position in dead_after:
            dead = ", ".join(f"{names.temp}{v}" for v in sorted(dead_after[position]))
            lines.append(f"        del {dead}")
    if not fn.body:
        lines.append("        pass")
    results = [_batch_output(names, number, leaf, n, lines) for number, leaf in enumerate(leaves)]
    lines.append(f"    return {_tree_expr(fn.outputs, iter(results))}")
    return lines


def _dead_after(fn: Function, leaves: list) -> dict[int, list[int]]:
    """``{statement position: temporaries no output keeps and nothing reads after it}``,
    so each can be deleted right after its last use."""
    last_use: dict[int, int] = {}
    for position, stmt in enumerate(fn.body):
        for a in stmt.args:
            if type(a) is Var:
                last_use[a.id] = position
    kept = {a.id for leaf in leaves for a in leaf.atoms if type(a) is Var}
    dead_after: dict[int, list[int]] = {}
    for var, position in last_use.items():
        if var not in kept:
            dead_after.setdefault(position, []).append(var)
    return dead_after


def _batch_output(names: _Names, number: int, leaf, n: str, lines: list[str]) -> str:
    """Append to ``lines`` the statements filling output ``number`` (``leaf``) at ``n``
    points; return the name of the filled array."""
    out = names.scratch(f"out{number}")
    dtype = names.glob("c128" if leaf.dtype == "complex128" else "f64")
    lines.append(f"    {out} = {names.glob('empty')}(({n}, {leaf.size}), {dtype})")
    for k, a in enumerate(leaf.atoms):
        lines.append(f"    {out}[:, {k}] = {names.atom(a, True)}")
    if leaf.shape != (leaf.size,):
        dims = ", ".join(str(d) for d in leaf.shape)
        lines.append(f"    {out} = {out}.reshape({n}{', ' if dims else ''}{dims})")
    return out


# -- data loops -------------------------------------------------------------------------
# A function with data parameters gets a point and a batch function of its own. Each
# Loop is vectorised over the rows: a data parameter's element j is the column view
# ``X[:, j]``, a loop statement that reads the current row (directly or through another
# such statement) is one NumPy operation on whole columns, and a loop statement that
# does not is computed once, like an outer statement (it is pure, so where it runs does
# not matter). Reductions are ``numpy.<op>.reduce`` over the row axis; a reduction of a
# value that does not vary per row (an outer variable, a constant) is computed in closed
# form (``n * v``, ``v ** n``, ``v``) with the empty-row values when ``n == 0``. Sums of
# columns times row-invariant coefficients and groups of row sums against columns are
# matrix products instead (``X @ beta``, ``w @ X``, ``(X.T * w) @ X``; see
# :mod:`symnum.backends._data_matmul`): one BLAS call where there were k column passes.
#
# Point: outer statements are scalar ``math`` code as in functions without data, loop
# statements NumPy code on arrays of length n; all of it under ``errstate(all="ignore")``
# inside the same ``try`` as before, whose fallback is the batch function on a batch of
# one. Batch: every non-data value has shape ``(size, 1)`` (parameters' elements are
# ``x[:, i:i + 1]``), so it broadcasts against the rows: loop values are ``(size, n)``
# (or ``(n,)`` when they read no batched value), reductions run over the last axis with
# ``keepdims``. :func:`data_batch` runs a batch in blocks of at most ``_BLOCK_VALUES``
# (element, row) pairs, which bounds every temporary.

#: The (batch element, row) pairs one block of a batch with data evaluates at most.
_BLOCK_VALUES = 1 << 14


def data_batch(block, data: tuple[bool, ...], args: tuple):
    """Run the generated batch function ``block`` of a function with data on ``args``,
    in blocks of the batch axis (``data[k]``: argument ``k`` is a data argument, shared
    by the whole batch), and join the blocks' outputs."""
    rows = next((a.shape[0] for a, d in zip(args, data, strict=True) if d), 0)
    size = next((a.shape[0] for a, d in zip(args, data, strict=True) if not d), 1)
    step = max(1, _BLOCK_VALUES // max(rows, 1))
    if size <= step:
        return block(*args)
    pieces = [
        block(*(a if d else a[start : start + step] for a, d in zip(args, data, strict=True)))
        for start in range(0, size, step)
    ]
    return _join(pieces)


def _join(pieces: list):
    if type(pieces[0]) is tuple:
        return tuple(_join([p[k] for p in pieces]) for k in range(len(pieces[0])))
    return np.concatenate(pieces)


@dataclass
class _Step:
    """Lines of a data function's body, the variables they read and assign (``target``
    ``None``: nothing), and whether ``target`` holds one value per row."""

    lines: list[str]
    reads: set[int]
    target: int | None = None
    per_row: bool = False


def _var_reads(atoms) -> set[int]:
    return {a.id for a in atoms if type(a) is Var}


def _schedule(body, varying: set[int]) -> tuple[dict[int, int], dict]:
    """When a loop's values are computed: ``complete`` maps each variable to the body
    position after which it exists; ``folds`` maps a position to the accumulation
    steps ``(statement, k)`` run after it (argument ``k >= 1`` of a per-row ADD or MUL
    that reads other loop values, added as soon as it and the previous ones exist)."""
    complete: dict[int, int] = {}
    folds: dict[int, list[tuple[Assign, int]]] = {}
    for position, s in enumerate(body):
        terms = [complete[a.id] for a in s.args if type(a) is Var and a.id in complete]
        if s.op not in (Op.ADD, Op.MUL) or s.target not in varying or not terms:
            complete[s.target] = position
            continue
        # start with the first loop value: columns and outer values cost nothing to keep
        running = min(terms)
        for k, a in enumerate(s.args):
            if type(a) is Var and a.id in complete:
                running = max(running, complete[a.id])
            if k:
                folds.setdefault(running, []).append((s, k))
        complete[s.target] = running
    return complete, folds


class _DataEmitter:
    """The point or the batch (``batch=True``) body of a function with data loops."""

    def __init__(self, fn: Function, names: _Names, rows: str, size: str, batch: bool):
        self.fn = fn
        self.names = names
        self.rows = rows
        self.size = size
        self.batch = batch
        self.data = {p.name for p in fn.params if p.data}
        self.params = {p.name: p for p in fn.params}
        self.leaves: list = []
        _tree_leaves(fn.outputs, self.leaves)
        # each loop's body and reductions with matrix products (see _data_matmul)
        self.loops: dict[int, tuple[tuple, tuple]] = {}
        fresh = itertools.count(_max_id(fn) + 1)
        complex_fn = passes.is_complex(fn)
        for position, stmt in enumerate(fn.body):
            if type(stmt) is not Loop:
                continue
            if complex_fn:
                self.loops[position] = (stmt.body, stmt.reductions)
                continue
            varying = self.varying(stmt.body)
            stored = tuple(a for k in stmt.stores for a in self.leaves[k].atoms)
            data = frozenset(self.data)
            self.loops[position] = _data_matmul.rewrite(stmt, data, varying, stored, fresh)
        self.used = _used_elems(fn, self.loops)
        #: data parameters read as whole matrices
        self.matrices = {
            s.param for body, _ in self.loops.values() for s in body if type(s) is RowDot
        }
        for _, reductions in self.loops.values():
            for r in reductions:
                if type(r) is RowSums:
                    self.matrices.update([*r.rights(), r.left] if r.left else r.rights())

    def varying(self, body) -> set[int]:
        """The variables of a loop ``body`` that vary per row."""
        varying: set[int] = set()
        for s in body:
            if type(s) is RowDot or any(self.per_row(a, varying) for a in s.args):
                varying.add(s.target)
        return varying

    def scalar(self, text: str) -> str:
        """``text`` (a Python float literal) as a value that never raises (batch)."""
        return f"{self.names.glob('f64')}({text})" if self.batch else text

    def inf(self, sign: str) -> str:
        return self.scalar(f"{sign}{self.names.glob('inf')}")

    def steps(self) -> list[_Step]:
        table = BATCH if self.batch else POINT
        steps = []
        for position, stmt in enumerate(self.fn.body):
            if type(stmt) is Loop:
                steps.extend(self.loop_steps(stmt, *self.loops[position]))
            else:
                lines = _statement(self.names, table, stmt, self.batch)
                steps.append(_Step(lines, _var_reads(stmt.args), stmt.target))
        return steps

    def loop_steps(self, loop: Loop, body: tuple, reductions: tuple) -> list[_Step]:
        """A loop's statements in order, except that per-row sums and products are
        accumulated term by term as soon as each term exists (same left-to-right order,
        so the same rounding), and each reduction and stored column comes right after
        its value is complete: per-row temporaries die early. A sum of terms
        ``X[0]*b[0] + ...`` left out of a matrix product (``body`` and ``reductions``: the
        loop's, with :mod:`~symnum.backends._data_matmul` products) then keeps two columns
        alive, not ten."""
        table = BATCH if self.batch else POINT
        varying = self.varying(body)
        complete, folds = _schedule(body, varying)
        # reductions and stored columns: right after their value is complete
        pending: dict[int | None, list] = {}
        steps = []
        for r in reductions:
            value = r.weight if type(r) is RowSums else r.value
            where = value.id if type(value) is Var and value.id in complete else None
            pending.setdefault(where, []).append(r)
        for number in loop.stores:
            leaf = self.leaves[number]
            steps.append(_Step([self.allocate(number, leaf)], set()))
            for k, a in enumerate(leaf.atoms):
                where = a.id if type(a) is Var and a.id in complete else None
                pending.setdefault(where, []).append((number, k, a))
        steps.extend(self.pending_steps(pending.pop(None, ()), varying))
        for position, s in enumerate(body):
            if complete[s.target] == position:
                per_row = s.target in varying
                if type(s) is RowDot:
                    lines = self.row_dot(s)
                else:
                    lines = _statement(
                        self.names, BATCH if per_row else table, s, self.batch or per_row
                    )
                steps.append(_Step(lines, _var_reads(s.args), s.target, per_row))
                steps.extend(self.pending_steps(pending.pop(s.target, ()), varying))
            for stmt, k in folds.get(position, ()):
                steps.append(self.fold_step(stmt, k))
                if k == len(stmt.args) - 1:
                    steps.extend(self.pending_steps(pending.pop(stmt.target, ()), varying))
        return steps

    def fold_step(self, stmt: Assign, k: int) -> _Step:
        """Accumulate argument ``k`` (>= 1) of the per-row sum or product ``stmt``."""
        names = self.names
        target = f"{names.temp}{stmt.target}"
        if k == 1:
            text = _expression(names, BATCH, stmt.op, stmt.args[:2], True)
            return _Step([f"{target} = {text}"], _var_reads(stmt.args[:2]), stmt.target, True)
        sign = BATCH[stmt.op].strip()
        term = names.atom(stmt.args[k], True)
        # in place on the point's (n,) arrays; in a batch the shape may still grow
        line = f"{target} = {target} {sign} {term}" if self.batch else f"{target} {sign}= {term}"
        return _Step([line], {stmt.target} | _var_reads(stmt.args[k : k + 1]))

    def pending_steps(self, items, varying: set[int]) -> list[_Step]:
        steps = []
        for item in items:
            if type(item) is Reduce:
                text = self.reduction(item, self.per_row(item.value, varying))
                line = f"{self.names.temp}{item.target} = {text}"
                steps.append(_Step([line], _var_reads((item.value,)), item.target))
            elif type(item) is RowSums:
                steps.extend(self.row_sums(item))
            else:
                position, k, atom = item
                out = self.names.scratch(f"out{position}")
                column = ":, :" if self.batch else ":"
                line = f"{out}[{column}, {k}] = {self.names.atom(atom, True)}"
                steps.append(_Step([line], _var_reads((atom,))))
        return steps

    def row_dot(self, dot: RowDot) -> list[str]:
        """The lines of a row dot product: ``X[:, cols] @ coeffs`` (with the batch axis
        ``coeffs @ X[:, cols].T``)."""
        names = self.names
        target = f"{names.temp}{dot.target}"
        matrix, _ = self.data_columns(dot.param, dot.cols, spare=False)
        whole = _whole_param(dot.coeffs)
        if whole is not None:
            q = self.params[whole]
            chosen = _select([a.index for a in dot.coeffs], q.size, ":, " if self.batch else "")
            if self.batch:
                flat = q.name if len(q.shape) == 1 else f"{q.name}.reshape({self.size}, {q.size})"
                return [f"{target} = {flat}{chosen} @ {matrix}.T"]
            flat = q.name if len(q.shape) == 1 else f"{q.name}.reshape({q.size})"
            return [f"{target} = {matrix} @ {flat}{chosen}"]
        atoms = [names.atom(a, self.batch) for a in dot.coeffs]
        if not self.batch or all(type(a) is Const for a in dot.coeffs):
            return [f"{target} = {matrix} @ {names.glob('np')}.array(({', '.join(atoms)},))"]
        # a (size, k) matrix of coefficients, each (size, 1) or a scalar
        coeffs = names.scratch("coeffs")
        empty, f64 = names.glob("empty"), names.glob("f64")
        lines = [f"{coeffs} = {empty}(({self.size}, {len(atoms)}), {f64})"]
        lines.extend(f"{coeffs}[:, {k}:{k + 1}] = {a}" for k, a in enumerate(atoms))
        return [*lines, f"{target} = {coeffs} @ {matrix}.T", f"del {coeffs}"]

    def row_sums(self, sums: RowSums) -> list[_Step]:
        """The steps of a group of row sums: a matrix product with each data parameter
        they read, then each sum taken from it (``+ 0.0``: a sum of ``-0.0`` terms is
        ``0.0``, as in a running sum from ``0.0``)."""
        names = self.names
        weight = names.atom(sums.weight, True)
        steps = []
        if sums.left is None:
            factor, reads = weight, _var_reads((sums.weight,))
        else:
            is_ = sorted({i for _, i, _, _ in sums.entries})
            left, positions = self.data_columns(sums.left, is_, spare=True)
            row = dict(zip(is_, positions, strict=True))
            factor, reads = f"{names.temp}{sums.scaled}", {sums.scaled}
            scaled = f"{weight}[..., None, :]" if self.batch else weight
            line = f"{factor} = {left}.T * {scaled}"
            # (k, n): deleted after use in the point function too
            steps.append(_Step([line], _var_reads((sums.weight,)), sums.scaled, per_row=True))
        for right, number in zip(sums.rights(), sums.results, strict=True):
            entries = [(t, i, j) for t, i, r, j in sums.entries if r == right]
            matrix, cols = self.data_columns(right, [j for _, _, j in entries], spare=True)
            where = [
                ((str(j),) if i is None else (str(row[i]), str(j)))
                for (_, i, _), j in zip(entries, cols, strict=True)
            ]
            result = f"{names.temp}{number}"
            product = f"{factor} @ {matrix} + 0.0"
            targets = [f"{names.temp}{target}" for target, _, _ in entries]
            if self.batch:
                steps.append(_Step([f"{result} = {product}"], reads, number))
                for (target, _, _), index in zip(entries, where, strict=True):
                    *lead, last = index
                    at = ", ".join([*lead, f"{last}:{int(last) + 1}"])
                    line = f"{names.temp}{target} = {result}[..., {at}]"
                    steps.append(_Step([line], {number}, target))
                continue
            lines = [f"{result} = ({product}).tolist()"]
            if sums.left is None and cols == list(range(len(cols))):
                lines.append(f"{', '.join(targets)}, = {result}")
            else:
                lines.extend(
                    f"{target} = {result}{''.join(f'[{k}]' for k in index)}"
                    for target, index in zip(targets, where, strict=True)
                )
            steps.append(_Step(lines, reads, number))
        return steps

    def data_columns(self, param: str, cols, spare: bool) -> tuple[str, list[int]]:
        """Columns ``cols`` of data parameter ``param`` as an ``(n, k)`` matrix, and the
        position of each in it. ``spare``: the matrix may have columns nobody asked
        for (a contiguous range or the whole row is cheaper than a copy)."""
        p = self.params[param]
        base = param if p.shape else f"{param}[:, None]"
        cols = list(cols)
        unique = sorted(set(cols))
        low, high = unique[0], unique[-1] + 1
        if spare and high - low <= 2 * len(unique):
            return base + _select(range(low, high), p.size, ":, "), [j - low for j in cols]
        if spare:
            return f"{base}[:, {unique}]", [unique.index(j) for j in cols]
        return base + _select(cols, p.size, ":, "), list(range(len(cols)))

    def per_row(self, atom, varying: set[int]) -> bool:
        return (type(atom) is Elem and atom.param in self.data) or (
            type(atom) is Var and atom.id in varying
        )

    def reduction(self, r, per_row: bool) -> str:
        names, rows = self.names, self.rows
        value = names.atom(r.value, self.batch)
        if per_row:
            axis = ", axis=-1, keepdims=True" if self.batch else ""
            ufunc = {Op.ADD: "add", Op.MUL: "multiply", Op.MAX: "maximum", Op.MIN: "minimum"}
            text = f"{names.glob('np')}.{ufunc[r.op]}.reduce({value}{axis})"
            if r.op is Op.ADD:
                return f"{text} + 0.0"  # 0.0 + -0.0 is 0.0, as in a running sum
            if r.op is Op.MUL:
                return text
            return f"({text} if {rows} else {self.inf('-' if r.op is Op.MAX else '')})"
        # the same value on every row: closed forms
        if type(r.value) is Const:
            value = self.scalar(value)
        if r.op is Op.ADD:
            total = f"{names.glob('np')}.multiply({value}, {rows})" if self.batch else value
            total += "" if self.batch else f" * {rows}"
            return f"({total} + 0.0 if {rows} else {self.scalar('0.0')})"
        if r.op is Op.MUL:
            return f"{names.glob('np')}.power({value}, {rows})"
        return f"({value} if {rows} else {self.inf('-' if r.op is Op.MAX else '')})"

    def allocate(self, position: int, leaf) -> str:
        """The line allocating data output ``position`` (``leaf``)."""
        names = self.names
        out = names.scratch(f"out{position}")
        dtype = names.glob("c128" if leaf.dtype == "complex128" else "f64")
        lead = f"{self.size}, {self.rows}" if self.batch else self.rows
        return f"{out} = {names.glob('empty')}(({lead}, {leaf.size}), {dtype})"

    def body(self) -> list[str]:
        """The steps with ``del`` of dead temporaries: per-row arrays after their last
        use (point and batch), other temporaries too in the batch function, where they
        are arrays over the batch."""
        steps = self.steps()
        kept = {a.id for leaf in self.leaves if not leaf.data for a in leaf.atoms if type(a) is Var}
        last: dict[int, int] = {}
        per_row: set[int] = set()
        for position, step in enumerate(steps):
            for v in step.reads:
                last[v] = position
            if step.target is not None:
                last.setdefault(step.target, position)
                if step.per_row:
                    per_row.add(step.target)
        dead: dict[int, list[int]] = {}
        for v, position in last.items():
            if v not in kept and (self.batch or v in per_row):
                dead.setdefault(position, []).append(v)
        lines = []
        for position, step in enumerate(steps):
            lines.extend(step.lines)
            if position in dead:
                dead_names = ", ".join(f"{self.names.temp}{v}" for v in sorted(dead[position]))
                lines.append(f"del {dead_names}")
        return lines or ["pass"]

    def columns(self) -> list[str]:
        """Bind the column of every data element the loops read (views, no copies)."""
        used = self.used
        lines = []
        for p in self.fn.params:
            if not p.data or not (used[p.name] or p.name in self.matrices):
                continue
            prefix = self.names.elem_prefix[p.name]
            if p.shape == ():
                if used[p.name]:  # a matrix product reads the array itself
                    lines.append(f"{prefix}0 = {p.name}")
                continue
            if len(p.shape) != 1:
                lines.append(f"{p.name} = {p.name}.reshape({self.rows}, {p.size})")
            lines.extend(f"{prefix}{i} = {p.name}[:, {i}]" for i in used[p.name])
        return lines

    def outputs(self, lines: list[str]) -> str:
        """Append the statements building the outputs; return the returned expression."""
        results = []
        for number, leaf in enumerate(self.leaves):
            out = self.names.scratch(f"out{number}")
            if leaf.data:
                lead = [self.size, self.rows] if self.batch else [self.rows]
                if leaf.shape != (leaf.size,):
                    dims = ", ".join([*lead, *(str(d) for d in leaf.shape)])
                    lines.append(f"{out} = {out}.reshape({dims})")
            elif self.batch:
                out = self.batch_output(number, leaf, lines)
            else:
                out = _point_output(self.names, number, leaf, lines)
            results.append(out)
        return _tree_expr(self.fn.outputs, iter(results))

    def batch_output(self, number: int, leaf, lines: list[str]) -> str:
        names = self.names
        out = names.scratch(f"out{number}")
        dtype = names.glob("c128" if leaf.dtype == "complex128" else "f64")
        lines.append(f"{out} = {names.glob('empty')}(({self.size}, {leaf.size}), {dtype})")
        for k, a in enumerate(leaf.atoms):
            lines.append(f"{out}[:, {k}:{k + 1}] = {names.atom(a, True)}")
        if leaf.shape != (leaf.size,):
            dims = "".join(f", {d}" for d in leaf.shape)
            lines.append(f"{out} = {out}.reshape({self.size}{dims})")
        return out


def _max_id(fn: Function) -> int:
    """The largest variable id of ``fn`` (-1 if none)."""
    ids = [s.target for s in iter_assigns(fn.body)]
    ids += [r.target for s in fn.body if type(s) is Loop for r in s.reductions]
    return max(ids, default=-1)


def _whole_param(coeffs) -> str | None:
    """The parameter all of ``coeffs`` are elements of, if any (its array holds them)."""
    first = coeffs[0]
    if type(first) is Elem and all(type(a) is Elem and a.param == first.param for a in coeffs):
        return first.param
    return None


def _select(indices, size: int, lead: str = "") -> str:
    """The subscript taking ``indices`` along the last axis of length ``size``: nothing
    for all of them in order, a slice for a contiguous range, else a list."""
    indices = list(indices)
    if indices == list(range(size)):
        return ""
    if indices == list(range(indices[0], indices[0] + len(indices))):
        return f"[{lead}{indices[0]}:{indices[-1] + 1}]"
    return f"[{lead}{indices}]"


def _data_point(fn: Function, names: _Names, fnames: tuple[str, str], lengths) -> list[str]:
    """The single-point function of a function with data (see the section comment)."""
    fname, bname = fnames
    rows, size = lengths
    first_data = data_params(fn)[0].name
    batch_args = ", ".join(p.name if p.data else f"{p.name}[None]" for p in fn.params)
    fallback = f"return {names.glob('first')}({bname}({batch_args}))"
    lines = [f"def {fname}({', '.join(names.params)}):"]
    if passes.is_complex(fn):
        return [*lines, f"    {fallback}"]
    emitter = _DataEmitter(fn, names, rows, size, batch=False)
    lines.append(f"    {rows} = {first_data}.shape[0]")
    lines.extend("    " + line for line in _unpack_lines(fn, names, emitter.used))
    lines.extend("    " + line for line in emitter.columns())
    lines.append(f"    with {names.glob('errstate')}(all='ignore'):")
    lines.append("        try:")
    lines.extend("            " + line for line in emitter.body())
    lines.append("        except (ArithmeticError, ValueError):")
    lines.append("            # math raised where IEEE gives inf/nan: redo it with NumPy")
    lines.append(f"            {fallback}")
    outputs: list[str] = []
    result = emitter.outputs(outputs)
    lines.extend("        " + line for line in outputs)
    lines.append(f"    return {result}")
    return lines


def _data_batch(fn: Function, names: _Names, fnames: tuple[str, str], lengths) -> list[str]:
    """The batch function of a function with data: a block function (every non-data
    argument batched, data shared) and ``bname``, which runs it through
    :func:`data_batch`."""
    bname, block = fnames
    rows, size = lengths
    emitter = _DataEmitter(fn, names, rows, size, batch=True)
    lines = [f"def {block}({', '.join(names.params)}):"]
    batched = [p for p in fn.params if not p.data]
    lines.append(f"    {size} = {batched[0].name}.shape[0]" if batched else f"    {size} = 1")
    lines.append(f"    {rows} = {data_params(fn)[0].name}.shape[0]")
    for p, prefix, idx in _read_params(fn, names, emitter.used):
        if len(p.shape) != 1:
            lines.append(f"    {p.name} = {p.name}.reshape({size}, {p.size})")
        lines.extend(f"    {prefix}{i} = {p.name}[:, {i}:{i + 1}]" for i in idx)
    lines.extend("    " + line for line in emitter.columns())
    lines.append(f"    with {names.glob('errstate')}(all='ignore'):")
    lines.extend("        " + line for line in emitter.body())
    result = emitter.outputs(lines_out := [])
    lines.extend("    " + line for line in lines_out)
    lines.append(f"    return {result}")
    data = tuple(p.data for p in fn.params)
    params = ", ".join(names.params)
    args = f"({params}{',' if len(fn.params) == 1 else ''})"
    lines.extend(["", "", f"def {bname}({params}):"])
    lines.append(f"    return {names.glob('data_batch')}({block}, {data!r}, {args})")
    return lines


def _imports(names: _Names) -> list[str]:
    by_module: dict[str, list[str]] = {}
    lines = []
    for key, alias in sorted(names.globals.items()):
        module, attr = GLOBALS[key]
        if module is None:
            lines.append(f"{alias} = {attr}")
        elif attr is None:
            lines.append(f"import {module} as {alias}")
        else:
            by_module.setdefault(module, []).append(f"{attr} as {alias}")
    imports = []
    for module, aliases in sorted(by_module.items()):
        line = f"from {module} import {', '.join(sorted(aliases))}"
        if len(line) > _LINE:
            inner = "".join(f"    {a},\n" for a in sorted(aliases))
            line = f"from {module} import (\n{inner})"
        imports.append(line)
    return imports + sorted(lines)


def emit(fn: Function) -> Source:
    """Python source for the flat function ``fn`` (see the module docstring)."""
    check(fn)  # names and indices reach the source text: validate them first
    for leaf in iter_outputs(fn.outputs):
        if not isinstance(leaf, Output):
            msg = "the numpy backend compiles flat functions: call ir.split_closures first"
            raise TypeError(msg)
    _refuse_complex_special(fn)
    names = _Names(fn)
    fname = names.local(fn.name)
    bname = names.local(f"{fn.name}_batch")
    if data_params(fn):
        return _emit_data(fn, names, fname, bname)
    ename = names.local(f"{fn.name}_call")
    is_complex = passes.is_complex(fn)
    if is_complex:
        point = _point_via_batch(fn, names, fname, bname)
    else:
        point = _point_function(fn, names, fname, bname)
    batch = _batch_function(fn, names, bname)
    rest, results = names.local("rest"), []
    entry = _entry_function(fn, names, (ename, fname, bname), _Form(rest), results)
    variants = _entry_variants(fn, names, (ename, fname, bname), entry, results=results, rest=rest)
    signature = ", ".join(f"{p.name}: {p.shape} {p.dtype}" for p in fn.params)
    header = [f"# generated by symnum (numpy backend): {fn.name}({signature})"]
    slow = names.glob("slow")
    module = _pysource.Lines()
    module.add([*header, *_imports(names)])
    module.add(point, fname)
    module.add(batch, bname)
    module.add(entry, ename)
    return Source(
        module.text(), fname, bname, is_complex, ename, slow, tuple(module.parts), variants
    )


def _emit_data(fn: Function, names: _Names, fname: str, bname: str) -> Source:
    """:func:`emit` for a function with data parameters (no entry function: calls with
    data always take the checked path)."""
    block = names.local(f"{fn.name}_batch_block")
    lengths = (names.local("n"), names.local("size"))
    point = _data_point(fn, names, (fname, bname), lengths)
    batch = _data_batch(fn, names, (bname, block), lengths)
    signature = ", ".join(
        f"{p.name}: {('n', *p.shape) if p.data else p.shape} {p.dtype}".replace("'", "")
        for p in fn.params
    )
    header = [f"# generated by symnum (numpy backend): {fn.name}({signature})"]
    module = _pysource.Lines()
    module.add([*header, *_imports(names)])
    module.add(point, fname)
    module.add(batch, bname)
    return Source(module.text(), fname, bname, passes.is_complex(fn), parts=tuple(module.parts))


# -- building ---------------------------------------------------------------------------

_registered: OrderedDict[str, list[str]] = OrderedDict()


def _register(filename: str, text: str) -> None:
    """Put ``text`` in :mod:`linecache` under ``filename``, keeping at most
    :data:`LINECACHE_SIZE` generated sources there."""
    lines = text.splitlines(keepends=True)
    linecache.cache[filename] = (len(text), None, lines, filename)
    _registered[filename] = lines
    _registered.move_to_end(filename)
    while len(_registered) > LINECACHE_SIZE:
        old, _ = _registered.popitem(last=False)
        linecache.cache.pop(old, None)


class _Fallback(Exception):  # noqa: N818 - a signal, not an error users see
    """Raised by the shared captured-mode entry where the checked path must take over."""


def _raise_fallback(*args, **kwargs):
    raise _Fallback


class Kernel:
    """The generated functions of one module (see :mod:`symnum.backends`): ``point``,
    ``batch`` and the entries :meth:`entry`, :attr:`method_entry` and
    :attr:`closure_entry` (the last two compiled from :class:`EntryVariants`, once per
    kernel and variant).

    The batch function is compiled on first use (CPython's compiler is the slow part of
    building large functions, and most callers only evaluate single points). Both code
    objects keep the module's line numbers, so tracebacks match :attr:`source`.
    """

    __slots__ = (
        "_batch_function",
        "_batch_lock",
        "_captured_entry",
        "_variants",
        "code",
        "filename",
        "point",
        "source",
    )

    def __init__(self, source: Source, filename: str):
        self.source = source
        self.filename = filename
        lines = source.text.splitlines(keepends=True)
        first, last = source.lines_of(source.batch)
        eager = lines[:first] + ["\n"] * (last - first) + lines[last:]
        self.code = _compile("".join(eager), filename)
        self._batch_function = None
        self._batch_lock = threading.Lock()
        self._captured_entry = None
        self._variants = {}
        self.point = self._namespace()[source.point]

    def _namespace(self) -> dict:
        namespace = {"__name__": f"symnum_generated_{self.source.point}", "__builtins__": builtins}
        exec(self.code, namespace)  # noqa: S102 - our own generated source, names validated
        namespace[self.source.batch] = self.batch
        return namespace

    def batch(self, *args):
        """The batch function (compiled on the first call)."""
        function = self._batch_function
        if function is None:
            function = self._compile_batch()
        return function(*args)

    def _compile_batch(self):
        with self._batch_lock:
            if self._batch_function is None:
                lines = self.source.text.splitlines(keepends=True)
                first, last = self.source.lines_of(self.source.batch)
                header = self.source.lines_of(self.source.point)[0]
                lazy = lines[:header] + ["\n"] * (first - header) + lines[first:last]
                code = _compile("".join(lazy), self.filename)
                namespace = {"__name__": f"symnum_generated_{self.source.batch}"}
                namespace["__builtins__"] = builtins
                exec(code, namespace)  # noqa: S102 - as above
                self._batch_function = namespace[self.source.batch]
        return self._batch_function

    def entry(self, slow, captured=None):
        """The fast entry of the contract (:mod:`symnum.backends`): the module's entry
        function, in a namespace of its own where its fallback is ``slow``.

        It evaluates exact single points itself (any strides, so it is exact for more
        than the contract asks) and calls ``slow(*args)`` for anything else. With
        ``captured`` (a closure kernel's captured values, new for every operator-valued
        result), executing the module again would cost more than the call: one shared
        namespace per kernel, whose fallback raises :class:`_Fallback`, serves every
        ``captured``, and ``slow`` gets only the caller's arguments."""
        if not self.source.entry:  # a function with data: always the checked path
            return slow
        if captured is None:
            namespace = self._namespace()
            namespace[self.source.slow] = slow
            return namespace[self.source.entry]
        shared = self._captured_entry
        if shared is None:
            namespace = self._namespace()
            namespace[self.source.slow] = _raise_fallback
            shared = self._captured_entry = namespace[self.source.entry]

        def call(*args, **kwargs):
            if kwargs:
                return slow(*args, **kwargs)
            try:
                return shared(captured, *args)
            except _Fallback:
                return slow(*args)

        return call

    @property
    def method_entry(self):
        """``method_entry(slow)`` of the contract (:mod:`symnum.backends`), for closure
        kernels: a Python function meant as a class's ``__call__``. Called on an
        instance with exact arguments (as for :meth:`entry`; the instance's ``captured``
        too), it evaluates the point itself; anything else (a batched ``captured``,
        lists, keywords...) returns ``slow(instance, *args, **kwargs)``. Missing
        (``AttributeError``) for kernels without an entry function."""
        variants = getattr(self.source, "variants", None)  # None: an older pickle
        if variants is None or variants.method is None:
            raise AttributeError("method_entry")
        return self._method_entry

    def _method_entry(self, slow):
        namespace = self._namespace()
        exec(self._variant_code(None), namespace)  # noqa: S102 - our own generated source
        namespace[self.source.slow] = slow
        return namespace[self.source.entry]

    @property
    def closure_entry(self):
        """``closure_entry(slow, classes)`` of the contract (:mod:`symnum.backends`):
        like :meth:`entry`, but output ``k`` comes back as an instance of ``classes[k]``
        (when not ``None``) made by ``object.__new__`` with the output as its
        ``captured``; keyword arguments go to ``slow``. Missing (``AttributeError``) for
        kernels without an entry function."""
        if getattr(self.source, "variants", None) is None:
            raise AttributeError("closure_entry")
        return self._closure_entry

    def _closure_entry(self, slow, classes):
        closures = tuple(k for k, cls in enumerate(classes) if cls is not None)
        variants = self.source.variants
        namespace = self._namespace()
        exec(self._variant_code(closures), namespace)  # noqa: S102 - as above
        namespace[self.source.slow] = slow
        namespace[variants.new] = object.__new__
        for k in closures:
            namespace[variants.classes[k]] = classes[k]
        return namespace[self.source.entry]

    def _variant_code(self, closures):
        """The compiled definition of the method entry (``closures`` None) or of the
        closure entry wrapping the outputs numbered ``closures``: the entry function with
        :class:`EntryVariants`' lines replaced, at the entry function's line numbers."""
        code = self._variants.get(closures)
        if code is None:
            source = self.source
            variants = source.variants
            first, stop = source.lines_of(source.entry)
            lines = source.text.splitlines()[first:stop]
            for k, line in variants.method if closures is None else variants.closure:
                lines[k] = line
            if closures is not None:
                for k in variants.returns:
                    lines[k] = closure_return(lines[k], variants, closures)
            text = "\n" * first + "\n".join(lines) + "\n"
            code = self._variants[closures] = _compile(text, self.filename)
        return code

    def show(self) -> None:
        """(Re-)register the source in :mod:`linecache` for tracebacks."""
        _register(self.filename, self.source.text)


def _compile(text: str, filename: str):
    """``compile(text)``; large texts go through the on-disk cache as marshalled code, so
    another process (say, a worker unpickling the function) does not compile again."""
    if len(text) < _CACHE_TEXT:
        return compile(text, filename, "exec")
    key = make_key(text, filename, name, VERSION, sys.implementation.cache_tag or "", sys.version)

    def write(directory: Path) -> None:
        (directory / "code.marshal").write_bytes(marshal.dumps(compile(text, filename, "exec")))

    try:
        # the entry is verified against its manifest (SHA-256) by cache.entry
        data = (cache.entry("numpy", key, write) / "code.marshal").read_bytes()
        return marshal.loads(data)  # noqa: S302 - our own compiled code, from our cache
    except (OSError, ValueError, EOFError, TypeError):  # unreadable entry: just compile
        return compile(text, filename, "exec")


def build(source: Source) -> Kernel:
    """Compile ``source`` (no module object; nothing enters ``sys.modules``)."""
    key = make_key(source.text, name, VERSION)
    filename = f"<symnum-numpy-{key[:20]}>"
    _register(filename, source.text)
    return Kernel(source, filename)


def compile_function(fn: Function) -> Kernel:
    """``build(emit(check(fn)))``."""
    return build(emit(check(fn)))
