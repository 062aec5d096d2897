"""The IR: what ``check`` rejects (naming the statement), identifiers, output-tree
iteration and ``split_closures``."""

from __future__ import annotations

import pytest

from symnum import ir
from symnum.ir import Assign, Closure, Const, Elem, Function, Op, Output, Param, Var, interpret

X = Param("x", (2,))


def fn_with(body, outputs=None, params=(X,)):
    return Function("f", params, tuple(body), outputs or Output((), (Const(0.0),)))


def test_a_good_function_passes():
    fn = fn_with(
        [Assign(0, Op.ADD, (Elem("x", 0), Elem("x", 1), Const(1.0)))], Output((), (Var(0),))
    )
    assert ir.check(fn) is fn


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([Assign(0, Op.NEG, (Var(1),))], r"statement 0 \(t0\): reads t1 before it is assigned"),
        ([Assign(0, Op.NEG, (Elem("y", 0),))], "unknown parameter 'y'"),
        ([Assign(0, Op.NEG, (Elem("x", 2),))], "index 2 out of range"),
        ([Assign(0, Op.NEG, (Const(1),))], "not a float or complex"),
        ([Assign(0, Op.ADD, (Const(1.0),))], "ADD takes at least 2 arguments, got 1"),
        ([Assign(0, Op.SIN, (Const(1.0), Const(2.0)))], "SIN takes 1 arguments, got 2"),
        (
            [Assign(0, Op.SIN, (Const(1.0),)), Assign(0, Op.COS, (Const(1.0),))],
            "t0 is assigned twice",
        ),
        (["t0 = 1"], "is not an Assign"),
    ],
)
def test_check_names_the_failing_statement(body, message):
    with pytest.raises(ir.IRError, match=message):
        ir.check(fn_with(body))


def test_check_outputs_and_params():
    with pytest.raises(ir.IRError, match="has 1 atoms"):
        ir.check(fn_with([], Output((2,), (Const(1.0),))))
    with pytest.raises(ir.IRError, match="used twice"):
        ir.check(fn_with([], params=(X, X)))
    with pytest.raises(ir.IRError, match="unsupported dtype"):
        ir.check(fn_with([], params=(Param("x", (2,), "int64"),)))
    with pytest.raises(ValueError, match="not valid"):
        ir.check(fn_with([], params=(Param("import", (2,)),)))
    closure = Closure((Param("x", ()),), (), Output((), (Const(1.0),)))
    with pytest.raises(ir.IRError, match="used twice"):
        ir.check(fn_with([], closure))


@pytest.mark.parametrize("name", ["x", "_y", "arg_0", "Theta"])
def test_identifiers_accepted(name):
    assert ir.check_identifier(name) == name


@pytest.mark.parametrize("name", ["", "1x", "a b", "x[0]", "def", "lambda", "é", "x;import os"])
def test_identifiers_rejected(name):
    with pytest.raises(ValueError, match="not valid"):
        ir.check_identifier(name, "argument name")


def test_identifier_must_be_a_string():
    with pytest.raises(TypeError, match="must be a string"):
        ir.check_identifier(3)


def test_split_closures_captures_outer_values():
    x0 = Elem("x", 0)
    closure = Closure(
        (Param("v", (1,)),),
        (Assign(2, Op.MUL, (Var(0), Elem("v", 0))), Assign(3, Op.ADD, (Var(2), x0))),
        Output((1,), (Var(3),)),
    )
    fn = ir.check(
        Function("f", (X,), (Assign(0, Op.EXP, (x0,)),), (Output((), (Var(0),)), closure))
    )
    outer, closures = ir.split_closures(fn)
    assert closures[0] is None
    inner = closures[1]
    ir.check(outer)
    ir.check(inner)
    assert [p.name for p in inner.params] == ["captured", "v"]
    _, captured = interpret.evaluate(outer, [0.5, 1.0])
    direct = interpret.evaluate(fn, [0.5, 1.0])[1]([3.0])
    assert interpret.evaluate(inner, captured, [3.0])[0] == direct[0]
    assert list(ir.iter_outputs(outer.outputs))[1].shape == (2,)
