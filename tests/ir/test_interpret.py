"""The reference interpreter: op semantics (IEEE, booleans, NaN handling), closures and
argument checks. The special functions it runs are tested in tests/ir/test_specfun.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symnum.ir import Assign, Closure, Const, Elem, Function, Op, Output, Param, Var, interpret


def unary(op: Op, value: float):
    fn = Function("u", (Param("x", ()),), (Assign(0, op, (Elem("x", 0),)),), Output((), (Var(0),)))
    return interpret.evaluate(fn, value)


def test_ieee_semantics_without_warnings():
    with np.errstate(all="raise"):
        assert interpret.apply(Op.DIV, [1.0, 0.0]) == math.inf
        assert math.isnan(interpret.apply(Op.LOG, [-1.0]))
        assert interpret.apply(Op.EXP, [1000.0]) == math.inf
        assert interpret.apply(Op.LOG, [0.0]) == -math.inf


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    [
        (Op.MAX, [math.nan, 1.0], math.nan),
        (Op.MAX, [1.0, math.nan], math.nan),
        (Op.MIN, [2.0, 1.0], 1.0),
        (Op.SIGN, [-3.0], -1.0),
        (Op.SIGN, [0.0], 0.0),
        (Op.SIGN, [math.nan], math.nan),
        (Op.SELECT, [math.nan, 1.0, 2.0], 1.0),  # NaN is non-zero: true
        (Op.SELECT, [0.0, 1.0, 2.0], 2.0),
        (Op.AND, [2.0, -1.0], 1.0),
        (Op.OR, [0.0, 0.0], 0.0),
        (Op.XOR, [1.0, 1.0], 0.0),
        (Op.NOT, [0.0], 1.0),
        (Op.LT, [math.nan, 1.0], 0.0),
        (Op.NE, [math.nan, math.nan], 1.0),
        (Op.ADD, [1.0, 2.0, 3.0], 6.0),
        (Op.MUL, [2.0, 3.0, 4.0], 24.0),
        (Op.REAL, [2.5], 2.5),
        (Op.IMAG, [2.5], 0.0),
        (Op.GAMMA, [0.0], math.inf),
        (Op.GAMMA, [-0.0], -math.inf),
        (Op.GAMMA, [-2.0], math.nan),
        (Op.GAMMA, [200.0], math.inf),
        (Op.GAMMA, [-1e-309], -math.inf),
        (Op.LGAMMA, [0.0], math.inf),
        (Op.LGAMMA, [-3.0], math.inf),
        (Op.LGAMMA, [-math.inf], math.inf),
        (Op.DIGAMMA, [0.0], -math.inf),  # SciPy's values at the poles
        (Op.DIGAMMA, [-0.0], math.inf),
        (Op.DIGAMMA, [-3.0], math.nan),
        (Op.DIGAMMA, [math.inf], math.inf),
        (Op.POLYGAMMA, [1.0, -2.0], math.inf),
        (Op.POLYGAMMA, [1.0, math.inf], 0.0),
        (Op.POLYGAMMA, [1.0, 1e-200], math.inf),
        (Op.POLYGAMMA, [2.0, -1e7], -math.inf),
        (Op.POLYGAMMA, [2.5, 1.0], math.nan),  # the order must be an integer
        (Op.NDTRI, [0.0], -math.inf),  # SciPy's values at the ends and outside
        (Op.NDTRI, [-0.0], -math.inf),
        (Op.NDTRI, [1.0], math.inf),
        (Op.NDTRI, [0.5], 0.0),
        (Op.NDTRI, [-1e-300], math.nan),
        (Op.NDTRI, [1.0000000000000002], math.nan),
        (Op.NDTRI, [math.nan], math.nan),
        (Op.ERFINV, [1.0], math.inf),
        (Op.ERFINV, [-1.0], -math.inf),
        (Op.ERFINV, [1.0000000000000002], math.nan),
        (Op.ERFINV, [-math.inf], math.nan),
        (Op.ERFCINV, [0.0], math.inf),
        (Op.ERFCINV, [2.0], -math.inf),
        (Op.ERFCINV, [1.0], 0.0),
        (Op.ERFCINV, [-5e-324], math.nan),
        (Op.ERFCINV, [2.0000000000000004], math.nan),
    ],
)
def test_op_semantics(op, args, expected):
    got = interpret.apply(op, args)
    assert type(got) is np.float64
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected


def test_complex_ops():
    assert interpret.apply(Op.SQRT, [-4 + 0j]) == 2j
    assert interpret.apply(Op.ABS, [3 + 4j]) == 5.0
    assert interpret.apply(Op.CONJ, [1 + 2j]) == 1 - 2j
    for op in (Op.ERF, Op.NDTRI, Op.ERFINV, Op.ERFCINV):
        with pytest.raises(TypeError, match="real"):
            interpret.apply(op, [0.5 + 1j])


def test_closures_read_outer_values():
    x = Elem("x", 0)
    closure = Closure(
        (Param("v", (2,)),),
        (Assign(1, Op.MUL, (Var(0), Elem("v", 1))),),
        (Output((2,), (Var(1), Elem("v", 0))), Output((), (x,))),
    )
    fn = Function(
        "f", (Param("x", ()),), (Assign(0, Op.EXP, (x,)),), (closure, Output((), (Var(0),)))
    )
    apply_v, value = interpret.evaluate(fn, 0.5)
    assert value == np.exp(0.5)
    out, scalar = apply_v([3.0, 4.0])
    np.testing.assert_array_equal(out, [np.exp(0.5) * 4.0, 3.0])
    assert scalar == 0.5
    with pytest.raises(ValueError, match="shape"):
        apply_v([1.0])


def test_argument_checks():
    fn = Function("f", (Param("x", (2,)),), (), Output((), (Const(1.0),)))
    with pytest.raises(TypeError, match="takes 1 arguments, got 2"):
        interpret.evaluate(fn, [1.0, 2.0], [3.0])
    with pytest.raises(ValueError, match=r"argument 'x' of function f must have shape \(2,\)"):
        interpret.evaluate(fn, [1.0, 2.0, 3.0])


def test_outputs_have_declared_dtypes():
    fn = Function(
        "f",
        (Param("z", (), "complex128"),),
        (Assign(0, Op.MUL, (Elem("z", 0), Const(2.0))),),
        (Output((1,), (Var(0),), "complex128"), Output((), (Const(3.0),))),
    )
    out, three = interpret.evaluate(fn, 1 + 1j)
    assert out.dtype == np.complex128
    assert out[0] == 2 + 2j
    assert type(three) is np.float64
