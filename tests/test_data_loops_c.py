"""Data loops in the C backend: functions with data parameters compile to real C loops
over the rows (never unrolled), whose kernels take data of any length ``n``.

Every function is IR written by hand and compared with the reference interpreter
(:func:`symnum.ir.interpret.evaluate`). Tolerances: per-row values agree to the last
bit except where C's libm and NumPy's (SIMD) ``exp``/``log``/... differ by an ulp or
so, and a sum over ``n`` rows accumulates those differences (the order of the sums is
the same: the C loop folds rows in order like the interpreter), so results are compared
with ``rtol=1e-10`` and an ``atol`` scaled by the size of the terms summed.
"""

from __future__ import annotations

import itertools
import math
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from symnum import ir
from symnum.backends import UnsupportedOpError
from symnum.ir import Assign, Const, Elem, Function, Loop, Op, Output, Param, Reduce, Var, interpret

c = pytest.importorskip("symnum.backends.c")

if not c.available():
    if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS") == "1":
        raise RuntimeError(str(c.requirement_error()))
    pytest.skip(str(c.requirement_error()), allow_module_level=True)

#: the emit module (``symnum.backends.c.emit`` is also the name of the function)
EMIT = sys.modules["symnum.backends.c.emit"]

RTOL = 1e-10


# -- writing IR by hand -----------------------------------------------------------------


class Body:
    """Collects the Assigns of one body; ids come from a counter shared by the whole
    function, so bodies of loops and the outer body never reuse an id."""

    def __init__(self, ids):
        self.ids = ids
        self.stmts: list[Assign] = []

    def __call__(self, op: Op, *args) -> Var:
        target = next(self.ids)
        atoms = tuple(Const(float(a)) if isinstance(a, (int, float)) else a for a in args)
        self.stmts.append(Assign(target, op, atoms))
        return Var(target)


def reduce(ids, op: Op, value) -> Reduce:
    return Reduce(next(ids), op, value)


def sums_function() -> Function:
    """Row shape (3,) and a scalar parameter: the four reductions of a per-row value."""
    ids = itertools.count()
    row = Body(ids)
    x = [Elem("X", j) for j in range(3)]
    v = row(Op.ADD, row(Op.MUL, x[0], Elem("a", 0)), x[1], row(Op.MUL, 0.5, x[2]))
    factor = row(Op.ADD, 1.0, row(Op.MUL, 0.01, x[0]))
    reductions = (
        reduce(ids, Op.ADD, v),
        reduce(ids, Op.MUL, factor),
        reduce(ids, Op.MAX, v),
        reduce(ids, Op.MIN, v),
        reduce(ids, Op.ADD, x[2]),  # a data element folded directly
    )
    loop = Loop(tuple(row.stmts), reductions)
    outputs = (
        Output((), (Var(reductions[0].target),)),
        Output((), (Var(reductions[1].target),)),
        Output((2,), (Var(reductions[2].target), Var(reductions[3].target))),
        Output((), (Var(reductions[4].target),)),
    )
    params = (Param("X", (3,), data=True), Param("a", ()))
    return ir.check(Function("sums", params, (loop,), outputs))


def scalar_rows_function() -> Function:
    """Row shape (): sum, product, max and min of the rows themselves (NaN rows)."""
    ids = itertools.count()
    y = Elem("y", 0)
    reductions = tuple(reduce(ids, op, y) for op in (Op.ADD, Op.MUL, Op.MAX, Op.MIN))
    atoms = tuple(Var(r.target) for r in reductions)
    loop = Loop((), reductions)
    return ir.check(
        Function("scalar_rows", (Param("y", (), data=True),), (loop,), Output((4,), atoms))
    )


def model_function() -> Function:
    """Two data parameters of row shapes (2, 2) and (2,), a parameter theta (2,) and an
    outer value read in the loop: residual rows r = b - exp(A theta) * scale and
    Jacobian rows dr/dtheta (data outputs), the sum of squares and its gradient."""
    ids = itertools.count()
    outer = Body(ids)
    scale = outer(Op.EXP, outer(Op.MUL, 0.1, Elem("theta", 1)))  # loop-invariant
    row = Body(ids)
    residuals, jacobian = [], []
    for i in range(2):
        lin = row(
            Op.ADD,
            row(Op.MUL, Elem("A", 2 * i), Elem("theta", 0)),
            row(Op.MUL, Elem("A", 2 * i + 1), Elem("theta", 1)),
        )
        pred = row(Op.MUL, row(Op.EXP, lin), scale)
        residuals.append(row(Op.SUB, Elem("b", i), pred))
        d0 = row(Op.NEG, row(Op.MUL, pred, Elem("A", 2 * i)))
        # d scale / d theta1 = 0.1 scale
        d1 = row(Op.NEG, row(Op.MUL, pred, row(Op.ADD, Elem("A", 2 * i + 1), 0.1)))
        jacobian += [d0, d1]
    square = row(Op.ADD, *(row(Op.MUL, r, r) for r in residuals))
    grads = [
        row(Op.MUL, 2.0, row(Op.ADD, *(row(Op.MUL, residuals[i], jacobian[2 * i + j])
                                       for i in range(2))))
        for j in range(2)
    ]  # fmt: skip
    reductions = (reduce(ids, Op.ADD, square), *(reduce(ids, Op.ADD, g) for g in grads))
    loop = Loop(tuple(row.stmts), reductions, stores=(2, 3))
    after = Body(ids)
    half = after(Op.MUL, 0.5, Var(reductions[0].target))
    outputs = (
        Output((), (half,)),
        Output((2,), tuple(Var(r.target) for r in reductions[1:])),
        Output((2,), tuple(residuals), data=True),
        Output((2, 2), tuple(jacobian), data=True),
    )
    params = (Param("A", (2, 2), data=True), Param("b", (2,), data=True), Param("theta", (2,)))
    body = (*outer.stmts, loop, *after.stmts)
    return ir.check(Function("model", params, body, outputs))


