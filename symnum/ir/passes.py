"""Analyses and rewrites of IR functions that every backend needs, written once.

* :func:`dtypes`: the dtype (``"float64"`` or ``"complex128"``) of every variable, body
  and closure bodies alike, computed once on the IR instead of by each emitter;
* :func:`is_complex`: whether a function needs complex arithmetic at all;
* :func:`live`: the statements of a body that given outputs depend on;
* :func:`without_dead_code`: a function without the statements no output reads.

All of them take a checked :class:`~symnum.ir.Function` (see :func:`symnum.ir.check`)
and only read it.
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

__all__ = ["REAL_VALUED", "dtypes", "is_complex", "live", "without_dead_code"]

#: Ops whose result is real whatever their arguments.
REAL_VALUED = frozenset(
    COMPARISONS | LOGICAL | {Op.REAL, Op.IMAG, Op.ABS, Op.ISNAN, Op.ISINF, Op.ISFINITE}
)

FLOAT64 = "float64"
COMPLEX128 = "complex128"


def _param_dtypes(fn: Function) -> dict[str, str]:
    params = {p.name: p.dtype for p in fn.params}
    for leaf in iter_outputs(fn.outputs):
        if isinstance(leaf, Closure):
            params.update((p.name, p.dtype) for p in leaf.params)
    return params


def dtypes(fn: Function) -> dict[int, str]:
    """``{variable id: dtype}`` for every statement of ``fn``, closures included.

    A statement is complex when one of its arguments is (a complex variable, an element
    of a complex parameter or a complex constant), except for the ops of
    :data:`REAL_VALUED`; ``SELECT(c, a, b)`` is complex when ``a`` or ``b`` is (a complex
    condition only compares with zero).
    """
    params = _param_dtypes(fn)
    result: dict[int, str] = {}

    def atom_complex(atom) -> bool:
        if isinstance(atom, Var):
            return result[atom.id] == COMPLEX128
        if isinstance(atom, Elem):
            return params[atom.param] == COMPLEX128
        return isinstance(atom.value, complex)

    def visit(body) -> None:
        for stmt in body:
            if type(stmt) is Loop:
                visit(stmt.body)
                for r in stmt.reductions:
                    result[r.target] = COMPLEX128 if atom_complex(r.value) else FLOAT64
                continue
            args = stmt.args[1:] if stmt.op is Op.SELECT else stmt.args
            complex_ = stmt.op not in REAL_VALUED and any(atom_complex(a) for a in args)
            result[stmt.target] = COMPLEX128 if complex_ else FLOAT64

    visit(fn.body)
    for leaf in iter_outputs(fn.outputs):
        if isinstance(leaf, Closure):
            visit(leaf.body)
    return result


def is_complex(fn: Function) -> bool:
    """Whether ``fn`` has a complex parameter, output or constant anywhere."""
    leaves = list(iter_outputs(fn.outputs))
    outputs = [leaf for leaf in leaves if isinstance(leaf, Output)]
    bodies = [fn.body]
    for leaf in leaves:
        if isinstance(leaf, Closure):
            bodies.append(leaf.body)
            outputs.extend(iter_outputs(leaf.outputs))
    return (
        any(dtype == COMPLEX128 for dtype in _param_dtypes(fn).values())
        or any(out.dtype == COMPLEX128 for out in outputs)
        or any(
            isinstance(a, Const) and isinstance(a.value, complex)
            for body in bodies
            for stmt in iter_assigns(body)
            for a in stmt.args
        )
        or any(
            isinstance(a, Const) and isinstance(a.value, complex)
            for out in outputs
            for a in out.atoms
        )
    )


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
