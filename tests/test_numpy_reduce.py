"""symnum.numpy.reduce against NumPy over shapes (0-d included) and every kind of axis.

Through tests/_like_numpy.py: where NumPy raises, symnum must raise the same exception
type; otherwise the values agree, on numeric and on symbolic input.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from _assert import assert_close
from _like_numpy import check_like_numpy, evaluate
from _like_numpy_calls import check_calls

import symnum
import symnum.numpy as snp
import symnum.scipy.special as sss
from symnum import named_array
from symnum.array import SymbolicArray

REDUCTIONS = ["sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin"]
SHAPES = [(), (1,), (4,), (2, 3), (2, 1, 3), (0, 3)]
AXES = [None, 0, -1, 1, 2, (0,), (0, -1), (), (1, 0)]


def _evaluate(result, x: SymbolicArray, values: np.ndarray):
    return evaluate(
        result, dict(zip(x.flat, map(sympy.Float, values.ravel().tolist()), strict=True))
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's mean of an empty array
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_like_numpy(shape, axis, keepdims):
    for name in REDUCTIONS:
        check_like_numpy(snp, name, [shape], axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("shape", [*SHAPES, (0,), (0, 3)])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, -1)])
def test_sum_prod_max_min_with_initial_like_numpy(shape, axis):
    for name in ("sum", "prod", "max", "min"):
        check_like_numpy(snp, name, [shape], axis=axis, initial=1.25)


def test_unsupported_sum_arguments_are_refused():
    x = named_array("x", (2, 3))
    for name in ("sum", "prod"):
        with pytest.raises(NotImplementedError, match="dtype"):
            getattr(snp, name)(x, 0, float)
        with pytest.raises(NotImplementedError, match="where"):
            getattr(snp, name)(x, where=True)
    # NumPy arrays are NumPy's business, arguments and all
    values = np.arange(6.0).reshape(2, 3)
    assert snp.sum(values, 0, int, keepdims=True).dtype == np.int64
    assert snp.prod(values, where=values > 0) == 120.0


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [None, 0, -1, 1, -2])
def test_cumulative_like_numpy(shape, axis):
    for name in ("cumsum", "cumprod"):
        check_like_numpy(snp, name, [shape], axis=axis)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (3, 2, 2)])
@pytest.mark.parametrize("axis", [0, -1, 1, -3])
@pytest.mark.parametrize("n", [0, 1, 2, 5, -1])
def test_diff_like_numpy(shape, axis, n):
    check_like_numpy(snp, "diff", [shape], n=n, axis=axis)


def test_diff_prepend_and_append_like_numpy():
    check_like_numpy(snp, "diff", [(2, 3)], axis=0, prepend=1.5)
    check_like_numpy(snp, "diff", [(2, 3)], append=np.array([[0.5], [2.0]]))
    check_like_numpy(snp, "diff", [(2, 3)], 2, 1, np.zeros((2, 2)), -1.0)
    check_like_numpy(snp, "diff", [(2, 3)], prepend=np.zeros((3, 1)))  # wrong shape: error
    x = named_array("x", (3,))
    assert list(snp.diff(x, prepend=x[2], append=0).flat) == [
        x[0] - x[2],
        x[1] - x[0],
        x[2] - x[1],
        -x[2],
    ]


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("axis", [0, -1])
def test_0d_reduction_over_axis_0_gives_the_element(name, axis):
    """As NumPy (and SymNum 0.2.1): ufunc reductions of a 0-d array accept axis 0 / -1."""
    x = named_array("x", ())
    assert getattr(snp, name)(x, axis=axis) == x[()]
    kept = getattr(snp, name)(x, axis=axis, keepdims=True)
    assert np.shape(kept) == ()
    assert kept == x[()]
    assert float(getattr(snp, name)(2.5, axis=axis)) == 2.5
    with pytest.raises(np.exceptions.AxisError):
        getattr(snp, name)(x, axis=1)


@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 1, 3)])
@pytest.mark.parametrize("axis", [None, 0, -1, "all"])
@pytest.mark.parametrize("weighted", [False, True])
def test_logsumexp_like_scipy(shape, axis, weighted):
    special = pytest.importorskip("scipy.special")
    if axis == "all":
        axis = tuple(range(len(shape)))
    rng = np.random.default_rng(11)
    values = rng.normal(size=shape) * 5
    weights = rng.uniform(0.1, 2.0, size=shape[-1:]) if weighted else None
    x = named_array("x", shape)
    for keepdims in (False, True):
        expected = special.logsumexp(values, axis=axis, b=weights, keepdims=keepdims)
        assert_close(
            sss.logsumexp(values, axis=axis, b=weights, keepdims=keepdims),
            expected,
            rtol=1e-12,
            atol=1e-14,
        )
        symbolic = sss.logsumexp(x, axis=axis, b=weights, keepdims=keepdims)
        np.testing.assert_allclose(_evaluate(symbolic, x, values), expected, rtol=1e-12)


def test_reduction_docstrings_state_shapes():
    for name in (*REDUCTIONS, "cumsum", "cumprod", "diff"):
        doc = getattr(snp, name).__doc__
        assert "numpy." in doc
        assert "shape" in doc


# --------------------------------------------------------------------------------------
# Numeric and symbolic examples


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), ()])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(rng, axis, keepdims):
    a = rng.normal(size=(2, 3, 4))
    for name in ("mean", "var", "std", "max", "min", "amax", "amin"):
        _close(
            getattr(snp, name)(a, axis=axis, keepdims=keepdims),
            getattr(np, name)(a, axis=axis, keepdims=keepdims),
        )
    if axis != ():
        _close(snp.var(a, axis=axis, ddof=1), np.var(a, axis=axis, ddof=1))


def test_max_initial_and_scalar_results(rng):
    a = rng.normal(size=(3, 4))
    _close(snp.max(a, axis=0, initial=0.5), np.max(a, axis=0, initial=0.5))
    _close(snp.min(np.zeros((0, 3)), axis=0, initial=1.0), np.min(np.zeros((0, 3)), 0, initial=1.0))
    x = named_array("x", (2, 2))
    assert isinstance(snp.max(x), sympy.Expr)
    assert isinstance(snp.mean(x), sympy.Expr)
    assert snp.max(x, axis=1).shape == (2,)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumulative(rng, axis):
    a = rng.normal(size=(3, 4))
    _close(snp.cumsum(a, axis=axis), np.cumsum(a, axis=axis))
    _close(snp.cumprod(a, axis=axis), np.cumprod(a, axis=axis))


def test_large_max_reduction_builds_fast():
    """A 200-element max (a binary tree, not SymPy's pairwise n-ary Max) and its gradient."""
    x = named_array("x", 200)
    m = snp.max(x)
    assert m.diff(x[17]).has(x[17])
    grad = symnum.gradient(lambda v: snp.max(v), (200,))  # noqa: PLW0108 - one argument
    values = np.linspace(-1, 1, 200)[::-1].copy()
    expected = np.zeros(200)
    expected[0] = 1.0
    np.testing.assert_array_equal(grad(values), expected)


def test_bad_axes():
    x = named_array("x", (2, 3))
    with pytest.raises(np.exceptions.AxisError):
        snp.mean(x, axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        snp.max(x, axis=(0, 0))
    with pytest.raises(TypeError, match="axis"):
        snp.min(x, axis=1.5)
    with pytest.raises(ValueError, match="out of bounds"):
        snp.moveaxis(x, 0, 3)
    with pytest.raises(ValueError, match="axis"):
        snp.cumsum(x, axis=-3)
    with pytest.raises(ValueError, match=r"size not equal to one|squeeze"):
        snp.squeeze(x, axis=0)
    with pytest.raises(ValueError, match="zero-size array"):
        snp.max(np.zeros((0, 2)), axis=0)
    with pytest.raises(ValueError, match="axis"):
        snp.trace(x, axis1=0, axis2=0)


# --------------------------------------------------------------------------------------
# average, ptp, trapezoid, polyval, cumulative_sum / cumulative_prod


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's mean of an empty array
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [None, 0, -1, 2, (0, -1), (), (1, 0), (0, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_average_and_ptp_like_numpy(shape, axis, keepdims):
    for returned in (False, True):
        check_like_numpy(snp, "average", [shape], axis=axis, keepdims=keepdims, returned=returned)
    check_like_numpy(snp, "ptp", [shape], axis=axis, keepdims=keepdims)


AVERAGE_WEIGHTS = [
    # (shape of a, shape of weights, axis)
    ((4,), (4,), None),
    ((2, 3), (2, 3), None),
    ((2, 3), (2, 3), 1),
    ((2, 3), (3,), 1),
    ((2, 3), (3,), -1),
    ((2, 3), (2,), 0),
    ((2, 3, 4), (4, 2), (2, 0)),
    ((2, 3, 4), (2, 4), (0, 2)),
    ((2, 3), (3,), None),  # TypeError: axis needed
    ((2, 3), (2,), 1),  # ValueError: weights do not match the axis
    ((2, 3), (3, 2), (0, 1)),  # ValueError: in the order of axis
    ((2, 3), (3,), 2),  # AxisError
]


@pytest.mark.parametrize(("a_shape", "w_shape", "axis"), AVERAGE_WEIGHTS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("returned", [False, True])
def test_weighted_average_like_numpy(a_shape, w_shape, axis, keepdims, returned):
    def call(func, a, w):
        return func(a, axis=axis, weights=w, returned=returned, keepdims=keepdims)

    # numeric weights (a symbolic a), then symbolic weights too
    check_like_numpy(
        snp,
        "average",
        [a_shape],
        axis=axis,
        weights=np.linspace(0.5, 2.0, int(np.prod(w_shape))).reshape(w_shape),
        returned=returned,
        keepdims=keepdims,
    )
    check_calls(np.average, snp.average, [a_shape, w_shape], call)


def test_average_weights_summing_to_zero():
    check_like_numpy(snp, "average", [(2, 3)], axis=1, weights=np.array([1.0, -1.0, 0.0]))
    check_like_numpy(snp, "average", [(2, 3)], weights=np.zeros((2, 3)))
    # symbolic weights cannot be checked: their sum is the divisor
    w = named_array("w", (3,))
    got = snp.average(np.arange(3), weights=w)
    assert sympy.simplify(got - (w[1] + 2 * w[2]) / (w[0] + w[1] + w[2])) == 0


def test_average_returns_counts_and_sums_of_weights():
    x = named_array("x", (2, 3))
    avg, count = snp.average(x, axis=1, returned=True)
    assert count.shape == avg.shape == (2,)
    assert list(count.flat) == [3.0, 3.0]
    w = named_array("w", (3,))
    avg, total = snp.average(x, axis=1, weights=w, returned=True)
    assert total.shape == (2,)
    assert total[0] == total[1] == w[0] + w[1] + w[2]


TRAPEZOID_CASES = [
    ([(4,)], {}),
    ([(1,)], {}),
    ([(0,)], {}),
    ([(2, 3)], {}),
    ([(2, 3)], {"axis": 0}),
    ([(2, 3)], {"axis": -2, "dx": 0.25}),
    ([(2, 3, 2)], {"axis": 1, "x": np.array([0.0, 0.5, 2.0])}),
    ([(3,), (3,)], {}),  # symbolic sample points
    ([(2, 3), (3,)], {}),
    ([(2, 3), (2, 3)], {"axis": 0}),
    ([(2, 3), (2,)], {"axis": 0}),
    ([(2, 3), (1, 3)], {}),  # x broadcasting against y
    ([()], {}),  # IndexError, as NumPy
    ([(3,)], {"axis": 1}),  # IndexError
    ([(2, 3), (4,)], {}),  # ValueError: shapes do not broadcast
]


@pytest.mark.parametrize(("shapes", "kwargs"), TRAPEZOID_CASES)
def test_trapezoid_like_numpy(shapes, kwargs):
    check_like_numpy(snp, "trapezoid", shapes, **kwargs)


def test_trapezoid_is_exact_on_symbols():
    y, x = named_array("y", (3,)), named_array("x", (3,))
    got = snp.trapezoid(y, x)
    want = ((x[1] - x[0]) * (y[0] + y[1]) + (x[2] - x[1]) * (y[1] + y[2])) / 2
    assert sympy.expand(got - want) == 0
    assert sympy.expand(snp.trapezoid(y, dx=x[0]) - x[0] * (y[0] / 2 + y[1] + y[2] / 2)) == 0


@pytest.mark.parametrize(
    "shapes",
    [[(3,), ()], [(3,), (4,)], [(1,), (2, 2)], [(4,), (2, 3)], [(2, 3), (3,)], [(0,), (3,)],
     [(), (3,)]],
)  # fmt: skip
def test_polyval_like_numpy(shapes):
    check_like_numpy(snp, "polyval", shapes)


def test_polyval_uses_numpys_coefficient_order():
    x = sympy.Symbol("x")
    assert sympy.expand(snp.polyval([2, 0, -1], x) - (2 * x**2 - 1)) == 0
    assert snp.polyval([], 3.0) == 0
    assert snp.polyval(np.array([1.0, 2.0]), named_array("t", (2,))).shape == (2,)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (0, 2)])
@pytest.mark.parametrize("axis", [None, 0, -1, 2])
@pytest.mark.parametrize("include_initial", [False, True])
def test_cumulative_like_numpy_2(shape, axis, include_initial):
    for name in ("cumulative_sum", "cumulative_prod"):
        check_like_numpy(snp, name, [shape], axis=axis, include_initial=include_initial)


def test_added_reduction_docstrings_and_unsupported_arguments():
    for name in ("average", "ptp", "trapezoid", "polyval", "cumulative_sum", "cumulative_prod"):
        doc = getattr(snp, name).__doc__
        assert f"numpy.{name}" in doc
        assert "shape" in doc
    x = named_array("x", (2, 3))
    with pytest.raises(NotImplementedError, match="out"):
        snp.ptp(x, out=np.empty(3))
    with pytest.raises(NotImplementedError, match="dtype"):
        snp.cumulative_sum(x, axis=0, dtype=float)


# --------------------------------------------------------------------------------------
# Rows of data (symnum.data): loops where the reduction allows, the same derivatives


def _data_model(rows_x, t):
    """Reductions over the rows of ``rows_x`` (60 rows: a data array) of a linear model."""
    z = rows_x @ t
    w = np.linspace(0.5, 1.5, rows_x.shape[0])
    return (
        snp.average(snp.sin(z), weights=w)
        + snp.average(z**2)
        + snp.ptp(z) / 10
        + snp.sum(snp.polyval(np.array([0.5, -1.0, 2.0]), z)) / 60
        + snp.sum(snp.trapezoid(rows_x * t, dx=0.5, axis=-1) ** 2) / 60
    )


def test_reductions_of_data_rows_keep_loops_and_derivatives():
    rows_x = np.random.default_rng(3).normal(size=(60, 3))
    t = named_array("t", (3,))
    z = rows_x @ t
    # sums over the rows stay loops: no expression has 60 terms
    assert "DataSum" in str(snp.average(z, weights=np.ones(60)))
    assert "DataMax" in str(snp.ptp(z))
    assert "DataSum" in str(snp.sum(snp.polyval([1.0, 2.0], z)))
    assert type(snp.trapezoid(rows_x * t, axis=-1)).__name__ == "DataArray"
    with symnum.data_threshold(0):
        unrolled = symnum.gradient(lambda v: _data_model(rows_x, v), (3,), backend="numpy")
    looped = symnum.gradient(lambda v: _data_model(rows_x, v), (3,), backend="numpy")
    for v in (np.array([0.3, -0.2, 0.5]), np.array([-1.0, 0.1, 0.7])):
        np.testing.assert_allclose(looped(v), unrolled(v), rtol=1e-12, atol=1e-13)
    # the average's returned count of a data argument is counted when called
    rows = symnum.numpify(
        lambda data, v: snp.average(data @ v, returned=True)[1], (None, 3), (3,), backend="numpy"
    )
    assert float(rows(rows_x[:17], np.ones(3))) == 17.0
