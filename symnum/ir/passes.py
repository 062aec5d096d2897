"""Analyses and rewrites of IR functions that every backend needs, written once.

* :func:`dtypes`: the dtype (``"float64"`` or ``"complex128"``) of every variable, body
  and closure bodies alike, computed once on the IR instead of by each emitter
  (:func:`param_dtypes` and :func:`atom_dtype` give those of parameters and atoms);
* :func:`is_complex`: whether a function needs complex arithmetic at all, and
  :func:`complex_causes`: what makes it so, for error messages;
* :func:`live`: the statements of a body that given outputs depend on;
* :func:`without_dead_code`: a function without the statements no output reads.

All of them take a checked :class:`~symnum.ir.Function` (see :func:`symnum.ir.check`)
and only read it; all of them know data loops (:class:`~symnum.ir.Loop` statements,
their reductions and the data outputs they store).
"""

from __future__ import annotations

from symnum.ir import (
    COMPARISONS,
    LOGICAL,
    Closure,
    Const,
    Elem,
    Function,
    Loop,
    Op,
    Output,
    Var,
    iter_assigns,
    iter_outputs,
)

__all__ = [
    "COMPLEX128",
    "FLOAT64",
    "REAL_VALUED",
    "atom_dtype",
    "complex_causes",
    "dtypes",
    "is_complex",
    "live",
    "param_dtypes",
    "without_dead_code",
]

#: Ops whose result is real whatever their arguments.
REAL_VALUED = frozenset(
    COMPARISONS | LOGICAL | {Op.REAL, Op.IMAG, Op.ABS, Op.ISNAN, Op.ISINF, Op.ISFINITE}
)

FLOAT64 = "float64"
COMPLEX128 = "complex128"


def param_dtypes(fn: Function, closure: Closure | None = None) -> dict[str, str]:
    """``{name: dtype}`` of ``fn``'s parameters, and of ``closure``'s when given (a
    closure's parameter names differ from the function's; two closures' may agree)."""
    params = {p.name: p.dtype for p in fn.params}
    if closure is not None:
        params.update((p.name, p.dtype) for p in closure.params)
    return params


def atom_dtype(atom, types: dict[int, str], params: dict[str, str]) -> str:
    """The dtype of ``atom``, given the :func:`dtypes` of the variables (``types``) and
    the :func:`param_dtypes` of the parameters it may read (``params``).

    An atom reading an unknown variable or parameter is real: :func:`dtypes` then
    returns instead of raising on a function not checked yet (as
    :func:`symnum.ir.split_closures` may get), which :func:`symnum.ir.check` refuses
    later.
    """
    if isinstance(atom, Var):
        return types.get(atom.id, FLOAT64)
    if isinstance(atom, Elem):
        return params.get(atom.param, FLOAT64)
    return COMPLEX128 if isinstance(atom.value, complex) else FLOAT64


def dtypes(fn: Function) -> dict[int, str]:
    """``{variable id: dtype}`` for every statement of ``fn``, closures included.

    A statement is complex when one of its arguments is (a complex variable, an element
    of a complex parameter or a complex constant), except for the ops of
    :data:`REAL_VALUED`; ``SELECT(c, a, b)`` is complex when ``a`` or ``b`` is (a complex
    condition only compares with zero). The variables of a :class:`Loop` body are typed
    like the others, and a reduction has the dtype of the value it folds.
    """
    result: dict[int, str] = {}

    def visit(body, params: dict[str, str]) -> None:
        for stmt in body:
            if type(stmt) is Loop:
                visit(stmt.body, params)
                for r in stmt.reductions:
                    result[r.target] = atom_dtype(r.value, result, params)
                continue
            args = stmt.args[1:] if stmt.op is Op.SELECT else stmt.args
            complex_ = stmt.op not in REAL_VALUED and any(
                atom_dtype(a, result, params) == COMPLEX128 for a in args
            )
            result[stmt.target] = COMPLEX128 if complex_ else FLOAT64

    visit(fn.body, param_dtypes(fn))
    for leaf in iter_outputs(fn.outputs):
        if isinstance(leaf, Closure):
            visit(leaf.body, param_dtypes(fn, leaf))
    return result


def _complex_const(atom) -> bool:
    return isinstance(atom, Const) and isinstance(atom.value, complex)


