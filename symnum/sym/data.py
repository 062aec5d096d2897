"""SymPy nodes for data: the symbols of one data row and reductions over the rows.

A *data array* (see :mod:`symnum.data`) is a row template: SymPy expressions in the
function's symbols and in :class:`DataSymbol` s, each standing for one element of the
current row of a :class:`DataSource` (a constant NumPy array, or a data argument whose
number of rows is only known at call time). A reduction over the rows is a
:class:`DataReduce` node holding the template of one row's value:

* :class:`DataSum` -- ``sum`` over the rows (``DataSum(1)`` counts them);
* :class:`DataProd` -- the product;
* :class:`DataMax`, :class:`DataMin` -- the maximum / minimum (NaN propagates).

These nodes are ordinary SymPy expressions of the function's symbols: they can be
combined, differentiated (the derivative of a data sum is the data sum of the
template's derivative) and lowered to an IR :class:`~symnum.ir.Loop`. They are never
evaluated by SymPy.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import sympy

from symnum.sym.build import _is_zero, _mul, _piecewise, _pow

__all__ = [
    "DataMax",
    "DataMin",
    "DataProd",
    "DataReduce",
    "DataSource",
    "DataSum",
    "DataSymbol",
    "data_derivative",
    "data_sources",
]

_ONE = sympy.Integer(1)
_ZERO = sympy.Integer(0)


class DataSource:
    """One array of rows: a constant NumPy array, or a data argument.

    Attributes:
        values: the rows, a C-contiguous float64 array of shape ``(n, *row_shape)``, or
            ``None`` for a data argument (its rows arrive with each call).
        row_shape: the shape of one row.
        name: the data argument's name (``None`` for constants; the compiler names
            those ``data0``, ``data1``, ... in order of first use).
        symbols: one :class:`DataSymbol` per element of a row (flat, C order).
    """

    _ids = itertools.count()

    def __init__(self, values, row_shape: tuple[int, ...], name: str | None = None):
        self.values = values
        self.row_shape = tuple(row_shape)
        self.name = name
        self.id = next(self._ids)
        label = name if name is not None else "data"
        size = int(np.prod(self.row_shape, dtype=np.int64))
        self.symbols = tuple(DataSymbol(f"{label}[{j}]", self, j) for j in range(size))

    @property
    def n(self) -> int | None:
        """The number of rows, or ``None`` for a data argument."""
        return None if self.values is None else int(self.values.shape[0])

    def __repr__(self) -> str:
        what = f"argument {self.name!r}" if self.values is None else f"{self.n} rows"
        return f"DataSource({what}, row shape {self.row_shape})"


class DataSymbol(sympy.Dummy):
    """Element ``index`` (flat, C order) of the current row of ``source``.

    A :class:`sympy.Dummy`: two sources never share symbols, whatever their names.
    """

    def __new__(cls, name: str, source: DataSource, index: int):
        symbol = super().__new__(cls, name, real=True)
        symbol.source = source
        symbol.index = index
        return symbol


class DataReduce(sympy.Function):
    """A reduction over the data rows of the one-row template ``args[0]``.

    ``args[1]``, when present, is a :class:`DataSymbol` of the rows reduced over (the
    *anchor*): it names the data axis when the template reads no data (the count
    ``DataSum(1)`` of a mean).
    """

    nargs = (1, 2)
    #: the IR reduction op's name
    op = ""
    is_real = True

    @classmethod
    def eval(cls, template, anchor=None):  # never evaluated: the number of rows may be unknown
        return None

    def _eval_derivative(self, symbol):
        template = self.args[0]
        return data_derivative(self, template.diff(symbol))

    def _eval_evalf(self, prec):
        return self

    def _sympystr(self, printer):
        return f"{type(self).__name__}({printer.doprint(self.args[0])})"


class DataSum(DataReduce):
    """The sum over the data rows of the template (``DataSum(1)`` is their number)."""

    op = "add"


class DataProd(DataReduce):
    """The product over the data rows of the template."""

    op = "mul"


class DataMax(DataReduce):
    """The maximum over the data rows of the template (NaN if a row is NaN)."""

    op = "max"


class DataMin(DataReduce):
    """The minimum over the data rows of the template (NaN if a row is NaN)."""

    op = "min"


def make(cls, template, anchor=None):
    """``cls(template, anchor)`` without SymPy's evaluation machinery."""
    template = sympy.sympify(template)
    args = (template,) if anchor is None else (template, anchor)
    return sympy.Function.__new__(cls, *args, evaluate=False)


