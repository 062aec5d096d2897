"""numba's statement table: the Python statement table shared with the numpy backend
(:mod:`symnum.backends._pysource`) with numba's globals merged over the shared ones and
the templates that differ overridden, and the options of every generated njit function.
Plain data; needs no numba."""

from __future__ import annotations

from symnum.backends import _pysource
from symnum.ir import Op, passes

__all__ = ["BATCH_OPTIONS", "COMPLEX", "GLOBALS", "JIT_OPTIONS", "REAL", "REAL_VALUED", "RUNTIME"]

RUNTIME = "symnum.backends.numba.runtime"

#: Options of every generated njit function. ``error_model="numpy"`` gives IEEE results
#: (``1/0 -> inf``) instead of ZeroDivisionError.
JIT_OPTIONS = 'cache=True, error_model="numpy"'
#: Batch kernels also release the GIL (not worth its cost on a single point).
BATCH_OPTIONS = 'cache=True, nogil=True, error_model="numpy"'

#: The shared globals with numba's own: NumPy where ``math`` returns an int (floor) or
#: lacks the function, and the runtime's njit functions (symnum.ir.specfun's among them).
GLOBALS: dict[str, tuple[str | None, str | None]] = {
    **_pysource.GLOBALS,
    "cbrt": ("numpy", "cbrt"),
    "exp2": ("numpy", "exp2"),
    "floor": ("numpy", "floor"),
    "ceil": ("numpy", "ceil"),
    "lgamma": (RUNTIME, "lgamma"),
    "gamma": (RUNTIME, "gamma"),
    "digamma": (RUNTIME, "digamma"),
    "polygamma": (RUNTIME, "polygamma"),
    "ndtri": (RUNTIME, "ndtri"),
    "erfinv": (RUNTIME, "erfinv"),
    "erfcinv": (RUNTIME, "erfcinv"),
    "cdiv": (RUNTIME, "cdiv"),
    "select": (RUNTIME, "select"),
    "cpow": (RUNTIME, "cpow"),
    "math": ("math", None),
    "cmath": ("cmath", None),
}

#: How a module is named in the text; each is imported by every generated module.
_MODULE_NAMES = {"math": "math", "cmath": "cmath", "numpy": "np"}

#: Templates for ops whose arguments are all real: the shared table, with powers as
#: ``**`` (a small constant integer exponent compiles to multiplications), and every
#: conditional expression (``a if c else b``) as the runtime's branch-free ``select``:
#: numba compiles a body of hundreds of conditionals (derivatives of maxima, sorting
#: networks, ``where``) several times faster (see ``runtime.select``). Conditions
#: combine with ``|`` and ``&``, not the short-circuit ``or`` and ``and``, which are
#: branches too; every operand is a variable or a constant, so evaluating all of them
#: changes nothing.
REAL: dict[Op, str] = {
    **_pysource.SCALAR,
    Op.POW: "{0} ** {1}",
    # NumPy's scalar fmod (numba has no math.fmod): exact, NaN for an infinite x or y = 0
    Op.FMOD: "{np}.fmod({0}, {1})",
    Op.SIGN: "{select}({0} > 0.0, 1.0, {select}({0} < 0.0, -1.0, {0}))",
    Op.MAX: "{select}(({0} > {1}) | ({0} != {0}), {0}, {1})",
    Op.MIN: "{select}(({0} < {1}) | ({0} != {0}), {0}, {1})",
    Op.ISNAN: "{select}({0} != {0}, 1.0, 0.0)",
    Op.ISINF: "{select}({isinf}({0}), 1.0, 0.0)",
    Op.ISFINITE: "{select}({isfinite}({0}), 1.0, 0.0)",
    **{
        op: f"{{select}}({{0}} {symbol} {{1}}, 1.0, 0.0)"
        for op, symbol in (
            (Op.LT, "<"), (Op.LE, "<="), (Op.GT, ">"), (Op.GE, ">="), (Op.EQ, "=="),
            (Op.NE, "!="),
        )
    },
    Op.NOT: "{select}({0}, 0.0, 1.0)",
    Op.AND: "{select}(({0} != 0.0) & ({1} != 0.0), 1.0, 0.0)",
    Op.OR: "{select}(({0} != 0.0) | ({1} != 0.0), 1.0, 0.0)",
    Op.XOR: "{select}(({0} != 0.0) != ({1} != 0.0), 1.0, 0.0)",
    Op.SELECT: "{select}({0}, {1}, {2})",
}  # fmt: skip

