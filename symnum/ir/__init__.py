"""The intermediate representation: straight-line scalar code in single-assignment form.

A :class:`Function` is what every backend compiles. It has array parameters
(:class:`Param`), a body of scalar statements (:class:`Assign`) and outputs: an
:class:`Output` (an array of atoms with a shape), a :class:`Closure` (an operator-valued
result with its own parameters and body, which may read the outer body's variables), or
a nested tuple of those.

Atoms, the only things a statement may read, are :class:`Const` (a literal), :class:`Var`
(the result of an earlier statement) and :class:`Elem` (one element of a parameter, by
its flat C-order index).

Data loops. A *data parameter* (``Param(..., data=True)``) is an array of ``n`` rows of
the parameter's shape: its argument has shape ``(n, *shape)``, with a length ``n`` that
is not part of the function and is common to all data parameters of a call (one data
axis per function; ``n = 0`` is allowed). Data parameters are read only inside a
:class:`Loop`, a statement of the function's top-level body that runs its own body once
per row, with ``Elem(data_param, j)`` meaning element ``j`` of the current row. A loop
gives values to the rest of the function through its :class:`Reduce` targets (a sum,
product, maximum or minimum over the rows, visible after the loop) and through *data
outputs* (``Output(..., data=True)``, of shape ``(n, *shape)``), whose atoms it
evaluates and stores once per row. Variables assigned inside a loop body are local to
it. Nodes carry data, not behaviour: what each op means is defined
by :mod:`symnum.ir.interpret`, and :func:`check` verifies that a function is well formed.

Backends compile *flat* functions, whose output tree holds no closures;
:func:`split_closures` turns a function with closures into flat ones. Analyses and
rewrites every backend needs (dtypes of variables, dead-code removal, shared factor pairs
of products, repeated statements computed once) are in :mod:`symnum.ir.passes`;
the special functions (digamma, polygamma, ndtri, ...) are defined once, in
:mod:`symnum.ir.specfun` (which the numpy backend mirrors over arrays).
"""

from __future__ import annotations

import enum
import keyword
import math
from dataclasses import dataclass

__all__ = [
    "ARITY",
    "REDUCTIONS",
    "Assign",
    "Atom",
    "Closure",
    "Const",
    "Elem",
    "Function",
    "IRError",
    "Loop",
    "Op",
    "Output",
    "OutputTree",
    "Param",
    "Reduce",
    "Statement",
    "Var",
    "check",
    "check_identifier",
    "complex_vars",
    "data_params",
    "has_loops",
    "iter_assigns",
    "iter_outputs",
    "split_closures",
]

DTYPES = ("float64", "complex128")


class IRError(ValueError):
    """An IR function is malformed; the message names the offending statement."""


class Op(enum.Enum):
    """The closed set of primitive scalar operations.

    Booleans are represented as floats: comparisons and logical ops produce ``1.0`` or
    ``0.0``, and a condition is true when it is non-zero.
    """

    # arithmetic; ADD and MUL take two or more arguments
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    NEG = "neg"
    POW = "pow"
    # elementary functions
    ABS = "abs"
    SIGN = "sign"
    FLOOR = "floor"
    CEIL = "ceil"
    SQRT = "sqrt"
    CBRT = "cbrt"
    EXP = "exp"
    EXP2 = "exp2"
    EXPM1 = "expm1"
    LOG = "log"
    LOG2 = "log2"
    LOG10 = "log10"
    LOG1P = "log1p"
    SIN = "sin"
    COS = "cos"
    TAN = "tan"
    ASIN = "asin"
    ACOS = "acos"
    ATAN = "atan"
    ATAN2 = "atan2"
    SINH = "sinh"
    COSH = "cosh"
    TANH = "tanh"
    ASINH = "asinh"
    ACOSH = "acosh"
    ATANH = "atanh"
    HYPOT = "hypot"
    # FMOD(x, y): C's fmod, x - trunc(x / y) y exactly (the sign of x)
    FMOD = "fmod"
    MAX = "max"
    MIN = "min"
    # special functions
    ERF = "erf"
    ERFC = "erfc"
    LGAMMA = "lgamma"
    GAMMA = "gamma"
    DIGAMMA = "digamma"
    # POLYGAMMA(n, x): the n-th derivative of digamma; n is a Const non-negative integer
    POLYGAMMA = "polygamma"
    # inverses of the standard normal CDF, of erf and of erfc
    NDTRI = "ndtri"
    ERFINV = "erfinv"
    ERFCINV = "erfcinv"
    # complex parts (identity / zero on real arguments)
    REAL = "real"
    IMAG = "imag"
    CONJ = "conj"
    # predicates and comparisons (result 1.0 or 0.0)
    ISNAN = "isnan"
    ISINF = "isinf"
    ISFINITE = "isfinite"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    EQ = "eq"
    NE = "ne"
    # logic on conditions (non-zero is true; result 1.0 or 0.0)
    NOT = "not"
    AND = "and"
    OR = "or"
    XOR = "xor"
    # SELECT(c, a, b) is a if c is non-zero else b
    SELECT = "select"


