"""Data loops on the numpy backend: each Loop vectorised over the rows.

Every kernel is compared with the reference interpreter (:func:`symnum.ir.interpret.
evaluate`; for batches, evaluated once per batch element). Sums use ``rtol=1e-10``: the
kernel reduces with ``numpy.add.reduce`` (pairwise summation) where the interpreter adds
row after row, so the two round differently (by about ``log2(n)`` against ``n`` ulps of
the largest partial sum); every other value (maxima, minima, per-row outputs, products
of a few rows) agrees to ``rtol=1e-13`` or exactly.
"""

from __future__ import annotations

import importlib
import itertools
import math
import tracemalloc
from contextlib import contextmanager

import numpy as np
import pytest

from symnum import cache
from symnum.backends import numpy as nb
from symnum.ir import (
    Assign,
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
    interpret,
)

# the modules (the package's attribute ``build`` is the function)
nb_build = importlib.import_module("symnum.backends.numpy.build")
nb_runtime = importlib.import_module("symnum.backends.numpy.runtime")

SUM_RTOL = 1e-10
ROWS = (0, 1, 2, 17, 10_000)


# -- building IR by hand ----------------------------------------------------------------


def _atom(value):
    if isinstance(value, (Var, Elem, Const)):
        return value
    return Const(value if isinstance(value, complex) else float(value))


class Builder:
    """Statements of a function: ``b(op, *args)`` appends one to the current body (the
    loop's inside ``with b.loop() as loop``) and returns its Var."""

    def __init__(self):
        self.ids = itertools.count()
        self.body: list = []
        self.current = self.body

    def __call__(self, op: Op, *args) -> Var:
        target = next(self.ids)
        self.current.append(Assign(target, op, tuple(_atom(a) for a in args)))
        return Var(target)

    @contextmanager
    def loop(self, stores=()):
        body: list = []
        state = {"reductions": [], "stores": tuple(stores)}
        outer, self.current = self.current, body

        class _Loop:
            @staticmethod
            def reduce(op: Op, value) -> Var:
                target = next(self.ids)
                state["reductions"].append(Reduce(target, op, _atom(value)))
                return Var(target)

        try:
            yield _Loop
        finally:
            self.current = outer
        self.body.append(Loop(tuple(body), tuple(state["reductions"]), state["stores"]))

    def function(self, name, params, outputs) -> Function:
        return check(Function(name, tuple(params), tuple(self.body), outputs))


def X(j: int = 0) -> Elem:  # noqa: N802 - reads like the data matrix
    return Elem("X", j)


# -- comparing with the interpreter -----------------------------------------------------


def _leaves(tree):
    if isinstance(tree, tuple):
        for sub in tree:
            yield from _leaves(sub)
    else:
        yield tree


def assert_tree_close(actual, expected, rtol=SUM_RTOL, atol=0.0):
    assert type(actual) is type(expected) or not isinstance(expected, tuple)
    got, want = list(_leaves(actual)), list(_leaves(expected))
    assert len(got) == len(want)
    for g, leaf in zip(got, want, strict=True):
        w = np.asarray(leaf)
        if w.shape == ():
            assert isinstance(g, (np.float64, np.complex128)), type(g)
        else:
            assert isinstance(g, np.ndarray)
        assert np.shape(g) == w.shape
        assert np.asarray(g).dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)


def _kernel(fn):
    return nb.build(nb.emit(fn))


def check_point(fn, *args, rtol=SUM_RTOL, atol=0.0, kernel=None):
    kernel = kernel or _kernel(fn)
    expected = interpret.evaluate(fn, *args)
    actual = kernel.point(*args)
    assert_tree_close(actual, expected, rtol, atol)
    return actual