def logsumexp_function() -> Function:
    """Two loops, the second reading the first's reduction: log sum exp(w x_r), stable
    (max first). ``w * w`` is an outer value both loops read; outputs also the count."""
    ids = itertools.count()
    outer = Body(ids)
    w2 = outer(Op.MUL, Elem("w", 0), Elem("w", 0))
    first = Body(ids)
    v1 = first(Op.MUL, Elem("x", 0), w2)
    top = reduce(ids, Op.MAX, v1)
    loop1 = Loop(tuple(first.stmts), (top,))
    second = Body(ids)
    v2 = second(Op.MUL, Elem("x", 0), w2)
    e = second(Op.EXP, second(Op.SUB, v2, Var(top.target)))
    total = reduce(ids, Op.ADD, e)
    count = reduce(ids, Op.ADD, Const(1.0))
    loop2 = Loop(tuple(second.stmts), (total, count))
    after = Body(ids)
    lse = after(Op.ADD, Var(top.target), after(Op.LOG, Var(total.target)))
    body = (*outer.stmts, loop1, loop2, *after.stmts)
    outputs = (Output((), (lse,)), Output((), (Var(count.target),)))
    params = (Param("x", (), data=True), Param("w", ()))
    return ir.check(Function("logsumexp", params, body, outputs))


def special_function() -> Function:
    """SELECT, comparisons, LGAMMA, DIGAMMA, ERF and POW per row: a data output of all
    of them (row shape (6,)) and their sums."""
    ids = itertools.count()
    row = Body(ids)
    x = Elem("x", 0)
    p = Elem("p", 0)
    ax = row(Op.ABS, x)
    values = [
        row(Op.LGAMMA, row(Op.ADD, ax, 0.5)),
        row(Op.DIGAMMA, row(Op.ADD, ax, 1.0)),
        row(Op.ERF, x),
        row(Op.POW, ax, p),
        row(Op.SELECT, row(Op.GT, x, 0.0), x, row(Op.MUL, -2.0, x)),
        row(Op.ADD, row(Op.LE, x, p), row(Op.AND, row(Op.NE, x, 0.0), row(Op.LT, x, 1.0))),
    ]
    reductions = tuple(reduce(ids, Op.ADD, v) for v in values)
    loop = Loop(tuple(row.stmts), reductions, stores=(1,))
    outputs = (
        Output((6,), tuple(Var(r.target) for r in reductions)),
        Output((6,), tuple(values), data=True),
    )
    params = (Param("p", ()), Param("x", (), data=True))
    return ir.check(Function("special", params, (loop,), outputs))


def logistic_function(d: int = 10) -> Function:
    """Logistic regression: z = sum_j X_j beta_j; value sum(log1p(exp(z)) - y z) and
    gradient sum((sigmoid(z) - y) X_j) as d more reductions."""
    ids = itertools.count()
    row = Body(ids)
    y = Elem("y", 0)
    z = row(Op.ADD, *(row(Op.MUL, Elem("X", j), Elem("beta", j)) for j in range(d)))
    value = row(Op.SUB, row(Op.LOG1P, row(Op.EXP, z)), row(Op.MUL, y, z))
    sigmoid = row(Op.DIV, 1.0, row(Op.ADD, 1.0, row(Op.EXP, row(Op.NEG, z))))
    residual = row(Op.SUB, sigmoid, y)
    grads = [row(Op.MUL, residual, Elem("X", j)) for j in range(d)]
    reductions = (reduce(ids, Op.ADD, value), *(reduce(ids, Op.ADD, g) for g in grads))
    loop = Loop(tuple(row.stmts), reductions)
    outputs = (
        Output((), (Var(reductions[0].target),)),
        Output((d,), tuple(Var(r.target) for r in reductions[1:])),
    )
    params = (Param("X", (d,), data=True), Param("y", (), data=True), Param("beta", (d,)))
    return ir.check(Function("logistic", params, (loop,), outputs))