UNARY = frozenset(
    {
        Op.NEG, Op.ABS, Op.SIGN, Op.FLOOR, Op.CEIL, Op.SQRT, Op.CBRT, Op.EXP, Op.EXP2,
        Op.EXPM1, Op.LOG, Op.LOG2, Op.LOG10, Op.LOG1P, Op.SIN, Op.COS, Op.TAN, Op.ASIN,
        Op.ACOS, Op.ATAN, Op.SINH, Op.COSH, Op.TANH, Op.ASINH, Op.ACOSH, Op.ATANH,
        Op.ERF, Op.ERFC, Op.LGAMMA, Op.GAMMA, Op.DIGAMMA, Op.NDTRI, Op.ERFINV, Op.ERFCINV,
        Op.REAL, Op.IMAG, Op.CONJ, Op.ISNAN, Op.ISINF, Op.ISFINITE, Op.NOT,
    }
)  # fmt: skip
BINARY = frozenset(
    {
        Op.SUB, Op.DIV, Op.POW, Op.POLYGAMMA, Op.ATAN2, Op.HYPOT, Op.FMOD, Op.MAX, Op.MIN, Op.LT,
        Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE, Op.AND, Op.OR, Op.XOR,
    }
)  # fmt: skip
VARIADIC = frozenset({Op.ADD, Op.MUL})
COMPARISONS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE})
LOGICAL = frozenset({Op.NOT, Op.AND, Op.OR, Op.XOR})

#: Op -> (minimum, maximum) number of arguments; ``None`` means unbounded.
ARITY: dict[Op, tuple[int, int | None]] = {
    **dict.fromkeys(UNARY, (1, 1)),
    **dict.fromkeys(BINARY, (2, 2)),
    **dict.fromkeys(VARIADIC, (2, None)),
    Op.SELECT: (3, 3),
}
assert set(ARITY) == set(Op), "every op needs an arity"  # noqa: S101


@dataclass(frozen=True, slots=True)
class Const:
    """A literal: a Python float, or a complex for complex functions."""

    value: float | complex


@dataclass(frozen=True, slots=True)
class Var:
    """The value assigned by the statement whose target is ``id``."""

    id: int


@dataclass(frozen=True, slots=True)
class Elem:
    """Element ``index`` (flat, C order) of the parameter named ``param``."""

    param: str
    index: int


Atom = Const | Var | Elem


