"""Hamiltonian Monte Carlo with mici, on a manifold and in the plane, with symnum's
derivatives compiled to C.

The model is the README's: a parameter ``x`` of shape ``(2,)`` with a standard normal
prior, observed through ``y = forward_func(x) + sigma * eta`` with ``eta`` standard normal. Two
samplers draw from the posterior of ``x``:

* plain HMC (mici's ``EuclideanMetricSystem``) on the README's ``neg_log_dens(x)``,
  with ``gradient(..., return_aux=True)``, which returns ``(grad, value)`` as mici
  expects;
* constrained HMC (mici's ``DenseConstrainedEuclideanMetricSystem``) on the manifold
  ``{q = (x, eta) : forward_func(x) + sigma * eta = y}`` in R^4, with the prior density on ``q``
  and ``dens_wrt_hausdorff=False``: mici conditions the prior on the constraint, which is
  the same posterior of ``x``. It needs the constraint's ``jacobian`` (``(jac, value)``)
  and ``matrix_hessian_product`` (``(mhp, jac, value)``), both with ``return_aux=True``.

Each sampler runs two chains in two processes (``n_worker=2``; symnum's functions
pickle by value, so the workers load the compiled code from symnum's cache). The
script prints acceptance rates, posterior means of ``x`` from both samplers and the
largest constraint violation over the constrained chains' samples; the exit status is 1
if a sample is off the manifold (``|constraint| > 1e-8``).

Run::

    python examples/mici_constrained.py             # 200 warm-up + 200 draws per chain
                                                    # (minutes: see sample() below)
    python examples/mici_constrained.py --small     # 15 + 20, shorter trajectories
    python examples/mici_constrained.py --save samples.npz   # keep the samples

Needs ``pip install "mici>=0.4"`` (``n_worker=``; mici 0.2 called it ``n_process``).
"""

from __future__ import annotations

import argparse
import os
import time
from importlib.metadata import version

# The matrices here are 2x2 to 4x4: BLAS threads only add synchronisation (tens of
# milliseconds per call on a busy machine), so use one unless the user chose otherwise.
# This must happen before NumPy loads its BLAS.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import mici  # noqa: E402
import numpy as np  # noqa: E402

import symnum  # noqa: E402
import symnum.numpy as snp  # noqa: E402
from symnum import backends  # noqa: E402

SEED = 20261201
Y = np.array([1.0, 0.0])
SIGMA = 0.3
CONSTRAINT_TOL = 1e-8


def forward_func(x):
    """The README's forward map: ``x`` of shape ``(2,)`` to shape ``(2,)``."""
    return snp.array([[1.0, -0.5], [-0.5, 1.0]]) @ snp.array(
        [snp.cos(-(x[1] ** 2) + 3 * x[0]), snp.sin(x[0] - 1)]
    )


def neg_log_dens(x):
    """Negative log posterior density of ``x`` (shape ``(2,)``), up to a constant."""
    return (snp.sum((Y - forward_func(x)) ** 2 / SIGMA**2) + snp.sum(x**2)) / 2


def neg_log_prior_dens(q):
    """Negative log density of the standard normal prior on ``q = (x, η)``, shape ``(4,)``."""
    return snp.sum(q**2) / 2


def constr(q):
    """Constraint of shape ``(2,)`` whose zero set is the manifold: ``q`` of shape ``(4,)``."""
    return forward_func(q[:2]) + SIGMA * q[2:] - Y


def on_manifold(x):
    """The point ``(x, η)`` of the manifold above ``x``: solve the constraint for ``η``."""
    forward = symnum.numpify(forward_func, (2,))
    return np.concatenate([x, (Y - forward(x)) / SIGMA])


def default_backend() -> str:
    available = backends.available()
    return next(name for name in ("c", "numba", "numpy") if name in available)