def unused_data_function() -> Function:
    """A data parameter nothing reads (no loop is left): the kernel still takes n."""
    ids = itertools.count()
    body = Body(ids)
    out = body(Op.MUL, Elem("a", 0), 2.0)
    params = (Param("X", (2,), data=True), Param("a", ()))
    return ir.check(Function("unused_data", params, tuple(body.stmts), Output((), (out,))))


# -- inputs and comparison --------------------------------------------------------------


def _inputs(fn: Function, n: int, rng, batch: int | None = None) -> list[np.ndarray]:
    """Arguments for ``fn``: data params (n, *shape), others (*[batch], *shape)."""
    args = []
    for p in fn.params:
        if p.data:
            args.append(rng.normal(size=(n, *p.shape)))
        elif batch is None:
            args.append(rng.uniform(0.5, 1.5, size=p.shape))
        else:
            args.append(rng.uniform(0.5, 1.5, size=(batch, *p.shape)))
    return args


def _leaves(tree) -> list:
    if isinstance(tree, tuple):
        return [leaf for sub in tree for leaf in _leaves(sub)]
    return [tree]


def _same(got, expected, scale: float = 1.0) -> None:
    """Output trees agree: same nesting, shapes, dtypes; values to RTOL (NaN with NaN)."""
    assert type(got) is type(expected) or not isinstance(expected, tuple)
    gots, exps = _leaves(got), _leaves(expected)
    assert len(gots) == len(exps)
    for g, e in zip(gots, exps, strict=True):
        assert np.shape(g) == np.shape(e)
        if np.ndim(e) == 0:
            assert type(g) is np.float64
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=1e-13 * scale, equal_nan=True)


FUNCTIONS = {
    "sums": sums_function,
    "scalar_rows": scalar_rows_function,
    "model": model_function,
    "logsumexp": logsumexp_function,
    "special": special_function,
    "logistic": logistic_function,
    "unused_data": unused_data_function,
}


@pytest.fixture(scope="module")
def kernels():
    """name -> (function, kernel), built once for the module."""
    built = {}

    def get(name):
        if name not in built:
            fn = FUNCTIONS[name]()
            built[name] = fn, c.build(c.emit(fn))
        return built[name]

    return get


# -- point and batch against the interpreter --------------------------------------------


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("n", [0, 1, 2, 17])
def test_point_matches_interpreter(kernels, name, n):
    fn, kernel = kernels(name)
    rng = np.random.default_rng(n)
    args = _inputs(fn, n, rng)
    _same(kernel.point(*args), interpret.evaluate(fn, *args), scale=max(n, 1))


@pytest.mark.parametrize("name", ["sums", "model", "logsumexp", "special"])
def test_ten_thousand_rows(kernels, name):
    fn, kernel = kernels(name)
    args = _inputs(fn, 10_000, np.random.default_rng(7))
    _same(kernel.point(*args), interpret.evaluate(fn, *args), scale=10_000)


@pytest.mark.parametrize("name", ["sums", "model", "logsumexp", "special", "unused_data"])
@pytest.mark.parametrize("n", [0, 5])
def test_batch_matches_interpreter_per_point(kernels, name, n):
    fn, kernel = kernels(name)
    rng = np.random.default_rng(100 + n)
    size = 3
    args = _inputs(fn, n, rng, batch=size)
    got = kernel.batch(*args)
    assert all(np.shape(leaf)[0] == size for leaf in _leaves(got))
    for point in range(size):
        one = [a if p.data else a[point] for p, a in zip(fn.params, args, strict=True)]
        expected = interpret.evaluate(fn, *one)
        for g, e in zip(_leaves(got), _leaves(expected), strict=True):
            np.testing.assert_allclose(g[point], e, rtol=RTOL, atol=1e-13 * max(n, 1))
    # data outputs come back as (size, n, *shape)
    if name == "model":
        assert got[2].shape == (size, n, 2)
        assert got[3].shape == (size, n, 2, 2)


def test_batch_of_zero_points(kernels):
    fn, kernel = kernels("model")
    args = _inputs(fn, 4, np.random.default_rng(1), batch=0)
    half, grad, res, jac = kernel.batch(*args)
    assert half.shape == (0,)
    assert grad.shape == (0, 2)
    assert res.shape == (0, 4, 2)
    assert jac.shape == (0, 4, 2, 2)


def test_batch_needs_a_non_data_argument(kernels):
    _, kernel = kernels("scalar_rows")
    with pytest.raises(TypeError, match="non-data"):
        kernel.batch(np.ones(3))


def test_empty_data_gives_the_reductions_initial_values(kernels):
    _, kernel = kernels("scalar_rows")
    out = kernel.point(np.empty(0))
    assert out.tolist() == [0.0, 1.0, -math.inf, math.inf]
    _, sums = kernels("sums")
    total, product, extremes, last = sums.point(np.empty((0, 3)), np.array(2.0))
    assert (total, product, last) == (0.0, 1.0, 0.0)
    assert extremes.tolist() == [-math.inf, math.inf]


