"""How the numpy backend spells the IR in Python: what its two emitters share.

Handed IR atoms, statements, parameters and output leaves (of a flat
:class:`symnum.ir.Function`), it returns text: the per-op tables (:data:`POINT` over
Python floats, :data:`BATCH` over NumPy arrays) and the globals they name
(:data:`GLOBALS`, which become the module's imports, :func:`_imports`); the
deterministic, collision-free names of one generated module (:class:`_Names`, which
records every global used while emitting); one IR statement as lines of Python
(:func:`_statement`); the parameters' elements unpacked to Python floats
(:func:`_unpack_lines`, reading only :func:`_used_elems`) and a single point's output
built from them (:func:`_point_output`).

:mod:`.emit` (point, batch and entry functions) and :mod:`.data` (data loops) write
their functions with these; this module imports neither.
"""

from __future__ import annotations

import math
import re

from symnum.backends import _pysource
from symnum.ir import Const, Elem, Function, Loop, Op, Var, iter_outputs

#: Outputs up to this size are filled element by element into ``numpy.empty``.
_SMALL_OUTPUT = 8
#: Sums and products of more terms than this are split over several lines.
_CHUNK = 64
#: Import lines longer than this are split, one name a line.
_LINE = 88


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
    "batch_ndtri": ("symnum.backends.numpy", "batch_ndtri"),
    "batch_erfinv": ("symnum.backends.numpy", "batch_erfinv"),
    "batch_erfcinv": ("symnum.backends.numpy", "batch_erfcinv"),
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
    Op.FMOD: "{np}.fmod({0}, {1})",
    Op.MAX: "{np}.maximum({0}, {1})",
    Op.MIN: "{np}.minimum({0}, {1})",
    Op.ERF: "{batch_erf}({0})",
    Op.ERFC: "{batch_erfc}({0})",
    Op.LGAMMA: "{batch_lgamma}({0})",
    Op.GAMMA: "{batch_gamma}({0})",
    Op.DIGAMMA: "{batch_digamma}({0})",
    Op.POLYGAMMA: "{batch_polygamma}({0}, {1})",
    Op.NDTRI: "{batch_ndtri}({0})",
    Op.ERFINV: "{batch_erfinv}({0})",
    Op.ERFCINV: "{batch_erfcinv}({0})",
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


def _used_elems(fn: Function, loops=None) -> dict[str, list[int]]:
    """The flat indices of each parameter's elements that ``fn`` reads; ``loops``:
    ``{position: atoms}``, the atoms each of its loops reads as :mod:`.data` emits it
    (default: its statements' arguments and its reductions' values)."""
    used: dict[str, set[int]] = {p.name: set() for p in fn.params}
    for position, stmt in enumerate(fn.body):
        if type(stmt) is not Loop:
            atoms = stmt.args
        elif loops is not None:
            atoms = loops[position]
        else:
            atoms = [a for s in stmt.body for a in s.args]
            atoms.extend(r.value for r in stmt.reductions)
        for a in atoms:
            if type(a) is Elem:
                used[a.param].add(a.index)
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
