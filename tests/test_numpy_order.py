"""symnum.numpy.order: sort, median, quantile, percentile (sorting networks on symbolic
elements) and argsort / argmax / argmin (numbers only).

Values against NumPy through tests/_like_numpy.py (where NumPy raises, symnum raises the
same exception type); the network against every 0/1 input (a comparator network sorts
everything iff it sorts every sequence of zeros and ones); compiled values and
gradients on every backend.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy
from _like_numpy import check_like_numpy, evaluate

import symnum
import symnum.numpy as snp
from symnum import named_array
from symnum.numpy import order

SHAPES = [(1,), (5,), (2, 3), (3, 1, 4), (0, 3), ()]
METHODS = ["linear", "lower", "higher", "nearest", "midpoint", "hazen", "weibull",
           "inverted_cdf", "median_unbiased", "normal_unbiased"]  # fmt: skip


@pytest.fixture
def rng():
    return np.random.default_rng(20261203)


def _apply_network(values, n):
    values = list(values)
    for i, j in order._network(n):
        assert 0 <= i < j < n
        values[i], values[j] = min(values[i], values[j]), max(values[i], values[j])
    return values


@pytest.mark.parametrize("n", range(13))
def test_network_sorts_every_zero_one_sequence(n):
    for bits in itertools.product((0, 1), repeat=n):
        assert _apply_network(bits, n) == sorted(bits)


@pytest.mark.parametrize("n", [13, 20, 33, 64, 100, 257])
def test_network_sorts_random_sequences_with_ties(n, rng):
    for _ in range(20):
        values = rng.integers(0, n // 3 + 1, size=n).tolist()
        assert _apply_network(values, n) == sorted(values)


def test_network_size_is_batchers():
    # n log2(n) (log2(n) - 1) / 4 + n - 1 compare-exchange steps for a power of two n
    for k in range(1, 10):
        n = 2**k
        assert len(order._network(n)) == n * k * (k - 1) // 4 + n - 1
    assert order._network(0) == order._network(1) == []


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [None, 0, -1, 1, 2, -3])
def test_sort_like_numpy(shape, axis):
    check_like_numpy(snp, "sort", [shape], axis=axis)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's median of nothing
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [None, 0, -1, 1, (0, 1), (0, -1), (1, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_median_like_numpy(shape, axis, keepdims):
    check_like_numpy(snp, "median", [shape], axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("q", [0.5, 0.0, 1.0, [0.1, 0.77], [[0.25], [0.9]]])
@pytest.mark.parametrize(("shape", "axis"), [((7,), None), ((3, 4), 1), ((3, 4), (0, 1))])
def test_quantile_like_numpy(method, q, shape, axis):
    check_like_numpy(snp, "quantile", [shape], q, axis=axis, method=method)
    percent = np.asarray(q) * 100
    check_like_numpy(snp, "percentile", [shape], percent, axis=axis, method=method)


@pytest.mark.parametrize(
    ("name", "q", "kwargs"),
    [
        ("quantile", 1.5, {}),  # q outside [0, 1]: ValueError
        ("quantile", -0.1, {}),
        ("percentile", 101, {}),
        ("quantile", 0.5, {"method": "no-such-method"}),  # ValueError
        ("quantile", 0.5, {"axis": 2}),  # AxisError
        ("quantile", 0.5, {"axis": (0, 0)}),  # ValueError
    ],
)
def test_bad_quantile_arguments_raise_like_numpy(name, q, kwargs):
    check_like_numpy(snp, name, [(2, 3)], q, **kwargs)


def test_sort_of_numbers_is_numpys_with_nan_last():
    got = snp.sort(np.array([[3.0, np.nan, -1.0], [0.5, 0.25, 2.0]]))
    assert got.shape == (2, 3)
    want = np.sort(np.array([[3.0, np.nan, -1.0], [0.5, 0.25, 2.0]]))
    np.testing.assert_array_equal(np.array(got.tolist(), dtype=float), want)
    assert snp.median([4.0, 1.0, 3.0]) == sympy.Float(3.0)


def test_sort_mixes_numbers_and_symbols():
    x = named_array("x", (2,))
    got = snp.sort(snp.array([3.0, x[0], -1.0, x[1]]))
    values = {x[0]: sympy.Float(0.5), x[1]: sympy.Float(7.0)}
    np.testing.assert_array_equal(evaluate(got, values), [-1.0, 0.5, 3.0, 7.0])


def test_index_functions_need_numbers():
    a = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    np.testing.assert_array_equal(snp.argsort(a), np.argsort(a))
    np.testing.assert_array_equal(snp.argsort(a, axis=None), np.argsort(a, axis=None))
    assert snp.argmax(a) == np.argmax(a)
    np.testing.assert_array_equal(snp.argmin(a, axis=0), np.argmin(a, axis=0))
    np.testing.assert_array_equal(
        snp.argmax(a, axis=1, keepdims=True), np.argmax(a, axis=1, keepdims=True)
    )
    x = named_array("x", (3,))
    for name in ("argsort", "argmax", "argmin"):
        with pytest.raises(TypeError, match=f"{name} needs numbers"):
            getattr(snp, name)(x)


def test_long_symbolic_lanes_and_complex_elements_are_refused():
    with pytest.raises(ValueError, match="MAX_SORTED"):
        snp.sort(named_array("x", (order.MAX_SORTED + 1,)))
    with pytest.raises(ValueError, match="MAX_SORTED"):
        snp.median(named_array("x", (2, order.MAX_SORTED)), axis=None)
    x = named_array("x", (2,))
    with pytest.raises(TypeError, match="complex"):
        snp.sort(snp.array([x[0], x[1] + sympy.I]))
    with pytest.raises(NotImplementedError, match="order"):
        snp.sort(x, order="f")
    with pytest.raises(NotImplementedError, match="weights"):
        snp.quantile(x, 0.5, weights=np.ones(2))


def _order_model(np_, v):
    m = v.reshape(3, 4)
    return (
        np_.sort(m, axis=1),
        np_.median(m, axis=0),
        np_.quantile(v, [0.2, 0.9]),
        np_.percentile(m, 30.0, axis=1, method="midpoint"),
    )


def test_order_statistics_on_backend(backend, rng):
    def value(v):
        return _order_model(snp, v)

    def scalar(v):
        s, med, q, p = _order_model(snp, v)
        return snp.sum(s[:, :2] ** 2) + snp.sum(snp.sin(med)) + q[1] * q[0] + snp.sum(p)

    f = symnum.numpify(value, (12,), backend=backend)
    points = [rng.normal(size=12), np.repeat([1.0, -2.0, 0.5], 4), np.arange(12.0)[::-1]]
    for v in points:
        for got, want in zip(f(v), _order_model(np, v), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    # infinities sort like numbers; interpolating next to one gives its limit, where
    # NumPy's a + (b - a) t gives nan
    v = np.where(np.arange(12) % 5 == 0, np.inf, rng.normal(size=12))
    v[0] = -np.inf
    with np.errstate(invalid="ignore"):  # NumPy's inf - inf in its interpolation
        got, want = f(v), _order_model(np, v)
    np.testing.assert_array_equal(got[0], want[0])  # sorted rows
    np.testing.assert_array_equal(got[1], want[1])  # medians of 3: no interpolation
    assert got[2][1] == np.inf  # between the second-largest (finite) and inf
    assert got[3][0] == -np.inf
    assert np.isfinite(got[3][1:]).all()
    batch = np.stack(points[:3])
    for got, want in zip(f(batch), _order_model(np, batch[1]), strict=True):
        np.testing.assert_allclose(got[1], want, rtol=1e-13)
    # gradient at a point without ties, against central differences of NumPy's value
    v = rng.permutation(np.linspace(-1.0, 1.0, 12))
    grad = symnum.gradient(scalar, (12,), backend=backend)(v)

    def reference(u):
        s, med, q, p = _order_model(np, u)
        return np.sum(s[:, :2] ** 2) + np.sum(np.sin(med)) + q[1] * q[0] + np.sum(p)

    h = 1e-6
    fd = [(reference(v + h * e) - reference(v - h * e)) / (2 * h) for e in np.eye(12)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_sorting_rows_of_data_matches_the_unrolled_build(rng):
    X = rng.normal(size=(60, 3))  # noqa: N806

    def f(b):
        return snp.median(X @ b) + snp.sum(snp.sort(snp.exp(X @ b))[-5:])

    b = np.array([0.3, -0.2, 0.5])
    grad = symnum.gradient(f, (3,), backend="numpy")
    with symnum.data_threshold(0):
        unrolled = symnum.gradient(f, (3,), backend="numpy")
    np.testing.assert_allclose(grad(b), unrolled(b), rtol=1e-12)
    z = X @ b
    value = symnum.numpify(f, (3,), backend="numpy")(b)
    np.testing.assert_allclose(value, np.median(z) + np.sum(np.sort(np.exp(z))[-5:]))