def data_derivative(node: DataReduce, d_template):
    """The derivative of ``node`` given that of its template.

    * a sum: the sum of the derivatives;
    * a product ``P``: ``P * sum(d t / t)`` (a row whose value is exactly zero makes
      this NaN where the product's derivative may be finite);
    * a maximum ``M`` (minimum): the derivative at the rows that attain it (their mean,
      at ties, as for ``maximum`` of two arrays).
    """
    if _is_zero(d_template):
        return _ZERO
    template, *anchor = node.args
    if isinstance(node, DataSum):
        return make(DataSum, d_template, *anchor)
    if isinstance(node, DataProd):
        return _mul([node, make(DataSum, _mul([d_template, _pow(template, -_ONE)]), *anchor)])
    relation = sympy.GreaterThan if isinstance(node, DataMax) else sympy.LessThan
    attains = relation(template, node, evaluate=False)
    chosen = make(DataSum, _piecewise([(d_template, attains), (_ZERO, sympy.true)]), *anchor)
    count = make(DataSum, _piecewise([(_ONE, attains), (_ZERO, sympy.true)]), *anchor)
    return _mul([chosen, _pow(count, -_ONE)])


def data_sources(exprs) -> list[DataSource]:
    """The data sources whose symbols appear in ``exprs``, in order of first appearance
    in a depth-first walk (deterministic for equal expressions)."""
    seen: dict[int, DataSource] = {}
    visited: set[int] = set()
    stack = list(reversed(list(exprs)))
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, DataSymbol):
            seen.setdefault(node.source.id, node.source)
        elif isinstance(node, sympy.Basic):
            stack.extend(reversed(node.args))
    return list(seen.values())


def substitute_row(expr, mapping: dict, memo: dict | None = None):
    """``expr`` with the row symbols in ``mapping`` replaced, leaving the templates of
    reductions inside it alone (a reduction is a value over all rows, not this row's)."""
    memo = {} if memo is None else memo
    hit = memo.get(id(expr))
    if hit is not None:
        return hit[1]
    if expr in mapping:
        result = mapping[expr]
    elif not expr.args or isinstance(expr, DataReduce):
        result = expr
    else:
        args = [substitute_row(a, mapping, memo) for a in expr.args]
        if all(new is old for new, old in zip(args, expr.args, strict=True)):
            result = expr
        else:
            result = expr.func(*args)
    memo[id(expr)] = (expr, result)
    return result


def row_mapping(sources, row: int) -> dict:
    """Row symbols of ``sources`` (constant ones) -> their values in row ``row``."""
    mapping = {}
    for source in sources:
        values = source.values[row].ravel().tolist()
        mapping.update(
            (symbol, sympy.nan if math.isnan(v) else sympy.Float(v))
            for symbol, v in zip(source.symbols, values, strict=True)
        )
    return mapping


def unrolled(node: DataReduce, sources) -> sympy.Expr:
    """``node`` written out row by row (for data whose rows are all known)."""
    template = node.args[0]
    sources = [s for s in sources if s.values is not None]
    n = sources[0].n
    rows = [substitute_row(template, row_mapping(sources, i)) for i in range(n)]
    if isinstance(node, DataSum):
        return sympy.Add(*rows)
    if isinstance(node, DataProd):
        return sympy.Mul(*rows)
    cls = sympy.Max if isinstance(node, DataMax) else sympy.Min
    level = rows
    while len(level) > 1:
        paired = [cls(level[i], level[i + 1], evaluate=False) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0] if level else (-sympy.oo if cls is sympy.Max else sympy.oo)
