"""The numeric differential operators: every operator against central finite
differences on every backend, ``wrt=``, ``return_aux=`` order, both calling forms
(numeric function or symbolic function plus shapes) and the backend they pick."""

from __future__ import annotations

import numpy as np
import pytest

import symnum
import symnum.numpy as snp

RNG = np.random.default_rng(7)
X = RNG.uniform(-1, 1, 3)
Y = RNG.uniform(0.5, 1.5, (2,))
STEP = 1e-6


def scalar_func(x, y):
    return snp.sum(snp.exp(x[:2] * y) * snp.cos(x[1:])) + snp.log1p(x[0] ** 2) * y[1]


def vector_func(x, y):
    return snp.array([x[0] * x[1] * y[0], snp.sin(x[2]) + x[0] ** 3, snp.tanh(x[1] * y[1])])


def numeric_jacobian(f, x, *rest, wrt=0):
    """d f / d args[wrt] by central differences; shape f.shape + x.shape."""
    args = [x, *rest]
    base = np.asarray(f(*args))
    point = np.asarray(args[wrt], dtype=float)
    jac = np.empty(base.shape + point.shape)
    for index in np.ndindex(point.shape):
        up, down = point.copy(), point.copy()
        up[index] += STEP
        down[index] -= STEP
        args_up = list(args)
        args_down = list(args)
        args_up[wrt], args_down[wrt] = up, down
        diff = (np.asarray(f(*args_up)) - np.asarray(f(*args_down))) / (2 * STEP)
        jac[(Ellipsis, *index)] = diff
    return jac


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.fixture
def value(backend):
    return symnum.numpify(scalar_func, (3,), (2,), backend=backend)


@pytest.fixture
def forward(backend):
    return symnum.numpify(vector_func, (3,), (2,), backend=backend)


def test_gradient_and_hessian(value):
    grad = symnum.gradient(value)
    close(grad(X, Y), numeric_jacobian(value, X, Y))
    hess = symnum.hessian(value)
    close(hess(X, Y), numeric_jacobian(grad, X, Y))
    assert symnum.grad is symnum.gradient


@pytest.mark.parametrize("wrt", [0, 1])
def test_wrt(value, forward, wrt):
    grad = symnum.gradient(value, wrt=wrt)
    close(grad(X, Y), numeric_jacobian(value, X, Y, wrt=wrt))
    jac = symnum.jacobian(forward, wrt=wrt)
    close(jac(X, Y), numeric_jacobian(forward, X, Y, wrt=wrt))


def test_jacobian(forward):
    jac = symnum.jacobian(forward)
    assert jac.signature == "(3),(2)->(3,3)"
    close(jac(X, Y), numeric_jacobian(forward, X, Y))


@pytest.mark.slow
def test_products(value, forward):
    v3 = RNG.standard_normal(3)
    w3 = RNG.standard_normal(3)
    m33 = RNG.standard_normal((3, 3))
    jac = numeric_jacobian(forward, X, Y)
    hess = symnum.hessian(value)(X, Y)
    close(symnum.jacobian_vector_product(forward)(X, Y)(v3), jac @ v3)
    close(symnum.vector_jacobian_product(forward)(X, Y)(w3), w3 @ jac)
    close(symnum.hessian_vector_product(value)(X, Y)(v3), hess @ v3)
    # matrix-Hessian product: sum_ij m_ij d2 f_i / dx_j dx_k
    second = numeric_jacobian(symnum.jacobian(forward), X, Y)
    close(symnum.matrix_hessian_product(forward)(X, Y)(m33), np.einsum("ij,ijk->k", m33, second))
    # matrix-Tressian product: sum_ij m_ij d3 f / dx_i dx_j dx_k
    third = numeric_jacobian(symnum.hessian(value), X, Y)
    close(symnum.matrix_tressian_product(value)(X, Y)(m33), np.einsum("ij,ijk->k", m33, third))


@pytest.mark.slow
def test_return_aux_order(value, forward):
    hess, grad, val = symnum.hessian(value, return_aux=True)(X, Y)
    close(grad, symnum.gradient(value)(X, Y))
    assert val == pytest.approx(value(X, Y), rel=1e-14)
    assert hess.shape == (3, 3)
    grad2, val2 = symnum.gradient(value, return_aux=True)(X, Y)
    np.testing.assert_allclose(grad2, grad, rtol=1e-14)  # products share factors differently
    assert val2 == val
    jac, out = symnum.jacobian(forward, return_aux=True)(X, Y)
    np.testing.assert_allclose(out, forward(X, Y), rtol=1e-15)
    assert jac.shape == (3, 3)
    mtp, hess3, grad3, val3 = symnum.matrix_tressian_product(value, return_aux=True)(X, Y)
    for got, want in ((hess3, hess), (grad3, grad), (val3, val)):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    mhp, jac2, out2 = symnum.matrix_hessian_product(forward, return_aux=True)(X, Y)
    np.testing.assert_allclose(jac2, jac, rtol=1e-14)
    jvp, out3 = symnum.jacobian_vector_product(forward, return_aux=True)(X, Y)
    vjp, out4 = symnum.vector_jacobian_product(forward, return_aux=True)(X, Y)
    for got in (out2, out3, out4):
        np.testing.assert_allclose(got, out, rtol=1e-14)
    hvp, grad4, val4 = symnum.hessian_vector_product(value, return_aux=True)(X, Y)
    np.testing.assert_allclose(grad4, grad, rtol=1e-14)
    assert val4 == pytest.approx(val, rel=1e-14)
    for callable_result in (mtp, mhp, jvp, vjp, hvp):
        assert callable(callable_result)


def test_symbolic_function_with_shapes(backend):
    grad = symnum.gradient(scalar_func, (3,), (2,), backend=backend)
    assert grad.backend == backend
    assert grad._arg_shapes == ((3,), (2,))
    close(grad(X, Y), numeric_jacobian(symnum.numpify(scalar_func, (3,), (2,)), X, Y))


def test_backend_is_inherited_and_can_be_overridden(value, backend):
    assert symnum.gradient(value).backend == backend
    assert symnum.gradient(value, backend="numpy").backend == "numpy"


def test_batched_derivatives(value):
    xs = RNG.uniform(-1, 1, (4, 3))
    hess = symnum.hessian(value)
    batch = hess(xs, Y)
    assert batch.shape == (4, 3, 3)
    for k in range(4):
        np.testing.assert_allclose(batch[k], hess(xs[k], Y), rtol=1e-15)


def test_readme_example_matches_0_2_1_values():
    y = np.array([1.0, 0.0])

    def forward_func(x):
        return snp.array([[1.0, -0.5], [-0.5, 1.0]]) @ snp.array(
            [snp.cos(-(x[1] ** 2) + 3 * x[0]), snp.sin(x[0] - 1)]
        )

    def neg_log_dens(x):
        return (snp.sum((y - forward_func(x)) ** 2 / 0.3**2) + snp.sum(x**2)) / 2

    x = np.array([0.2, 0.3])
    # values printed by SymNum 0.2.1 for the same function and point
    assert symnum.numpify(neg_log_dens, (2,))(x) == pytest.approx(7.757474952761835, rel=1e-14)
    np.testing.assert_allclose(
        symnum.gradient(neg_log_dens, (2,))(x), [-22.77987407, 2.93058126], rtol=1e-8
    )
    np.testing.assert_allclose(
        symnum.hessian(neg_log_dens, (2,))(x),
        [[-20.45528271, 5.88318797], [5.88318797, 8.13847811]],
        rtol=1e-8,
    )
