"""The Python statement table shared by the numpy and numba backends.

Both backends write one IR statement as one line of scalar Python. :data:`SCALAR` maps
each op to its template: ``{0}``, ``{1}``, ... are the rendered arguments (atoms render
as primaries -- names, non-negative literals or parenthesised ones -- so templates need
no precedence handling) and any other field names a global, which each backend resolves
through its own globals table (:data:`GLOBALS` for the numpy backend; numba merges its
overrides into it, the way tinygrad's renderers merge dicts). ADD and MUL are variadic:
their template is the separator joining the arguments.

:class:`Lines` collects a generated module while recording where each function starts
and ends, so nothing has to re-read the generated text afterwards.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

from symnum.ir import Op

__all__ = [
    "GLOBALS",
    "SCALAR",
    "VARIADIC",
    "Lines",
    "Part",
    "arity",
    "fields",
    "float_literal",
    "variadic_lines",
]

#: Ops whose template is a separator joining any number of arguments.
VARIADIC = frozenset({Op.ADD, Op.MUL})

#: global name -> (module, attribute); module ``None``: a builtin; attribute ``None``: the
#: module itself. The numpy backend's table; numba overrides entries (see its ``emit``).
GLOBALS: dict[str, tuple[str | None, str | None]] = {
    "pow": ("math", "pow"),
    "sqrt": ("math", "sqrt"),
    "cbrt": ("symnum.backends.numpy", "scalar_cbrt"),
    "exp": ("math", "exp"),
    "exp2": ("symnum.backends.numpy", "scalar_exp2"),
    "expm1": ("math", "expm1"),
    "log": ("math", "log"),
    "log2": ("math", "log2"),
    "log10": ("math", "log10"),
    "log1p": ("math", "log1p"),
    "sin": ("math", "sin"),
    "cos": ("math", "cos"),
    "tan": ("math", "tan"),
    "asin": ("math", "asin"),
    "acos": ("math", "acos"),
    "atan": ("math", "atan"),
    "atan2": ("math", "atan2"),
    "sinh": ("math", "sinh"),
    "cosh": ("math", "cosh"),
    "tanh": ("math", "tanh"),
    "asinh": ("math", "asinh"),
    "acosh": ("math", "acosh"),
    "atanh": ("math", "atanh"),
    "hypot": ("math", "hypot"),
    "fmod": ("symnum.ir.specfun", "fmod"),
    "floor": ("math", "floor"),
    "ceil": ("math", "ceil"),
    "isinf": ("math", "isinf"),
    "isfinite": ("math", "isfinite"),
    "erf": ("math", "erf"),
    "erfc": ("math", "erfc"),
    "lgamma": ("symnum.ir.specfun", "lgamma"),
    "gamma": ("symnum.ir.specfun", "gamma"),
    "digamma": ("symnum.ir.specfun", "digamma"),
    "polygamma": ("symnum.ir.specfun", "polygamma"),
    "ndtri": ("symnum.ir.specfun", "ndtri"),
    "erfinv": ("symnum.ir.specfun", "erfinv"),
    "erfcinv": ("symnum.ir.specfun", "erfcinv"),
    "abs": (None, "abs"),
    "float": (None, "float"),
    "np": ("numpy", None),
    "inf": ("math", "inf"),
    "nan": ("math", "nan"),
}

#: One statement over Python floats. The numpy backend runs it in CPython (where
#: ``math`` raises instead of returning inf/nan, see ``backends/numpy/emit.py``); numba
#: compiles it, overriding only the globals (and the few templates) that differ.
SCALAR: dict[Op, str] = {
    Op.ADD: " + ",
    Op.MUL: " * ",
    Op.SUB: "{0} - {1}",
    Op.DIV: "{0} / {1}",
    Op.NEG: "-{0}",
    Op.POW: "{pow}({0}, {1})",
    Op.ABS: "{abs}({0})",
    Op.SIGN: "(1.0 if {0} > 0.0 else -1.0 if {0} < 0.0 else {0})",
    Op.FLOOR: "{float}({floor}({0}))",
    Op.CEIL: "{float}({ceil}({0}))",
    Op.SQRT: "{sqrt}({0})",
    Op.CBRT: "{cbrt}({0})",
    Op.EXP: "{exp}({0})",
    Op.EXP2: "{exp2}({0})",
    Op.EXPM1: "{expm1}({0})",
    Op.LOG: "{log}({0})",
    Op.LOG2: "{log2}({0})",
    Op.LOG10: "{log10}({0})",
    Op.LOG1P: "{log1p}({0})",
    Op.SIN: "{sin}({0})",
    Op.COS: "{cos}({0})",
    Op.TAN: "{tan}({0})",
    Op.ASIN: "{asin}({0})",
    Op.ACOS: "{acos}({0})",
    Op.ATAN: "{atan}({0})",
    Op.ATAN2: "{atan2}({0}, {1})",
    Op.SINH: "{sinh}({0})",
    Op.COSH: "{cosh}({0})",
    Op.TANH: "{tanh}({0})",
    Op.ASINH: "{asinh}({0})",
    Op.ACOSH: "{acosh}({0})",
    Op.ATANH: "{atanh}({0})",
    Op.HYPOT: "{hypot}({0}, {1})",
    Op.FMOD: "{fmod}({0}, {1})",
    # NaN in either argument gives NaN, like numpy.maximum (Python's max does not)
    Op.MAX: "({0} if {0} > {1} or {0} != {0} else {1})",
    Op.MIN: "({0} if {0} < {1} or {0} != {0} else {1})",
    Op.ERF: "{erf}({0})",
    Op.ERFC: "{erfc}({0})",
    Op.LGAMMA: "{lgamma}({0})",
    Op.GAMMA: "{gamma}({0})",
    Op.DIGAMMA: "{digamma}({0})",
    Op.POLYGAMMA: "{polygamma}({0}, {1})",
    Op.NDTRI: "{ndtri}({0})",
    Op.ERFINV: "{erfinv}({0})",
    Op.ERFCINV: "{erfcinv}({0})",
    Op.REAL: "{0}",
    Op.IMAG: "0.0",
    Op.CONJ: "{0}",
    Op.ISNAN: "(1.0 if {0} != {0} else 0.0)",
    Op.ISINF: "(1.0 if {isinf}({0}) else 0.0)",
    Op.ISFINITE: "(1.0 if {isfinite}({0}) else 0.0)",
    Op.LT: "(1.0 if {0} < {1} else 0.0)",
    Op.LE: "(1.0 if {0} <= {1} else 0.0)",
    Op.GT: "(1.0 if {0} > {1} else 0.0)",
    Op.GE: "(1.0 if {0} >= {1} else 0.0)",
    Op.EQ: "(1.0 if {0} == {1} else 0.0)",
    Op.NE: "(1.0 if {0} != {1} else 0.0)",
    Op.NOT: "(0.0 if {0} else 1.0)",
    Op.AND: "(1.0 if {0} and {1} else 0.0)",
    Op.OR: "(1.0 if {0} or {1} else 0.0)",
    Op.XOR: "(1.0 if (not {0}) != (not {1}) else 0.0)",
    Op.SELECT: "({1} if {0} else {2})",
}
assert set(SCALAR) == set(Op), "every op needs a scalar template"  # noqa: S101

_FIELDS: dict[str, tuple[str, ...]] = {}


def fields(template: str) -> tuple[str, ...]:
    """The field names of ``template`` in order, repeats included (``"0"``, ``"sqrt"``)."""
    found = _FIELDS.get(template)
    if found is None:
        found = tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)
        _FIELDS[template] = found
    return found


def arity(template: str) -> int:
    """How many arguments a (non-variadic) template takes."""
    return 1 + max((int(f) for f in fields(template) if f.isdigit()), default=-1)


def float_literal(value: float, inf: str, nan: str) -> str:
    """``value`` as a Python primary; ``inf`` and ``nan`` are the expressions naming
    those constants in the generated module."""
    if math.isnan(value):
        return nan
    if math.isinf(value):
        return inf if value > 0 else f"(-{inf})"
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def variadic_lines(target: str, separator: str, args: list[str], chunk: int) -> list[str]:
    """``target = a + b + ...`` as running partial results of at most ``chunk`` terms a
    line: one expression of thousands of terms overflows CPython's compiler stack. The
    order (left to right) and so the rounding are those of the single expression."""
    if len(args) <= chunk:
        return [f"{target} = {separator.join(args)}"]
    lines = [f"{target} = {separator.join(args[:chunk])}"]
    for start in range(chunk, len(args), chunk - 1):
        rest = separator.join(args[start : start + chunk - 1])
        lines.append(f"{target} = {target}{separator}{rest}")
    return lines


@dataclass(frozen=True)
class Part:
    """One top-level function of a generated module: its name and the index range of
    its lines (``first`` included, ``stop`` excluded, 0-based)."""

    name: str
    first: int
    stop: int


class Lines:
    """A generated module under construction: top-level blocks joined by blank lines,
    with the line range of each named block recorded as it is added."""

    def __init__(self, blank: int = 2):
        self.lines: list[str] = []
        self.parts: list[Part] = []
        self.blank = blank
        self.blocks = 0

    def add(self, block: list[str], name: str | None = None) -> None:
        """Append ``block`` (recorded as part ``name`` if given). An empty first block
        stands for text put in front later: the blank lines after it are kept."""
        if self.blocks:
            self.lines.extend([""] * self.blank)
        self.blocks += 1
        first = len(self.lines)
        for line in block:  # an element may hold several lines
            self.lines.extend(line.split("\n"))
        if name is not None:
            self.parts.append(Part(name, first, len(self.lines)))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
