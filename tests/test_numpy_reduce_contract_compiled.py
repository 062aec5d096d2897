"""The reductions, contractions and linalg functions added for NumPy 2 parity (average,
ptp, trapezoid, polyval, cumulative_sum, convolve, correlate, vander, vecdot, matvec,
vecmat, matrix_transpose, linalg.matrix_power, multi_dot, trace, vector_norm,
matrix_norm) compiled together on every backend: values against NumPy, a gradient
against finite differences. One function of them all keeps the builds few.
"""

from __future__ import annotations

import numpy as np
import pytest

import symnum
import symnum.numpy as snp


@pytest.fixture
def rng():
    return np.random.default_rng(20260214)


def _added(m, x, y, s):
    """The added functions of the NumPy-like module ``m`` on x (3,), y (3, 3), s (5,)."""
    return (
        m.average(y, axis=1, weights=x * x + 1),
        m.average(s, returned=True)[0],
        m.ptp(y, axis=0),
        m.trapezoid(s, x=m.cumsum(s * s)),
        m.trapezoid(y, dx=0.5, axis=0),
        m.polyval(x, s),
        m.convolve(s, x, mode="same"),
        m.correlate(x, s, mode="full"),
        m.vander(x, 4),
        m.vecdot(y, x),
        m.matvec(y, x),
        m.vecmat(x, y),
        m.matrix_transpose(y[:, :2]),
        m.cumulative_sum(s, include_initial=True),
        m.linalg.matrix_power(y, 3),
        m.linalg.matrix_power(y, -1),
        m.linalg.multi_dot([x, y, m.matrix_transpose(y), x]),
        m.linalg.trace(y, offset=1),
        m.linalg.vector_norm(y, axis=0, ord=3),
        m.linalg.matrix_norm(y, ord=1),
    )


def _split(v):
    return v[:3], snp.reshape(v[3:12], (3, 3)), v[12:]


def _scalar(v):
    return sum(snp.sum(c) for c in _added(snp, *_split(v)))


def _finite_difference(f, v, h=1e-6):
    grad = np.zeros_like(v)
    for i in range(v.size):
        step = np.zeros_like(v)
        step[i] = h
        grad[i] = (f(v + step) - f(v - step)) / (2 * h)
    return grad


def test_added_functions_on_backend(backend, rng):
    x, s = rng.normal(size=3), rng.normal(size=5)
    y = rng.normal(size=(3, 3)) + 3 * np.eye(3)  # well away from singular
    f = symnum.numpify(lambda x, y, s: _added(snp, x, y, s), (3,), (3, 3), (5,), backend=backend)
    got, expected = f(x, y, s), _added(np, x, y, s)
    assert len(got) == len(expected)
    for g, want in zip(got, expected, strict=True):
        assert np.shape(g) == np.shape(want)
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)
    v = np.concatenate([x, y.ravel(), s])
    grad = symnum.gradient(_scalar, (17,), backend=backend)
    reference = symnum.numpify(_scalar, (17,), backend="numpy")
    np.testing.assert_allclose(grad(v), _finite_difference(reference, v), rtol=1e-6, atol=1e-6)
