"""symnum.numpy's interp, gradient, ediff1d, polyder, polyint (numerical), cov,
corrcoef (stats), vectorize, apply_along_axis (functional), divmod, modf, ldexp,
nan_to_num and the index helpers (tril_indices, ...).

Symbolic results are compiled (numpy backend unless a test runs on every backend) and
called on the values NumPy's function gets; numeric input gives NumPy's values;
derivatives against central differences; errors as NumPy raises them or as documented.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symnum
import symnum.numpy as snp
from symnum import named_array


def compiled(func, *shapes, backend="numpy"):
    return symnum.numpify(func, *shapes, backend=backend)


def central_differences(func, x, h=1e-6):
    return np.array([(func(x + h * e) - func(x - h * e)) / (2 * h) for e in np.eye(x.size)])


XP = np.array([-1.0, 0.0, 0.5, 2.0, 2.0, 3.5])  # a repeated knot: a jump
FP = np.array([2.0, -1.0, 0.25, 3.0, 1.0, -2.0])


# --------------------------------------------------------------------------------------
# interp


@pytest.mark.parametrize(
    "kwargs", [{}, {"left": -7.0, "right": 9.0}, {"left": np.nan}, {"period": 4.0}]
)
def test_interp_like_numpy(kwargs):
    x = np.array([-3.0, -1.0, -0.5, 0.0, 0.2, 0.5, 1.9, 2.0, 2.7, 3.5, 3.6, np.nan, 12.1])
    want = np.interp(x, XP, FP, **kwargs)
    got = compiled(lambda v: snp.interp(v, XP, FP, **kwargs), x.shape)(x)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    numeric = snp.interp(x, XP, FP, **kwargs)
    np.testing.assert_allclose(np.asarray(numeric, dtype=float), want, rtol=1e-14)


def test_interp_of_a_scalar_is_a_scalar():
    assert np.shape(snp.interp(named_array("x", ()), XP, FP)) == ()
    assert float(snp.interp(0.25, XP, FP)) == np.interp(0.25, XP, FP)


def test_interp_on_backend_with_symbolic_values_at_the_knots(backend):
    # a piecewise-linear function whose values at fixed knots are parameters
    points = np.array([-2.0, -0.4, 0.3, 1.2, 2.9, 4.0])

    def f(fp, x):
        return snp.sum(snp.interp(x, XP, fp) ** 2) + snp.interp(x[2], XP, fp) * x[1]

    def reference(fp, x):
        return np.sum(np.interp(x, XP, fp) ** 2) + np.interp(x[2], XP, fp) * x[1]

    value = symnum.numpify(f, (6,), (6,), backend=backend)
    assert value(FP, points) == pytest.approx(reference(FP, points), rel=1e-14)
    grad = symnum.gradient(f, (6,), (6,), backend=backend)
    want = central_differences(lambda fp: reference(fp, points), FP)
    np.testing.assert_allclose(grad(FP, points), want, rtol=1e-7, atol=1e-7)
    # and with respect to x: the slope of each segment
    grad_x = symnum.gradient(lambda x, fp: f(fp, x), (6,), (6,), backend=backend)
    want = central_differences(lambda x: reference(FP, x), points)
    np.testing.assert_allclose(grad_x(points, FP), want, rtol=1e-7, atol=1e-7)


def test_interp_errors():
    x = named_array("x", (3,))
    with pytest.raises(TypeError, match="xp must be real numbers"):
        snp.interp(x, x, FP[:3])
    with pytest.raises(ValueError, match="same length"):
        snp.interp(x, XP, FP[:3])
    with pytest.raises(ValueError, match="empty"):
        snp.interp(x, [], [])
    with pytest.raises(ValueError, match="period"):
        snp.interp(x, XP, FP, period=0)


# --------------------------------------------------------------------------------------
# gradient, ediff1d


COORDINATES = np.array([0.0, 0.5, 1.5, 1.75, 3.0, 4.5])


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("spacing", [(), (0.25,), (COORDINATES,)])
def test_gradient_1d_like_numpy(spacing, edge_order):
    y = np.array([1.0, -2.0, 4.0, 0.5, 3.0, 2.5])
    want = np.gradient(y, *spacing, edge_order=edge_order)
    got = compiled(lambda v: snp.gradient(v, *spacing, edge_order=edge_order), (6,))(y)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    numeric = snp.gradient(y.tolist(), *spacing, edge_order=edge_order)
    np.testing.assert_allclose(np.asarray(numeric, dtype=float), want, rtol=1e-13)


@pytest.mark.parametrize(
    ("axis", "spacing"),
    [(None, ()), (None, (0.5, COORDINATES[:4])), (1, (2.0,)), ((1, 0), (COORDINATES[:4], 3.0))],
)
def test_gradient_2d_like_numpy(axis, spacing):
    m = np.random.default_rng(1).normal(size=(3, 4))
    want = np.gradient(m, *spacing, axis=axis, edge_order=2)
    got = compiled(lambda v: snp.gradient(v, *spacing, axis=axis, edge_order=2), (3, 4))(m)
    assert isinstance(got, tuple) == isinstance(want, tuple)
    wants = want if isinstance(want, tuple) else (want,)
    gots = got if isinstance(got, tuple) else (got,)
    for g, w in zip(gots, wants, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-13)


def test_gradient_with_symbolic_spacing():
    def f(y, h):
        return snp.gradient(y, h[0], edge_order=2)

    y = np.array([1.0, 4.0, 9.0, 16.0, 25.0])
    got = compiled(f, (5,), (1,))(y, np.array([0.5]))
    np.testing.assert_allclose(got, np.gradient(y, 0.5, edge_order=2), rtol=1e-14)


def test_gradient_errors():
    y = named_array("y", (3, 2))
    with pytest.raises(ValueError, match="too small"):
        snp.gradient(y, axis=1, edge_order=2)
    with pytest.raises(ValueError, match="edge_order"):
        snp.gradient(y, edge_order=3)
    with pytest.raises(TypeError, match="invalid number of arguments"):
        snp.gradient(y, 1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="must match the length"):
        snp.gradient(y, np.arange(4.0), axis=0)
    with pytest.raises(np.exceptions.AxisError):
        snp.gradient(y, axis=2)


def test_ediff1d_like_numpy():
    a = np.array([[1.0, 3.0], [6.0, 2.0]])

    def differences(kwargs):
        return lambda v: snp.ediff1d(v, **kwargs)

    for kwargs in ({}, {"to_begin": -1.0}, {"to_end": [7.0, 8.0], "to_begin": [0.0]}):
        want = np.ediff1d(a, **kwargs)
        np.testing.assert_allclose(compiled(differences(kwargs), (2, 2))(a), want)


# --------------------------------------------------------------------------------------
# cov, corrcoef


X = np.random.default_rng(0).normal(size=(3, 6))
FWEIGHTS = np.array([1, 2, 1, 3, 1, 1])
AWEIGHTS = np.array([0.5, 1.5, 1.0, 2.0, 0.25, 1.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"bias": True},
        {"ddof": 2},
        {"fweights": FWEIGHTS},
        {"aweights": AWEIGHTS},
        {"fweights": FWEIGHTS, "aweights": AWEIGHTS},
        {"fweights": FWEIGHTS, "aweights": AWEIGHTS, "ddof": 0},
        {"aweights": AWEIGHTS, "ddof": 2},
    ],
)
def test_cov_like_numpy(kwargs):
    want = np.cov(X, **kwargs)
    got = compiled(lambda m: snp.cov(m, **kwargs), (3, 6))(X)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(snp.cov(X, **kwargs), dtype=float), want, rtol=1e-13)
    # variables in columns
    got = compiled(lambda m: snp.cov(m, rowvar=False, **kwargs), (6, 3))(X.T)
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_cov_of_two_arrays_and_one_variable():
    def pair(a, b):
        return snp.cov(a, b)

    def single(a):
        return snp.cov(a)

    got = compiled(pair, (6,), (6,))(X[0], X[1])
    np.testing.assert_allclose(got, np.cov(X[0], X[1]), rtol=1e-13)
    one = compiled(single, (6,))(X[0])
    assert np.shape(one) == ()
    assert one == pytest.approx(np.cov(X[0]), rel=1e-13)


def test_corrcoef_on_backend(backend):
    value = symnum.numpify(lambda m: snp.corrcoef(m), (3, 6), backend=backend)  # noqa: PLW0108 - numpify reads the signature
    np.testing.assert_allclose(value(X), np.corrcoef(X), rtol=1e-13)
    grad = symnum.gradient(lambda m: snp.corrcoef(m)[0, 2], (3, 6), backend=backend)
    want = central_differences(lambda v: np.corrcoef(v.reshape(3, 6))[0, 2], X.ravel())
    np.testing.assert_allclose(grad(X).ravel(), want, rtol=1e-7, atol=1e-8)


def test_cov_errors():
    m = named_array("m", (2, 3))
    with pytest.raises(ValueError, match="more than 2 dimensions"):
        snp.cov(named_array("t", (2, 2, 2)))
    with pytest.raises(TypeError, match="fweights must be integer"):
        snp.cov(m, fweights=[1.5, 1.0, 1.0])
    with pytest.raises(ValueError, match="cannot be negative"):
        snp.cov(m, aweights=[1.0, -1.0, 1.0])
    with pytest.raises(RuntimeError, match="incompatible numbers of samples"):
        snp.cov(m, fweights=[1, 1])
    with pytest.raises(ValueError, match="no degrees of freedom"):
        snp.cov(m, ddof=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # numbers: NumPy's inf / nan
        assert np.isinf(np.asarray(snp.cov([[1.0, 2.0, 4.0]], ddof=3), dtype=float)).all()


# --------------------------------------------------------------------------------------
# nan_to_num, index helpers


def test_nan_to_num_on_backend(backend):
    v = np.array([1.5, np.nan, np.inf, -np.inf, -2.0])
    f = symnum.numpify(lambda x: snp.nan_to_num(x), (5,), backend=backend)  # noqa: PLW0108 - numpify reads the signature
    np.testing.assert_array_equal(f(v), np.nan_to_num(v))
    g = symnum.numpify(
        lambda x: snp.nan_to_num(x, nan=-1.0, posinf=7.0, neginf=x[0]), (5,), backend=backend
    )
    np.testing.assert_array_equal(g(v), np.nan_to_num(v, nan=-1.0, posinf=7.0, neginf=1.5))
    # the derivative is 1 where x is finite, 0 where it was replaced
    jac = symnum.jacobian(lambda x: snp.nan_to_num(x, posinf=7.0), (5,), backend=backend)(v)
    np.testing.assert_array_equal(np.diag(jac), [1.0, 0.0, 0.0, 0.0, 1.0])
    numeric = snp.nan_to_num([1.0, np.nan, -np.inf])
    np.testing.assert_array_equal(np.asarray(numeric, float), np.nan_to_num([1.0, np.nan, -np.inf]))


def test_index_helpers_are_numpys():
    a = named_array("a", (3, 3))
    for ours, theirs in (
        (snp.tril_indices(3, -1), np.tril_indices(3, -1)),
        (snp.triu_indices(3, 1, 4), np.triu_indices(3, 1, 4)),
        (snp.tril_indices_from(a), np.tril_indices(3)),
        (snp.triu_indices_from(a, 1), np.triu_indices(3, 1)),
        (snp.diag_indices_from(a), np.diag_indices(3)),
    ):
        for u, v in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(snp.tri(3, 2, 0), np.tri(3, 2, 0))
    np.testing.assert_array_equal(snp.indices((2, 3)), np.indices((2, 3)))
    with pytest.raises(ValueError, match="2-d"):
        snp.tril_indices_from(named_array("v", (3,)))


def test_packing_a_cholesky_factor_with_tril_indices():
    # the common use: a lower-triangular factor from a parameter vector
    def log_density(theta):
        chol = snp.zeros((3, 3))
        chol[snp.tril_indices(3)] = theta
        cov = chol @ chol.T
        return snp.sum(cov * np.arange(9.0).reshape(3, 3))

    theta = np.array([1.0, 0.2, 0.8, -0.3, 0.1, 0.9])
    chol = np.zeros((3, 3))
    chol[np.tril_indices(3)] = theta
    want = np.sum(chol @ chol.T * np.arange(9.0).reshape(3, 3))
    assert compiled(log_density, (6,))(theta) == pytest.approx(want, rel=1e-14)


# --------------------------------------------------------------------------------------
# polyder, polyint, divmod, modf, ldexp


P = np.array([3.0, -2.0, 0.5, 1.0])


@pytest.mark.parametrize("m", [0, 1, 2, 3, 4])
def test_polyder_like_numpy(m):
    got = compiled(lambda c: snp.polyder(c, m), (4,))(P)
    np.testing.assert_allclose(got, np.polyder(P, m), rtol=1e-15)
    assert np.shape(snp.polyder(P, m)) == np.shape(np.polyder(P, m))


@pytest.mark.parametrize(("m", "k"), [(0, None), (1, None), (2, 3.0), (2, [1.0, 2.0])])
def test_polyint_like_numpy(m, k):
    got = compiled(lambda c: snp.polyint(c, m, k), (4,))(P)
    np.testing.assert_allclose(got, np.polyint(P, m, k), rtol=1e-15)


def test_polynomial_errors():
    with pytest.raises(ValueError, match="must be positive"):
        snp.polyder(P, -1)
    with pytest.raises(ValueError, match="must be positive"):
        snp.polyint(P, -1)
    with pytest.raises(ValueError, match="k must be a scalar"):
        snp.polyint(P, 3, [1.0, 2.0])
    with pytest.raises(ValueError, match="1-D"):
        snp.polyder(np.ones((2, 2)))


def test_divmod_modf_ldexp_like_numpy():
    v = np.array([-3.5, 2.25, 7.0, -0.0])

    def parts(x):
        quotient, remainder = snp.divmod(x, 0.75)
        fraction, whole = snp.modf(x)
        return quotient, remainder, fraction, whole, snp.ldexp(x, 3)

    got = compiled(parts, (4,))(v)
    want = (*np.divmod(v, 0.75), *np.modf(v), np.ldexp(v, 3))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    ldexp = compiled(lambda x, n: snp.ldexp(x, n), (4,), (4,))  # noqa: PLW0108 - numpify reads the signature
    np.testing.assert_array_equal(
        ldexp(v, np.array([1.0, -2.0, 10.0, 3.0])), np.ldexp(v, [1, -2, 10, 3])
    )
    with pytest.raises(TypeError, match="must be an integer"):
        snp.ldexp(1.0, 0.5)


# --------------------------------------------------------------------------------------
# vectorize, apply_along_axis


def test_vectorize_broadcasts_and_excludes():
    def softclip(x, lo, hi):
        return lo + (hi - lo) / (1 + snp.exp(-x))

    lows = np.array([[0.0], [1.0]])
    vectorized = snp.vectorize(softclip, excluded={2})
    f = compiled(lambda x: vectorized(x, lows, 5.0), (3,))
    x = np.array([-1.0, 0.0, 2.0])
    want = np.vectorize(lambda a, lo, hi: lo + (hi - lo) / (1 + np.exp(-a)), excluded={2})(
        x, lows, 5.0
    )
    np.testing.assert_allclose(f(x), want, rtol=1e-15)
    pair = snp.vectorize(lambda a, b: (a + b, a * b))([1.0, 2.0], 3.0)
    assert isinstance(pair, tuple)
    np.testing.assert_array_equal(np.asarray(pair, dtype=float), [[4.0, 5.0], [3.0, 6.0]])
    assert float(snp.vectorize(lambda a: a**2)(3.0)) == 9.0
    assert snp.vectorize(softclip, doc="clip").__doc__ == "clip"
    with pytest.raises(NotImplementedError, match="signature"):
        snp.vectorize(softclip, signature="(n)->()")


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_apply_along_axis_like_numpy(axis):
    m = np.arange(12.0).reshape(3, 4) - 5.0

    def summary(r, scale):
        return snp.stack([snp.sum(r), snp.max(r) * scale])

    def numpy_summary(r, scale):
        return np.stack([np.sum(r), np.max(r) * scale])

    got = compiled(lambda a: snp.apply_along_axis(summary, axis, a, 2.0), (3, 4))(m)
    np.testing.assert_allclose(got, np.apply_along_axis(numpy_summary, axis, m, 2.0))
    outer = compiled(lambda a: snp.apply_along_axis(lambda r: snp.outer(r, r), axis, a), (3, 4))
    np.testing.assert_allclose(outer(m), np.apply_along_axis(lambda r: np.outer(r, r), axis, m))
    with pytest.raises(np.exceptions.AxisError):
        snp.apply_along_axis(snp.sum, 2, named_array("a", (3, 4)))