def test_max_and_min_propagate_nan_like_numpy(kernels):
    fn, kernel = kernels("scalar_rows")
    for rows in (
        [1.0, np.nan, 3.0],
        [np.nan, 1.0, 2.0],
        [1.0, 2.0, np.nan],
        [np.nan],
        [-np.inf, 5.0, np.inf],
        [0.0, -0.0],
    ):
        y = np.array(rows)
        got = kernel.point(y)
        expected = interpret.evaluate(fn, y)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(got[2:], [np.max(y), np.min(y)])


def test_data_outputs_row_by_row(kernels):
    _, kernel = kernels("model")
    rng = np.random.default_rng(3)
    mats, b, theta = rng.normal(size=(6, 2, 2)), rng.normal(size=(6, 2)), np.array([0.3, -0.2])
    half, grad, res, jac = kernel.point(mats, b, theta)
    scale = np.exp(0.1 * theta[1])
    pred = np.exp(mats @ theta) * scale
    np.testing.assert_allclose(res, b - pred, rtol=1e-14)
    np.testing.assert_allclose(jac[:, :, 0], -pred * mats[:, :, 0], rtol=1e-14)
    np.testing.assert_allclose(jac[:, :, 1], -pred * (mats[:, :, 1] + 0.1), rtol=1e-14)
    np.testing.assert_allclose(half, 0.5 * np.sum((b - pred) ** 2), rtol=1e-12)
    np.testing.assert_allclose(grad, 2 * np.einsum("ri,rij->j", res, jac), rtol=1e-12)


def test_logsumexp_is_stable(kernels):
    _, kernel = kernels("logsumexp")
    x = np.array([1000.0, 999.0, -5.0])
    lse, count = kernel.point(x, np.array(1.0))
    assert count == 3.0
    np.testing.assert_allclose(lse, 1000.0 + np.log1p(np.exp(-1.0) + np.exp(-1005.0)))


def test_any_n_with_one_kernel(kernels):
    """One compiled kernel takes data of every length; two calls do not interfere."""
    fn, kernel = kernels("logistic")
    rng = np.random.default_rng(11)
    for n in (3, 1000, 0, 250):
        args = _inputs(fn, n, rng)
        _same(kernel.point(*args), interpret.evaluate(fn, *args), scale=max(n, 1))


# -- the generated source ---------------------------------------------------------------


def test_source_is_a_loop_independent_of_n():
    fn = logistic_function()
    source = c.emit(fn)
    assert source == c.emit(fn)  # deterministic; emit never sees n
    text = source.code
    assert text.count("for (long long r = 0; r < n; r++) {") == 1
    assert "const double *restrict X_row = X + r * 10;" in text
    assert "const double *restrict y_row = y + r * 1;" in text
    assert "void logistic(long long n, const double *restrict X" in text
    # the body appears once: one exp of -z, one log1p, one multiply per X element
    assert text.count("log1p(") == 1
    assert text.count("X_row[3]") == 2  # in z and in the gradient, not per row
    assert source.looped
    assert source.data == (0, 1)
    assert source.param_shapes == ((-1, 10), (-1,), (10,))
    assert source.output_shapes == ((), (10,))
    assert "= {3, 2, -1, 10, 1, -1, 1, 10, 2, 0, 1, 10};" in text
    # reductions are scalar accumulators starting from their empty values
    sums = c.emit(sums_function()).code
    for init in ("= 0.0;", "= 1.0;", "= (-INFINITY);", "= INFINITY;"):
        assert init in sums
    assert "isnan(" in sums  # NaN-propagating MAX/MIN, not fmax/fmin
    assert "fmax" not in sums
    assert "fmin" not in sums


def test_build_twice_hits_the_cache(monkeypatch):
    fn = logistic_function(4)
    first = c.build(c.emit(fn))
    build_module = sys.modules["symnum.backends.c.build"]

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(build_module, "compile_shared", no_compile)
    assert c.build(c.emit(fn)) is first
    # a fresh load (another process would do this) finds the artefact in the cache
    monkeypatch.setattr(build_module, "_loaded", {})
    again = c.build(c.emit(fn))
    assert again is not first
    rng = np.random.default_rng(0)
    for n in (2, 50):
        args = _inputs(fn, n, rng)
        _same(again.point(*args), interpret.evaluate(fn, *args), scale=n)


def test_pickled_source_and_kernel(kernels):
    fn, kernel = kernels("model")
    source = pickle.loads(pickle.dumps(kernel.source))
    assert source == kernel.source
    assert source.data == (0, 1)
    assert source.data_outputs == (2, 3)
    again = pickle.loads(pickle.dumps(kernel))
    args = _inputs(fn, 12, np.random.default_rng(5))
    for g, e in zip(_leaves(again.point(*args)), _leaves(kernel.point(*args)), strict=True):
        np.testing.assert_array_equal(g, e)


