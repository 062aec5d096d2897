"""Every op against NumPy / SciPy: the inputs, reference table and IR builders that the
backend tests share. Tolerances stay with each backend's tests."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from symnum import ir
from symnum.ir import Assign, Const, Elem, Function, Op, Output, Param, Var

special = pytest.importorskip("scipy.special")

VALUES = [-2.5, -1.0, -0.3, -0.0, 0.0, 0.4, 1.0, 2.0, 3.7, 12.0, np.inf, -np.inf, np.nan]
#: every (first, second) argument pair of VALUES, shape (169, 2)
PAIRS = np.array(list(itertools.product(VALUES, VALUES)))


def nan_at_poles(values, x):
    """SciPy's values, but NaN at the poles and at -inf (the numba backend's own digamma
    and polygamma until it runs symnum.ir.specfun, which gives SciPy's values)."""
    return np.where(((x <= 0) & (np.floor(x) == x)) | (x == -np.inf), np.nan, values)


#: op -> NumPy / SciPy reference over arrays ``a`` (first arg) and ``b`` (second), for the
#: arguments of `op_args`: the variadic ADD and MUL get three, ``(a, b, a)``
REFERENCE = {
    Op.ADD: lambda a, b: a + b + a,
    Op.SUB: lambda a, b: a - b,
    Op.MUL: lambda a, b: a * b * a,
    Op.DIV: lambda a, b: a / b,
    Op.NEG: lambda a, b: -a,
    Op.POW: np.power,
    Op.ABS: lambda a, b: np.abs(a),
    Op.SIGN: lambda a, b: np.sign(a),
    Op.FLOOR: lambda a, b: np.floor(a),
    Op.CEIL: lambda a, b: np.ceil(a),
    Op.SQRT: lambda a, b: np.sqrt(a),
    Op.CBRT: lambda a, b: np.cbrt(a),
    Op.EXP: lambda a, b: np.exp(a),
    Op.EXP2: lambda a, b: np.exp2(a),
    Op.EXPM1: lambda a, b: np.expm1(a),
    Op.LOG: lambda a, b: np.log(a),
    Op.LOG2: lambda a, b: np.log2(a),
    Op.LOG10: lambda a, b: np.log10(a),
    Op.LOG1P: lambda a, b: np.log1p(a),
    Op.SIN: lambda a, b: np.sin(a),
    Op.COS: lambda a, b: np.cos(a),
    Op.TAN: lambda a, b: np.tan(a),
    Op.ASIN: lambda a, b: np.arcsin(a),
    Op.ACOS: lambda a, b: np.arccos(a),
    Op.ATAN: lambda a, b: np.arctan(a),
    Op.ATAN2: np.arctan2,
    Op.SINH: lambda a, b: np.sinh(a),
    Op.COSH: lambda a, b: np.cosh(a),
    Op.TANH: lambda a, b: np.tanh(a),
    Op.ASINH: lambda a, b: np.arcsinh(a),
    Op.ACOSH: lambda a, b: np.arccosh(a),
    Op.ATANH: lambda a, b: np.arctanh(a),
    Op.HYPOT: np.hypot,
    Op.FMOD: np.fmod,
    Op.MAX: np.maximum,
    Op.MIN: np.minimum,
    Op.ERF: lambda a, b: special.erf(a),
    Op.ERFC: lambda a, b: special.erfc(a),
    # log|gamma|; C's lgamma(-inf) is +inf where SciPy's gammaln says -inf
    Op.LGAMMA: lambda a, b: np.where(a == -np.inf, np.inf, special.gammaln(a)),
    Op.GAMMA: lambda a, b: special.gamma(a),
    # at the poles too: symnum.ir.specfun gives SciPy's values there
    Op.DIGAMMA: lambda a, b: special.digamma(a),
    Op.POLYGAMMA: lambda a, b: special.polygamma(2, b),
    # the inverses: NaN outside their domains, infinite at its ends
    Op.NDTRI: lambda a, b: special.ndtri(a),
    Op.ERFINV: lambda a, b: special.erfinv(a),
    Op.ERFCINV: lambda a, b: special.erfcinv(a),
    Op.REAL: lambda a, b: a,
    Op.IMAG: lambda a, b: np.zeros_like(a),
    Op.CONJ: lambda a, b: a,
    Op.ISNAN: lambda a, b: np.isnan(a),
    Op.ISINF: lambda a, b: np.isinf(a),
    Op.ISFINITE: lambda a, b: np.isfinite(a),
    Op.LT: np.less,
    Op.LE: np.less_equal,
    Op.GT: np.greater,
    Op.GE: np.greater_equal,
    Op.EQ: np.equal,
    Op.NE: np.not_equal,
    Op.NOT: lambda a, b: a == 0,
    Op.AND: lambda a, b: (a != 0) & (b != 0),
    Op.OR: lambda a, b: (a != 0) | (b != 0),
    Op.XOR: lambda a, b: (a != 0) ^ (b != 0),
    Op.SELECT: lambda a, b: np.where(a != 0, b, a),
}
#: ops computed by another algorithm than the reference's: a looser tolerance
SPECIAL = {
    Op.ERF, Op.ERFC, Op.LGAMMA, Op.GAMMA, Op.DIGAMMA, Op.POLYGAMMA, Op.NDTRI, Op.ERFINV,
    Op.ERFCINV,
}  # fmt: skip


def reference(op: Op, a, b) -> np.ndarray:
    """REFERENCE[op] over real arrays ``a`` and ``b`` of shape (n,), as floats (n,)."""
    with np.errstate(all="ignore"):
        return np.asarray(REFERENCE[op](a, b), dtype=float)


def op_args(op: Op, x: str = "x") -> tuple:
    """Arguments for one statement of ``op`` over parameter ``x`` (two elements)."""
    a, b = Elem(x, 0), Elem(x, 1)
    if op is Op.POLYGAMMA:
        return (Const(2.0), b)
    if op in (Op.SELECT, *ir.VARIADIC):
        return (a, b, a)
    return (a, b)[: ir.ARITY[op][0]]


def all_ops_function(name: str, ops, dtype: str = "float64") -> Function:
    """``name(x: (2,) dtype) -> (len(ops),)``: output ``k`` is ``ops[k]`` of `op_args`."""
    body = tuple(Assign(k, op, op_args(op)) for k, op in enumerate(ops))
    out = Output((len(ops),), tuple(Var(k) for k in range(len(ops))), dtype)
    return Function(name, (Param("x", (2,), dtype),), body, out)