def sample(system, integrator, init_states, *, n_warm_up, n_main, seed, small):
    """Two chains in two processes; returns the traces, statistics and the wall time."""
    # The constrained chains take small steps (about 0.01: the posterior is narrow in x)
    # and each step solves a projection onto the manifold in mici's Python, which is
    # most of the time, not symnum's compiled derivatives; --small caps trajectories at
    # 2**5 steps
    sampler = mici.samplers.DynamicMultinomialHMC(
        system, integrator, np.random.default_rng(seed), max_tree_depth=5 if small else 10
    )
    start = time.perf_counter()
    _, traces, stats = sampler.sample_chains(
        n_warm_up,
        n_main,
        init_states,
        n_worker=2,
        display_progress=not small,
    )
    return traces, stats, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="short chains, for a quick run")
    parser.add_argument("--backend", default=None, help="symnum backend (default: c)")
    parser.add_argument("--save", default=None, help="write the samples to this .npz file")
    args = parser.parse_args(argv)
    n_warm_up, n_main = (15, 20) if args.small else (200, 200)
    backend = args.backend or default_backend()
    print(f"mici {version('mici')}, symnum backend {backend!r}")

    start = time.perf_counter()
    # plain HMC: gradient with the value, as mici's grad_neg_log_dens may return
    grad_neg_log_dens = symnum.gradient(neg_log_dens, (2,), backend=backend, return_aux=True)
    plain = mici.systems.EuclideanMetricSystem(
        neg_log_dens=symnum.numpify(neg_log_dens, (2,), backend=backend),
        grad_neg_log_dens=grad_neg_log_dens,
    )
    # constrained HMC: the prior on q conditioned on constr(q) == 0
    constr_num = symnum.numpify(constr, (4,), backend=backend)
    constrained = mici.systems.DenseConstrainedEuclideanMetricSystem(
        neg_log_dens=symnum.numpify(neg_log_prior_dens, (4,), backend=backend),
        grad_neg_log_dens=symnum.gradient(
            neg_log_prior_dens, (4,), backend=backend, return_aux=True
        ),
        constr=constr_num,
        jacob_constr=symnum.jacobian(constr, (4,), backend=backend, return_aux=True),
        mhp_constr=symnum.matrix_hessian_product(constr, (4,), backend=backend, return_aux=True),
        dens_wrt_hausdorff=False,
    )
    print(f"built the symnum functions in {time.perf_counter() - start:.2f} s")

    rng = np.random.default_rng(SEED)
    x_inits = [rng.normal(0.5, 0.1, 2) for _ in range(2)]
    chain_options = {"n_warm_up": n_warm_up, "n_main": n_main, "small": args.small}
    plain_traces, plain_stats, plain_time = sample(
        plain,
        mici.integrators.LeapfrogIntegrator(plain),
        x_inits,
        seed=SEED + 1,
        **chain_options,
    )
    constrained_traces, constrained_stats, constrained_time = sample(
        constrained,
        mici.integrators.ConstrainedLeapfrogIntegrator(constrained),
        [on_manifold(x) for x in x_inits],
        seed=SEED + 2,
        **chain_options,
    )

    plain_x = np.concatenate(plain_traces["pos"])
    q = np.concatenate(constrained_traces["pos"])
    violation = float(np.max(np.abs(constr_num(q))))  # a batch of samples at once
    if args.save:
        np.savez(args.save, hmc=plain_x, constrained=q)
    print()
    print(f"{'sampler':<16} {'draws':>6} {'time s':>8} {'accept':>7}  mean of x")
    for name, draws, stats, elapsed in (
        ("HMC", plain_x, plain_stats, plain_time),
        ("constrained HMC", q[:, :2], constrained_stats, constrained_time),
    ):
        accept = np.mean(np.concatenate(stats["accept_stat"]))
        means = np.array2string(draws.mean(axis=0), precision=3)
        print(f"{name:<16} {len(draws):>6} {elapsed:>8.2f} {accept:>7.3f}  {means}")
    print()
    print(f"max |constraint| over the constrained samples: {violation:.2e}")
    return 0 if violation < CONSTRAINT_TOL else 1


if __name__ == "__main__":
    raise SystemExit(main())
