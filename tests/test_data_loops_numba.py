"""Data loops in the numba backend: IR functions with data parameters, loops, reductions
and data outputs, built by hand and compared with the reference interpreter.

Tolerances: a loop's reductions run in row order, as in the interpreter, and numba
compiles without fast-math, so sums are formed in the same order; the elementary
functions (``exp``, ``log1p``...) of the compiled code and of NumPy's scalars may differ
in the last bit, and a sum of 10,000 such terms with cancellation can amplify that, so
results are compared with ``rtol=1e-10`` where many rows are summed and ``1e-12``
elsewhere (the special functions run :mod:`symnum.ir.specfun` in both).

numba compiles are slow (a fraction of a second each): kernels are shared through
module-scoped fixtures.
"""

# data matrices are called X and A, as in the formulas
# ruff: noqa: N803, N806

from __future__ import annotations

import importlib
import math
import os
import pickle
import time

import numpy as np
import pytest

from symnum import ir
from symnum.ir import Assign, Const, Elem, Function, Loop, Op, Output, Param, Reduce, Var
from symnum.ir.interpret import evaluate

nb_backend = pytest.importorskip("symnum.backends.numba")
if not nb_backend.available():
    if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS", "") == "1":
        pytest.fail("numba is required here (SYMNUM_REQUIRE_ALL_BACKENDS=1)")
    pytest.skip("numba is not installed", allow_module_level=True)

import numba  # noqa: E402

import symnum  # noqa: E402
import symnum.numpy as snp  # noqa: E402

nb_emit = importlib.import_module("symnum.backends.numba.emit")
nb_parts = importlib.import_module("symnum.backends.numba.parts")