#: Templates for ops with at least one complex argument: the real table with the
#: entries that differ; ``None`` marks ops that cannot be emitted for complex values.
COMPLEX: dict[Op, str | None] = {
    **REAL,
    Op.DIV: "{cdiv}({0}, {1})",
    Op.POW: "{cpow}({0}, {1})",
    Op.SQRT: "{cmath}.sqrt({0})",
    Op.EXP: "{cmath}.exp({0})",
    Op.EXP2: "{np}.exp2({0})",
    Op.EXPM1: "{np}.expm1({0})",
    Op.LOG: "{cmath}.log({0})",
    Op.LOG2: "{np}.log2({0})",
    Op.LOG10: "{cmath}.log10({0})",
    Op.LOG1P: "{np}.log1p({0})",
    Op.SIN: "{cmath}.sin({0})",
    Op.COS: "{cmath}.cos({0})",
    Op.TAN: "{cmath}.tan({0})",
    Op.ASIN: "{cmath}.asin({0})",
    Op.ACOS: "{cmath}.acos({0})",
    Op.ATAN: "{cmath}.atan({0})",
    Op.SINH: "{cmath}.sinh({0})",
    Op.COSH: "{cmath}.cosh({0})",
    Op.TANH: "{cmath}.tanh({0})",
    Op.ASINH: "{cmath}.asinh({0})",
    Op.ACOSH: "{cmath}.acosh({0})",
    Op.ATANH: "{cmath}.atanh({0})",
    Op.SIGN: "{np}.sign({0})",
    Op.REAL: "{0}.real",
    Op.IMAG: "{0}.imag",
    Op.CONJ: "{0}.conjugate()",
    Op.ISNAN: "{select}({cmath}.isnan({0}), 1.0, 0.0)",
    Op.ISINF: "{select}({cmath}.isinf({0}), 1.0, 0.0)",
    Op.ISFINITE: "{select}({cmath}.isfinite({0}), 1.0, 0.0)",
    # NumPy orders complex numbers lexicographically
    **{
        op: f"{{select}}(({{0}}.real {strict} {{1}}.real) | "
        f"(({{0}}.real == {{1}}.real) & ({{0}}.imag {cmp} {{1}}.imag)), 1.0, 0.0)"
        for op, strict, cmp in (
            (Op.LT, "<", "<"), (Op.LE, "<", "<="), (Op.GT, ">", ">"), (Op.GE, ">", ">="),
        )
    },
    Op.NOT: "{select}({0} == 0.0, 1.0, 0.0)",
    # undefined for complex numbers in NumPy too, or real-only special functions
    **dict.fromkeys(
        (
            Op.FLOOR, Op.CEIL, Op.CBRT, Op.ATAN2, Op.HYPOT, Op.FMOD, Op.MAX, Op.MIN, Op.ERF,
            Op.ERFC, Op.LGAMMA, Op.GAMMA, Op.DIGAMMA, Op.POLYGAMMA, Op.NDTRI, Op.ERFINV,
            Op.ERFCINV,
        )
    ),
}  # fmt: skip

#: Ops whose result is real even when an argument is complex.
REAL_VALUED = passes.REAL_VALUED

assert set(COMPLEX) == set(Op), "every op needs a complex entry"  # noqa: S101