def test_shape_errors_never_reach_the_kernel(kernels):
    _, kernel = kernels("model")
    mats, b, theta = np.ones((4, 2, 2)), np.ones((4, 2)), np.ones(2)
    with pytest.raises(ValueError, match="data argument 'b' has 3 rows"):
        kernel.point(mats, b[:3], theta)
    with pytest.raises(ValueError, match=r"expected \(n, 2\)"):
        kernel.point(mats, np.ones((4, 3)), theta)
    with pytest.raises(ValueError, match=r"expected \(n, 2, 2\)"):
        kernel.point(mats[None], b, theta)  # data arguments are never batched
    with pytest.raises(ValueError, match="argument 'theta' has shape"):
        kernel.point(mats, b, np.ones((2, 2)))
    with pytest.raises(ValueError, match="argument 'theta' has shape"):
        kernel.batch(mats, b, theta)  # batch needs the leading axis on theta
    # conversions: lists and other dtypes become float64 arrays
    got = kernel.point(mats.tolist(), b.astype(np.float32), [0.0, 0.0])
    assert got[2].shape == (4, 2)


def test_entry_runs_exact_arrays_and_falls_back(kernels):
    """NumericFunction never asks a data kernel for entry, but it works: exact arrays
    run in C (with batch axes on the non-data arguments), the rest goes to slow."""
    fn, kernel = kernels("model")

    def slow(*args, **kwargs):
        return "slow"

    call = kernel.entry(slow)
    rng = np.random.default_rng(2)
    args = _inputs(fn, 5, rng, batch=2)
    got = call(args[0], args[1], args[2])
    assert got[0].shape == (2,)
    assert got[2].shape == (2, 5, 2)
    point = call(args[0], args[1], args[2][0])
    _same(point, interpret.evaluate(fn, args[0], args[1], args[2][0]), scale=5)
    assert call(args[0].tolist(), args[1], args[2][0]) == "slow"
    assert call(args[0], args[1][:4], args[2][0]) == "slow"
    assert call(args[0], args[1], theta=args[2][0]) == "slow"


def test_entry_binds_constant_data_after_the_arguments():
    """``entry(slow, data=arrays)``: a function's constant data (its last parameters)
    bound after the user's arguments, as NumericFunction calls functions with data;
    the user's arguments may carry batch axes; the rest goes to ``slow``."""
    ids = itertools.count()
    row = Body(ids)
    total = reduce(ids, Op.ADD, row(Op.MUL, Elem("X", 0), Elem("a", 0)))
    params = (Param("a", ()), Param("X", (1,), data=True))
    loop = Loop(tuple(row.stmts), (total,))
    fn = ir.check(Function("bound", params, (loop,), Output((), (Var(total.target),))))
    kernel = c.build(c.emit(fn))
    assert kernel.data_entries
    data = np.arange(5.0).reshape(5, 1)
    data.setflags(write=False)

    def slow(*args, **kwargs):
        return "slow", args, kwargs

    call = kernel.entry(slow, data=(data,))
    assert call(np.array(2.0)) == 20.0
    assert type(call(np.array(2.0))) is np.float64
    np.testing.assert_array_equal(call(np.array([1.0, 2.0])), [10.0, 20.0])  # a batch
    assert call([2.0]) == ("slow", ([2.0],), {})
    assert call(np.array(2.0), data)[0] == "slow"  # the data are bound, not passed
    assert call(a=np.array(2.0)) == ("slow", (), {"a": np.array(2.0)})
    with pytest.raises(TypeError, match="arrays"):
        kernel.entry(slow, data=("not an array",))
    with pytest.raises(ValueError, match="too many bound"):
        kernel.entry(slow, captured=np.ones(1), data=(data, data))


def test_complex_constant_in_a_loop_is_refused():
    ids = itertools.count()
    row = Body(ids)
    v = row(Op.MUL, Elem("x", 0), Const(1j))
    red = reduce(ids, Op.ADD, v)
    fn = Function(
        "cl", (Param("x", (), data=True),), (Loop(tuple(row.stmts), (red,)),),
        Output((), (Var(red.target),), "complex128"),
    )  # fmt: skip
    with pytest.raises(UnsupportedOpError, match="complex"):
        c.emit(ir.check(fn))


