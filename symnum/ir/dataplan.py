"""Planning the loops of a function over data (see :mod:`symnum.data`).

Before lowering, :func:`plan` finds the reductions over data rows
(:class:`~symnum.sym.data.DataReduce` nodes) and the data outputs of a function and
decides which loop computes each: a reduction whose template reads the result of
another reduction over the same rows (the sum of ``exp(x - max(x))`` in a log-sum-exp)
runs in a later pass; everything else shares one pass (loops over the same rows are
fused). A function loops over one data axis: the rows of its data arguments if it has
any, else those of the first constant data array; reductions over constant arrays of
another length are written out row by row when lowered (see
:meth:`symnum.ir.lower.Lowerer._lower_DataReduce`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from symnum.ir import Op
from symnum.sym.data import (
    DataMax,
    DataMin,
    DataProd,
    DataReduce,
    DataSource,
    DataSum,
    data_sources,
    row_mapping,
    substitute_row,
)

__all__ = ["Plan", "plan"]

_OPS = {DataSum: Op.ADD, DataProd: Op.MUL, DataMax: Op.MAX, DataMin: Op.MIN}


@dataclass
class Plan:
    """Which loop computes what.

    Attributes:
        sources: the data sources of the loop axis, in order of first use.
        levels: the number of passes over the rows.
        reductions: pass -> ``[(node, op)]``.
        stores: data output position -> ``(pass, row expressions)``.
        stored: data output position -> atoms (filled in by lowering).
    """

    sources: list[DataSource] = field(default_factory=list)
    levels: int = 0
    reductions: dict[int, list] = field(default_factory=dict)
    stores: dict[int, tuple] = field(default_factory=dict)
    stored: dict[int, tuple] = field(default_factory=dict)


def _leaves(spec):
    if isinstance(spec, tuple) and spec and spec[0] in ("array", "data", "closure"):
        yield spec
        return
    for sub in spec:
        yield from _leaves(sub)


def _closure_exprs(fe) -> list:
    value = fe.return_val
    stack, exprs = [value], []
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
        elif hasattr(item, "_data"):
            exprs.extend(item._data)
        elif hasattr(item, "flat"):
            exprs.extend(item.flat)
        elif isinstance(item, sympy.Basic):
            exprs.append(item)
    return exprs


def _reduce_nodes(roots) -> list:
    """The DataReduce nodes in ``roots`` (templates included), each once, in walk order."""
    found: dict[int, DataReduce] = {}
    visited: set[int] = set()
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if not isinstance(node, sympy.Basic) or id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, DataReduce):
            found.setdefault(id(node), node)
        stack.extend(reversed(node.args))
    return list(found.values())


def _levels(nodes, primary: set[int]) -> dict[int, int]:
    """id(node) -> the pass computing it: one more than the passes of the reductions
    over the same rows that its template reads."""
    levels: dict[int, int] = {}

    def level(node) -> int:
        if id(node) in levels:
            return levels[id(node)]
        inner = [n for n in _reduce_nodes([node.args[0]]) if n is not node and _on_axis(n, primary)]
        levels[id(node)] = 1 + max((level(n) for n in inner), default=-1)
        return levels[id(node)]

    for node in nodes:
        level(node)
    return levels


def _on_axis(node, primary: set[int]) -> bool:
    return any(s.id in primary for s in data_sources(node.args))


def plan(spec):
    """``(spec, Plan)``: the output spec (data outputs over another axis written out as
    ordinary arrays) and the loop plan. ``spec`` nests tuples of ``("array", shape,
    exprs)``, ``("data", row shape, row exprs)`` and ``("closure", FunctionExpression)``.
    """
    leaves = list(_leaves(spec))
    roots = []
    for leaf in leaves:
        roots.extend(_closure_exprs(leaf[1]) if leaf[0] == "closure" else leaf[2])
    sources = data_sources(roots)
    result = Plan()
    if not sources:
        return spec, result
    arguments = [s for s in sources if s.values is None]
    if arguments:
        axis = arguments
    else:
        n = sources[0].n
        axis = [s for s in sources if s.values is not None and s.n == n]
    primary = {s.id for s in axis}
    result.sources = axis
    spec = _unroll_foreign_outputs(spec, primary)
    nodes = [n for n in _reduce_nodes(roots) if _on_axis(n, primary)]
    levels = _levels(nodes, primary)
    for node in nodes:
        result.reductions.setdefault(levels[id(node)], []).append((node, _OPS[type(node)]))
    for position, leaf in enumerate(_leaves(spec)):
        if leaf[0] == "data":
            inner = [n for n in _reduce_nodes(leaf[2]) if _on_axis(n, primary)]
            level = 1 + max((levels[id(n)] for n in inner), default=-1)
            result.stores[position] = (level, leaf[2])
    result.levels = 1 + max(
        [*(lev for lev in result.reductions), *(lev for lev, _ in result.stores.values())],
        default=-1,
    )
    return spec, result


def _unroll_foreign_outputs(spec, primary: set[int]):
    if isinstance(spec, tuple) and spec and spec[0] == "data":
        sources = data_sources(spec[2])
        if not sources or any(s.id in primary for s in sources):
            return spec
        rows = []
        for i in range(sources[0].n):
            mapping = row_mapping(sources, i)
            memo: dict = {}
            rows.extend(substitute_row(e, mapping, memo) for e in spec[2])
        return ("array", (sources[0].n, *spec[1]), rows)
    if isinstance(spec, tuple) and spec and spec[0] in ("array", "closure"):
        return spec
    return tuple(_unroll_foreign_outputs(sub, primary) for sub in spec)