@dataclass(frozen=True, slots=True)
class Param:
    """An array argument: a name (a Python identifier), a shape and a dtype name.

    With ``data=True`` the argument is a data array of shape ``(n, *shape)``, read one
    row at a time inside :class:`Loop` s (see the module docstring); ``size`` is then
    the size of one row.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float64"
    data: bool = False

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True)
class Assign:
    """One scalar statement: ``Var(target) = op(*args)``."""

    target: int
    op: Op
    args: tuple[Atom, ...]


#: The reductions a :class:`Loop` can compute, with the value over zero rows.
REDUCTIONS: dict[Op, float] = {
    Op.ADD: 0.0,
    Op.MUL: 1.0,
    Op.MAX: -math.inf,
    Op.MIN: math.inf,
}


@dataclass(frozen=True, slots=True)
class Reduce:
    """``Var(target) = op`` over the rows of ``value`` (read once per row).

    ``op`` is ADD, MUL, MAX or MIN (MAX and MIN propagate NaN, like ``numpy.max``); over
    zero rows the result is ``0``, ``1``, ``-inf`` or ``inf`` (:data:`REDUCTIONS`).
    """

    target: int
    op: Op
    value: Atom


@dataclass(frozen=True, slots=True)
class Loop:
    """A pass over the rows of the data parameters.

    ``body`` runs once per row (its variables are local to the loop and may read the
    current row of any data parameter, earlier outer variables, parameters and
    constants); then each of ``reductions`` folds its value in, and each output whose
    position (in :func:`iter_outputs` order) is in ``stores`` (a data output) gets its
    atoms written to its current row.
    """

    body: tuple[Assign, ...]
    reductions: tuple[Reduce, ...] = ()
    stores: tuple[int, ...] = ()


Statement = Assign | Loop


@dataclass(frozen=True, slots=True)
class Output:
    """An output array: its shape and its elements as atoms, flat in C order.

    With ``data=True`` it is a data output of shape ``(n, *shape)``: its atoms are
    evaluated for every row by the :class:`Loop` that lists it in ``stores``.
    """

    shape: tuple[int, ...]
    atoms: tuple[Atom, ...]
    dtype: str = "float64"
    data: bool = False

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True)
class Closure:
    """An operator-valued output: a function of its own ``params``.

    Its body and outputs may read the enclosing function's parameters and variables
    (reduction results included, not data parameters); its outputs hold no further
    closures, data outputs or loops.
    """

    params: tuple[Param, ...]
    body: tuple[Assign, ...]
    outputs: OutputTree


OutputTree = Output | Closure | tuple


@dataclass(frozen=True, slots=True)
class Function:
    """A whole function: parameters, a body and an output tree."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Statement, ...]
    outputs: OutputTree


def iter_assigns(body):
    """Yield every :class:`Assign` of ``body``, those inside loops included, in order."""
    for stmt in body:
        if type(stmt) is Loop:
            yield from stmt.body
        else:
            yield stmt


def has_loops(fn: Function) -> bool:
    """Whether ``fn``'s body has a :class:`Loop` (then it has data parameters)."""
    return any(type(stmt) is Loop for stmt in fn.body)


def data_params(fn: Function) -> tuple[Param, ...]:
    """The data parameters of ``fn``, in order."""
    return tuple(p for p in fn.params if p.data)