def complex_causes(fn: Function):
    """Yield what makes ``fn`` complex, as ``(kind, node)`` pairs, in this order:
    ``("parameter", param)`` for each complex parameter; for each output leaf,
    ``("output", output)`` when its dtype is complex and ``("constant", output)`` for
    each complex constant among its atoms (a closure: its parameters, statements and
    outputs likewise); then ``("constant", statement)`` for each statement of the body
    (loops included: an :class:`~symnum.ir.Assign` or a :class:`~symnum.ir.Reduce`) that
    reads a complex constant (the statements first, then the reductions). Nothing for a
    real function."""
    for param in fn.params:
        if param.dtype == COMPLEX128:
            yield "parameter", param
    for leaf in iter_outputs(fn.outputs):
        if isinstance(leaf, Output):
            yield from _output_causes(leaf)
            continue
        for param in leaf.params:
            if param.dtype == COMPLEX128:
                yield "parameter", param
        yield from _body_causes(leaf.body)
        for out in iter_outputs(leaf.outputs):
            yield from _output_causes(out)
    yield from _body_causes(fn.body)


def _output_causes(out: Output):
    if out.dtype == COMPLEX128:
        yield "output", out
    for atom in out.atoms:
        if _complex_const(atom):
            yield "constant", out


def _body_causes(body):
    for stmt in iter_assigns(body):
        if any(_complex_const(a) for a in stmt.args):
            yield "constant", stmt
    for stmt in body:
        for r in stmt.reductions if type(stmt) is Loop else ():
            if _complex_const(r.value):
                yield "constant", r


def is_complex(fn: Function) -> bool:
    """Whether ``fn`` has a complex parameter, output or constant anywhere (see
    :func:`complex_causes`)."""
    return next(complex_causes(fn), None) is not None


def live(body, outputs, keep=(), data_outputs=None) -> tuple:
    """The statements of ``body`` that ``outputs`` (:class:`Output` s) depend on, in order.

    ``keep`` holds further variable ids to keep (for example those a closure reads).
    Loops keep the reductions that are read and the statements those, and the data
    outputs they store (``data_outputs``: output position -> :class:`Output`), need; a
    loop with neither is dropped.
    """
    used = {a.id for out in outputs for a in out.atoms if isinstance(a, Var)}
    used.update(keep)
    kept = []
    for stmt in reversed(body):
        if type(stmt) is Loop:
            loop = _live_loop(stmt, used, data_outputs or {})
            if loop is not None:
                kept.append(loop)
        elif stmt.target in used:
            kept.append(stmt)
            used.update(a.id for a in stmt.args if isinstance(a, Var))
    kept.reverse()
    return tuple(kept)


def _live_loop(loop: Loop, used: set[int], data_outputs: dict) -> Loop | None:
    reductions = tuple(r for r in loop.reductions if r.target in used)
    stored = [data_outputs[p] for p in loop.stores if p in data_outputs]
    if not reductions and not stored:
        return None
    keep = {r.value.id for r in reductions if isinstance(r.value, Var)}
    inner = live(loop.body, stored, keep)
    used.update(a.id for stmt in inner for a in stmt.args if isinstance(a, Var))
    used.update(keep)
    used.update(a.id for out in stored for a in out.atoms if isinstance(a, Var))
    return Loop(inner, reductions, loop.stores)


def _reads(body, outputs) -> set[int]:
    """Variable ids read by ``body`` or ``outputs`` but not assigned in ``body``."""
    assigned = {stmt.target for stmt in body}
    read = {a.id for stmt in body for a in stmt.args if isinstance(a, Var)}
    read.update(a.id for out in outputs for a in out.atoms if isinstance(a, Var))
    return read - assigned


def without_dead_code(fn: Function) -> Function:
    """``fn`` without the statements no output reads, in its body and its closures'.

    The output tree is unchanged; a statement of the outer body that only a closure
    reads is kept.
    """
    closures: dict[int, Closure] = {}
    outer_outputs: list[Output] = []
    data_outputs: dict[int, Output] = {}
    captured: set[int] = set()
    for position, leaf in enumerate(iter_outputs(fn.outputs)):
        if isinstance(leaf, Output):
            if leaf.data:
                data_outputs[position] = leaf
            else:
                outer_outputs.append(leaf)
            continue
        inner_outputs = list(iter_outputs(leaf.outputs))
        body = live(leaf.body, inner_outputs)
        closures[id(leaf)] = Closure(leaf.params, body, leaf.outputs)
        captured |= _reads(body, inner_outputs)

    def rebuild(node):
        if isinstance(node, tuple):
            return tuple(rebuild(sub) for sub in node)
        return closures.get(id(node), node)

    body = live(fn.body, outer_outputs, keep=captured, data_outputs=data_outputs)
    return Function(fn.name, fn.params, body, rebuild(fn.outputs))
