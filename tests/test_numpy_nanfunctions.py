"""symnum.numpy.nanfunctions: NaN-ignoring reductions.

On numbers the values are NumPy's; on symbols the NaN tests run in the generated code,
so each function is compiled (numpy backend) and called on arrays with NaN at random
places, lanes of NaN only among them, against NumPy's function of the same name. Then a
model of several of them on every backend, its gradient against central differences
(NaN elements contribute nothing), data arrays against the unrolled build, and errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.exceptions import AxisError

import symnum
import symnum.numpy as snp
from symnum import named_array
from symnum.array import SymbolicArray

REDUCTIONS = ["nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanmedian"]
# (shape, axis, keepdims)
LAYOUTS = [
    ((6,), None, False),
    ((6,), 0, True),
    ((3, 4), None, False),
    ((3, 4), 0, False),
    ((3, 4), 1, True),
    ((3, 4), -1, False),
    ((2, 3, 2), (0, 2), False),
    ((2, 3, 2), (0, 2), True),
]
METHODS = ["linear", "lower", "higher", "nearest", "midpoint", "hazen", "weibull",
           "inverted_cdf", "median_unbiased", "normal_unbiased"]  # fmt: skip


def with_nans(shape, seed):
    """Random values of ``shape`` with NaN at about a third of the places; the first
    lane along the last axis is NaN only (for 2-D and larger arrays)."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(-2.0, 2.0, size=shape)
    values[rng.uniform(size=shape) < 0.35] = np.nan
    if len(shape) > 1:
        values[(0,) * (len(shape) - 1)] = np.nan
    return values


