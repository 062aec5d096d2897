"""The numpy backend's emitter: a flat IR function -> the text of one Python module.

:func:`emit` is handed a flat :class:`symnum.ir.Function` (no closures in its outputs,
see :func:`symnum.ir.split_closures`) and returns a :class:`Source`: the module's text,
its functions' names and where each one's lines are. For a function without data the
module has three functions:

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
* ``<name>_call(*params)``: the entry of :meth:`~.build.Kernel.entry`, the point
  function's statements behind an exactness check of the arguments (anything else goes
  to the caller's checked path). :class:`EntryVariants` records the few lines that turn
  it into the method entry of a closure kernel (``p(v)``: the captures read from
  ``p.captured``) and into the closure entry of an operator's outer kernel (``f(x)``:
  closure outputs wrapped in their BoundClosure classes), compiled on request:
  ``f(x)(v)`` runs two generated functions and nothing else.

Complex functions use the batch function for single points too. Per-op syntax, names
and the pieces both emitters share are in :mod:`.syntax`; functions the tables name are
recorded while emitting and become the module's imports (from
:mod:`symnum.backends.numpy` for the helpers of :mod:`.runtime`).

Functions with data parameters get a point and a batch function of their own, from
:mod:`.data` (each loop vectorised over the rows), and no entry function.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from symnum.backends import UnsupportedOpError, _pysource
from symnum.ir import (
    Function,
    Op,
    Output,
    Var,
    check,
    data_params,
    iter_assigns,
    iter_outputs,
    passes,
)

from .data import _data_batch, _data_point
from .syntax import (
    _CHUNK,
    BATCH,
    POINT,
    _expression,
    _imports,
    _Names,
    _point_output,
    _read_params,
    _statement,
    _tree_expr,
    _tree_leaves,
    _unpack_lines,
    _used_elems,
)

#: The backend's name (in errors; :mod:`.build` puts it in cache keys).
name = "numpy"
#: Point bodies up to this many statements are inlined into the entry function.
_INLINE_STATEMENTS = 200
#: Inlined expressions nest at most this deep.
_INLINE_DEPTH = 4

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


_REAL_ONLY = frozenset(
    {
        Op.ERF, Op.ERFC, Op.LGAMMA, Op.GAMMA, Op.DIGAMMA, Op.POLYGAMMA, Op.NDTRI, Op.ERFINV,
        Op.ERFCINV,
    }
)  # fmt: skip


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


def _unpacks_whole(fn: Function, param) -> bool:
    """Whether :func:`~.syntax._unpack_lines` unpacks all of a 1-D ``param`` with ``tolist()``
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
    NumericFunction's checked path (outside the ``except`` that catches a refusal, so
    the error it raises is not chained to the refusal). The guard is as cheap as it can
    be while still exact: the dtype object (by identity), then the rank for 1-D
    parameters whose ``tolist()`` unpacking here checks the length (a wrong length
    raises ValueError) or the whole shape otherwise; objects without ``dtype`` raise
    AttributeError. Any strides are fine. Small bodies are inlined, larger (and complex)
    ones call the point function (one frame is then negligible; its parameters' shapes
    are checked whole).
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
    # a refusal falls through to the checked path after the try statement, so its error
    # is not chained to the unpacking's ValueError or the missing dtype's AttributeError
    lines.append("    except (AttributeError, ValueError):")
    lines.append("        pass")
    lines.append("    else:")
    if inline:
        lines.extend(_point_body(fn, names, bname, "        ", unpack=False, results=results))
    else:
        lines.append(f"        return {fname}({', '.join(params)})")
    lines.append(f"    {slow}")
    return lines


@dataclass(frozen=True)
class EntryVariants:
    """How :class:`~.build.Kernel` makes the method and closure entries from the module's entry
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
