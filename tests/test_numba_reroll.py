"""Rerolled numba bodies (symnum.backends.numba.reroll): which bodies are rerolled, and
that rerolled kernels compute bit for bit what the straight-line kernels and the IR
interpreter compute, point and batch, with the same shape checks."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

from symnum import ir
from symnum.ir import Assign, Const, Elem, Function, Loop, Op, Output, Param, Reduce, Var
from symnum.ir.interpret import evaluate

reroll = importlib.import_module("symnum.backends.numba.reroll")
nb_emit = importlib.import_module("symnum.backends.numba.emit")
nb_parts = importlib.import_module("symnum.backends.numba.parts")


def _regular(n: int = 300, complex_: bool = False) -> Function:
    """A closure-like body: ``n`` products of elements of ``c`` (n,) and ``m`` (4, 5),
    long sums of them, then a few kinds of statement on the sums. Outputs: the sums
    (8,) beside zeros and an element of ``m`` (a (4, 5) matrix), one of them squared
    (a scalar) and the products themselves."""
    params = (Param("c", (n,), "complex128" if complex_ else "float64"), Param("m", (4, 5)))
    body, products = [], []
    for k in range(n):
        body.append(Assign(k, Op.MUL, (Elem("c", k), Elem("m", k % 20))))
        products.append(Var(k))
    sums = []
    per = n // 8
    for j in range(8):
        target = n + j
        body.append(Assign(target, Op.ADD, tuple(products[j * per : (j + 1) * per])))
        sums.append(Var(target))
    nxt = n + 8
    scaled = []
    for j, s in enumerate(sums):
        body.append(Assign(nxt, Op.DIV, (s, Const(2.0 + j))))  # a constant per statement
        body.append(Assign(nxt + 1, Op.POW, (Var(nxt), Const(2.0))))  # a literal exponent
        body.append(Assign(nxt + 2, Op.SUB, (Var(nxt + 1), Elem("m", 19 - j))))
        scaled.append(Var(nxt + 2))
        nxt += 3
    body.append(Assign(nxt, Op.EXP, (Elem("m", 3),)))  # a group of one
    matrix = [Const(0.0)] * 20
    for j, s in enumerate(scaled):
        matrix[j * 2] = s
    matrix[19] = Elem("m", 7)
    outputs = (
        Output((4, 5), tuple(matrix)),
        Output((), (Var(nxt),)),
        Output((n,), tuple(products)),
    )
    return Function("regular", params, tuple(body), outputs)


def _literal(stmt, atom):
    if stmt.op is Op.POW and isinstance(atom, Const) and float(atom.value).is_integer():
        return str(int(atom.value))
    return None


def test_plan_groups_statements_by_depth_op_and_operand_kinds():
    fn = _regular()
    plan = reroll.plan(fn, _literal)
    assert plan is not None
    sizes = [(g.op, len(g)) for g in plan.groups]
    assert sizes == [
        (Op.MUL, 300),
        (Op.EXP, 1),
        (Op.ADD, 8),
        (Op.DIV, 8),
        (Op.POW, 8),
        (Op.SUB, 8),
    ]
    pow_group = plan.groups[4]
    assert pow_group.kinds == (("var",), ("literal", "2"))
    assert pow_group.tables[1] == ()
    assert plan.groups[3].kinds == (("var",), ("const",))
    assert plan.groups[3].tables[1] == tuple(2.0 + j for j in range(8))
    # every variable operand is computed by an earlier group
    done = set()
    for group in plan.groups:
        for kind, table in zip(group.kinds, group.tables, strict=True):
            if kind == ("var",):
                assert set(table) <= done
        done.update(group.targets)
    assert plan.nslots == len(fn.body) == len(done)


def test_plan_declines(monkeypatch):
    fn = _regular()
    small = Function("small", fn.params, fn.body[:200], (Output((), (Var(0),)),))
    assert reroll.plan(small, _literal) is None  # too few statements
    few_reads = Function(
        "few_reads",
        (Param("c", (300,)),),
        tuple(Assign(k, Op.MUL, (Elem("c", k % 100), Const(2.0))) for k in range(300)),
        (Output((), (Var(0),)),),
    )
    assert reroll.plan(few_reads, _literal) is None  # a fast build: about 1.3 s
    monkeypatch.setattr(reroll, "REROLL_SECONDS", 1.0)
    assert reroll.plan(few_reads, _literal) is not None
    long_sum = Function(
        "long_sum",
        (Param("c", (300,)),),
        (
            *few_reads.body,
            Assign(300, Op.ADD, (*(Var(k) for k in range(100)), Elem("c", 0))),
        ),
        (Output((), (Var(300),)),),
    )
    assert reroll.plan(long_sum, _literal) is None  # 101 operands, not all variables
    irregular = Function(
        "irregular",
        fn.params,
        tuple(
            Assign(k, Op.MUL, (Elem("c", k), Var(k - 1) if k else Elem("m", 0))) for k in range(300)
        ),  # a chain: every statement its own depth
        (Output((), (Var(299),)),),
    )
    assert reroll.plan(irregular, _literal) is None
    assert reroll.plan(_regular(complex_=True), _literal) is None
    scalar_param = Function("scalar_param", (*fn.params, Param("s", ())), fn.body, fn.outputs)
    assert reroll.plan(scalar_param, _literal) is None
    data = Function(
        "data",
        (Param("x", (2,), data=True), *fn.params),
        (
            *fn.body,
            Loop(
                (Assign(10_000, Op.MUL, (Elem("x", 0), Var(0))),),
                (Reduce(10_001, Op.ADD, Var(10_000)),),
            ),
        ),
        fn.outputs,
    )
    assert reroll.plan(data, _literal) is None


nb_backend = pytest.importorskip("symnum.backends.numba")
needs_numba = pytest.mark.skipif(
    not nb_backend.available() and os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS") != "1",
    reason="numba is not installed",
)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """The rerolled kernel of _regular() and its straight-line twin."""
    if not nb_backend.available():
        pytest.skip("numba is not installed")
    fn = _regular()
    rerolled = nb_emit.emit(fn)
    saved = reroll.REROLL_ABOVE
    reroll.REROLL_ABOVE = 10**9
    try:
        straight = nb_emit.emit(fn)
    finally:
        reroll.REROLL_ABOVE = saved
    return fn, rerolled, nb_backend.build(rerolled), straight, nb_backend.build(straight)


@needs_numba
def test_rerolled_kernel_is_exact(kernels):
    fn, rerolled, kernel, straight, straight_kernel = kernels
    assert "for q in range(300):" in rerolled.text
    assert "_rr0_t = np.array((" in rerolled.text
    assert "for q in range" not in straight.text
    rng = np.random.default_rng(3)
    c = rng.normal(size=300) * 10.0 ** rng.integers(-200, 200, size=300)
    m = rng.normal(size=(4, 5))
    c[7], m[1, 2] = np.inf, np.nan  # non-finite values propagate the same way
    got = kernel.point(c, m)
    for a, b, want in zip(got, straight_kernel.point(c, m), evaluate(fn, c, m), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, want)
    assert [np.shape(a) for a in got] == [(4, 5), (), (300,)]
    assert got[0][0, 1] == 0.0  # a constant output entry
    assert np.isnan(got[0][3, 4])  # m[1, 2], an element passed through
    cs = rng.normal(size=(6, 300))
    ms = rng.normal(size=(6, 4, 5))
    batch = kernel.batch(cs, ms)
    for a, b in zip(batch, straight_kernel.batch(cs, ms), strict=True):
        np.testing.assert_array_equal(a, b)
    for i in range(6):  # the batch kernel's exp may differ from libm's in the last bit
        for a, want in zip(batch, evaluate(fn, cs[i], ms[i]), strict=True):
            np.testing.assert_allclose(a[i], want, rtol=1e-15, atol=0)
    empty = kernel.batch(cs[:0], ms[:0])
    assert [a.shape for a in empty] == [(0, 4, 5), (0,), (0, 300)]


@needs_numba
def test_rerolled_kernel_checks_shapes(kernels):
    """Wrong shapes are refused before any table is read through (a table index past a
    short argument would read outside it)."""
    _, _, kernel, _, _ = kernels
    with pytest.raises(nb_backend.ShapeError, match="'m'"):
        kernel.point(np.ones(300), np.ones((5, 4)))
    with pytest.raises(nb_backend.ShapeError, match="'c'"):
        kernel.point(np.ones(299), np.ones((4, 5)))
    with pytest.raises(ValueError, match="in a batch"):
        kernel.batch(np.ones((2, 300)), np.ones((3, 4, 5)))


@needs_numba
def test_operator_closures_reroll_through_the_api(monkeypatch):
    """A matrix-Tressian product on numba whose closure is rerolled (thresholds lowered
    so a small model qualifies) agrees with the numpy backend's, point and batch."""
    import symnum
    import symnum.numpy as snp

    monkeypatch.setattr(reroll, "REROLL_ABOVE", 40)
    monkeypatch.setattr(reroll, "REROLL_SECONDS", 0.1)
    monkeypatch.setattr(reroll, "REROLL_RATIO", 4)

    def f(x):
        return snp.sum(snp.exp(x[:-1] * x[1:])) + snp.sum(snp.sin(x) ** 3)

    op = symnum.matrix_tressian_product(f, (7,), backend="numba")
    ref = symnum.matrix_tressian_product(f, (7,), backend="numpy")
    x = np.linspace(-0.5, 0.7, 7)
    m = np.arange(49.0).reshape(7, 7) / 7
    product = op(x)
    assert "_rr" in product.function.source  # the closure was rerolled
    np.testing.assert_allclose(product(m), ref(x)(m), rtol=1e-13)
    ms = np.stack([m, -m, m.T])
    np.testing.assert_allclose(product(ms), ref(x)(ms), rtol=1e-13)
    with pytest.raises(ValueError, match="'m'"):
        product(np.ones((4, 4)))
    assert isinstance(ir.split_closures(op.ir)[1][0], Function)