def numpy_value(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN lanes, dof <= 0
        return func(*args, **kwargs)


def compiled(func, shape, backend="numpy"):
    return symnum.numpify(func, shape, backend=backend)


@pytest.mark.parametrize(("shape", "axis", "keepdims"), LAYOUTS)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_like_numpy(name, shape, axis, keepdims):
    values = with_nans(shape, seed=len(name) + len(shape))
    want = numpy_value(getattr(np, name), values, axis=axis, keepdims=keepdims)

    def call(a):
        return getattr(snp, name)(a, axis=axis, keepdims=keepdims)

    # symbols: the NaN tests run in the compiled code
    got = compiled(call, shape)(values)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    # numbers: NumPy's values, as SymPy numbers (NumPy arrays are summed by NumPy)
    for operand in (values, values.tolist(), SymbolicArray(values)):
        numeric = call(operand)
        assert np.shape(numeric) == np.shape(want)
        np.testing.assert_allclose(np.asarray(numeric, dtype=float), want, rtol=1e-13)


@pytest.mark.parametrize("ddof", [0, 1, 3])
@pytest.mark.parametrize("name", ["nanvar", "nanstd"])
def test_degrees_of_freedom_like_numpy(name, ddof):
    # lanes with 0 to 4 values left: count - ddof <= 0 gives nan, as in NumPy
    values = np.array([[np.nan] * 4, [1.0, np.nan, np.nan, np.nan], [1.0, 2.0, np.nan, 4.0],
                       [0.5, -1.0, 2.0, 3.0]])  # fmt: skip
    want = numpy_value(getattr(np, name), values, axis=1, ddof=ddof)
    got = compiled(lambda a: getattr(snp, name)(a, axis=1, ddof=ddof), (4, 4))(values)
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_lanes_of_numbers_among_symbolic_lanes():
    # a lane of numbers has a known count; dof <= 0 there is nan, as in NumPy
    def rows(v):
        return snp.array([[v[0], v[1]], [1.0, 2.0], [np.nan, 3.0]])

    def variance(ddof):
        return lambda v: snp.nanvar(rows(v), axis=1, ddof=ddof)

    point = np.array([0.5, np.nan])
    for ddof in (0, 1, 2):
        want = numpy_value(np.nanvar, rows(point).astype(float), axis=1, ddof=ddof)
        np.testing.assert_allclose(compiled(variance(ddof), (2,))(point), want)
    assert snp.nanmean(rows(named_array("x", (2,))), axis=1)[1] == 1.5


@pytest.mark.parametrize("method", METHODS)
def test_nanquantile_methods_like_numpy(method):
    q = np.array([0.0, 0.15, 0.5, 0.8, 1.0])
    # rows with 0, 1, 2, ... 5 values left
    values = np.array([[np.nan if j < i else j - 0.3 * i * j for j in range(5)] for i in range(6)])
    values = values[:, ::-1].copy()  # NaN last and first in different rows
    values[2] = [3.0, np.nan, -1.0, np.nan, 0.5]
    want = numpy_value(np.nanquantile, values, q, axis=1, method=method)
    got = compiled(lambda a: snp.nanquantile(a, q, axis=1, method=method), (6, 5))(values)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    assert np.shape(snp.nanquantile(named_array("a", (6, 5)), q, axis=1, method=method)) == (5, 6)


def test_nanpercentile_and_nanmedian_shapes_like_numpy():
    values = with_nans((3, 4), seed=7)

    def percentile_of(q):
        return lambda a: snp.nanpercentile(a, q, axis=0, keepdims=True)

    for q in (30.0, [10.0, 90.0]):
        want = numpy_value(np.nanpercentile, values, q, axis=0, keepdims=True)
        got = compiled(percentile_of(q), (3, 4))(values)
        np.testing.assert_allclose(got, want, rtol=1e-13)

    def median(a):
        return snp.nanmedian(a)

    want = numpy_value(np.nanmedian, values)
    np.testing.assert_allclose(compiled(median, (3, 4))(values), want, rtol=1e-13)


@pytest.mark.parametrize("name", ["nancumsum", "nancumprod"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_running_sums_like_numpy(name, axis):
    values = with_nans((3, 4), seed=11)
    want = getattr(np, name)(values, axis=axis)
    got = compiled(lambda a: getattr(snp, name)(a, axis=axis), (3, 4))(values)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    numeric = getattr(snp, name)(values.tolist(), axis=axis)
    np.testing.assert_allclose(np.asarray(numeric, dtype=float), want, rtol=1e-13)


def test_without_nans_they_are_the_plain_reductions():
    values = np.random.default_rng(3).uniform(0.5, 2.0, size=(3, 4))
    pairs = [(snp.nansum, np.sum), (snp.nanmean, np.mean), (snp.nanvar, np.var),
             (snp.nanmax, np.max), (snp.nanmedian, np.median)]  # fmt: skip

    def along_rows(func):
        return lambda a: func(a, axis=1)

    for nan_func, plain in pairs:
        got = compiled(along_rows(nan_func), (3, 4))(values)
        np.testing.assert_allclose(got, plain(values, axis=1), rtol=1e-13)


def test_numpy_arrays_are_reduced_by_numpy():
    # as snp.sum and snp.prod: NumPy's own results, NumPy's arguments accepted
    values = with_nans((3, 4), seed=5)
    out = snp.nansum(values, axis=0, where=np.ones((3, 4), bool), initial=1.0)
    np.testing.assert_array_equal(out, np.nansum(values, axis=0, initial=1.0))
    assert isinstance(snp.nanprod(values), np.floating)


def _model(np_, v):
    m = v.reshape(3, 4)
    return (
        np_.nansum(m**2)
        + np_.sum(np_.nanmean(m, axis=1))
        + np_.nanstd(v)
        + np_.nanmax(m, axis=0)[1]
        - np_.nanmin(v)
        + np_.nanmedian(m[:, :3], axis=0)[0]
        + np_.nanprod(m[1])
        + np_.nanquantile(v, 0.3)
    )


def test_model_and_gradient_on_backend(backend):
    rng = np.random.default_rng(2)
    v = rng.permutation(np.linspace(-1.0, 1.5, 12))
    v[[2, 5, 9]] = np.nan
    f = symnum.numpify(lambda x: _model(snp, x), (12,), backend=backend)
    assert f(v) == pytest.approx(numpy_value(_model, np, v), rel=1e-13)
    grad = symnum.gradient(lambda x: _model(snp, x), (12,), backend=backend)(v)
    h = 1e-6
    fd = [
        (numpy_value(_model, np, v + h * e) - numpy_value(_model, np, v - h * e)) / (2 * h)
        for e in np.eye(12)
    ]
    # a NaN element changes nothing: its partial derivative is 0, as the differences say
    np.testing.assert_allclose(grad, np.nan_to_num(fd), rtol=1e-6, atol=1e-6)
    assert np.all(grad[[2, 5, 9]] == 0)
    # a point without NaN, and one of NaN only
    w = rng.normal(size=12)
    assert f(w) == pytest.approx(_model(np, w), rel=1e-13)
    assert np.isnan(f(np.full(12, np.nan)))


def test_data_with_nans_matches_the_unrolled_build():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(70, 3))  # noqa: N806
    X[[3, 40], [1, 0]] = np.nan
    y = rng.normal(size=70)
    y[12] = np.nan

    def f(b):
        z = X @ b
        return (
            snp.nanmean(snp.log1p(snp.exp(z)))
            + snp.nansum((y - z) ** 2)
            + snp.nanmax(z)
            - snp.nanmin(snp.exp(z))
        )

    b = np.array([0.3, -0.2, 0.5])
    z = X @ b
    want = np.nanmean(np.log1p(np.exp(z))) + np.nansum((y - z) ** 2) + np.nanmax(z)
    want -= np.nanmin(np.exp(z))
    value = symnum.numpify(f, (3,), backend="numpy")
    grad = symnum.gradient(f, (3,), backend="numpy")
    with symnum.data_threshold(0):
        unrolled_value = symnum.numpify(f, (3,), backend="numpy")
        unrolled_grad = symnum.gradient(f, (3,), backend="numpy")
    assert value(b) == pytest.approx(want, rel=1e-13)
    assert unrolled_value(b) == pytest.approx(want, rel=1e-13)
    assert not np.iscomplexobj(unrolled_value(b))  # NaN constants are real
    np.testing.assert_allclose(grad(b), unrolled_grad(b), rtol=1e-12)


def test_errors():
    a = named_array("a", (3, 4))
    with pytest.raises(TypeError, match="needs numbers"):
        snp.nanargmax(a)
    with pytest.raises(TypeError, match="needs numbers"):
        snp.nanargmin(a, axis=0)
    with pytest.raises(NotImplementedError, match="out"):
        snp.nansum(a, out=np.empty(4))
    with pytest.raises(NotImplementedError, match="dtype"):
        snp.nanmean(a, dtype=np.float32)
    with pytest.raises(AxisError):
        snp.nanmean(a, axis=2)
    with pytest.raises(AxisError):
        snp.nanmax(a, axis=-3)
    with pytest.raises(ValueError, match="range"):
        snp.nanpercentile(a, 101.0)
    with pytest.raises(ValueError, match="Quantiles must be in the range"):
        snp.nanquantile(a, -0.5)  # NumPy's own check and message
    # an empty array has no symbols: NumPy's value, or NumPy's error
    assert np.isnan(np.asarray(snp.nanmedian(named_array("e", (0, 3)), axis=0), float)).all()
    with pytest.raises(ValueError, match="zero-size"):
        snp.nanmax(named_array("e", (0, 3)), axis=0)
    with pytest.raises(TypeError, match="ddof"):
        snp.nanvar(a, ddof=0.5)


def test_index_functions_on_numbers_are_numpys():
    values = with_nans((3, 4), seed=9)[1:]  # no lane of NaN only
    np.testing.assert_array_equal(snp.nanargmax(values, axis=1), np.nanargmax(values, axis=1))
    assert snp.nanargmin(values.tolist()) == np.nanargmin(values)
    with pytest.raises(ValueError, match="All-NaN"):
        snp.nanargmax([np.nan, np.nan])