def check_batch(fn, *args, size: int, rtol=SUM_RTOL, atol=0.0, kernel=None, seed=0):
    """``kernel.batch`` with the non-data arguments stacked over ``size`` elements
    (the first one being ``args``' own, the others perturbed) against the interpreter
    per element."""
    kernel = kernel or _kernel(fn)
    rng = np.random.default_rng(seed)
    batched = []
    for p, arg in zip(fn.params, args, strict=True):
        if p.data:
            batched.append(arg)
            continue
        a = np.asarray(arg, dtype=p.dtype)
        noise = rng.uniform(0.5, 1.5, (size, *p.shape))
        noise[:1] = 1.0
        batched.append((a[None] * noise).astype(p.dtype))
    actual = kernel.batch(*batched)
    per_element = [
        interpret.evaluate(
            fn, *(b if p.data else b[i] for p, b in zip(fn.params, batched, strict=True))
        )
        for i in range(size)
    ]
    got = list(_leaves(actual))
    for position, leaf in enumerate(got):
        assert isinstance(leaf, np.ndarray)
        assert leaf.shape[0] == size
        for i in range(size):
            want = np.asarray(list(_leaves(per_element[i]))[position])
            assert leaf[i].shape == want.shape
            np.testing.assert_allclose(leaf[i], want, rtol=rtol, atol=atol, equal_nan=True)
    return actual


# -- the functions ----------------------------------------------------------------------


