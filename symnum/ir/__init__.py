"""The intermediate representation: straight-line scalar code in single-assignment form.

A :class:`Function` is what every backend compiles. It has array parameters
(:class:`Param`), a body of scalar statements (:class:`Assign`) and outputs: an
:class:`Output` (an array of atoms with a shape), a :class:`Closure` (an operator-valued
result with its own parameters and body, which may read the outer body's variables), or
a nested tuple of those.

Atoms, the only things a statement may read, are :class:`Const` (a literal), :class:`Var`
(the result of an earlier statement) and :class:`Elem` (one element of a parameter, by
its flat C-order index). Nodes carry data, not behaviour: what each op means is defined
by :mod:`symnum.ir.interpret`, and :func:`check` verifies that a function is well formed.

Backends compile *flat* functions, whose output tree holds no closures;
:func:`split_closures` turns a function with closures into flat ones. Analyses every
backend needs (dtypes of variables, dead-code removal) are in :mod:`symnum.ir.passes`;
the special functions (digamma, polygamma, ...) are defined once, in
:mod:`symnum.ir.specfun`.
"""

from __future__ import annotations

import enum
import keyword
import math
from dataclasses import dataclass

__all__ = [
    "ARITY",
    "Assign",
    "Atom",
    "Closure",
    "Const",
    "Elem",
    "Function",
    "IRError",
    "Op",
    "Output",
    "OutputTree",
    "Param",
    "Var",
    "check",
    "check_identifier",
    "complex_vars",
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
        Op.ERF, Op.ERFC, Op.LGAMMA, Op.GAMMA, Op.DIGAMMA, Op.REAL, Op.IMAG, Op.CONJ,
        Op.ISNAN, Op.ISINF, Op.ISFINITE, Op.NOT,
    }
)  # fmt: skip
BINARY = frozenset(
    {
        Op.SUB, Op.DIV, Op.POW, Op.POLYGAMMA, Op.ATAN2, Op.HYPOT, Op.MAX, Op.MIN, Op.LT, Op.LE,
        Op.GT, Op.GE, Op.EQ, Op.NE, Op.AND, Op.OR, Op.XOR,
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
    """An array argument: a name (a Python identifier), a shape and a dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float64"

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True)
class Assign:
    """One scalar statement: ``Var(target) = op(*args)``."""

    target: int
    op: Op
    args: tuple[Atom, ...]


@dataclass(frozen=True, slots=True)
class Output:
    """An output array: its shape and its elements as atoms, flat in C order."""

    shape: tuple[int, ...]
    atoms: tuple[Atom, ...]
    dtype: str = "float64"

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True)
class Closure:
    """An operator-valued output: a function of its own ``params``.

    Its body and outputs may read the enclosing function's parameters and variables;
    its outputs hold no further closures.
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
    body: tuple[Assign, ...]
    outputs: OutputTree


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


def _check_atom(atom, defined: set[int], params: dict[str, Param], where: str) -> None:
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


def _check_params(params, known: dict[str, Param], where: str) -> None:
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
        known[param.name] = param


def _check_body(body, defined: set[int], params: dict[str, Param], where: str) -> None:
    for position, stmt in enumerate(body):
        here = f"{where}, statement {position} (t{getattr(stmt, 'target', '?')})"
        if not isinstance(stmt, Assign) or not isinstance(stmt.op, Op):
            msg = f"{here}: {stmt!r} is not an Assign of an Op"
            raise IRError(msg)
        low, high = ARITY[stmt.op]
        if len(stmt.args) < low or (high is not None and len(stmt.args) > high):
            expected = f"{low}" if low == high else f"at least {low}"
            msg = f"{here}: {stmt.op.name} takes {expected} arguments, got {len(stmt.args)}"
            raise IRError(msg)
        for atom in stmt.args:
            _check_atom(atom, defined, params, here)
        if stmt.target in defined:
            msg = f"{here}: t{stmt.target} is assigned twice"
            raise IRError(msg)
        defined.add(stmt.target)


def _check_output(out, defined, params, where) -> None:
    if len(out.atoms) != out.size:
        msg = f"{where}: output of shape {out.shape} has {len(out.atoms)} atoms"
        raise IRError(msg)
    if out.dtype not in DTYPES:
        msg = f"{where}: output has unsupported dtype {out.dtype}"
        raise IRError(msg)
    for atom in out.atoms:
        _check_atom(atom, defined, params, where)


def check(fn: Function) -> Function:
    """Verify that ``fn`` is well formed and return it.

    Checks single assignment, that nothing is read before it is assigned, op arities,
    parameter names, element indices and output sizes. Raises :class:`IRError` naming
    the statement that fails.
    """
    check_identifier(fn.name, "function name")
    params: dict[str, Param] = {}
    _check_params(fn.params, params, f"function {fn.name}")
    defined: set[int] = set()
    _check_body(fn.body, defined, params, f"function {fn.name}")
    for number, leaf in enumerate(iter_outputs(fn.outputs)):
        where = f"function {fn.name}, output {number}"
        if isinstance(leaf, Output):
            _check_output(leaf, defined, params, where)
            continue
        inner_params = dict(params)
        _check_params(leaf.params, inner_params, where)
        inner_defined = set(defined)
        _check_body(leaf.body, inner_defined, inner_params, where)
        for inner in iter_outputs(leaf.outputs):
            if not isinstance(inner, Output):
                msg = f"{where}: closures may not return closures"
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
    closures: list[Function | None] = []
    outer_vars = {stmt.target for stmt in fn.body}
    outer_params = {p.name for p in fn.params}
    complex_ids = complex_vars(fn)

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
        is_complex = any(
            (isinstance(a, Var) and a.id in complex_ids)
            or (isinstance(a, Elem) and _param_dtype(fn, a.param) == "complex128")
            for a in captured
        )
        dtype = "complex128" if is_complex else "float64"
        cap_param = Param(name, (len(captured),), dtype)
        closures.append(
            Function(f"{fn.name}_closure{len(closures)}", (cap_param, *leaf.params), body, outputs)
        )
        return Output((len(captured),), tuple(captured), dtype)

    outer = Function(fn.name, fn.params, fn.body, _map_tree(fn.outputs, replace))
    return outer, tuple(closures)


def _param_dtype(fn: Function, name: str) -> str:
    for p in fn.params:
        if p.name == name:
            return p.dtype
    return "float64"


def complex_vars(fn: Function) -> set[int]:
    """Ids of the variables of ``fn``'s body that may hold complex values."""
    if all(p.dtype == "float64" for p in fn.params) and not any(
        isinstance(a, Const) and isinstance(a.value, complex) for s in fn.body for a in s.args
    ):
        return set()
    complex_params = {p.name for p in fn.params if p.dtype == "complex128"}
    result: set[int] = set()
    real_valued = (
        COMPARISONS | LOGICAL | {Op.REAL, Op.IMAG, Op.ABS, Op.ISNAN, Op.ISINF, Op.ISFINITE}
    )
    for s in fn.body:
        if s.op in real_valued:
            continue
        if any(
            (isinstance(a, Var) and a.id in result)
            or (isinstance(a, Elem) and a.param in complex_params)
            or (isinstance(a, Const) and isinstance(a.value, complex))
            for a in s.args
        ):
            result.add(s.target)
    return result
