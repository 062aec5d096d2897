"""symnum.numpy across its modules: functions of every module compiled together on
every backend against NumPy, derivatives against finite differences, and bad input,
which must raise ValueError / TypeError with a useful message.

Each module's own tests are test_numpy_<module>.py (numeric input there must give
NumPy's values).
"""

from __future__ import annotations

import numpy as np
import pytest
from _assert import assert_close

import symnum
import symnum.numpy as snp
from symnum import named_array


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


# --------------------------------------------------------------------------------------
# Symbolic input compiled on every backend


def _kitchen_sink(m, x, y, z):
    """Many functions of the NumPy-like module ``m`` at once (one compilation per backend)."""
    return (
        m.matmul(z, y),
        m.dot(x, y),
        m.tensordot(z, x, ([1, 2], [0, 1])),
        m.einsum("ij,jk->ki", x, y),
        m.einsum("aij,aik->jk", z, z),
        m.outer(x[0], y[:, 0]),
        m.diag(x[1]),
        m.trace(y[:, :3]),
        m.stack([x, z[0]], axis=1),
        m.hstack([x, z[1]]),
        m.vstack([x, y.T[:2]]),
        m.moveaxis(z, 0, -1),
        m.broadcast_to(x[0], (2, 3)),
        m.mean(z, axis=(0, 2)),
        m.cumsum(y, axis=1),
        m.max(y, axis=0),
        m.min(x),
        m.clip(y, -0.5, 0.5),
        m.square(x) + m.reciprocal(x),
        m.logaddexp(x, y.T[:2]),
        m.hypot(x, 1.5),
        m.exp2(x),
        m.var(z, axis=1),
    )


def test_kitchen_sink_on_backend(backend, rng):
    f = symnum.numpify(
        lambda x, y, z: _kitchen_sink(snp, x, y, z), (2, 3), (3, 4), (2, 2, 3), backend=backend
    )
    x, y, z = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(2, 2, 3))
    results = f(x, y, z)
    expected = _kitchen_sink(np, x, y, z)
    assert len(results) == len(expected)
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
        assert np.shape(got) == np.shape(want)


def _scalar_objective(x, y):
    """A scalar function exercising the differentiable functions."""
    z = snp.einsum("ij,jk->ik", x, y)
    return (
        snp.sum(snp.logaddexp(z, 0.3 * z[:, :1]))
        + snp.trace(snp.matmul(x, snp.reshape(y[:, :2], (3, 2))))
        + snp.max(z)
        - snp.min(snp.cumsum(y, axis=0))
        + snp.mean(snp.square(snp.clip(x, -0.8, 0.8)))
        + snp.sum(snp.hypot(x, snp.moveaxis(y[:, :2], 0, 1)))
        + snp.dot(snp.exp2(x[0]), y[:, 1])
        + snp.sum(snp.tensordot(snp.stack([x, x * x]), y, 1) / 10)
        + snp.std(y)
    )


def _finite_difference(f, arrays, index, h=1e-6):
    """Central difference gradient of the numeric scalar ``f`` wrt argument ``index``."""
    base = [np.array(a, dtype=float) for a in arrays]
    grad = np.zeros_like(base[index])
    for i in np.ndindex(base[index].shape):
        plus = [a.copy() for a in base]
        minus = [a.copy() for a in base]
        plus[index][i] += h
        minus[index][i] -= h
        grad[i] = (f(*plus) - f(*minus)) / (2 * h)
    return grad


def _flat_objective(v):
    return _scalar_objective(snp.reshape(v[:6], (2, 3)), snp.reshape(v[6:], (3, 4)))


@pytest.mark.slow  # numba takes ~8 s to compile this gradient
def test_derivatives_against_finite_differences(backend, rng):
    v = rng.normal(size=18)
    # the finite-difference reference runs on the numpy backend (fast to build)
    value = symnum.numpify(_flat_objective, (18,), backend="numpy")
    grad = symnum.gradient(_flat_objective, (18,), backend=backend)
    expected = _finite_difference(value, (v,), 0)
    np.testing.assert_allclose(grad(v), expected, rtol=1e-6, atol=1e-6)