def test_names_that_clash_with_the_loop_are_renamed():
    """Parameters named like the loop's own variables (r, m, x_row, out0_row, n-ish)."""
    ids = itertools.count()
    row = Body(ids)
    names = ("r", "m", "x", "x_row", "out0_row", "i")
    v = row(Op.ADD, *(Elem(name, 0) for name in names))
    red = reduce(ids, Op.ADD, v)
    params = tuple(Param(name, (), data=name in ("r", "x", "x_row")) for name in names)
    loop = Loop(tuple(row.stmts), (red,), stores=(1,))
    fn = ir.check(
        Function("r_part0", params, (loop,), (Output((), (Var(red.target),)),
                                               Output((), (v,), data=True)))
    )  # fmt: skip
    source = c.emit(fn)
    assert len(set(source.locals) | {cn for _, cn, _ in source.params}) == len(source.locals) + len(
        source.params
    )
    kernel = c.build(source)
    rng = np.random.default_rng(4)
    args = [rng.normal(size=(6,)) if p.data else np.array(1.5) for p in params]
    _same(kernel.point(*args), interpret.evaluate(fn, *args), scale=6)
    batch = [a if p.data else np.array([1.0, 2.0]) for p, a in zip(params, args, strict=True)]
    _, rows = kernel.batch(*batch)
    assert rows.shape == (2, 6)


# -- long bodies: split into functions, loops stay loops --------------------------------


@pytest.fixture
def tiny_split(monkeypatch):
    """Split anything longer than 6 statements into chunks of 4; a work array of more
    than 3 doubles on the heap."""
    monkeypatch.setattr(EMIT, "_SPLIT_ABOVE", 6)
    monkeypatch.setattr(EMIT, "_CHUNK", 4)
    monkeypatch.setattr(EMIT, "_STACK_SLOTS", 3)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_split_functions_match(kernels, tiny_split, name):
    fn, whole = kernels(name)
    source = c.emit(fn)
    if name not in ("scalar_rows", "unused_data"):
        assert source.split
    # a loop stays one loop; a long loop body becomes per-row functions
    loops = source.code.count("for (long long r = 0; r < n; r++) {")
    assert loops == sum(type(s) is Loop for s in fn.body)
    kernel = c.build(source)
    for n in (0, 1, 9):
        args = _inputs(fn, n, np.random.default_rng(n))
        # the same operations in the same order: bit for bit what the whole function gives
        got, expected = kernel.point(*args), whole.point(*args)
        for g, e in zip(_leaves(got), _leaves(expected), strict=True):
            np.testing.assert_array_equal(g, e)
    if all(p.data for p in fn.params):
        return  # nothing to batch
    args = _inputs(fn, 4, np.random.default_rng(9), batch=2)
    for g, e in zip(_leaves(kernel.batch(*args)), _leaves(whole.batch(*args)), strict=True):
        np.testing.assert_array_equal(g, e)


def test_split_with_outer_code_around_loops(tiny_split):
    """Outer chunks before, between and after loops; values crossing into loops and
    reductions crossing out of them go through the work array."""
    fn = logsumexp_function()
    ids = itertools.count(1000)
    pre = Body(ids)
    acc = Elem("w", 0)
    for k in range(9):
        acc = pre(Op.ADD, acc, float(k))
    first = Body(ids)
    v = first(Op.MUL, Elem("x", 0), acc)
    for _ in range(8):
        v = first(Op.SIN, first(Op.ADD, v, acc))
    red = reduce(ids, Op.ADD, v)
    post = Body(ids)
    out = post(Op.MUL, Var(red.target), acc)
    for k in range(7):
        out = post(Op.ADD, out, float(k))
    # output positions: fn's two (0, 1), then 2, then the data output 3
    body = (*pre.stmts, Loop(tuple(first.stmts), (red,), stores=(3,)), *fn.body, *post.stmts)
    outputs = (fn.outputs, Output((), (out,)), Output((2,), (v, acc), data=True))
    big = ir.check(Function("around", fn.params, body, outputs))
    source = c.emit(big)
    assert source.split
    assert "malloc" in source.needs
    assert source.code.count("for (long long r = 0; r < n; r++) {") == 3
    kernel = c.build(source)
    for n in (0, 3, 40):
        args = _inputs(big, n, np.random.default_rng(n))
        _same(kernel.point(*args), interpret.evaluate(big, *args), scale=max(n, 1))


