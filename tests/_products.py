"""The operator-valued products of the README example, shared by the backends' tests:
the model, the operators by short name and reference values computed without closures."""

from __future__ import annotations

import numpy as np

# the README's model
Y, SIGMA = np.array([1.0, 0.0]), 0.3


def forward_func(x):
    import symnum.numpy as snp

    return snp.array([[1.0, -0.5], [-0.5, 1.0]]) @ snp.array(
        [snp.cos(-(x[1] ** 2) + 3 * x[0]), snp.sin(x[0] - 1)]
    )


def neg_log_dens(x):
    import symnum.numpy as snp

    return (snp.sum((Y - forward_func(x)) ** 2 / SIGMA**2) + snp.sum(x**2)) / 2


def central_difference(f, x, step=1e-6):
    """``d f / d x[l]`` for each ``l``, stacked last."""
    columns = []
    for k in range(x.size):
        dx = np.zeros_like(x)
        dx[k] = step
        columns.append((f(x + dx) - f(x - dx)) / (2 * step))
    return np.stack(columns, axis=-1)


def reference_product(name: str, x, arg):
    """The product by other means: dense derivatives (no closures) and differences."""
    import symnum

    jac = symnum.jacobian(forward_func, (2,))
    hess = symnum.hessian(neg_log_dens, (2,))
    if name == "jvp":
        return jac(x) @ arg
    if name == "vjp":
        return arg @ jac(x)
    if name == "hvp":
        return hess(x) @ arg
    if name == "mhp":
        return central_difference(lambda y: np.sum(arg * jac(y)), x)
    return central_difference(lambda y: np.sum(arg * hess(y)), x)


PRODUCTS = {  # name -> (operator, function, shape of its argument)
    "jvp": ("jacobian_vector_product", forward_func, (2,)),
    "vjp": ("vector_jacobian_product", forward_func, (2,)),
    "hvp": ("hessian_vector_product", neg_log_dens, (2,)),
    "mhp": ("matrix_hessian_product", forward_func, (2, 2)),
    "mtp": ("matrix_tressian_product", neg_log_dens, (2, 2)),
}


def operator(name: str, backend: str = "numpy", **kwargs):
    """The operator ``name`` (a key of :data:`PRODUCTS`) on ``backend``."""
    import symnum

    op, func, _ = PRODUCTS[name]
    return getattr(symnum, op)(func, (2,), backend=backend, **kwargs)