def check_identifier(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a plain Python identifier that is not a keyword.

    Every name that reaches generated source passes through here, so no name can
    inject code. Raises ``TypeError`` for a non-string and ``ValueError`` otherwise.
    """
    if not isinstance(name, str):
        msg = f"{what} must be a string, got {type(name).__name__}"
        raise TypeError(msg)
    if not name.isidentifier() or not name.isascii() or keyword.iskeyword(name):
        msg = (
            f"{what} {name!r} is not valid: expected an ASCII Python identifier that is"
            " not a keyword"
        )
        raise ValueError(msg)
    return name


def iter_outputs(tree: OutputTree):
    """Yield the :class:`Output` and :class:`Closure` leaves of an output tree in order."""
    if isinstance(tree, (Output, Closure)):
        yield tree
    elif isinstance(tree, tuple):
        for sub in tree:
            yield from iter_outputs(sub)
    else:
        msg = f"output tree node of unexpected type {type(tree).__name__}"
        raise IRError(msg)


def _check_atom(
    atom, defined: set[int], params: dict[str, Param], where: str, in_loop: bool = False
) -> None:
    if isinstance(atom, Var):
        if atom.id not in defined:
            msg = f"{where}: reads t{atom.id} before it is assigned"
            raise IRError(msg)
    elif isinstance(atom, Elem):
        if not isinstance(atom.index, int) or isinstance(atom.index, bool):
            msg = f"{where}: element index {atom.index!r} is not an int"
            raise IRError(msg)
        param = params.get(atom.param)
        if param is None:
            msg = f"{where}: reads unknown parameter {atom.param!r}"
            raise IRError(msg)
        if param.data and not in_loop:
            msg = f"{where}: reads data parameter {atom.param!r} outside a loop"
            raise IRError(msg)
        if not 0 <= atom.index < param.size:
            msg = (
                f"{where}: index {atom.index} out of range for parameter "
                f"{atom.param!r} of shape {param.shape}"
            )
            raise IRError(msg)
    elif isinstance(atom, Const):
        if not isinstance(atom.value, (float, complex)) or isinstance(atom.value, bool):
            msg = f"{where}: constant {atom.value!r} is not a float or complex"
            raise IRError(msg)
    else:
        msg = f"{where}: argument {atom!r} is not an atom"
        raise IRError(msg)


def _check_params(params, known: dict[str, Param], where: str, data_ok: bool = True) -> None:
    for param in params:
        if not isinstance(param, Param):
            msg = f"{where}: parameter {param!r} is not a Param"
            raise IRError(msg)
        check_identifier(param.name, "parameter name")
        if param.name in known:
            msg = f"{where}: parameter name {param.name!r} is used twice"
            raise IRError(msg)
        if param.dtype not in DTYPES:
            msg = f"{where}: parameter {param.name!r} has unsupported dtype {param.dtype}"
            raise IRError(msg)
        if not all(isinstance(s, int) and s >= 0 for s in param.shape):
            msg = f"{where}: parameter {param.name!r} has invalid shape {param.shape}"
            raise IRError(msg)
        if param.data and (not data_ok or param.dtype != "float64"):
            msg = f"{where}: parameter {param.name!r} cannot be a data parameter here"
            raise IRError(msg)
        known[param.name] = param


def _check_assign(stmt, defined: set[int], params, here: str, in_loop: bool) -> None:
    if not isinstance(stmt, Assign) or not isinstance(stmt.op, Op):
        msg = f"{here}: {stmt!r} is not an Assign of an Op"
        raise IRError(msg)
    low, high = ARITY[stmt.op]
    if len(stmt.args) < low or (high is not None and len(stmt.args) > high):
        expected = f"{low}" if low == high else f"at least {low}"
        msg = f"{here}: {stmt.op.name} takes {expected} arguments, got {len(stmt.args)}"
        raise IRError(msg)
    for atom in stmt.args:
        _check_atom(atom, defined, params, here, in_loop)
    if stmt.target in defined:
        msg = f"{here}: t{stmt.target} is assigned twice"
        raise IRError(msg)
    defined.add(stmt.target)


def _check_loop(  # noqa: PLR0917
    loop, defined: set[int], reserved: set[int], params, where: str, data_outputs: dict
) -> None:
    local = defined | reserved
    for position, stmt in enumerate(loop.body):
        here = f"{where}, loop statement {position} (t{getattr(stmt, 'target', '?')})"
        _check_assign(stmt, local, params, here, in_loop=True)
    for reduction in loop.reductions:
        here = f"{where}, reduction into t{getattr(reduction, 'target', '?')}"
        if not isinstance(reduction, Reduce) or reduction.op not in REDUCTIONS:
            msg = f"{here}: {reduction!r} is not a Reduce by ADD, MUL, MAX or MIN"
            raise IRError(msg)
        _check_atom(reduction.value, local, params, here, in_loop=True)
    for position in loop.stores:
        out = data_outputs.get(position)
        if out is None:
            msg = f"{where}: stores output {position!r}, which is not a data output"
            raise IRError(msg)
        if out[1]:
            msg = f"{where}: data output {position} is stored by two loops"
            raise IRError(msg)
        out[1] = True
        _check_output(out[0], local, params, f"{where}, output {position}", in_loop=True)
    for reduction in loop.reductions:
        if reduction.target in local:
            msg = f"{where}: t{reduction.target} is assigned twice"
            raise IRError(msg)
        local.add(reduction.target)
        defined.add(reduction.target)
    # loop-local variables are not visible after the loop, but single assignment holds
    # function-wide: their ids stay taken
    reserved.update(stmt.target for stmt in loop.body)


def _check_body(
    body, defined: set[int], reserved: set[int], params: dict[str, Param], *, where: str,
    data_outputs: dict,
) -> None:  # fmt: skip
    for position, stmt in enumerate(body):
        here = f"{where}, statement {position} (t{getattr(stmt, 'target', '?')})"
        if isinstance(stmt, Loop):
            at = f"{where}, statement {position} (loop)"
            _check_loop(stmt, defined, reserved, params, where=at, data_outputs=data_outputs)
            continue
        if getattr(stmt, "target", None) in reserved:
            msg = f"{here}: t{stmt.target} is assigned twice"
            raise IRError(msg)
        _check_assign(stmt, defined, params, here, in_loop=False)


def _check_output(out, defined, params, where, in_loop: bool = False) -> None:
    if not isinstance(out, Output):
        msg = f"{where}: {out!r} is not an Output"
        raise IRError(msg)
    if len(out.atoms) != out.size:
        msg = f"{where}: output of shape {out.shape} has {len(out.atoms)} atoms"
        raise IRError(msg)
    if out.dtype not in DTYPES:
        msg = f"{where}: output has unsupported dtype {out.dtype}"
        raise IRError(msg)
    for atom in out.atoms:
        _check_atom(atom, defined, params, where, in_loop)


def check(fn: Function) -> Function:
    """Verify that ``fn`` is well formed and return it.

    Checks single assignment, that nothing is read before it is assigned, op arities,
    parameter names, element indices and output sizes; for data loops, that data
    parameters are read only inside loops, that each data output is stored by exactly
    one loop and that loops appear only in the function's own body. Raises
    :class:`IRError` naming the statement that fails.
    """
    check_identifier(fn.name, "function name")
    params: dict[str, Param] = {}
    _check_params(fn.params, params, f"function {fn.name}")
    leaves = list(iter_outputs(fn.outputs))
    data_outputs = {
        n: [leaf, False] for n, leaf in enumerate(leaves) if isinstance(leaf, Output) and leaf.data
    }
    if any(type(s) is Loop for s in fn.body) and not any(p.data for p in fn.params):
        msg = f"function {fn.name}: has loops but no data parameter to give their length"
        raise IRError(msg)
    defined: set[int] = set()
    reserved: set[int] = set()
    where = f"function {fn.name}"
    _check_body(fn.body, defined, reserved, params, where=where, data_outputs=data_outputs)
    for number, (_, stored) in data_outputs.items():
        if not stored:
            msg = f"function {fn.name}, output {number}: data output stored by no loop"
            raise IRError(msg)
    for number, leaf in enumerate(leaves):
        where = f"function {fn.name}, output {number}"
        if isinstance(leaf, Output):
            if not leaf.data:
                _check_output(leaf, defined, params, where)
            continue
        inner_params = dict(params)
        _check_params(leaf.params, inner_params, where, data_ok=False)
        inner_defined = set(defined)
        for position, stmt in enumerate(leaf.body):
            here = f"{where}, statement {position} (t{getattr(stmt, 'target', '?')})"
            if isinstance(stmt, Loop):
                msg = f"{here}: closures may not contain loops"
                raise IRError(msg)
            if getattr(stmt, "target", None) in reserved:
                msg = f"{here}: t{stmt.target} is assigned twice"
                raise IRError(msg)
            _check_assign(stmt, inner_defined, inner_params, here, in_loop=False)
        for inner in iter_outputs(leaf.outputs):
            if not isinstance(inner, Output):
                msg = f"{where}: closures may not return closures"
                raise IRError(msg)
            if inner.data:
                msg = f"{where}: closures may not return data outputs"
                raise IRError(msg)
            _check_output(inner, inner_defined, inner_params, where)
    return fn


def _map_tree(tree: OutputTree, leaf_fn):
    if isinstance(tree, tuple):
        return tuple(_map_tree(sub, leaf_fn) for sub in tree)
    return leaf_fn(tree)


def split_closures(fn: Function) -> tuple[Function, tuple[Function | None, ...]]:
    """Turn a function with closures into flat functions that backends compile.

    Returns ``(outer, closures)``. ``outer`` has the same output tree as ``fn`` except
    that each :class:`Closure` is replaced by an :class:`Output` of shape ``(k,)``
    holding the ``k`` outer values the closure reads (its captures). ``closures`` has one
    entry per leaf of the output tree (in :func:`iter_outputs` order): ``None`` for an
    ordinary output, and for a closure a flat :class:`Function` whose parameters are
    ``(captured, *closure.params)``, ``captured`` being a float64 vector of the
    captures (complex128 if any capture is complex).
    """
    from symnum.ir import passes  # noqa: PLC0415 - passes imports this module

    closures: list[Function | None] = []
    outer_vars = {stmt.target for stmt in fn.body if type(stmt) is Assign}
    outer_vars.update(r.target for stmt in fn.body if type(stmt) is Loop for r in stmt.reductions)
    outer_params = {p.name for p in fn.params}
    types: dict[int, str] = {}
    param_types = passes.param_dtypes(fn)

    def replace(leaf):
        if isinstance(leaf, Output):
            closures.append(None)
            return leaf
        inner_names = {p.name for p in leaf.params}
        captured: dict[Atom, Elem] = {}
        name = "captured"
        while name in inner_names:
            name = "_" + name

        def rewrite(atom):
            outer = (isinstance(atom, Var) and atom.id in outer_vars) or (
                isinstance(atom, Elem) and atom.param in outer_params
            )
            if not outer:
                return atom
            if atom not in captured:
                captured[atom] = Elem(name, len(captured))
            return captured[atom]

        body = tuple(Assign(s.target, s.op, tuple(rewrite(a) for a in s.args)) for s in leaf.body)
        outputs = _map_tree(
            leaf.outputs,
            lambda out: Output(out.shape, tuple(rewrite(a) for a in out.atoms), out.dtype),
        )
        if not types:  # the first closure: type the variables once
            types.update(passes.dtypes(fn))
        is_complex = any(
            passes.atom_dtype(a, types, param_types) == passes.COMPLEX128 for a in captured
        )
        dtype = "complex128" if is_complex else "float64"
        cap_param = Param(name, (len(captured),), dtype)
        closures.append(
            Function(f"{fn.name}_closure{len(closures)}", (cap_param, *leaf.params), body, outputs)
        )
        return Output((len(captured),), tuple(captured), dtype)

    outer = Function(fn.name, fn.params, fn.body, _map_tree(fn.outputs, replace))
    return outer, tuple(closures)


def complex_vars(fn: Function) -> set[int]:
    """Ids of the variables of ``fn``'s body (loops included) that hold complex values.

    A view of :func:`symnum.ir.passes.dtypes`, kept for backward compatibility: the
    variables whose dtype is ``complex128``, closure bodies left out.
    """
    from symnum.ir import passes  # noqa: PLC0415 - passes imports this module

    types = passes.dtypes(fn)
    ids = [s.target for s in iter_assigns(fn.body)]
    ids += [r.target for s in fn.body if type(s) is Loop for r in s.reductions]
    return {k for k in ids if types[k] == passes.COMPLEX128}