def test_hessian_of_logaddexp_and_max(backend, rng):
    def f(x):
        return snp.sum(snp.logaddexp(x, x[::-1] * 0.5)) + snp.max(x * x) + snp.mean(x**3)

    x = rng.normal(size=4)
    grad = symnum.gradient(f, (4,), backend=backend)
    hess = symnum.hessian(f, (4,), backend=backend)
    expected = np.array([_finite_difference(lambda v, i=i: grad(v)[i], (x,), 0) for i in range(4)])
    np.testing.assert_allclose(hess(x), expected, rtol=1e-6, atol=1e-6)


def _products_and_differences(m, x, y):
    """kron, cross, diff and the triangles of the NumPy-like module ``m``."""
    return (
        m.kron(x, y[:2]),
        m.cross(y, x[::-1], axis=0),
        m.diff(x, 2, prepend=y[0]),
        m.triu(m.outer(x, y), 1) + m.tril(m.outer(y, x)[:3], -1),
    )


def test_products_and_differences_on_backend(backend, rng):
    def value(x, y):
        return _products_and_differences(snp, x, y)

    def scalar(v):
        x, y = v[:3], v[3:]
        kron, cross, diff, tri = _products_and_differences(snp, x, y)
        return snp.sum(kron**2) + snp.sum(snp.sin(cross)) + snp.sum(diff**3) + snp.sum(tri)

    x, y = rng.normal(size=3), rng.normal(size=3)
    got = symnum.numpify(value, (3,), (3,), backend=backend)(x, y)
    for g, want in zip(got, _products_and_differences(np, x, y), strict=True):
        _close(g, want)
        assert np.shape(g) == np.shape(want)
    v = np.concatenate([x, y])
    grad = symnum.gradient(scalar, (6,), backend=backend)
    reference = symnum.numpify(scalar, (6,), backend="numpy")
    np.testing.assert_allclose(
        grad(v), _finite_difference(reference, (v,), 0), rtol=1e-6, atol=1e-6
    )


# --------------------------------------------------------------------------------------
# Bad input


def test_unbroadcastable_shapes():
    x, y = named_array("x", (2, 3)), named_array("y", (4,))
    with pytest.raises(ValueError, match="broadcast"):
        snp.logaddexp(x, y)
    with pytest.raises(ValueError, match="broadcast"):
        snp.clip(x, y, 1.0)
    with pytest.raises(ValueError, match="broadcast"):
        snp.broadcast_to(x, (3, 3))
    with pytest.raises(ValueError, match="not aligned"):
        snp.matmul(x, y)
    with pytest.raises(ValueError, match="batch"):
        snp.matmul(named_array("a", (2, 2, 3)), named_array("b", (3, 3, 1)))
    with pytest.raises(ValueError, match="dimension"):
        snp.matmul(x, 2.0)
    with pytest.raises(ValueError, match="not aligned"):
        snp.dot(x, y)
    with pytest.raises(ValueError, match="shape-mismatch"):
        snp.tensordot(x, y, ([1], [0]))
    with pytest.raises(ValueError, match="axes"):
        snp.tensordot(x, y, 3)
    with pytest.raises(ValueError, match="cannot reshape"):
        snp.reshape(x, (4, 2))
    with pytest.raises(ValueError, match=r"same shape|dimensions"):
        snp.stack([x, y])
    with pytest.raises(ValueError, match=r"at least one array|need at least"):
        snp.stack([])


def test_bad_argument_types():
    with pytest.raises(TypeError, match="subscripts string"):
        snp.einsum(["i"], named_array("a", 2))
    with pytest.raises(TypeError, match="list or tuple"):
        snp.stack(named_array("a", (2, 2)))
    with pytest.raises(TypeError, match="must be an int"):
        snp.diag(named_array("a", 3), 1.5)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        snp.diag(named_array("a", (2, 2, 2)))
    with pytest.raises(ValueError, match="at least one"):
        snp.clip(named_array("a", 3))
    with pytest.raises(TypeError, match="not both"):
        snp.clip(named_array("a", 3), 0.0, min=1.0)
    with pytest.raises(TypeError, match="scalar or an array"):
        snp.logaddexp(object(), 1.0)
    with pytest.raises(NotImplementedError, match="order"):
        snp.reshape(named_array("a", 4), (2, 2), order="F")
    with pytest.raises(NotImplementedError, match="where"):
        snp.max(named_array("a", 4), where=True)
