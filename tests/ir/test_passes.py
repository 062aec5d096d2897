"""IR passes: dtypes of variables, complex detection, dead-code removal, shared factor
pairs of products and repeated statements."""

from __future__ import annotations

import numpy as np

from symnum.ir import (
    Assign,
    Closure,
    Const,
    Elem,
    Function,
    Loop,
    Op,
    Output,
    Param,
    Reduce,
    Var,
    check,
    complex_vars,
    interpret,
    passes,
    split_closures,
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


def test_complex_vars_is_a_view_of_dtypes():
    fn = mixed()
    complex_ids = {k for k, d in passes.dtypes(fn).items() if d == "complex128"}
    assert complex_vars(fn) == complex_ids == {0, 3, 5}


def test_atom_and_param_dtypes():
    fn = mixed()
    types, params = passes.dtypes(fn), passes.param_dtypes(fn)
    assert params == {"z": "complex128", "x": "float64"}
    assert passes.atom_dtype(Var(0), types, params) == "complex128"
    assert passes.atom_dtype(Var(1), types, params) == "float64"
    assert passes.atom_dtype(Elem("z", 0), types, params) == "complex128"
    assert passes.atom_dtype(Elem("x", 0), types, params) == "float64"
    assert passes.atom_dtype(Const(1j), types, params) == "complex128"
    assert passes.atom_dtype(Const(1.0), types, params) == "float64"


def loops(reduced=None) -> Function:
    """A loop over the rows of X reading the complex z: complex rows and reduction."""
    x, z = Elem("X", 0), Elem("z", 0)
    loop = Loop(
        (Assign(1, Op.MUL, (x, z)), Assign(2, Op.ABS, (Var(1),)), Assign(3, Op.MUL, (x, x))),
        (
            Reduce(4, Op.ADD, Var(1)),
            Reduce(5, Op.MAX, Var(2)),
            Reduce(6, Op.ADD, Var(3) if reduced is None else reduced),
        ),
        (1,),
    )
    params = (Param("X", (1,), data=True), Param("z", (), "complex128"))
    outputs = (
        Output((3,), (Var(4), Var(5), Var(6)), "complex128"),
        Output((), (Var(2),), data=True),
    )
    return check(Function("loops", params, (loop,), outputs))


def test_dtypes_in_loops():
    assert passes.dtypes(loops()) == {
        1: "complex128",
        2: "float64",
        3: "float64",
        4: "complex128",
        5: "float64",
        6: "float64",
    }
    assert complex_vars(loops()) == {1, 4}
    assert passes.dtypes(loops(Const(2j)))[6] == "complex128"


def test_dtypes_of_closures_with_the_same_parameter_names():
    def closure(dtype, target):
        return Closure(
            (Param("v", (), dtype),),
            (Assign(target, Op.NEG, (Elem("v", 0),)),),
            Output((), (Var(target),)),
        )

    fn = check(Function("f", (), (), (closure("complex128", 0), closure("float64", 1))))
    assert passes.dtypes(fn) == {0: "complex128", 1: "float64"}


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


def test_complex_causes_in_order():
    assert list(passes.complex_causes(Function("r", (), (), Output((), (Const(1.0),))))) == []
    fn = mixed()
    assert [(kind, getattr(node, "name", None)) for kind, node in passes.complex_causes(fn)] == [
        ("parameter", "z"),
        ("output", None),
        ("constant", None),
    ]
    *_, (_, stmt) = passes.complex_causes(fn)
    assert stmt == fn.body[3]
    fn = loops()
    assert [kind for kind, _ in passes.complex_causes(fn)] == ["parameter", "output"]


def test_a_reduced_complex_constant_makes_a_function_complex():
    x = Elem("X", 0)
    fn = check(
        Function(
            "r",
            (Param("X", (1,), data=True),),
            (Loop((Assign(0, Op.SIN, (x,)),), (Reduce(1, Op.ADD, Const(1j)),)),),
            Output((), (Var(1),)),
        )
    )
    assert passes.is_complex(fn)
    assert list(passes.complex_causes(fn)) == [("constant", fn.body[0].reductions[0])]


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


def test_dtypes_of_an_unchecked_function_do_not_raise():
    # split_closures runs before check: reads of unknown names are real, check refuses them
    fn = Function("f", (), (Assign(0, Op.SIN, (Elem("nope", 0),)),), Output((), (Var(1),)))
    assert passes.dtypes(fn) == {0: "float64"}
    assert split_closures(fn)[0] == fn


# --- shared_products ----------------------------------------------------------------------


def _mul_count(body) -> int:
    """Multiplications a body performs: ``k - 1`` for each product of ``k`` factors."""
    return sum(len(s.args) - 1 for s in body if type(s) is Assign and s.op is Op.MUL)


def _products(body_factors, n_params=4):
    """A function of ``x`` (``n_params`` elements) whose body is one product per entry of
    ``body_factors`` (indices into x), all of them outputs."""
    x = [Elem("x", k) for k in range(n_params)]
    body = tuple(Assign(k, Op.MUL, tuple(x[i] for i in f)) for k, f in enumerate(body_factors))
    outputs = Output((len(body),), tuple(Var(k) for k in range(len(body))))
    return check(Function("f", (Param("x", (n_params,)),), body, outputs))


def test_shared_products_computes_a_shared_pair_once():
    fn = _products([(0, 1, 2), (0, 1, 3), (3, 0, 1, 2)])
    shared = check(passes.shared_products(fn))
    # x0*x1 is new (id 3, above the ids in use), placed before its first user
    assert shared.body[0] == Assign(3, Op.MUL, (Elem("x", 0), Elem("x", 1)))
    # then x2*(x0*x1) is in t0 and t2: t0 computes it, and t2 = x3 * t0
    assert shared.body[1:] == (
        Assign(0, Op.MUL, (Elem("x", 2), Var(3))),
        Assign(1, Op.MUL, (Elem("x", 3), Var(3))),
        Assign(2, Op.MUL, (Elem("x", 3), Var(0))),
    )
    assert (_mul_count(fn.body), _mul_count(shared.body)) == (7, 4)
    assert shared.outputs == fn.outputs
    point = np.array([1.5, -2.0, 0.75, 3.0])
    np.testing.assert_allclose(interpret.evaluate(shared, point), interpret.evaluate(fn, point))


def test_shared_products_moves_an_existing_two_factor_product_up():
    # t2 = x0*x1 comes after the first product that needs it: it moves, keeping its id
    fn = _products([(0, 1, 2), (0, 1, 3), (0, 1)])
    shared = check(passes.shared_products(fn))
    assert shared.body[0] == Assign(2, Op.MUL, (Elem("x", 0), Elem("x", 1)))
    assert shared.body[1] == Assign(0, Op.MUL, (Elem("x", 2), Var(2)))
    assert shared.body[2] == Assign(1, Op.MUL, (Elem("x", 3), Var(2)))
    assert len(shared.body) == 3


def test_shared_products_pairs_a_factor_with_itself():
    fn = _products([(0, 0, 1), (0, 0, 2), (0, 0, 0, 0)])
    shared = check(passes.shared_products(fn))
    square = Assign(3, Op.MUL, (Elem("x", 0), Elem("x", 0)))
    assert shared.body[0] == square
    assert shared.body[-1] == Assign(2, Op.MUL, (Var(3), Var(3)))  # x0**4 = (x0*x0)**2
    point = np.array([1.1, 2.0, -3.0, 0.5])
    np.testing.assert_allclose(interpret.evaluate(shared, point), interpret.evaluate(fn, point))


def test_shared_products_leaves_unshared_and_long_products_alone():
    fn = _products([(0, 1, 2), (0, 3), (1, 3)])  # no pair is in two products
    assert passes.shared_products(fn) == fn
    long = tuple(range(4)) * 5  # 20 factors: more than MAX_PAIRED_FACTORS
    fn = _products([long, long[:3], long[1:4]])
    shared = passes.shared_products(fn)
    assert shared.body[0] == fn.body[0]


def test_shared_products_keeps_pairs_inside_their_loop_and_closure():
    x, z = Elem("X", 0), Elem("X", 1)
    a = Elem("a", 0)
    loop = Loop(
        (Assign(1, Op.MUL, (x, z, a)), Assign(2, Op.MUL, (x, z, Var(0)))),
        (Reduce(3, Op.ADD, Var(1)), Reduce(4, Op.ADD, Var(2))),
    )
    closure = Closure(
        (Param("v", ()),),
        (Assign(5, Op.MUL, (Elem("v", 0), a, Var(3))), Assign(6, Op.MUL, (Elem("v", 0), a))),
        Output((2,), (Var(5), Var(6))),
    )
    body = (Assign(0, Op.EXP, (a,)), loop)
    params = (Param("X", (2,), data=True), Param("a", ()))
    fn = check(Function("f", params, body, (Output((2,), (Var(3), Var(4))), closure)))
    shared = check(passes.shared_products(fn))
    new_loop = shared.body[1]
    assert new_loop.body[0] == Assign(7, Op.MUL, (x, z))  # the row's pair, in the loop
    assert new_loop.reductions == loop.reductions
    assert shared.body[0] == body[0]
    # the closure's own pair v*a is its two-factor product, moved before its first user
    assert shared.outputs[1].body[0] == Assign(6, Op.MUL, (Elem("v", 0), a))
    rows = np.array([[0.5, 2.0], [1.5, -1.0], [3.0, 0.25]])
    got_values, got_apply = interpret.evaluate(shared, rows, 0.7)
    want_values, want_apply = interpret.evaluate(fn, rows, 0.7)
    np.testing.assert_allclose(got_values, want_values)
    np.testing.assert_allclose(got_apply(1.3), want_apply(1.3))


def test_shared_products_of_random_bodies_agree_and_never_cost_more():
    rng = np.random.default_rng(20261202)
    for trial in range(200):
        n_params = int(rng.integers(2, 6))
        x = [Elem("x", k) for k in range(n_params)]
        body = []
        for k in range(int(rng.integers(1, 25))):
            pool = x + [Var(j) for j in range(k)] + [Const(-1.5)]
            picks = rng.integers(0, len(pool), size=int(rng.integers(2, 7)))
            body.append(Assign(k, Op.MUL, tuple(pool[i] for i in picks)))
        outputs = Output((len(body),), tuple(Var(k) for k in range(len(body))))
        fn = check(Function("f", (Param("x", (n_params,)),), tuple(body), outputs))
        shared = check(passes.shared_products(fn))  # every variable defined before read
        assert _mul_count(shared.body) <= _mul_count(fn.body), trial
        assert passes.shared_products(fn) == shared  # deterministic
        point = rng.uniform(0.5, 1.5, n_params) * rng.choice([-1, 1], n_params)
        np.testing.assert_allclose(
            interpret.evaluate(shared, point), interpret.evaluate(fn, point), rtol=1e-12
        )


# --- without_duplicates --------------------------------------------------------------------


def test_without_duplicates_computes_a_repeated_statement_once():
    x, y = Elem("x", 0), Elem("x", 1)
    body = (
        Assign(0, Op.SIN, (x,)),
        Assign(1, Op.MUL, (Var(0), y, Const(2.0))),
        Assign(2, Op.SIN, (x,)),  # = t0
        Assign(3, Op.MUL, (Const(2.0), Var(2), y)),  # = t1 once t2 is t0, in another order
        Assign(4, Op.SUB, (Var(3), Var(2))),
        Assign(5, Op.SUB, (Var(2), Var(3))),  # SUB does not commute: kept
        Assign(6, Op.MUL, (Var(4), Const(0.0))),
        Assign(7, Op.MUL, (Var(4), Const(-0.0))),  # a different constant: kept
    )
    outputs = Output((5,), (Var(2), Var(3), Var(5), Var(6), Var(7)))
    fn = check(Function("f", (Param("x", (2,)),), body, outputs))
    merged = check(passes.without_duplicates(fn))
    assert [s.target for s in merged.body] == [0, 1, 4, 5, 6, 7]
    assert merged.body[2] == Assign(4, Op.SUB, (Var(1), Var(0)))  # reads the first copies
    assert merged.body[3] == Assign(5, Op.SUB, (Var(0), Var(1)))
    assert merged.outputs.atoms == (Var(0), Var(1), Var(5), Var(6), Var(7))
    point = np.array([0.3, -1.7])
    np.testing.assert_array_equal(interpret.evaluate(merged, point), interpret.evaluate(fn, point))
    assert passes.without_duplicates(merged) == merged
    # a function without repeats comes back equal
    assert passes.without_duplicates(mixed()) == mixed()


def test_without_duplicates_keeps_loops_and_closures_to_themselves():
    a, v = Elem("a", 0), Elem("v", 0)
    x = Elem("X", 0)
    loop = Loop(
        (
            Assign(1, Op.EXP, (a,)),  # the same as the outer t0, but local: kept
            Assign(2, Op.MUL, (x, Var(0))),
            Assign(3, Op.MUL, (Var(0), x)),  # = t2
            Assign(4, Op.ADD, (Var(3), Var(1))),
        ),
        (Reduce(5, Op.ADD, Var(3)), Reduce(6, Op.MAX, Var(4))),
        (1,),
    )
    closure = Closure(
        (Param("v", ()),),
        (
            Assign(9, Op.EXP, (a,)),  # the same as the outer t0: kept (captures unchanged)
            Assign(10, Op.MUL, (v, Var(8))),  # reads the outer t8, a copy of t7
            Assign(11, Op.MUL, (Var(8), v)),  # = t10
        ),
        Output((3,), (Var(9), Var(10), Var(11))),
    )
    body = (
        Assign(0, Op.EXP, (a,)),
        loop,
        Assign(7, Op.ADD, (Var(5), Var(6))),
        Assign(8, Op.ADD, (Var(6), Var(5))),  # = t7
    )
    params = (Param("X", (), data=True), Param("a", ()))
    outputs = (Output((2,), (Var(7), Var(8))), Output((), (Var(3),), data=True), closure)
    fn = check(Function("f", params, body, outputs))
    merged = check(passes.without_duplicates(fn))
    new_loop = merged.body[1]
    assert [s.target for s in new_loop.body] == [1, 2, 4]
    assert new_loop.body[2] == Assign(4, Op.ADD, (Var(2), Var(1)))
    assert new_loop.reductions == (Reduce(5, Op.ADD, Var(2)), Reduce(6, Op.MAX, Var(4)))
    assert new_loop.stores == loop.stores
    assert [s.target for s in merged.body if type(s) is Assign] == [0, 7]
    assert merged.outputs[0].atoms == (Var(7), Var(7))
    assert merged.outputs[1].atoms == (Var(2),)  # the data output, stored by the loop
    assert merged.outputs[2].body == (
        Assign(9, Op.EXP, (a,)),
        Assign(10, Op.MUL, (v, Var(7))),
    )
    assert merged.outputs[2].outputs.atoms == (Var(9), Var(10), Var(10))
    rows = np.array([0.5, -2.0, 3.25])
    got_values, got_data, got_apply = interpret.evaluate(merged, rows, 0.7)
    want_values, want_data, want_apply = interpret.evaluate(fn, rows, 0.7)
    np.testing.assert_array_equal(got_values, want_values)
    np.testing.assert_array_equal(got_data, want_data)
    np.testing.assert_array_equal(got_apply(1.3), want_apply(1.3))


def test_without_duplicates_of_random_bodies_agree():
    rng = np.random.default_rng(20261203)
    ops = [Op.ADD, Op.MUL, Op.SUB, Op.MAX]
    for trial in range(200):
        x = [Elem("x", k) for k in range(3)]
        body = []
        for k in range(int(rng.integers(1, 30))):
            pool = x[:2] + [Var(j) for j in range(max(0, k - 4), k)] + [Const(0.5)]
            op = ops[int(rng.integers(len(ops)))]
            arity = int(rng.integers(2, 4)) if op in (Op.ADD, Op.MUL) else 2
            picks = rng.integers(0, len(pool), size=arity)
            body.append(Assign(k, op, tuple(pool[i] for i in picks)))
        outputs = Output((len(body),), tuple(Var(k) for k in range(len(body))))
        fn = check(Function("f", (Param("x", (3,)),), tuple(body), outputs))
        merged = check(passes.without_duplicates(fn))  # every variable defined before read
        assert len(merged.body) <= len(fn.body)
        keys = [
            (s.op, sorted(map(repr, s.args)) if s.op in (Op.ADD, Op.MUL) else s.args)
            for s in merged.body
        ]
        assert len(set(map(repr, keys))) == len(keys), trial  # no statement twice
        point = rng.uniform(0.5, 1.5, 3)
        # sums and products of three or more terms take their first copy's order
        np.testing.assert_allclose(
            interpret.evaluate(merged, point), interpret.evaluate(fn, point), rtol=1e-13
        )