@pytest.mark.slow
def test_large_loop_body_without_tuning():
    """A loop body longer than _SPLIT_ABOVE statements, at the real thresholds."""
    ids = itertools.count()
    row = Body(ids)
    terms = []
    for k in range(c._SPLIT_ABOVE // 2 + 100):
        terms.append(row(Op.SIN, row(Op.MUL, Elem("x", k % 3), float(1 + k / 1000))))
    acc = terms[0]
    for term in terms[1:]:
        acc = row(Op.ADD, acc, term)
    red = reduce(ids, Op.ADD, acc)
    big = ir.check(
        Function(
            "long_row", (Param("x", (3,), data=True),), (Loop(tuple(row.stmts), (red,)),),
            Output((), (Var(red.target),)),
        )
    )  # fmt: skip
    source = c.emit(big)
    assert source.split
    assert source.code.count("for (long long r = 0; r < n; r++) {") == 1
    kernel = c.build(source)
    x = np.random.default_rng(0).normal(size=(20, 3))
    np.testing.assert_allclose(kernel.point(x), interpret.evaluate(big, x), rtol=1e-12)


# -- export -----------------------------------------------------------------------------


def _compilers():
    found = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
    if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS") == "1":
        assert set(found) == {"gcc", "clang"}, f"CI needs gcc and clang, found {found}"
    return found


MAIN_C = """\
#include <stdio.h>
#include "{name}.h"
int main(void)
{{
    /* logistic regression, d = 2, n = 3; then a batch of 2 betas; then n = 0 */
    const double X[6] = {{0.5, -1.0, 2.0, 0.25, -0.5, 1.5}};
    const double y[3] = {{1.0, 0.0, 1.0}};
    const double beta[4] = {{0.3, -0.7, 1.1, 0.2}};
    double value[2], grad[4];
    /* model: residual and Jacobian rows */
    const double A[8] = {{0.1, 0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8}};
    const double b[4] = {{1.0, 2.0, 3.0, 4.0}};
    const double theta[2] = {{0.3, -0.2}};
    double half, mgrad[2], res[4], jac[8];
    int k;
    {name}_logistic(3, X, y, beta, value, grad);
    printf("%.17g %.17g %.17g\\n", value[0], grad[0], grad[1]);
    {name}_logistic_batch(2, 3, X, y, beta, value, grad);
    printf("%.17g %.17g %.17g %.17g %.17g %.17g\\n", value[0], grad[0], grad[1], value[1],
           grad[2], grad[3]);
    {name}_logistic(0, X, y, beta, value, grad);
    printf("%.17g %.17g %.17g\\n", value[0], grad[0], grad[1]);
    {name}_model(2, A, b, theta, &half, mgrad, res, jac);
    printf("%.17g %.17g %.17g", half, mgrad[0], mgrad[1]);
    for (k = 0; k < 4; k++) printf(" %.17g", res[k]);
    for (k = 0; k < 8; k++) printf(" %.17g", jac[k]);
    printf("\\n");
    printf("%lld %lld\\n", {name}_logistic_shapes[2], {name}_model_shapes[6]);
    return 0;
}}
"""


def _expected_main_output():
    logistic, model = logistic_function(2), model_function()
    xs = np.array([0.5, -1.0, 2.0, 0.25, -0.5, 1.5]).reshape(3, 2)
    y = np.array([1.0, 0.0, 1.0])
    betas = np.array([[0.3, -0.7], [1.1, 0.2]])
    lines = []
    value, grad = interpret.evaluate(logistic, xs, y, betas[0])
    lines.append([value, *grad])
    second = interpret.evaluate(logistic, xs, y, betas[1])
    lines.append([value, *grad, second[0], *second[1]])
    value, grad = interpret.evaluate(logistic, xs[:0], y[:0], betas[0])
    lines.append([value, *grad])
    mats = np.array([0.1, 0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]).reshape(2, 2, 2)
    b = np.array([1.0, 2.0, 3.0, 4.0]).reshape(2, 2)
    half, mgrad, res, jac = interpret.evaluate(model, mats, b, np.array([0.3, -0.2]))
    lines.append([half, *mgrad, *res.ravel(), *jac.ravel()])
    return lines


def _export_and_run(tmp_path, cc: str, name: str) -> None:
    functions = {"logistic": logistic_function(2), "model": model_function()}
    header, source = c.export_c(functions, tmp_path, name)
    text = header.read_text()
    assert f"void {name}_logistic(long long n, const double *X, const double *y," in text
    assert f"void {name}_logistic_batch(long long m, long long n, const double *X," in text
    # the header says how data are passed
    assert "holds n rows of its shape, row-major" in text
    assert "in  X: [n][2] data (n rows of 2 doubles, row r at r * 2)" in text
    assert "in  n: the number of data rows" in text
    assert "out out3: [n][2][2] data (n rows of 4 doubles, row r at r * 4)" in text
    main = tmp_path / "main.c"
    main.write_text(MAIN_C.format(name=name))
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
    exe = tmp_path / "main"
    subprocess.run(
        [cc, *flags, "-o", str(exe), str(main), str(source), "-lm"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    for line, expected in zip(lines, _expected_main_output(), strict=False):
        np.testing.assert_allclose([float(v) for v in line.split()], expected, rtol=1e-13)
    assert lines[-1] == "-1 -1"  # the shape tables mark the data rows


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_export_c_of_data_functions(tmp_path, cc):
    if cc not in _compilers():
        pytest.skip(f"{cc} is not installed")
    _export_and_run(tmp_path, cc, "datamod")


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_export_c_of_split_data_functions(tmp_path, cc, tiny_split):
    if cc not in _compilers():
        pytest.skip(f"{cc} is not installed")
    _export_and_run(tmp_path, cc, "splitmod")
    assert "splitmod_model_part" in (tmp_path / "splitmod.c").read_text()


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_export_c_of_special_functions_in_loops(tmp_path, cc):
    """LGAMMA, DIGAMMA (without POLYGAMMA: only the helpers it needs), ERF and POW in a
    loop, and a function whose data parameter no loop reads, compile cleanly."""
    if cc not in _compilers():
        pytest.skip(f"{cc} is not installed")
    functions = {"special": special_function(), "unused": unused_data_function()}
    _, source = c.export_c(functions, tmp_path, "specmod")
    assert "symnum_digamma" in source.read_text()
    assert "symnum_polygamma" not in source.read_text()
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c"]
    subprocess.run(
        [cc, *flags, "-o", str(tmp_path / "specmod.o"), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def test_build_extension_of_data_functions(tmp_path):
    functions = {"logistic": logistic_function(3), "model": model_function()}
    path = c.build_extension(functions, tmp_path, "datamodel")
    assert path.parent == tmp_path
    code = f"""
import sys
sys.modules["symnum"] = None  # the module needs only NumPy
sys.modules["cffi"] = None
sys.path.insert(0, {str(tmp_path)!r})
import numpy as np
import datamodel

def reference(X, y, beta):
    z = X @ beta
    return np.sum(np.log1p(np.exp(z)) - y * z), X.T @ (1 / (1 + np.exp(-z)) - y)

rng = np.random.default_rng(0)
beta = np.array([0.2, -0.1, 0.4])
for n in (0, 1, 50, 10_000):
    X, y = rng.normal(size=(n, 3)), (rng.random(n) < 0.5) * 1.0
    value, grad = datamodel.logistic(X, y, beta)
    ref = reference(X, y, beta)
    assert type(value) is np.float64, type(value)
    assert np.allclose(value, ref[0], rtol=1e-12, atol=1e-12), (value, ref[0])
    assert np.allclose(grad, ref[1], rtol=1e-12, atol=1e-12)
# batches of the non-data arguments, any batch shape; the data are shared
betas = rng.normal(size=(2, 4, 3))
values, grads = datamodel.logistic(X, y, betas)
assert values.shape == (2, 4) and grads.shape == (2, 4, 3)
assert np.allclose(values[1, 2], reference(X, y, betas[1, 2])[0], rtol=1e-12)
# lists and float32 are converted
value, grad = datamodel.logistic(X[:5].tolist(), y[:5].astype(np.float32), [0.2, -0.1, 0.4])
assert np.allclose(value, reference(X[:5], y[:5], beta)[0], rtol=1e-6)
# data outputs: (n, *shape), or (*batch, n, *shape)
A, b = rng.normal(size=(7, 2, 2)), rng.normal(size=(7, 2))
half, mgrad, res, jac = datamodel.model(A, b, np.array([0.3, -0.2]))
assert res.shape == (7, 2) and jac.shape == (7, 2, 2)
half, mgrad, res, jac = datamodel.model(A, b, np.zeros((3, 2)))
assert half.shape == (3,) and res.shape == (3, 7, 2) and jac.shape == (3, 7, 2, 2)
# bad data never reach the kernel
for bad in ((X, y[:-1], beta), (X[:, :2], y, beta), (X[None], y, beta)):
    try:
        datamodel.logistic(*bad)
    except ValueError as exc:
        assert "argument" in str(exc), exc
    else:
        raise AssertionError("accepted " + repr([np.shape(a) for a in bad]))
assert "logistic(X: (n, 3), y: (n,), beta: (3,)) -> (), (3,)" in datamodel.logistic.__doc__
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


# -- timing -----------------------------------------------------------------------------


@pytest.mark.fresh_cache
def test_logistic_regression_timing(capsys, monkeypatch):
    """Compile time and per-call time of the logistic regression (d = 10, n = 10,000).

    Bounds are loose (shared CI machines): the point is that the build is one small
    loop whatever n is, and a call costs about n rows of scalar code."""
    # an empty cache (fresh_cache) and no kernel loaded in this process: a real build
    monkeypatch.setattr(sys.modules["symnum.backends.c.build"], "_loaded", {})
    fn = logistic_function(10)
    start = time.perf_counter()
    kernel = c.build(c.emit(fn))
    compile_time = time.perf_counter() - start
    rng = np.random.default_rng(0)
    xs, y, beta = (
        rng.normal(size=(10_000, 10)),
        (rng.random(10_000) < 0.5) * 1.0,
        rng.normal(size=10) / 3,
    )
    kernel.point(xs, y, beta)
    calls = 50
    start = time.perf_counter()
    for _ in range(calls):
        value, grad = kernel.point(xs, y, beta)
    per_call = (time.perf_counter() - start) / calls
    z = xs @ beta
    np.testing.assert_allclose(value, np.sum(np.log1p(np.exp(z)) - y * z), rtol=1e-12)
    np.testing.assert_allclose(grad, xs.T @ (1 / (1 + np.exp(-z)) - y), rtol=1e-10, atol=1e-11)
    with capsys.disabled():
        print(
            f"\nlogistic regression d=10 n=10000: compile {compile_time:.2f} s, "
            f"kernel.point {per_call * 1e3:.3f} ms per call"
        )
    assert compile_time < 60
    assert per_call < 0.05
