"""Fit a Poisson regression with ``scipy.optimize`` and symnum's exact derivatives.

The model: counts ``y[i] ~ Poisson(exp(X[i] @ beta))`` with a standard normal prior on
the coefficients ``beta``; the data are simulated from a fixed seed (nothing is
downloaded). The maximum a posteriori estimate is found with trust-region Newton
methods, using

* symnum: ``value_and_grad`` as ``fun`` with ``jac=True``, ``hessian`` as ``hess=`` for
  ``trust-exact`` and ``hessian_vector_product(..., curried=False)`` as ``hessp=`` for
  ``trust-ncg`` and ``trust-krylov``;
* finite differences: the same ``trust-exact`` fit with central-difference gradients
  and Hessians, and BFGS with SciPy's own finite-difference gradient;
* JAX (``jax.jit`` of ``jax.value_and_grad`` and ``jax.hessian``) when it is installed.

It prints iterations, function evaluations, build time (symnum's code generation and
compilation, or JAX's first traced call; symnum's compiled code is cached on disk, so a
second run builds faster) and fit time for each, and how far each optimum is from the
finite-difference ``trust-exact`` one. The exit status is 1 if any fit did not converge.

Run::

    python examples/optimize_scipy.py             # 200 rows, 6 coefficients
    python examples/optimize_scipy.py --small     # 50 rows, 3 coefficients: seconds
    python examples/optimize_scipy.py --backend numba

symnum today writes the data rows into the generated code (one expression per row), so
build time grows with the number of rows; keep ``--rows`` in the hundreds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import optimize

import symnum
import symnum.numpy as snp
from symnum import backends

SEED = 20261201


def simulate(n_rows: int, n_coef: int, seed: int = SEED):
    """Design matrix of shape ``(n_rows, n_coef)`` (first column ones), counts of shape
    ``(n_rows,)`` and the coefficients of shape ``(n_coef,)`` they were drawn with."""
    rng = np.random.default_rng(seed)
    design = np.ones((n_rows, n_coef))
    design[:, 1:] = rng.standard_normal((n_rows, n_coef - 1)) / np.sqrt(n_coef)
    beta = rng.normal(0.5, 0.5, n_coef)
    counts = rng.poisson(np.exp(design @ beta)).astype(float)
    return design, counts, beta


def negative_log_posterior(design, counts, np_module=snp):
    """The negative log posterior (up to a constant) as a function of ``beta`` of shape
    ``(n_coef,)``, written once for ``symnum.numpy`` and for any other NumPy-like module
    (``jax.numpy``, ``numpy``)."""

    def neg_log_post(beta):
        eta = design @ beta
        return np_module.sum(np_module.exp(eta) - counts * eta) + np_module.sum(beta**2) / 2

    return neg_log_post


def central_gradient(func, x, step=1e-6):
    """Central-difference gradient of the scalar ``func`` at ``x`` of shape ``(n,)``."""
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = step
        grad[i] = (func(x + e) - func(x - e)) / (2 * step)
    return grad


def central_hessian(func, x, step=1e-4):
    """Central-difference Hessian of the scalar ``func`` at ``x``: shape ``(n, n)``."""
    n = x.size
    hess = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = step
        hess[i] = (central_gradient(func, x + e) - central_gradient(func, x - e)) / (2 * step)
    return (hess + hess.T) / 2


def fit(label, build, method, x0, **options):
    """Build the functions (timed), run ``scipy.optimize.minimize`` (timed) and return a
    row of results."""
    start = time.perf_counter()
    functions = build()
    build_time = time.perf_counter() - start
    start = time.perf_counter()
    result = optimize.minimize(x0=x0, method=method, **functions, **options)
    fit_time = time.perf_counter() - start
    return {
        "label": label,
        "method": method,
        "result": result,
        "build": build_time,
        "fit": fit_time,
    }


def symnum_fits(neg_log_post, n_coef, backend, x0):
    def with_hessian():
        return {
            "fun": symnum.value_and_grad(neg_log_post, (n_coef,), backend=backend),
            "jac": True,
            "hess": symnum.hessian(neg_log_post, (n_coef,), backend=backend),
        }

    def with_hessp():
        return {
            "fun": symnum.value_and_grad(neg_log_post, (n_coef,), backend=backend),
            "jac": True,
            "hessp": symnum.hessian_vector_product(
                neg_log_post, (n_coef,), backend=backend, curried=False
            ),
        }

    label = f"symnum [{backend}]"
    return [
        fit(label, with_hessian, "trust-exact", x0),
        fit(label, with_hessp, "trust-ncg", x0),
        fit(label, with_hessp, "trust-krylov", x0),
    ]


def finite_difference_fits(design, counts, x0):
    value = negative_log_posterior(design, counts, np)

    def with_hessian():
        return {
            "fun": value,
            "jac": lambda beta: central_gradient(value, beta),
            "hess": lambda beta: central_hessian(value, beta),
        }

    def gradient_only():
        return {"fun": value}  # BFGS with SciPy's finite-difference gradient

    return [
        fit("finite differences", with_hessian, "trust-exact", x0),
        fit("finite differences", gradient_only, "BFGS", x0),
    ]


def jax_fits(design, counts, x0):
    try:
        import jax  # noqa: PLC0415
        import jax.numpy as jnp  # noqa: PLC0415
    except ImportError:
        print("JAX is not installed: its fit is skipped (pip install 'jax[cpu]').")
        return []
    jax.config.update("jax_enable_x64", True)
    value = negative_log_posterior(jnp.asarray(design), jnp.asarray(counts), jnp)

    def with_hessian():
        value_and_grad = jax.jit(jax.value_and_grad(value))
        hess = jax.jit(jax.hessian(value))
        # the first call traces and compiles: count it as building
        value_and_grad(x0)[1].block_until_ready()
        hess(x0).block_until_ready()
        return {
            "fun": lambda beta: tuple(np.asarray(a) for a in value_and_grad(beta)),
            "jac": True,
            "hess": lambda beta: np.asarray(hess(beta)),
        }

    return [fit("jax.jit", with_hessian, "trust-exact", x0)]


def default_backend() -> str:
    available = backends.available()
    return next(name for name in ("c", "numba", "numpy") if name in available)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="50 rows, 3 coefficients")
    parser.add_argument("--rows", type=int, default=None, help="number of data rows")
    parser.add_argument("--coefs", type=int, default=None, help="number of coefficients")
    parser.add_argument("--backend", default=None, help="symnum backend (default: fastest)")
    args = parser.parse_args(argv)
    n_rows = args.rows or (50 if args.small else 200)
    n_coef = args.coefs or (3 if args.small else 6)
    backend = args.backend or default_backend()

    design, counts, true_beta = simulate(n_rows, n_coef)
    x0 = np.zeros(n_coef)
    print(f"Poisson regression: {n_rows} rows, {n_coef} coefficients (seed {SEED})")

    rows = [
        *symnum_fits(negative_log_posterior(design, counts), n_coef, backend, x0),
        *finite_difference_fits(design, counts, x0),
        *jax_fits(design, counts, x0),
    ]
    reference = next(
        row["result"].x
        for row in rows
        if row["label"] == "finite differences" and row["method"] == "trust-exact"
    )
    print()
    print(
        f"{'derivatives':<20} {'method':<13} {'converged':<9} {'nit':>4} {'nfev':>5} "
        f"{'build s':>8} {'fit s':>8} {'max |beta - beta_fd|':>21}"
    )
    for row in rows:
        result = row["result"]
        distance = np.max(np.abs(result.x - reference))
        print(
            f"{row['label']:<20} {row['method']:<13} {result.success!s:<9} {result.nit:>4} "
            f"{result.nfev:>5} {row['build']:>8.3f} {row['fit']:>8.4f} {distance:>21.2e}"
        )
    print()
    print("estimate (symnum, trust-exact):", np.array2string(rows[0]["result"].x, precision=4))
    print("coefficients the data were drawn with:", np.array2string(true_beta, precision=4))
    return 0 if all(row["result"].success for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
