"""``value_and_grad``, the uncurried products (``curried=False``) and the numeric
functions used directly by ``scipy.optimize``: ``jac=True``, ``jac=``, ``hess=``,
``hessp=`` and the Jacobian of a ``NonlinearConstraint``."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import symnum
import symnum.numpy as snp
from symnum.diffops import symbolic

optimize = pytest.importorskip("scipy.optimize", reason="scipy is needed for these tests")

RNG = np.random.default_rng(3)
X = RNG.uniform(-1, 1, 3)
Y = RNG.uniform(0.5, 1.5, (2,))


def scalar_func(x, y):
    return snp.sum(snp.exp(x[:2] * y) * snp.cos(x[1:])) + snp.log1p(x[0] ** 2) * y[1]


def vector_func(x, y):
    return snp.array([x[0] * x[1] * y[0], snp.sin(x[2]) + x[0] ** 3, snp.tanh(x[1] * y[1])])


def rosenbrock(x):
    return snp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_value_and_grad_is_value_then_gradient(backend):
    value_and_grad = symnum.value_and_grad(scalar_func, (3,), (2,), backend=backend)
    value, grad = value_and_grad(X, Y)
    close(value, symnum.numpify(scalar_func, (3,), (2,))(X, Y))
    close(grad, symnum.gradient(scalar_func, (3,), (2,))(X, Y))
    assert np.shape(value) == ()
    assert value_and_grad.signature == "(3),(2)->(),(3)"
    assert value_and_grad.backend == backend


def test_value_and_grad_of_a_numeric_function_reuses_shapes_and_backend(backend):
    value = symnum.numpify(scalar_func, (3,), (2,), backend=backend)
    value_and_grad = symnum.value_and_grad(value, wrt=1)
    assert value_and_grad.backend == backend
    _, grad = value_and_grad(X, Y)
    close(grad, symnum.gradient(scalar_func, (3,), (2,), wrt=1)(X, Y))


def test_value_and_grad_wrt_several_arguments():
    value, (grad_x, grad_y) = symnum.value_and_grad(scalar_func, (3,), (2,), wrt=(0, 1))(X, Y)
    close(value, symnum.numpify(scalar_func, (3,), (2,))(X, Y))
    close(grad_x, symnum.gradient(scalar_func, (3,), (2,), wrt=0)(X, Y))
    close(grad_y, symnum.gradient(scalar_func, (3,), (2,), wrt=1)(X, Y))


def test_value_and_grad_batches():
    xs = RNG.uniform(-1, 1, (5, 3))
    values, grads = symnum.value_and_grad(scalar_func, (3,), (2,))(xs, Y)
    assert values.shape == (5,)
    assert grads.shape == (5, 3)
    close(grads[2], symnum.gradient(scalar_func, (3,), (2,))(xs[2], Y))


def test_value_and_grad_errors():
    with pytest.raises(ValueError, match="scalar-valued"):
        symnum.value_and_grad(vector_func, (3,), (2,))
    with pytest.raises(TypeError, match="return_aux"):
        symnum.value_and_grad(scalar_func, (3,), (2,), return_aux=True)


def test_symbolic_value_and_grad():
    x, y = symnum.named_array("x", 3), symnum.named_array("y", 2)
    value, grad = symbolic.value_and_grad(scalar_func)(x, y)
    # the symbolic operators hand out SymPy's canonical form (as SymNum 0.2.1 does), the
    # same as gradient(..., return_aux=True); a plain trace keeps its raw form
    grad_aux, value_aux = symbolic.gradient(scalar_func, return_aux=True)(x, y)
    assert value == value_aux
    assert all(a == b for a, b in zip(grad, grad_aux, strict=True))
    assert sympy.expand(value - scalar_func(x, y)) == 0
    assert grad.shape == (3,)
    assert symbolic.value_and_grad(scalar_func).__name__ == "value_and_grad_scalar_func"


# -- curried=False -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "func", "operand_shape", "wrt"),
    [
        (symnum.jacobian_vector_product, vector_func, (3,), 0),
        (symnum.vector_jacobian_product, vector_func, (3,), 0),
        (symnum.hessian_vector_product, scalar_func, (3,), 0),
        (symnum.hessian_vector_product, scalar_func, (2,), 1),
        (symnum.matrix_hessian_product, vector_func, (3, 3), 0),
        (symnum.matrix_hessian_product, vector_func, (3, 2), 1),
        (symnum.matrix_tressian_product, scalar_func, (3, 3), 0),
    ],
)
@pytest.mark.parametrize("return_aux", [False, True])
def test_uncurried_equals_curried(operator, func, operand_shape, wrt, return_aux):
    operand = RNG.standard_normal(operand_shape)
    curried = operator(func, (3,), (2,), wrt=wrt, return_aux=return_aux)(X, Y)
    uncurried = operator(func, (3,), (2,), wrt=wrt, return_aux=return_aux, curried=False)
    args = (X, operand, Y) if wrt == 0 else (X, Y, operand)
    result = uncurried(*args)
    if return_aux:
        close(result[0], curried[0](operand))
        for a, b in zip(result[1:], curried[1:], strict=True):
            close(a, b)
    else:
        close(result, curried(operand))


def test_uncurried_signature_names_and_backend(backend):
    hessp = symnum.hessian_vector_product(scalar_func, (3,), (2,), curried=False, backend=backend)
    assert hessp.signature == "(3),(3),(2)->(3)"
    assert hessp._arg_names == ("x", "v", "y")
    assert hessp.backend == backend
    close(
        hessp(X, np.ones(3), Y),
        symnum.hessian(scalar_func, (3,), (2,))(X, Y) @ np.ones(3),
    )


def test_uncurried_operand_avoids_argument_names():
    def f(v, x):
        return snp.sum(v**3 * x)

    hessp = symnum.hessian_vector_product(f, (2,), (2,), curried=False)
    assert hessp._arg_names == ("v", "v_", "x")
    v, w, x = np.array([1.0, 2.0]), np.array([1.0, -1.0]), np.array([3.0, 4.0])
    close(hessp(v, w, x), 6 * v * x * w)


def test_uncurried_errors():
    with pytest.raises(TypeError, match="single argument index"):
        symnum.hessian_vector_product(scalar_func, (3,), (2,), wrt=(0, 1), curried=False)
    with pytest.raises(ValueError, match="Shapes must be specified"):
        symnum.hessian_vector_product(scalar_func, (3,), curried=False)
    with pytest.raises(ValueError, match="out of range"):
        symnum.hessian_vector_product(scalar_func, (3,), (2,), wrt=2, curried=False)


# -- scipy.optimize ------------------------------------------------------------------------


def test_minimize_with_value_and_grad_as_jac_true(backend):
    fun = symnum.value_and_grad(rosenbrock, (4,), backend=backend)
    result = optimize.minimize(fun, np.zeros(4), jac=True, method="BFGS", tol=1e-10)
    assert result.success, result.message
    np.testing.assert_allclose(result.x, np.ones(4), atol=1e-5)


def test_minimize_with_hess_and_hessp(backend):
    fun = symnum.numpify(rosenbrock, (4,), backend=backend)
    grad = symnum.gradient(fun)
    hess = symnum.hessian(fun)
    hessp = symnum.hessian_vector_product(fun, curried=False)
    runs = [
        ("trust-exact", {"hess": hess}),
        ("trust-ncg", {"hessp": hessp}),
        ("trust-krylov", {"hessp": hessp}),
        ("Newton-CG", {"hessp": hessp}),
    ]
    for method, second in runs:
        result = optimize.minimize(fun, np.zeros(4), jac=grad, method=method, tol=1e-6, **second)
        assert result.success, (method, result.message)
        np.testing.assert_allclose(result.x, np.ones(4), atol=1e-4, err_msg=method)


def test_minimize_passes_extra_args_after_the_vector():
    def least_squares(beta, a, b):
        return snp.sum((a @ beta - b) ** 2) / 2

    a = RNG.standard_normal((6, 2))
    b = RNG.standard_normal(6)
    shapes = ((2,), (6, 2), (6,))
    result = optimize.minimize(
        symnum.numpify(least_squares, *shapes),
        np.zeros(2),
        args=(a, b),
        jac=symnum.gradient(least_squares, *shapes),
        hessp=symnum.hessian_vector_product(least_squares, *shapes, curried=False),
        method="trust-krylov",
    )
    assert result.success, result.message
    np.testing.assert_allclose(result.x, np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-8)


def test_nonlinear_constraint_jacobian(backend):
    # minimise x0 + x1 + x2 on the unit sphere: the optimum is -(1, 1, 1)/sqrt(3)
    def objective(x):
        return snp.sum(x)

    def on_sphere(x):
        return snp.array([snp.sum(x**2) - 1])

    def weighted_hessian(x, v):
        return snp.sum(v * on_sphere(x))

    constr = symnum.numpify(on_sphere, (3,), backend=backend)
    jac = symnum.jacobian(on_sphere, (3,), backend=backend)
    hess = symnum.hessian(weighted_hessian, (3,), (1,), backend=backend)
    fun = symnum.value_and_grad(objective, (3,), backend=backend)
    x0 = np.array([0.5, -0.2, 0.1])
    runs = {
        # SLSQP uses no Hessians; trust-constr gets the objective's (zero) one and the
        # constraint's hess(x, v) = sum_i v[i] * Hessian of constraint i
        "SLSQP": ({}, optimize.NonlinearConstraint(constr, 0.0, 0.0, jac=jac)),
        "trust-constr": (
            {"hess": lambda x: np.zeros((3, 3))},
            optimize.NonlinearConstraint(constr, 0.0, 0.0, jac=jac, hess=hess),
        ),
    }
    for method, (second, constraint) in runs.items():
        result = optimize.minimize(
            fun, x0, jac=True, constraints=[constraint], method=method, **second
        )
        assert result.success, (method, result.message)
        np.testing.assert_allclose(result.x, -np.ones(3) / np.sqrt(3), atol=1e-5)
    np.testing.assert_allclose(hess(x0, np.array([2.0])), 4 * np.eye(3))