@pytest.fixture(scope="module", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test here builds into a cache of its own."""
    root = tmp_path_factory.mktemp("numba-loops-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMNUM_CACHE_DIR", str(root))
        mp.delenv("SYMNUM_DISABLE_CACHE", raising=False)
        yield root


def build(fn: Function):
    return nb_backend.build(nb_backend.emit(ir.check(fn)))


def assert_tree_close(got, expected, rtol=1e-12, atol=0.0):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple)
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            assert_tree_close(g, e, rtol, atol)
        return
    assert type(got) is type(expected) or isinstance(got, np.ndarray), (type(got), expected)
    assert np.shape(got) == np.shape(expected)
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


def check_point(fn, kernel, *args, rtol=1e-12, atol=0.0):
    got = kernel.point(*(np.array(a, dtype=float, order="C") for a in args))
    assert_tree_close(got, evaluate(fn, *args), rtol, atol)
    return got


def stack_trees(trees):
    """Per-element results (trees) stacked into one tree with a leading axis."""
    first = trees[0]
    if isinstance(first, tuple):
        return tuple(stack_trees([t[k] for t in trees]) for k in range(len(first)))
    return np.array(trees)


def check_batch(fn, kernel, args, rtol=1e-12):
    """``args``: per parameter, the batched array (non-data) or the shared data array."""
    size = next(a.shape[0] for a, p in zip(args, fn.params, strict=True) if not p.data)
    got = kernel.batch(*(np.array(a, dtype=float, order="C") for a in args))
    expected = stack_trees(
        [
            evaluate(fn, *(a if p.data else a[i] for a, p in zip(args, fn.params, strict=True)))
            for i in range(size)
        ]
    )
    assert_tree_close(got, expected, rtol)
    return got


RNG = np.random.default_rng(20261201)


# --------------------------------------------------------------------------------------
# Reductions over a data parameter of row shape ()


def reductions_function():
    """sum, product, max and min of ``a * y`` over rows, with ``a`` a non-data scalar
    and the outer ``a2 = a * a`` read in the loop; also the count of positive rows."""
    return Function(
        "reductions",
        (Param("a", ()), Param("y", (), data=True)),
        (
            Assign(0, Op.MUL, (Elem("a", 0), Elem("a", 0))),
            Loop(
                (
                    Assign(1, Op.MUL, (Elem("a", 0), Elem("y", 0))),
                    Assign(2, Op.ADD, (Var(1), Var(0))),
                    Assign(3, Op.GT, (Elem("y", 0), Const(0.0))),
                ),
                (
                    Reduce(10, Op.ADD, Var(1)),
                    Reduce(11, Op.MUL, Var(2)),
                    Reduce(12, Op.MAX, Var(1)),
                    Reduce(13, Op.MIN, Var(1)),
                    Reduce(14, Op.ADD, Var(3)),
                    Reduce(15, Op.MAX, Elem("y", 0)),
                ),
            ),
            Assign(16, Op.SUB, (Var(12), Var(13))),
        ),
        (
            Output((), (Var(10),)),
            Output((), (Var(11),)),
            Output((4,), (Var(12), Var(13), Var(14), Var(16))),
            Output((), (Var(15),)),
        ),
    )


@pytest.fixture(scope="module")
def reductions():
    fn = reductions_function()
    return fn, build(fn)


@pytest.mark.parametrize("n", [0, 1, 2, 17, 10_000])
def test_reductions_match_interpreter(reductions, n):
    fn, kernel = reductions
    y = RNG.uniform(0.5, 1.5, n) * RNG.choice([-1.0, 1.0], n)
    got = check_point(fn, kernel, np.array(0.75), y, rtol=1e-10)
    assert isinstance(got[0], np.float64)
    if n == 0:
        # the initial values
        assert got[0] == 0.0
        assert got[1] == 1.0
        assert got[2][0] == -math.inf
        assert got[2][1] == math.inf
        assert got[3] == -math.inf


@pytest.mark.parametrize("where", [0, 5, 9])
def test_max_and_min_propagate_nan(reductions, where):
    fn, kernel = reductions
    y = RNG.normal(size=10)
    y[where] = math.nan
    got = check_point(fn, kernel, np.array(1.5), y)
    assert math.isnan(got[0])
    assert math.isnan(got[2][0])
    assert math.isnan(got[2][1])
    assert math.isnan(got[3])
    assert got[2][2] == np.sum(y > 0)  # comparisons with NaN are false


def test_reductions_with_infinities(reductions):
    fn, kernel = reductions
    check_point(fn, kernel, np.array(2.0), np.array([1.0, math.inf, -math.inf, 0.0]))


def test_reductions_batch(reductions):
    fn, kernel = reductions
    a = RNG.normal(size=5)
    y = RNG.normal(size=40)
    check_batch(fn, kernel, [a, y])
    # an empty batch, and empty data
    got = kernel.batch(np.zeros(0), y)
    assert got[2].shape == (0, 4)
    check_batch(fn, kernel, [a, np.zeros(0)])


def test_one_compiled_signature_for_every_n(reductions):
    """numba compiles per type signature: data of any length shares one."""
    _, kernel = reductions
    kernel.point(np.array(0.5), np.ones(2))
    kernel.batch(np.ones(3), np.ones(2))
    # the batch kernel calls the point kernel with a float: a signature of its own
    point_signatures = list(kernel.njit.signatures)
    assert len(point_signatures) <= 2
    assert len(kernel.njit_batch.signatures) == 1
    for n in (0, 1, 3, 1000, 10_000):
        kernel.point(np.array(0.5), np.ones(n))
        kernel.batch(np.ones(3), np.ones(n))
    assert kernel.njit.signatures == point_signatures
    assert len(kernel.njit_batch.signatures) == 1


# --------------------------------------------------------------------------------------
# Rows of shape (3,) and (2, 2), two data parameters, data outputs


def regression_function():
    """A linear model with a residual and a Jacobian row per data row.

    Parameters ``beta`` (3,), ``sigma`` () and the data ``X`` (n, 3), ``y`` (n,).
    Outputs: the sum of squared residuals over ``sigma ** 2``, the gradient of that sum
    in ``beta`` (3 reductions), the residual rows (n,) and the Jacobian rows (n, 3).
    """
    inv = 1  # 1 / sigma**2, outside the loop
    body = [
        Assign(0, Op.POW, (Elem("sigma", 0), Const(2.0))),
        Assign(inv, Op.DIV, (Const(1.0), Var(0))),
    ]
    loop = [
        Assign(2, Op.MUL, (Elem("X", 0), Elem("beta", 0))),
        Assign(3, Op.MUL, (Elem("X", 1), Elem("beta", 1))),
        Assign(4, Op.MUL, (Elem("X", 2), Elem("beta", 2))),
        Assign(5, Op.ADD, (Var(2), Var(3), Var(4))),
        Assign(6, Op.SUB, (Elem("y", 0), Var(5))),  # residual
        Assign(7, Op.POW, (Var(6), Const(2.0))),
        Assign(8, Op.MUL, (Var(7), Var(inv))),
        Assign(9, Op.MUL, (Const(-2.0), Var(6), Var(inv))),
        Assign(10, Op.MUL, (Var(9), Elem("X", 0))),
        Assign(11, Op.MUL, (Var(9), Elem("X", 1))),
        Assign(12, Op.MUL, (Var(9), Elem("X", 2))),
        Assign(13, Op.NEG, (Elem("X", 0),)),
        Assign(14, Op.NEG, (Elem("X", 1),)),
        Assign(15, Op.NEG, (Elem("X", 2),)),
    ]
    reductions = (
        Reduce(20, Op.ADD, Var(8)),
        Reduce(21, Op.ADD, Var(10)),
        Reduce(22, Op.ADD, Var(11)),
        Reduce(23, Op.ADD, Var(12)),
    )
    body.append(Loop(tuple(loop), reductions, (2, 3)))
    outputs = (
        Output((), (Var(20),)),
        Output((3,), (Var(21), Var(22), Var(23))),
        Output((), (Var(6),), data=True),
        Output((3,), (Var(13), Var(14), Var(15)), data=True),
    )
    return Function(
        "regression",
        (
            Param("beta", (3,)),
            Param("X", (3,), data=True),
            Param("sigma", ()),
            Param("y", (), data=True),
        ),
        tuple(body),
        outputs,
    )


@pytest.fixture(scope="module")
def regression():
    fn = regression_function()
    return fn, build(fn)


@pytest.mark.parametrize("n", [0, 1, 5, 10_000])
def test_regression_point(regression, n):
    fn, kernel = regression
    beta, sigma = RNG.normal(size=3), np.array(0.7)
    X = RNG.normal(size=(n, 3))
    y = X @ beta + RNG.normal(size=n)
    got = check_point(fn, kernel, beta, X, sigma, y, rtol=1e-10)
    np.testing.assert_allclose(got[2], y - X @ beta, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(got[3], -X)
    assert got[2].shape == (n,)
    assert got[3].shape == (n, 3)


def test_regression_batch(regression):
    fn, kernel = regression
    X = RNG.normal(size=(30, 3))
    y = RNG.normal(size=30)
    got = check_batch(fn, kernel, [RNG.normal(size=(4, 3)), X, RNG.uniform(1, 2, 4), y])
    assert got[2].shape == (4, 30)
    assert got[3].shape == (4, 30, 3)


def test_regression_checks_data_shapes(regression):
    _, kernel = regression
    beta, sigma = np.zeros(3), np.array(1.0)
    with pytest.raises(ValueError, match=r"'X' of regression\(\) must have shape \(n, 3\)"):
        kernel.point(beta, np.zeros((4, 2)), sigma, np.zeros(4))
    with pytest.raises(ValueError, match="same number of rows"):
        kernel.point(beta, np.zeros((4, 3)), sigma, np.zeros(5))


def matrix_rows_function():
    """Rows of shape (2, 2) and (2,): ``v' A v`` per row, its sum, its maximum, and a
    data output of shape (3, 3) per row."""
    loop = [
        Assign(1, Op.MUL, (Elem("A", 0), Elem("v", 0), Elem("v", 0))),
        Assign(2, Op.ADD, (Elem("A", 1), Elem("A", 2))),
        Assign(3, Op.MUL, (Var(2), Elem("v", 0), Elem("v", 1))),
        Assign(4, Op.MUL, (Elem("A", 3), Elem("v", 1), Elem("v", 1))),
        Assign(5, Op.ADD, (Var(1), Var(3), Var(4))),
        Assign(6, Op.MUL, (Var(5), Elem("scale", 0))),
    ]
    big = Output(
        (3, 3),
        (Var(1), Var(3), Var(4), Var(5), Var(6), Elem("A", 0), Elem("v", 1), Const(2.5),
         Elem("scale", 0)),
        data=True,
    )  # fmt: skip
    return Function(
        "quadratic_forms",
        (Param("scale", ()), Param("A", (2, 2), data=True), Param("v", (2,), data=True)),
        (Loop(tuple(loop), (Reduce(7, Op.ADD, Var(6)), Reduce(8, Op.MAX, Var(5))), (1, 2)),),
        (
            Output((2,), (Var(7), Var(8))),
            Output((2, 2), (Var(1), Var(3), Var(4), Elem("scale", 0)), data=True),
            big,
        ),
    )


@pytest.fixture(scope="module", params=[None, 100, 0])
def matrix_rows(request):
    """The kernel with the rows of its data outputs stored as built (the (2, 2) one
    element by element, the (3, 3) one as a tuple and a loop), all element by element
    (threshold 100) and all, the (2,) output too, as tuples (threshold 0)."""
    fn = matrix_rows_function()
    threshold = request.param
    with pytest.MonkeyPatch.context() as patch:
        if threshold is not None:
            patch.setattr(nb_emit, "TUPLE_STORE_THRESHOLD", threshold)
        kernel = build(fn)
    loops = kernel.source.text.count("for k in range(")
    assert loops == {None: 1, 100: 0, 0: 3}[threshold]  # 0: the (2,) output too
    return fn, kernel


@pytest.mark.parametrize("n", [0, 1, 6])
def test_matrix_rows(matrix_rows, n):
    fn, kernel = matrix_rows
    A, v = RNG.normal(size=(n, 2, 2)), RNG.normal(size=(n, 2))
    got = check_point(fn, kernel, np.array(1.25), A, v)
    assert got[1].shape == (n, 2, 2)
    assert got[2].shape == (n, 3, 3)
    expected = np.einsum("ni,nij,nj->n", v, A, v)
    np.testing.assert_allclose(got[1][:, 1, 1], 1.25)
    np.testing.assert_allclose(got[2][:, 1, 0], expected, rtol=1e-13)


def test_matrix_rows_batch(matrix_rows):
    fn, kernel = matrix_rows
    check_batch(
        fn, kernel, [RNG.normal(size=3), RNG.normal(size=(7, 2, 2)), RNG.normal(size=(7, 2))]
    )


# --------------------------------------------------------------------------------------
# Two loops: the second reads the first's reduction (log-sum-exp)


def logsumexp_function():
    return Function(
        "logsumexp",
        (Param("t", ()), Param("x", (), data=True)),
        (
            Loop(
                (Assign(0, Op.MUL, (Elem("t", 0), Elem("x", 0))),),
                (Reduce(1, Op.MAX, Var(0)),),
            ),
            Loop(
                (
                    Assign(2, Op.MUL, (Elem("t", 0), Elem("x", 0))),
                    Assign(3, Op.SUB, (Var(2), Var(1))),
                    Assign(4, Op.EXP, (Var(3),)),
                ),
                (Reduce(5, Op.ADD, Var(4)),),
                (1,),
            ),
            Assign(6, Op.LOG, (Var(5),)),
            Assign(7, Op.ADD, (Var(6), Var(1))),
        ),
        (Output((), (Var(7),)), Output((), (Var(4),), data=True)),
    )


@pytest.fixture(scope="module")
def logsumexp():
    fn = logsumexp_function()
    return fn, build(fn)


@pytest.mark.parametrize("n", [1, 3, 10_000])
def test_logsumexp(logsumexp, n):
    fn, kernel = logsumexp
    x = RNG.normal(size=n) * 300.0  # exp would overflow without the maximum
    value, weights = check_point(fn, kernel, np.array(2.0), x, rtol=1e-10)
    shift = np.max(2.0 * x)
    expected = shift + np.log(np.sum(np.exp(2.0 * x - shift)))
    assert value == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(value)
    np.testing.assert_allclose(weights, np.exp(2.0 * x - shift), rtol=1e-12)


def test_logsumexp_of_no_rows(logsumexp):
    fn, kernel = logsumexp
    value, weights = check_point(fn, kernel, np.array(1.0), np.zeros(0))
    assert value == -math.inf  # log(0) plus the maximum of no rows, -inf
    assert weights.shape == (0,)


def test_logsumexp_batch(logsumexp):
    fn, kernel = logsumexp
    check_batch(fn, kernel, [np.array([0.5, 1.0, -2.0]), RNG.normal(size=50)])


def test_source_has_loops_and_no_rows():
    fn = logsumexp_function()
    text = nb_backend.emit(fn).text
    assert text.count("for r in range(rows):") == 2
    assert "rows = x.shape[0]" in text
    # the rows are read through the row index only
    assert "x[r]" in text
    assert "x[0]" not in text
    assert "x[1]" not in text


# --------------------------------------------------------------------------------------
# Comparisons, SELECT, special functions and powers in a loop


def special_function():
    loop = [
        Assign(1, Op.GT, (Elem("x", 0), Elem("c", 0))),
        Assign(2, Op.SELECT, (Var(1), Elem("x", 0), Elem("c", 0))),
        Assign(3, Op.ABS, (Elem("x", 0),)),
        Assign(4, Op.ADD, (Var(3), Const(0.5))),
        Assign(5, Op.LGAMMA, (Var(4),)),
        Assign(6, Op.DIGAMMA, (Var(4),)),
        Assign(7, Op.ERF, (Elem("x", 0),)),
        Assign(8, Op.POW, (Var(4), Elem("c", 0))),
        Assign(9, Op.POW, (Elem("x", 0), Const(3.0))),
        Assign(10, Op.POW, (Var(4), Const(-1.5))),
        Assign(11, Op.LE, (Elem("x", 0), Const(0.0))),
        Assign(12, Op.AND, (Var(1), Var(11))),
        Assign(13, Op.ADD, (Var(5), Var(6), Var(7), Var(8), Var(9), Var(10), Var(12))),
    ]
    return Function(
        "specials",
        (Param("c", ()), Param("x", (), data=True)),
        (Loop(tuple(loop), (Reduce(14, Op.ADD, Var(13)), Reduce(15, Op.ADD, Var(2))), (1,)),),
        (
            Output((2,), (Var(14), Var(15))),
            Output((6,), (Var(5), Var(6), Var(7), Var(8), Var(9), Var(1)), data=True),
        ),
    )


@pytest.fixture(scope="module")
def specials():
    fn = special_function()
    return fn, build(fn)


def test_special_functions_in_loop(specials):
    fn, kernel = specials
    x = np.concatenate([RNG.normal(size=40) * 3, [0.0, -0.5, math.nan, math.inf, -math.inf]])
    sums, rows = check_point(fn, kernel, np.array(0.3), x, rtol=1e-12)
    special = pytest.importorskip("scipy.special")
    ok = np.isfinite(x)
    np.testing.assert_allclose(
        rows[ok, 0], special.gammaln(np.abs(x[ok]) + 0.5), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(rows[ok, 2], special.erf(x[ok]), rtol=1e-14)
    np.testing.assert_array_equal(rows[:, 5], (x > 0.3).astype(float))
    assert math.isnan(sums[0])


def test_special_functions_batch(specials):
    fn, kernel = specials
    check_batch(fn, kernel, [np.array([-1.0, 0.0, 0.3, 2.0]), RNG.normal(size=25)])


# --------------------------------------------------------------------------------------
# Complex values in a loop (a complex non-data parameter; data are real)


def test_complex_reduction():
    fn = Function(
        "complex_sum",
        (Param("z", (), "complex128"), Param("x", (2,), data=True)),
        (
            Loop(
                (
                    Assign(0, Op.MUL, (Elem("z", 0), Elem("x", 0))),
                    Assign(1, Op.ADD, (Var(0), Elem("x", 1))),
                    Assign(2, Op.EXP, (Var(1),)),
                ),
                (
                    Reduce(3, Op.ADD, Var(2)),
                    Reduce(4, Op.MUL, Var(1)),
                    Reduce(5, Op.MAX, Elem("x", 0)),
                ),
                (2,),
            ),
        ),
        (
            Output((), (Var(3),), "complex128"),
            Output((2,), (Var(4), Var(5)), "complex128"),
            Output((), (Var(1),), "complex128", data=True),
        ),
    )
    kernel = build(fn)
    z = np.array(0.5 - 1.25j)
    for n in (0, 1, 9):
        x = RNG.normal(size=(n, 2))
        got = kernel.point(z, x)
        assert_tree_close(got, evaluate(fn, z, x), rtol=1e-12)
        assert isinstance(got[0], np.complex128)
    got = kernel.batch(np.array([z, 2 * z]), x)
    assert_tree_close(got, stack_trees([evaluate(fn, z, x), evaluate(fn, 2 * z, x)]))


def many_reductions_function(count: int):
    """A loop with ``count`` reductions of every op (real) and complex sums and
    products: more than ARRAY_REDUCTIONS, so folded in arrays (at a zero cost threshold)."""
    ops = (Op.ADD, Op.MUL, Op.MAX, Op.MIN)
    loop = [
        Assign(0, Op.MUL, (Elem("a", 0), Elem("x", 0))),
        Assign(1, Op.MUL, (Elem("z", 0), Elem("x", 1))),
    ]
    loop += [
        Assign(2 + k, Op.ADD, (Var(0), Const(0.1 * k), Elem("x", k % 2))) for k in range(count)
    ]
    loop.append(Assign(2 + count, Op.ADD, (Var(1), Const(0.05))))
    base = 3 + count
    reductions = [Reduce(base + k, ops[k % 4], Var(2 + k)) for k in range(count)]
    reductions += [
        Reduce(base + count, Op.ADD, Var(1)),
        Reduce(base + count + 1, Op.MUL, Var(2 + count)),
        Reduce(base + count + 2, Op.ADD, Var(2)),  # a real value in a complex output
    ]
    total = base + count + 3
    body = (
        Loop(tuple(loop), tuple(reductions), ()),
        Assign(total, Op.ADD, tuple(Var(base + k) for k in range(count))),
    )
    return Function(
        "many_reductions",
        (Param("a", ()), Param("z", (), "complex128"), Param("x", (2,), data=True)),
        body,
        (
            Output((count,), tuple(Var(base + k) for k in range(count))),
            Output((), (Var(total),)),
            Output((3,), tuple(Var(base + count + k) for k in range(3)), "complex128"),
        ),
    )


def test_many_reductions_fold_in_arrays(monkeypatch):
    monkeypatch.setattr(nb_emit, "ARRAY_REDUCTION_COST", 0)
    count = nb_emit.ARRAY_REDUCTIONS + 24
    fn = many_reductions_function(count)
    source = nb_backend.emit(fn)
    assert "np.full(" in source.text  # the accumulators are arrays
    kernel = build(fn)
    for n in (0, 1, 7):
        x = RNG.uniform(-1.0, 1.0, size=(n, 2))
        args = (np.array(0.7), np.array(0.5 - 0.25j), x)
        expected = evaluate(fn, *args)
        got = kernel.point(*args)
        # the same fold in the same order: equal to the last bit
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    z = np.array([0.5 - 0.25j, 0.1 + 1.0j])
    got = kernel.batch(np.array([0.7, -0.2]), z, x)
    pairs = zip((0.7, -0.2), z, strict=True)
    want = stack_trees([evaluate(fn, np.array(a), zk, x) for a, zk in pairs])
    assert_tree_close(got, want, rtol=0.0)


def test_complex_maximum_is_refused_at_emit_time():
    fn = Function(
        "complex_max",
        (Param("z", (), "complex128"), Param("x", (), data=True)),
        (
            Loop(
                (Assign(0, Op.MUL, (Elem("z", 0), Elem("x", 0))),),
                (Reduce(1, Op.MAX, Var(0)),),
            ),
        ),
        Output((), (Var(1),), "complex128"),
    )
    from symnum.backends import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match="MAX"):
        nb_backend.emit(fn)


# --------------------------------------------------------------------------------------
# Source text, cache, parts


def test_source_is_independent_of_n_and_cached(isolated_cache, reductions):
    fn = reductions_function()
    first, second = nb_backend.emit(fn), nb_backend.emit(reductions_function())
    assert first.text == second.text
    assert first == second
    assert "for r in range(rows):" in first.text
    # one row read per element, however many rows
    assert first.text.count("y[r]") == 1
    # the same source builds into the same kernel (the process' cache) and one entry
    kernel = nb_backend.build(first)
    assert kernel is reductions[1]
    assert nb_backend.build(second) is kernel
    entries = [p for p in isolated_cache.rglob("kernel.py") if p.read_text() == first.text]
    assert len(entries) == 1
    assert kernel.point(np.array(1.0), np.ones(3))[0] == 3.0


def test_functions_without_loops_are_unchanged():
    fn = Function(
        "plain",
        (Param("x", (2,)),),
        (Assign(0, Op.MUL, (Elem("x", 0), Elem("x", 1))),),
        Output((), (Var(0),)),
    )
    source = nb_backend.emit(fn)
    assert source.data == ()
    assert "rows" not in source.text
    assert "for r " not in source.text


def test_data_parameter_without_loop():
    """A data parameter no loop reads: still shared by the batch, rows still checked."""
    fn = Function(
        "unused_data",
        (Param("x", (2,)), Param("d", (3,), data=True), Param("e", (), data=True)),
        (Assign(0, Op.MUL, (Elem("x", 0), Elem("x", 1))),),
        Output((), (Var(0),)),
    )
    kernel = build(fn)
    d, e = np.ones((4, 3)), np.ones(4)
    assert kernel.point(np.array([2.0, 3.0]), d, e) == 6.0
    np.testing.assert_array_equal(kernel.batch(np.array([[2.0, 3.0], [1.0, 5.0]]), d, e), [6, 5])
    with pytest.raises(ValueError, match="same number of rows"):
        kernel.point(np.array([2.0, 3.0]), d, np.ones(5))


def test_only_data_parameters_batch_has_one_element():
    fn = Function(
        "data_only",
        (Param("y", (), data=True),),
        (Loop((), (Reduce(0, Op.ADD, Elem("y", 0)),)),),
        Output((), (Var(0),)),
    )
    kernel = build(fn)
    y = np.arange(5.0)
    assert kernel.point(y) == 10.0
    np.testing.assert_array_equal(kernel.batch(y), [10.0])


def long_loop_function(length: int, outer: int):
    """A loop whose body is a chain of ``length`` statements, then ``outer`` statements
    reading its reductions: more than :data:`PART_SIZE` in all, so cut into parts."""
    loop = [Assign(0, Op.MUL, (Elem("x", 0), Elem("a", 0)))]
    for k in range(1, length):
        op = Op.ADD if k % 2 else Op.MUL
        loop.append(
            Assign(k, op, (Var(k - 1), Const(1.0 + 1.0 / (k + 1)) if k % 2 else Elem("x", 1)))
        )
    loop.append(Assign(length, Op.SIN, (Var(length - 1),)))
    base = length + 1
    body = [
        Assign(base, Op.EXP, (Elem("a", 0),)),
        Loop(
            tuple(loop),
            (Reduce(base + 1, Op.ADD, Var(length)), Reduce(base + 2, Op.MAX, Var(length // 2))),
            (1,),
        ),
    ]
    previous = base + 1
    for k in range(outer):
        target = base + 3 + k
        body.append(Assign(target, Op.ADD, (Var(previous), Var(base + 2), Var(base))))
        previous = target
    return Function(
        "long_loop",
        (Param("a", ()), Param("x", (2,), data=True)),
        tuple(body),
        (Output((), (Var(previous),)), Output((2,), (Var(length), Var(base)), data=True)),
    )


@pytest.mark.slow
def test_long_loop_in_parts():
    fn = long_loop_function(nb_parts.PART_SIZE + 20, 400)
    source = nb_backend.emit(fn)
    names = [part.name for part in source.parts]
    assert "long_loop_part0" in names
    assert "long_loop_part1" in names
    assert source.text.count("for r in range(rows):") == 1
    kernel = nb_backend.build(source)
    x = RNG.uniform(0.1, 0.2, size=(20, 2))
    check_point(fn, kernel, np.array(0.3), x, rtol=1e-11)
    check_point(fn, kernel, np.array(0.3), np.zeros((0, 2)))
    check_batch(fn, kernel, [np.array([0.1, 0.2]), x], rtol=1e-11)


@pytest.mark.slow
def test_a_large_loops_part_stores_the_outputs_it_reduces():
    # the output is the loop's reduction: stored by the loop's own part, not by a third
    # part reading it back from the scratch array
    fn = long_loop_function(nb_parts.PART_SIZE + 20, 0)
    source = nb_backend.emit(fn)
    assert [part.name for part in source.parts if "_part" in part.name] == [
        "long_loop_part0",
        "long_loop_part1",
    ]
    part1 = source.text[source.text.index("def long_loop_part1(") :]
    part1 = part1[: part1.index("\n\n\n")]
    assert "out0[0] = " in part1
    kernel = nb_backend.build(source)
    x = RNG.uniform(0.1, 0.2, size=(20, 2))
    check_point(fn, kernel, np.array(0.3), x, rtol=1e-11)
    check_batch(fn, kernel, [np.array([0.1, 0.2]), x], rtol=1e-11)


# --------------------------------------------------------------------------------------
# Calls from users' njit code and the fast entry


def test_njit_export_takes_data_arrays_in_parameter_order(regression):
    fn, kernel = regression
    point = kernel.exports["njit"]
    batch = kernel.exports["njit_batch"]

    @numba.njit
    def user(beta, X, sigma, y):
        total = 0.0
        for k in range(3):
            value, grad, residuals, jac = point(beta * (k + 1), X, sigma, y)
            total += value + grad[0] + residuals.sum() + jac.sum()
        return total, batch(np.stack((beta, beta)), X, np.array([sigma, sigma]), y)[0]

    beta, X, y = RNG.normal(size=3), RNG.normal(size=(8, 3)), RNG.normal(size=8)
    total, values = user(beta, X, 1.5, y)
    expected = 0.0
    for k in range(3):
        value, grad, residuals, jac = evaluate(fn, beta * (k + 1), X, np.array(1.5), y)
        expected += value + grad[0] + residuals.sum() + jac.sum()
    assert total == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(values, evaluate(fn, beta, X, np.array(1.5), y)[0], rtol=1e-12)
    assert kernel.exports["_numba_type_"] == numba.types.Dispatcher(kernel.njit)


def _logistic_model(X, y):
    def nll(beta):  # the data are constants of the model, as users write it
        z = X @ beta
        return snp.sum(snp.log1p(snp.exp(z)) - y * z) + snp.sum(beta**2) / 2

    return nll


def test_functions_with_constant_data_run_in_users_njit_code():
    """A model with constant data (bound to the function) is callable from njit code as
    an argument and as a global, its ``njit``/``njit_batch`` take the parameters only,
    and the results equal the Python call's; pickling keeps that."""
    X, y = RNG.normal(size=(300, 4)), (RNG.random(300) < 0.5).astype(float)
    grad = symnum.gradient(_logistic_model(X, y), (4,), backend="numba")
    hess = symnum.hessian(_logistic_model(X, y), (4,), backend="numba")
    x = RNG.normal(size=4) * 0.1

    @numba.njit
    def accumulate(f, x, steps):
        total = np.zeros_like(x)
        for k in range(steps):
            total += f(x * (k + 1))
        return total

    expected = sum(grad(x * (k + 1)) for k in range(3))
    np.testing.assert_allclose(accumulate(grad, x, 3), expected, rtol=1e-12)
    np.testing.assert_allclose(grad.njit(x), grad(x), rtol=1e-12)
    np.testing.assert_allclose(hess.njit(x), hess(x), rtol=1e-12)
    points = np.stack((x, 2 * x))
    np.testing.assert_allclose(grad.njit_batch(points), grad(points), rtol=1e-12)

    @numba.njit
    def as_global(x):
        return hess(x)

    np.testing.assert_allclose(as_global(x), hess(x), rtol=1e-12)
    again = pickle.loads(pickle.dumps(grad))
    np.testing.assert_allclose(accumulate(again, x, 2), grad(x) + grad(2 * x), rtol=1e-12)
    # the data are copies bound at trace time: changing X afterwards changes nothing
    X[:] = 0.0
    np.testing.assert_allclose(grad.njit(x), again(x), rtol=1e-12)


def test_functions_with_data_arguments_run_in_users_njit_code():
    def nll(beta, X, y):
        z = X @ beta
        return snp.sum(snp.log1p(snp.exp(z)) - y * z)

    grad = symnum.gradient(nll, (3,), (None, 3), (None,), backend="numba")

    @numba.njit
    def user(f, beta, X, y):
        return f(beta, X, y) + f(beta, X[:5].copy(), y[:5].copy())

    beta, X, y = RNG.normal(size=3), RNG.normal(size=(40, 3)), RNG.random(40)
    expected = grad(beta, X, y) + grad(beta, X[:5], y[:5])
    np.testing.assert_allclose(user(grad, beta, X, y), expected, rtol=1e-12)
    assert grad.njit is not None


def test_operators_over_data_have_no_njit_export():
    X, y = RNG.normal(size=(64, 2)), (RNG.random(64) < 0.5).astype(float)
    hvp = symnum.hessian_vector_product(_logistic_model(X, y), (2,), backend="numba")
    assert hvp.njit is None
    with pytest.raises(AttributeError):
        hvp._numba_type_  # noqa: B018 - the attribute access is the test


def test_entry_accepts_data_arrays(reductions):
    fn, kernel = reductions
    entry = kernel.entry(lambda *args: "slow")
    y = RNG.normal(size=12)
    assert_tree_close(entry(np.array(0.5), y), evaluate(fn, np.array(0.5), y))
    assert entry([0.5], y) == "slow"


@pytest.mark.parametrize("kind", ["c", "python"])
def test_entry_binds_constant_data(reductions, kind, monkeypatch):
    """``entry(slow, data=arrays)`` binds a function's constant data after the user's
    arguments, with the C runtime's guard or the generated Python entry; ``slow`` gets
    the user's arguments only."""
    nb_build = importlib.import_module("symnum.backends.numba.build")
    if kind == "python":
        monkeypatch.setattr(nb_build, "_guard_state", [None])
    elif nb_build.guard_runtime() is None:
        pytest.skip("no C toolchain: numba's entries are Python functions")
    fn, kernel = reductions
    y = RNG.normal(size=12)
    y.setflags(write=False)  # constant data are read-only
    entry = kernel.entry(lambda *args: ("slow", args), data=(y,))
    assert (type(entry).__name__ == "Guard") == (kind == "c")
    a = np.array(0.5)
    assert_tree_close(entry(a), evaluate(fn, a, y))
    assert entry([0.5]) == ("slow", ([0.5],))
    assert entry(np.ones(2))[0] == "slow"  # a batch
    assert entry(a, y)[0] == "slow"  # the data are bound, not passed


# --------------------------------------------------------------------------------------
# A logistic regression and a hand-written njit loop computing the same


D = 10


def logistic_function(d: int = D):
    """Value and gradient of the logistic regression negative log-likelihood:
    ``z = sum_j X[j] beta[j]``; value ``sum(log1p(exp(z)) - y z)``; gradient
    ``sum((sigmoid(z) - y) X[j])``."""
    loop = [Assign(k, Op.MUL, (Elem("X", k), Elem("beta", k))) for k in range(d)]
    z = d
    loop.append(Assign(z, Op.ADD, tuple(Var(k) for k in range(d))))
    loop += [
        Assign(z + 1, Op.EXP, (Var(z),)),
        Assign(z + 2, Op.LOG1P, (Var(z + 1),)),
        Assign(z + 3, Op.MUL, (Elem("y", 0), Var(z))),
        Assign(z + 4, Op.SUB, (Var(z + 2), Var(z + 3))),  # value term
        Assign(z + 5, Op.ADD, (Const(1.0), Var(z + 1))),
        Assign(z + 6, Op.DIV, (Var(z + 1), Var(z + 5))),  # sigmoid
        Assign(z + 7, Op.SUB, (Var(z + 6), Elem("y", 0))),
    ]
    grad = z + 8
    loop += [Assign(grad + k, Op.MUL, (Var(z + 7), Elem("X", k))) for k in range(d)]
    red = grad + d
    reductions = (
        Reduce(red, Op.ADD, Var(z + 4)),
        *(Reduce(red + 1 + k, Op.ADD, Var(grad + k)) for k in range(d)),
    )
    return Function(
        "logistic",
        (Param("beta", (d,)), Param("X", (d,), data=True), Param("y", (), data=True)),
        (Loop(tuple(loop), reductions),),
        (Output((), (Var(red),)), Output((d,), tuple(Var(red + 1 + k) for k in range(d)))),
    )


@numba.njit(error_model="numpy")
def logistic_by_hand(beta, X, y):
    value = 0.0
    grad = np.zeros(beta.shape[0])
    for r in range(X.shape[0]):
        z = 0.0
        for j in range(beta.shape[0]):
            z += X[r, j] * beta[j]
        e = math.exp(z)
        value += math.log1p(e) - y[r] * z
        s = e / (1.0 + e) - y[r]
        for j in range(beta.shape[0]):
            grad[j] += s * X[r, j]
    return value, grad


def logistic_data(n: int):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, D))
    beta = rng.normal(size=D) * 0.3
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ beta))).astype(float)
    return beta, X, y


@pytest.fixture(scope="module")
def logistic():
    fn = logistic_function()
    return fn, build(fn)


def test_logistic_matches_interpreter_and_hand_written_loop(logistic):
    fn, kernel = logistic
    beta, X, y = logistic_data(10_000)
    value, grad = check_point(fn, kernel, beta, X, y, rtol=1e-10)
    ref_value, ref_grad = logistic_by_hand(beta, X, y)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-10)


def test_logistic_speed_close_to_hand_written_loop(logistic):
    """Not a benchmark (see the report for numbers): the generated loop must not be
    grossly slower than the hand-written one, e.g. by unrolling or allocating per row."""
    _, kernel = logistic
    beta, X, y = logistic_data(10_000)
    point = kernel.njit
    point(beta, X, y)
    logistic_by_hand(beta, X, y)

    def best(f):
        times = []
        for _ in range(20):
            start = time.perf_counter()
            f(beta, X, y)
            times.append(time.perf_counter() - start)
        return min(times)

    assert best(point) < 10 * best(logistic_by_hand)