def _mostly_zeros() -> Function:
    """A (10, 10) output with 80 zeros, two -0.0 (which np.zeros does not hold) and
    the rest computed, beside a small output without zeros."""
    params = (Param("x", (18,)),)
    body = tuple(Assign(k, Op.SIN, (Elem("x", k),)) for k in range(18))
    matrix: list = [Const(0.0)] * 100
    for k in range(18):
        matrix[k * 5 + 3] = Var(k)
    matrix[1], matrix[98] = Const(-0.0), Const(-0.0)
    outputs = (Output((10, 10), tuple(matrix)), Output((2,), (Var(0), Const(0.0))))
    return Function("zeros", params, body, outputs)


@needs_numba
@pytest.mark.parametrize("parts", [False, True])
def test_zero_filled_outputs(monkeypatch, parts):
    """Outputs with many zeros are allocated zero-filled and their zeros not stored;
    -0.0 is stored; straight-line kernels and kernels cut into parts alike."""
    if parts:
        monkeypatch.setattr(nb_parts, "PART_SIZE", 30)
    fn = _mostly_zeros()
    source = nb_emit.emit(fn)
    zeros = "(100,)" if parts else "(10, 10)"  # parts write into flat outputs
    assert f"= np.zeros({zeros}, np.float64)" in source.text
    assert "= np.empty((2,), np.float64)" in source.text
    assert ("_part0" in source.text) is parts
    kernel = nb_backend.build(source)
    x = np.linspace(-2.0, 2.0, 18)
    want = evaluate(fn, x)
    for got in (kernel.point(x), [a[1] for a in kernel.batch(np.stack([x + 1, x]))]):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(np.signbit(a), np.signbit(b))  # -0.0 kept
    assert np.signbit(kernel.point(x)[0].flat[98])
