"""IR passes: dtypes of variables, complex detection and dead-code removal."""

from __future__ import annotations

import numpy as np

from symnum.ir import (
    Assign,
    Closure,
    Const,
    Elem,
    Function,
    Op,
    Output,
    Param,
    Var,
    check,
    complex_vars,
    interpret,
    passes,
)


def mixed() -> Function:
    """z complex, x real: every rule of `dtypes` once."""
    z, x = Elem("z", 0), Elem("x", 0)
    body = (
        Assign(0, Op.MUL, (z, x)),  # complex
        Assign(1, Op.ABS, (Var(0),)),  # real-valued op of a complex
        Assign(2, Op.ADD, (x, Var(1))),  # real
        Assign(3, Op.MUL, (x, Const(1j))),  # complex constant
        Assign(4, Op.SELECT, (Var(0), x, Var(2))),  # complex condition, real branches
        Assign(5, Op.SELECT, (x, Var(3), x)),  # complex branch
        Assign(6, Op.LT, (Var(2), x)),  # comparison
        Assign(7, Op.REAL, (Var(3),)),
    )
    outputs = (
        Output((3,), (Var(1), Var(4), Var(7))),
        Output((2,), (Var(5), Var(0)), "complex128"),
        Output((), (Var(6),)),
    )
    return check(Function("mixed", (Param("z", (), "complex128"), Param("x", ())), body, outputs))


def test_dtypes_of_every_variable():
    got = passes.dtypes(mixed())
    complex_ids = {0, 3, 5}
    assert got == {k: "complex128" if k in complex_ids else "float64" for k in range(8)}


def test_dtypes_agree_with_complex_vars_where_select_conditions_are_real():
    fn = mixed()
    body = tuple(s for s in fn.body if s.target != 4)
    outputs = (Output((2,), (Var(1), Var(7))), fn.outputs[1], fn.outputs[2])
    fn = check(Function(fn.name, fn.params, body, outputs))
    complex_ids = {k for k, d in passes.dtypes(fn).items() if d == "complex128"}
    assert complex_ids == complex_vars(fn)


def test_dtypes_of_closure_bodies():
    closure = Closure(
        (Param("v", (), "complex128"),),
        (Assign(1, Op.MUL, (Var(0), Elem("v", 0))), Assign(2, Op.IMAG, (Var(1),))),
        Output((), (Var(2),)),
    )
    fn = check(Function("f", (Param("x", ()),), (Assign(0, Op.EXP, (Elem("x", 0),)),), closure))
    assert passes.dtypes(fn) == {0: "float64", 1: "complex128", 2: "float64"}
    assert passes.is_complex(fn)


def test_is_complex():
    real = Function(
        "r", (Param("x", ()),), (Assign(0, Op.SIN, (Elem("x", 0),)),), Output((), (Var(0),))
    )
    assert not passes.is_complex(real)
    assert passes.is_complex(mixed())
    constant = Function("c", (Param("x", ()),), (), Output((), (Const(1j),), "complex128"))
    assert passes.is_complex(constant)
    in_body = Function(
        "b",
        (Param("x", ()),),
        (Assign(0, Op.MUL, (Elem("x", 0), Const(2j))),),
        Output((), (Const(0.0),)),
    )
    assert passes.is_complex(in_body)


def test_live_keeps_exactly_what_outputs_read():
    x = Elem("x", 0)
    body = (
        Assign(0, Op.SIN, (x,)),
        Assign(1, Op.COS, (x,)),  # dead
        Assign(2, Op.MUL, (Var(0), x)),
        Assign(3, Op.EXP, (Var(1),)),  # dead
    )
    kept = passes.live(body, [Output((), (Var(2),))])
    assert [s.target for s in kept] == [0, 2]
    assert [s.target for s in passes.live(body, [Output((), (Var(2),))], keep={3})] == [0, 1, 2, 3]


def test_without_dead_code_keeps_what_closures_read():
    x = Elem("x", 0)
    closure = Closure(
        (Param("v", (2,)),),
        (
            Assign(10, Op.MUL, (Var(1), Elem("v", 0))),
            Assign(11, Op.EXP, (Elem("v", 1),)),  # dead inside the closure
        ),
        Output((), (Var(10),)),
    )
    body = (
        Assign(0, Op.SIN, (x,)),
        Assign(1, Op.COS, (x,)),  # read only by the closure
        Assign(2, Op.TAN, (x,)),  # dead
    )
    fn = check(Function("f", (Param("x", ()),), body, (Output((), (Var(0),)), closure)))
    cleaned = check(passes.without_dead_code(fn))
    assert [s.target for s in cleaned.body] == [0, 1]
    assert [s.target for s in cleaned.outputs[1].body] == [10]
    value, apply_v = interpret.evaluate(cleaned, 0.3)
    expected_value, expected_apply = interpret.evaluate(fn, 0.3)
    assert value == expected_value
    np.testing.assert_array_equal(apply_v([2.0, 5.0]), expected_apply([2.0, 5.0]))