def reductions_fn(row_shape=(3,)):
    """ADD, MUL, MAX and MIN of per-row values, reading a non-data parameter."""
    b = Builder()
    size = math.prod(row_shape)
    with b.loop() as loop:
        t = b(Op.MUL, X(0), Elem("a", 0))
        u = b(Op.ADD, t, X(size - 1))
        small = b(Op.MUL, X(size // 2), 1e-3)
        factor = b(Op.ADD, small, 1.0)
        total = loop.reduce(Op.ADD, u)
        product = loop.reduce(Op.MUL, factor)
        high = loop.reduce(Op.MAX, u)
        low = loop.reduce(Op.MIN, X(0))
    params = [Param("a", ()), Param("X", row_shape, data=True)]
    outputs = (Output((), (total,)), Output((3,), (product, high, low)))
    return b.function("reductions", params, outputs)


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("row_shape", [(), (3,), (2, 2)])
def test_reductions_against_interpreter(n, row_shape):
    fn = reductions_fn(row_shape)
    data = np.random.default_rng(n).standard_normal((n, *row_shape))
    value, rest = check_point(fn, np.array(0.7), data)
    if n == 0:
        assert value == 0.0
        assert rest.tolist() == [1.0, -math.inf, math.inf]


def test_empty_rows_give_the_reductions_initial_values():
    fn = reductions_fn()
    kernel = _kernel(fn)
    value, rest = kernel.point(np.array(2.0), np.empty((0, 3)))
    assert value == 0.0
    assert type(value) is np.float64
    assert rest.tolist() == [1.0, -math.inf, math.inf]
    values, rests = kernel.batch(np.array([1.0, 2.0]), np.empty((0, 3)))
    assert values.tolist() == [0.0, 0.0]
    assert rests.tolist() == [[1.0, -math.inf, math.inf]] * 2


def test_nan_and_inf_rows_propagate():
    fn = reductions_fn()
    data = np.random.default_rng(1).standard_normal((50, 3))
    data[7, 0] = np.nan  # every reduction sees a NaN through X[0] or u
    value, rest = check_point(fn, np.array(0.5), data)
    assert np.isnan(value)
    assert np.isnan(rest[1])
    assert np.isnan(rest[2])
    data = np.random.default_rng(2).standard_normal((50, 3))
    data[3, 2] = np.inf
    data[9, 2] = -np.inf
    value, rest = check_point(fn, np.array(0.5), data)
    assert np.isnan(value)  # inf + -inf
    assert rest[1] == np.inf


@pytest.mark.parametrize("size", [0, 1, 5])
@pytest.mark.parametrize("n", [0, 1, 300])
def test_reductions_batch(size, n):
    fn = reductions_fn((2, 2))
    data = np.random.default_rng(3).standard_normal((n, 2, 2))
    check_batch(fn, np.array(0.3), data, size=size)


def test_batch_in_blocks_joins_the_outputs(monkeypatch):
    """A batch whose (element, row) pairs exceed the block size runs in blocks."""
    fn = residual_fn()
    kernel = _kernel(fn)
    rng = np.random.default_rng(4)
    data, y = rng.standard_normal((400, 3)), rng.standard_normal(400)
    monkeypatch.setattr(nb_runtime, "_BLOCK_VALUES", 1000)  # 2 elements a block
    calls = []
    real = nb.data_batch

    def counting(block, data_flags, args):
        def counted(*a):
            calls.append(a[0].shape[0])
            return block(*a)

        return real(counted, data_flags, args)

    monkeypatch.setattr(nb, "data_batch", counting)
    kernel = _kernel(fn)  # a new namespace sees the patched helper
    check_batch(fn, np.array([0.5, -1.0, 2.0]), data, y, size=5, kernel=kernel)
    assert calls == [2, 2, 1]


def residual_fn():
    """Two data parameters: r = y - X @ beta (a data output), the sum of r**2, the
    Jacobian row d r / d beta = -X (a data output of shape (3,))."""
    b = Builder()
    with b.loop(stores=(1, 2)) as loop:
        terms = [b(Op.MUL, X(j), Elem("beta", j)) for j in range(3)]
        fit = b(Op.ADD, *terms)
        r = b(Op.SUB, Elem("y", 0), fit)
        r2 = b(Op.POW, r, 2.0)
        negs = [b(Op.NEG, X(j)) for j in range(3)]
        sse = loop.reduce(Op.ADD, r2)
    params = [Param("beta", (3,)), Param("X", (3,), data=True), Param("y", (), data=True)]
    outputs = (
        Output((), (sse,)),
        Output((), (r,), data=True),
        Output((3,), tuple(negs), data=True),
    )
    return b.function("residual", params, outputs)


@pytest.mark.parametrize("n", ROWS)
def test_data_outputs_residual_and_jacobian_rows(n):
    fn = residual_fn()
    rng = np.random.default_rng(5)
    data, y = rng.standard_normal((n, 3)), rng.standard_normal(n)
    beta = np.array([0.5, -1.0, 2.0])
    sse, r, jac = check_point(fn, beta, data, y, rtol=1e-13)  # the sum of squares too
    assert r.shape == (n,)
    assert jac.shape == (n, 3)
    np.testing.assert_allclose(r, y - data @ beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(jac, -data)
    np.testing.assert_allclose(sse, np.sum(r**2), rtol=SUM_RTOL)


@pytest.mark.parametrize("size", [0, 1, 4])
def test_data_outputs_batch(size):
    fn = residual_fn()
    rng = np.random.default_rng(6)
    data, y = rng.standard_normal((30, 3)), rng.standard_normal(30)
    _, r, jac = check_batch(fn, np.array([0.5, -1.0, 2.0]), data, y, size=size)
    assert r.shape == (size, 30)
    assert jac.shape == (size, 30, 3)


def matrix_rows_fn():
    """Row shape (2, 2), a data output of shape (2, 2) per row and outer statements
    before and after the loop."""
    b = Builder()
    scale = b(Op.EXP, Elem("s", 0))
    with b.loop(stores=(1,)) as loop:
        det = b(Op.SUB, b(Op.MUL, X(0), X(3)), b(Op.MUL, X(1), X(2)))
        scaled = b(Op.MUL, det, scale)
        trace = b(Op.ADD, X(0), X(3))
        total = loop.reduce(Op.ADD, scaled)
        biggest = loop.reduce(Op.MAX, trace)
    after = b(Op.DIV, total, biggest)
    params = [Param("s", ()), Param("X", (2, 2), data=True)]
    outputs = (
        Output((2,), (after, total)),
        Output((2, 2), (scaled, trace, X(1), Const(0.0)), data=True),
    )
    return b.function("matrix_rows", params, outputs)


@pytest.mark.parametrize("n", ROWS)
def test_row_shape_2x2(n):
    fn = matrix_rows_fn()
    data = np.random.default_rng(7).standard_normal((n, 2, 2))
    _, rows = check_point(fn, np.array(0.25), data)
    assert rows.shape == (n, 2, 2)
    if n:
        check_batch(fn, np.array(0.25), data, size=3)


def invariant_fn():
    """Reductions of values that do not vary per row: an outer variable, a loop
    statement of outer values only, a constant and a parameter's element."""
    b = Builder()
    s = b(Op.EXP, Elem("a", 0))
    with b.loop() as loop:
        u = b(Op.MUL, s, 2.0)  # the same on every row
        v = b(Op.ADD, X(0), u)
        sums = [loop.reduce(Op.ADD, atom) for atom in (u, s, Const(1.5), Elem("a", 1))]
        prods = [loop.reduce(Op.MUL, atom) for atom in (u, Const(-1.0), Elem("a", 1))]
        maxs = [loop.reduce(Op.MAX, atom) for atom in (u, Const(-2.0), Elem("a", 1))]
        mins = [loop.reduce(Op.MIN, atom) for atom in (s, Const(3.0))]
        per_row = loop.reduce(Op.ADD, v)
    params = [Param("a", (2,)), Param("X", (), data=True)]
    atoms = (*sums, *prods, *maxs, *mins, per_row)
    return b.function("invariant", params, Output((len(atoms),), atoms))


@pytest.mark.parametrize("n", ROWS)
def test_loop_invariant_reductions(n):
    fn = invariant_fn()
    data = np.random.default_rng(8).standard_normal(n)
    a = np.array([0.1, 1.0001])  # 1.0001 ** 10_000 is finite
    out = check_point(fn, a, data)
    u, s = 2 * math.exp(0.1), math.exp(0.1)
    if n == 0:
        assert out[:12].tolist() == [0, 0, 0, 0, 1, 1, 1, -math.inf, -math.inf, -math.inf,
                                     math.inf, math.inf]  # fmt: skip
    else:
        np.testing.assert_allclose(out[:4], [n * u, n * s, 1.5 * n, 1.0001 * n], rtol=1e-13)
        assert out[5] == (-1.0) ** n
        assert out[7:12].tolist() == [u, -2.0, 1.0001, s, 3.0]
    # a[1] ** n in the batch (a[1] perturbed below 1) underflows to subnormals, where a
    # running product and a power round differently by whole subnormal steps
    check_batch(fn, a, data, size=3, atol=1e-300)


def test_loop_invariant_special_values():
    """Closed forms keep IEEE semantics: a sum of zero NaN rows is 0, of inf rows inf,
    a product of overflowing rows inf."""
    fn = invariant_fn()
    for a in ([np.nan, np.nan], [np.inf, np.inf], [800.0, 1e300], [-np.inf, -0.0]):
        for n in (0, 1, 3, 1000):
            data = np.zeros(n)
            check_point(fn, np.array(a), data)
            check_batch(fn, np.array(a), data, size=2)


def logsumexp_fn():
    """Two loops: the second reads the first's reduction (log-sum-exp)."""
    b = Builder()
    with b.loop() as loop:
        scaled = b(Op.MUL, X(0), Elem("w", 0))
        m = loop.reduce(Op.MAX, scaled)
    with b.loop() as loop:
        scaled2 = b(Op.MUL, X(0), Elem("w", 0))
        shifted = b(Op.SUB, scaled2, m)
        e = b(Op.EXP, shifted)
        s = loop.reduce(Op.ADD, e)
    result = b(Op.ADD, m, b(Op.LOG, s))
    params = [Param("w", ()), Param("X", (), data=True)]
    return b.function("logsumexp", params, Output((), (result,)))


@pytest.mark.parametrize("n", ROWS)
def test_two_loops_log_sum_exp(n):
    fn = logsumexp_fn()
    data = np.random.default_rng(9).standard_normal(n) * 300  # exp alone would overflow
    value = check_point(fn, np.array(2.0), data)
    if n == 0:  # -inf + log(0): math.log raises, the batch fallback gives IEEE -inf
        assert value == -np.inf
    else:
        w = 2.0 * data
        np.testing.assert_allclose(value, w.max() + np.log(np.exp(w - w.max()).sum()))
    check_batch(fn, np.array(2.0), data, size=3)


def select_fn():
    """SELECT, comparisons and logic in the loop."""
    b = Builder()
    with b.loop(stores=(1,)) as loop:
        above = b(Op.GT, X(0), Elem("c", 0))
        absx = b(Op.SELECT, b(Op.GE, X(0), 0.0), X(0), b(Op.NEG, X(0)))
        both = b(Op.AND, above, b(Op.LT, X(1), Elem("c", 0)))
        either = b(Op.OR, b(Op.EQ, X(1), 0.0), b(Op.NE, X(0), X(0)))
        flag = b(Op.XOR, both, b(Op.NOT, either))
        picked = b(Op.SELECT, flag, absx, Elem("c", 0))
        count = loop.reduce(Op.ADD, above)
        total = loop.reduce(Op.ADD, picked)
        nans = loop.reduce(Op.ADD, b(Op.ISNAN, X(1)))
    params = [Param("c", ()), Param("X", (2,), data=True)]
    outputs = (Output((3,), (count, total, nans)), Output((2,), (picked, flag), data=True))
    return b.function("select", params, outputs)


@pytest.mark.parametrize("n", ROWS)
def test_select_and_comparisons(n):
    fn = select_fn()
    data = np.random.default_rng(10).standard_normal((n, 2))
    if n > 2:
        data[1, 1] = 0.0
        data[2, 0] = np.nan
        data[0, 1] = np.nan
    check_point(fn, np.array(0.2), data)
    check_batch(fn, np.array(0.2), data, size=2)


def special_fn():
    """LGAMMA, DIGAMMA, ERF, ERFC, POLYGAMMA and POW on per-row values."""
    b = Builder()
    with b.loop(stores=(1,)) as loop:
        x2 = b(Op.MUL, X(0), X(0))
        lg = b(Op.LGAMMA, b(Op.ADD, x2, 0.5))
        dg = b(Op.DIGAMMA, b(Op.ADD, b(Op.ABS, X(0)), 0.1))
        er = b(Op.ERF, X(0))
        ec = b(Op.ERFC, X(0))
        pg = b(Op.POLYGAMMA, 1.0, b(Op.ADD, x2, 1.0))
        pw = b(Op.POW, b(Op.ABS, X(0)), Elem("p", 0))
        total = loop.reduce(Op.ADD, b(Op.ADD, lg, dg, er, ec, pg, pw))
        poles = loop.reduce(Op.ADD, b(Op.LGAMMA, b(Op.FLOOR, X(0))))
    params = [Param("p", ()), Param("X", (), data=True)]
    outputs = (Output((2,), (total, poles)), Output((6,), (lg, dg, er, ec, pg, pw), data=True))
    return b.function("special", params, outputs)


@pytest.mark.parametrize("n", [0, 1, 17, 2000])
def test_special_functions_and_pow(n):
    fn = special_fn()
    data = np.random.default_rng(11).standard_normal(n) * 3
    check_point(fn, np.array(1.7), data, rtol=1e-12)
    check_batch(fn, np.array(1.7), data[:100], size=2, rtol=1e-12)


def test_ieee_where_math_raises_in_outer_and_hoisted_code():
    """Outer statements are ``math`` code and loop statements of outer values only run
    once, outside the rows: where ``math`` raises, the result is still IEEE."""
    b = Builder()
    inv = b(Op.DIV, 1.0, Elem("a", 0))  # 1/0
    with b.loop() as loop:
        hoisted = b(Op.LOG, Elem("a", 0))  # log(0), the same on every row
        row = b(Op.MUL, X(0), hoisted)
        total = loop.reduce(Op.ADD, row)
        big = loop.reduce(Op.MAX, b(Op.EXP, b(Op.MUL, X(0), 1000.0)))
        same = loop.reduce(Op.MIN, hoisted)
    after = b(Op.SQRT, b(Op.SUB, 0.0, total))
    params = [Param("a", ()), Param("X", (), data=True)]
    outputs = Output((5,), (inv, same, total, after, big))
    fn = b.function("ieee", params, outputs)
    for a, n in itertools.product((0.0, 2.0, -1.0), (0, 1, 5)):
        data = np.linspace(-1, 1, n)
        check_point(fn, np.array(a), data)
        check_batch(fn, np.array(a), data, size=2)


def test_data_only_function():
    """No non-data parameter: the batch has one element."""
    b = Builder()
    with b.loop(stores=(1,)) as loop:
        sq = b(Op.MUL, X(0), X(0))
        total = loop.reduce(Op.ADD, sq)
    fn = b.function("data_only", [Param("X", (), data=True)], (Output((), (total,)),
                    Output((), (sq,), data=True)))  # fmt: skip
    data = np.arange(5.0)
    check_point(fn, data)
    total, rows = _kernel(fn).batch(data)
    assert total.tolist() == [30.0]
    assert rows.tolist() == [[0.0, 1.0, 4.0, 9.0, 16.0]]


def test_complex_parameter_with_a_loop():
    b = Builder()
    with b.loop(stores=(1,)) as loop:
        t = b(Op.MUL, X(0), Elem("c", 0))
        e = b(Op.EXP, t)
        total = loop.reduce(Op.ADD, e)
        prod = loop.reduce(Op.MUL, b(Op.ADD, t, 1.0))
    params = [Param("c", (), "complex128"), Param("X", (), data=True)]
    outputs = (Output((2,), (total, prod), "complex128"), Output((), (e,), "complex128", data=True))
    fn = b.function("complex_loop", params, outputs)
    for n in (0, 1, 40):
        data = np.linspace(-1, 1, n)
        check_point(fn, np.array(0.3 + 0.7j), data, rtol=1e-12)
        check_batch(fn, np.array(0.3 + 0.7j), data, size=3, rtol=1e-12)


# -- the source: vectorised, independent of n ---------------------------------------------


def test_source_is_independent_of_n_and_has_no_python_loop():
    fn = residual_fn()
    source = nb.emit(fn)
    assert nb.emit(fn).text == source.text  # emit never sees n: nothing to vary
    text = source.text
    assert "for " not in text  # vectorised, never a loop over rows
    assert "while " not in text
    assert "X[:, 0]" in text  # a column view per data element read
    assert len(text.splitlines()) < 120  # one row template, no unrolling
    kernel = nb.build(source)
    assert nb.build(nb.emit(fn)).filename == kernel.filename  # the same cache key
    rng = np.random.default_rng(12)
    for n in (0, 1, 10, 10_000, 3):
        data, y = rng.standard_normal((n, 3)), rng.standard_normal(n)
        check_point(fn, np.array([1.0, 2.0, 3.0]), data, y, kernel=kernel)
    assert kernel.source.text == text


def test_entry_of_a_data_kernel_is_the_checked_path():
    kernel = _kernel(residual_fn())
    assert not kernel.source.entry

    def slow(*args):
        return ("slow", args)

    assert kernel.entry(slow) is slow


def test_dead_row_temporaries_are_freed():
    """A chain of 60 per-row statements over 100,000 rows keeps a few columns alive, not
    60 (each is 800 kB)."""
    n, length = 100_000, 60
    b = Builder()
    with b.loop() as loop:
        t = X(0)
        for k in range(length):
            t = b(Op.ADD, b(Op.MUL, t, 0.999), float(k))
        total = loop.reduce(Op.ADD, t)
    fn = b.function("chain", [Param("X", (), data=True)], Output((), (total,)))
    kernel = _kernel(fn)
    data = np.random.default_rng(13).standard_normal(n)
    kernel.point(data)  # warm up
    tracemalloc.start()
    try:
        value = kernel.point(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * n * 8, peak
    expected = data.copy()
    for k in range(length):
        expected = expected * 0.999 + k
    np.testing.assert_allclose(value, expected.sum(), rtol=SUM_RTOL)


def test_functions_without_data_are_unchanged():
    """The data path is only taken for functions with data parameters."""
    b = Builder()
    t = b(Op.MUL, Elem("x", 0), Elem("x", 1))
    fn = b.function("plain", [Param("x", (2,))], Output((), (t,)))
    source = nb.emit(fn)
    assert source.entry
    assert "data_batch" not in source.text
    assert _kernel(fn).point(np.array([2.0, 3.0])) == 6.0


def test_parameter_names_never_collide_with_generated_names():
    b = Builder()
    with b.loop(stores=(1,)) as loop:
        t = b(Op.MUL, Elem("n", 0), Elem("size", 0))
        u = b(Op.ADD, t, Elem("out0", 0))
        total = loop.reduce(Op.ADD, u)
    params = [Param("size", ()), Param("n", (), data=True), Param("out0", (), data=True)]
    outputs = (Output((), (total,)), Output((), (u,), data=True))
    fn = b.function("data_batch", params, outputs)
    rng = np.random.default_rng(14)
    data, more = rng.standard_normal(20), rng.standard_normal(20)
    check_point(fn, np.array(1.5), data, more)
    check_batch(fn, np.array(1.5), data, more, size=3)


def accumulate_fn(terms: int = 5):
    """Per-row sums and products of loop values mixed with columns, outer values and
    constants, nested, with a repeated term and more terms than one line holds: they
    are accumulated term by term, in the IR's order."""
    b = Builder()
    outer = b(Op.EXP, Elem("w", 0))
    with b.loop(stores=(1,)) as loop:
        squares = [b(Op.MUL, X(j % 3), X((j + 1) % 3)) for j in range(terms)]
        first = b(Op.ADD, 1.0, X(0), squares[0], outer, squares[1], squares[1], *squares[2:])
        prod = b(Op.MUL, Elem("w", 0), first, X(1), squares[-1], 0.5)
        nested = b(Op.ADD, prod, first, b(Op.MUL, first, 2.0), Elem("w", 1))
        long = b(Op.ADD, *[b(Op.MUL, X(j % 3), float(j)) for j in range(100)], nested)
        total = loop.reduce(Op.ADD, long)
        high = loop.reduce(Op.MAX, first)
    params = [Param("w", (2,)), Param("X", (3,), data=True)]
    outputs = (Output((2,), (total, high)), Output((3,), (first, prod, long), data=True))
    return b.function("accumulate", params, outputs)


@pytest.mark.parametrize("n", [0, 1, 2, 50])
def test_sums_and_products_accumulate_in_order(n):
    fn = accumulate_fn()
    data = np.random.default_rng(15).standard_normal((n, 3))
    w = np.array([0.3, -1.2])
    _, rows = check_point(fn, w, data)
    # the same operations in the same order: per-row values are bitwise the interpreter's
    np.testing.assert_array_equal(rows, interpret.evaluate(fn, w, data)[1])
    _, batch_rows = check_batch(fn, w, data, size=3)
    np.testing.assert_array_equal(batch_rows[0], rows)


def test_linear_predictor_keeps_few_columns_alive():
    """X[0]*b[0] + ... + X[39]*b[39] over 100,000 rows: each product is added as soon as
    it exists, so a few columns are alive at a time, not 40."""
    n, d = 100_000, 40
    b = Builder()
    with b.loop() as loop:
        z = b(Op.ADD, *[b(Op.MUL, X(j), Elem("beta", j)) for j in range(d)])
        total = loop.reduce(Op.ADD, b(Op.MUL, z, z))
    params = [Param("beta", (d,)), Param("X", (d,), data=True)]
    fn = b.function("linear", params, Output((), (total,)))
    kernel = _kernel(fn)
    rng = np.random.default_rng(16)
    data, beta = rng.standard_normal((n, d)), rng.standard_normal(d)
    kernel.point(beta, data)
    tracemalloc.start()
    try:
        value = kernel.point(beta, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * n * 8, peak
    np.testing.assert_allclose(value, np.sum((data @ beta) ** 2), rtol=1e-10)


def all_ops_loop_fn():
    """Every op on per-row values: its arguments from the row, and with one argument an
    outer value instead (broadcast against the rows); each stored per row and summed."""
    from _ops import op_args

    b = Builder()
    values = []
    with b.loop(stores=(1,)) as loop:
        for op in Op:
            args = op_args(op, "X")
            values.append(b(op, *args))
            for k, a in enumerate(args):
                if type(a) is Elem:
                    mixed = list(args)
                    mixed[k] = Elem("p", a.index)
                    if any(type(m) is Elem and m.param == "X" for m in mixed):
                        values.append(b(op, *mixed))
        sums = [loop.reduce(Op.ADD, v) for v in values]
    params = [Param("p", (2,)), Param("X", (2,), data=True)]
    outputs = (Output((len(sums),), tuple(sums)), Output((len(values),), tuple(values), data=True))
    return b.function("all_ops", params, outputs)


def test_every_op_in_a_loop_against_interpreter():
    pytest.importorskip("scipy.special")
    from _ops import PAIRS

    fn = all_ops_loop_fn()
    kernel = _kernel(fn)
    outer = np.array([[0.4, 2.0], [-0.0, np.nan], [np.inf, -2.5], [3.7, -1.0]])
    for p in outer:
        # rows of every pair of special values: the sums are mostly inf or nan; the
        # per-row values are the interpreter's to the last bit but for the specials
        check_point(fn, p, PAIRS, rtol=1e-13, kernel=kernel)
    sums, rows = kernel.batch(outer, PAIRS)
    for i, p in enumerate(outer):
        want_sums, want_rows = interpret.evaluate(fn, p, PAIRS)
        np.testing.assert_allclose(sums[i], want_sums, rtol=1e-13, equal_nan=True)
        np.testing.assert_allclose(rows[i], want_rows, rtol=1e-13, equal_nan=True)


def test_every_op_outside_and_invariant_inside_a_loop():
    """Every op on outer values before a loop, and again inside it on outer values only
    (computed once): ``math`` raises on some, and the point falls back to the batch
    function, which must agree."""
    pytest.importorskip("scipy.special")
    from _ops import PAIRS, op_args

    b = Builder()
    before = [b(op, *op_args(op, "p")) for op in Op]
    with b.loop() as loop:
        inside = [b(op, *op_args(op, "p")) for op in Op]
        scaled = [b(Op.MUL, v, X(0)) for v in before + inside]
        sums = [loop.reduce(Op.ADD, v) for v in scaled]
        maxs = [loop.reduce(Op.MAX, v) for v in inside]
    params = [Param("p", (2,)), Param("X", (), data=True)]
    fn = b.function("outer_ops", params, Output((len(sums) + len(maxs),), (*sums, *maxs)))
    kernel = _kernel(fn)
    for n in (0, 3):
        data = np.linspace(0.5, 1.5, n)
        for p in PAIRS[::7]:
            check_point(fn, p, data, rtol=1e-13, kernel=kernel)
        check_batch(fn, PAIRS[5], data, size=4, rtol=1e-13, kernel=kernel)


@pytest.mark.fresh_cache
def test_second_build_hits_the_code_cache(monkeypatch):
    """Built twice (for any n), a data kernel compiles once: its code comes from the
    on-disk cache the second time (every source goes through it here)."""
    monkeypatch.setattr(nb_build, "_CACHE_TEXT", 0)
    written = []
    real_entry = cache.entry

    def entry(namespace, key, build):
        def recording(directory):
            written.append(key)
            build(directory)

        return real_entry(namespace, key, recording)

    monkeypatch.setattr(cache, "entry", entry)
    fn = residual_fn()
    rng = np.random.default_rng(17)
    for n in (5, 50):
        kernel = nb.build(nb.emit(fn))
        data, y = rng.standard_normal((n, 3)), rng.standard_normal(n)
        check_point(fn, np.array([1.0, 2.0, 3.0]), data, y, kernel=kernel)
        check_batch(fn, np.array([1.0, 2.0, 3.0]), data, y, size=2, kernel=kernel)
    assert len(written) == 2  # the point part and the batch part, on the first build only


def test_data_parameters_a_function_does_not_read():
    """A data parameter no loop reads (and a function with no loop at all) still fixes
    nothing but n; the batch axis is the non-data arguments'."""
    b = Builder()
    t = b(Op.MUL, Elem("a", 0), 2.0)
    with b.loop() as loop:
        total = loop.reduce(Op.ADD, b(Op.MUL, Elem("Y", 1), t))
    params = [Param("X", (2,), data=True), Param("a", ()), Param("Y", (2,), data=True)]
    fn = b.function("unread", params, Output((2,), (t, total)))
    rng = np.random.default_rng(18)
    for n in (0, 4):
        data, more = rng.standard_normal((n, 2)), rng.standard_normal((n, 2))
        check_point(fn, data, np.array(1.5), more)
        check_batch(fn, data, np.array(1.5), more, size=3)
    b = Builder()
    t = b(Op.LOG, Elem("a", 0))
    fn = b.function("no_loop", [Param("X", (2,), data=True), Param("a", ())], Output((), (t,)))
    check_point(fn, np.ones((3, 2)), np.array(0.0))
    check_batch(fn, np.ones((3, 2)), np.array(2.0), size=2)
