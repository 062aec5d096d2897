"""Benchmarks of the numba backend (issue 4) against hand-written numba and JAX.

Run ``python benchmarks/numba_bench.py`` (``--quick`` for fewer repeats). Prints, side by
side in one run:

1. calls from Python: gradient of Rosenbrock (n = 2) and of the README target,
   ``symnum.gradient(f, (n,), backend="numba")`` vs a hand-written ``@njit`` gradient;
2. a MALA sampler of 20,000 steps written in ``@njit`` calling the generated
   gradient-and-value vs the same loop calling a hand-written one, and JAX's
   ``lax.fori_loop`` version;
3. the gradient at 100,000 points: ``g(X)`` (the public call, with its checks),
   ``g.njit_batch(X)`` (the compiled batch loop itself), a hand-written numba loop and
   ``jax.jit(jax.vmap(jax.grad(f)))``;
4. build time of ``gradient(..., backend="numba")`` plus first call, in a fresh process
   with an empty cache (cold) and again with the cache filled (warm).

Every timing is the best of several interleaved repeats (the minimum is the least
disturbed by other load). Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases

import symnum
import symnum.numpy as snp

SIGMA2 = cases.README_SIGMA**2
Y0, Y1 = cases.README_Y
(A00, A01), (A10, A11) = cases.README_A


# --- hand-written numba --------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _readme_parts(x0, x1):
    a = 3.0 * x0 - x1 * x1
    u0, u1 = math.cos(a), math.sin(x0 - 1.0)
    r0 = Y0 - (A00 * u0 + A01 * u1)
    r1 = Y1 - (A10 * u0 + A11 * u1)
    d0, d1 = -r0 / SIGMA2, -r1 / SIGMA2
    du0, du1 = A00 * d0 + A10 * d1, A01 * d0 + A11 * d1
    sin_a = math.sin(a)
    g0 = -3.0 * sin_a * du0 + math.cos(x0 - 1.0) * du1 + x0
    g1 = 2.0 * x1 * sin_a * du0 + x1
    value = 0.5 * (r0 * r0 + r1 * r1) / SIGMA2 + 0.5 * (x0 * x0 + x1 * x1)
    return g0, g1, value


@numba.njit(cache=True)
def hand_readme_grad(x):
    g0, g1, _ = _readme_parts(x[0], x[1])
    out = np.empty(2)
    out[0] = g0
    out[1] = g1
    return out


@numba.njit(cache=True)
def hand_readme_grad_value(x):
    g0, g1, value = _readme_parts(x[0], x[1])
    out = np.empty(2)
    out[0] = g0
    out[1] = g1
    return out, value


@numba.njit(cache=True)
def hand_readme_grad_batch(xs):
    out = np.empty((xs.shape[0], 2))
    for i in range(xs.shape[0]):
        g0, g1, _ = _readme_parts(xs[i, 0], xs[i, 1])
        out[i, 0] = g0
        out[i, 1] = g1
    return out


@numba.njit(cache=True)
def hand_rosen_grad(x):
    t = x[1] - x[0] * x[0]
    out = np.empty(2)
    out[0] = -400.0 * x[0] * t - 2.0 * (1.0 - x[0])
    out[1] = 200.0 * t
    return out


@numba.njit(cache=True)
def mala(grad_and_value, x, step, noise, log_u):
    """MALA for exp(-U) with pre-drawn random numbers; returns (final x, acceptance)."""
    grad, value = grad_and_value(x)
    accepted = 0
    half = 0.5 * step * step
    for i in range(noise.shape[0]):
        mean = x - half * grad
        proposal = mean + step * noise[i]
        grad_p, value_p = grad_and_value(proposal)
        mean_p = proposal - half * grad_p
        log_ratio = value - value_p
        log_ratio += (np.sum((proposal - mean) ** 2) - np.sum((x - mean_p) ** 2)) / (4 * half)
        if log_u[i] < log_ratio:
            x, grad, value = proposal, grad_p, value_p
            accepted += 1
    return x, accepted / noise.shape[0]


# --- JAX -----------------------------------------------------------------------------


def jax_contenders():
    """JAX versions (float64), or None if JAX is missing."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    neg_log_dens = cases.readme_array(jnp)
    value_and_grad = jax.value_and_grad(neg_log_dens)

    @jax.jit
    def mala_jax(x, step, noise, log_u):
        half = 0.5 * step * step

        def body(i, state):
            x, value, grad, accepted = state
            mean = x - half * grad
            proposal = mean + step * noise[i]
            value_p, grad_p = value_and_grad(proposal)
            mean_p = proposal - half * grad_p
            log_ratio = value - value_p
            log_ratio += (jnp.sum((proposal - mean) ** 2) - jnp.sum((x - mean_p) ** 2)) / (4 * half)
            accept = log_u[i] < log_ratio
            return (
                jnp.where(accept, proposal, x),
                jnp.where(accept, value_p, value),
                jnp.where(accept, grad_p, grad),
                accepted + accept,
            )

        value, grad = value_and_grad(x)
        x, _, _, accepted = jax.lax.fori_loop(0, noise.shape[0], body, (x, value, grad, 0))
        return x, accepted / noise.shape[0]

    batch_grad = jax.jit(jax.vmap(jax.grad(neg_log_dens)))

    def run_mala(x, step, noise, log_u):
        x, rate = mala_jax(x, step, noise, log_u)
        return np.asarray(x.block_until_ready()), float(rate)

    def run_batch(xs):
        return np.asarray(batch_grad(xs).block_until_ready())

    return run_mala, run_batch


# --- timing --------------------------------------------------------------------------


def best_per_call(contenders: dict, repeats: int, target: float = 0.05) -> dict:
    """Best seconds per call of each ``name -> zero-argument callable``, interleaved."""
    numbers = {}
    for name, fn in contenders.items():
        fn()
        number = 1
        while True:
            elapsed = timeit.timeit(fn, number=number)
            if elapsed > target / 5 or number > 1 << 22:
                break
            number *= 4
        numbers[name] = max(1, int(number * target / max(elapsed, 1e-9)))
    best = dict.fromkeys(contenders, math.inf)
    for _ in range(repeats):
        for name, fn in contenders.items():
            best[name] = min(best[name], timeit.timeit(fn, number=numbers[name]) / numbers[name])
    return best


def report(title: str, best: dict, baseline: str) -> None:
    print(f"\n{title}")
    for name, seconds in best.items():
        ratio = seconds / best[baseline]
        print(f"  {name:<44} {seconds * 1e6:12.3f} us   {ratio:6.2f}x {baseline}")


BUILD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {bench!r})
    start = time.perf_counter()
    import numpy as np, symnum, symnum.numpy as snp, cases, numba_bench
    # numba's one-off start-up (first dispatch in a process), paid by any njit code:
    # a function of this file, loaded from its own numba cache after the first run
    numba_bench.hand_rosen_grad(np.zeros(2))
    imported = time.perf_counter()
    g = symnum.gradient(cases.readme_array(snp), (2,), backend="numba")
    built = time.perf_counter()
    g(np.array([0.3, 0.4]))
    called = time.perf_counter()
    dispatchers = (g.njit, g._kernel.call)  # the kernel and its *args entry point
    hits = sum(sum(d.stats.cache_hits.values()) for d in dispatchers)
    misses = sum(sum(d.stats.cache_misses.values()) for d in dispatchers)
    print(imported - start, built - imported, called - built, hits, misses)
    """
)


def build_times() -> None:
    print("\nbuild: gradient of the README target, backend='numba', in a fresh process")
    script = BUILD_SCRIPT.format(bench=str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory() as cache_dir:
        env = {**os.environ, "SYMNUM_CACHE_DIR": cache_dir}
        for label in ("cold (empty cache)", "warm (cache filled)", "warm again"):
            out = subprocess.run(
                [sys.executable, "-c", script],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            imports, build, first_call = map(float, out[:3])
            hits, misses = map(int, out[3:])
            print(
                f"  {label:<20} imports+numba start-up {imports:5.2f} s   "
                f"trace+lower+emit+build {build:6.3f} s   first call {first_call:6.3f} s "
                f"(numba cache hits {hits}, compiles {misses})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    options = parser.parse_args()
    repeats = 3 if options.quick else 9

    rosen = symnum.gradient(cases.rosen_array(snp), (2,), backend="numba")
    readme = symnum.gradient(cases.readme_array(snp), (2,), backend="numba")
    readme_gv = symnum.gradient(cases.readme_array(snp), (2,), backend="numba", return_aux=True)
    x = np.array([0.3, -0.4])
    np.testing.assert_allclose(rosen(x), hand_rosen_grad(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(readme(x), hand_readme_grad(x), rtol=1e-13, atol=1e-13)

    print(f"numba {numba.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    report(
        "called from Python: gradient of Rosenbrock, n = 2",
        best_per_call(
            {"symnum.gradient(..., backend='numba')(x)": lambda: rosen(x),
             "hand-written @njit gradient": lambda: hand_rosen_grad(x)},
            repeats,
        ),
        "hand-written @njit gradient",
    )  # fmt: skip
    report(
        "called from Python: gradient of the README target",
        best_per_call(
            {"symnum.gradient(..., backend='numba')(x)": lambda: readme(x),
             "hand-written @njit gradient": lambda: hand_readme_grad(x)},
            repeats,
        ),
        "hand-written @njit gradient",
    )  # fmt: skip

    jax_parts = jax_contenders()
    steps, step = 20_000, 0.3
    rng = np.random.default_rng(4)
    noise = rng.standard_normal((steps, 2))
    log_u = np.log(rng.uniform(size=steps))
    x0 = np.zeros(2)
    _, rate = mala(readme_gv, x0, step, noise, log_u)
    _, rate_hand = mala(hand_readme_grad_value, x0, step, noise, log_u)
    mala_contenders = {
        "@njit MALA calling symnum's gradient": lambda: mala(readme_gv, x0, step, noise, log_u),
        "@njit MALA calling hand-written gradient": lambda: mala(
            hand_readme_grad_value, x0, step, noise, log_u
        ),
    }
    if jax_parts is not None:
        run_mala, run_batch = jax_parts
        run_mala(x0, step, noise, log_u)  # compile
        mala_contenders["JAX lax.fori_loop MALA"] = lambda: run_mala(x0, step, noise, log_u)
    best = best_per_call(mala_contenders, repeats, target=0.2)
    report(
        f"MALA, {steps} steps, README target (acceptance {rate:.2f} / hand-written "
        f"{rate_hand:.2f}; chains differ only by amplified rounding)",
        best,
        "@njit MALA calling hand-written gradient",
    )
    for name, seconds in best.items():
        print(f"  {name:<44} {seconds / steps * 1e9:12.1f} ns per step")

    xs = np.random.default_rng(5).standard_normal((100_000, 2))
    np.testing.assert_allclose(readme(xs), hand_readme_grad_batch(xs), rtol=1e-12, atol=1e-12)
    batch_contenders = {
        "symnum g(X) (public call, checks + batch)": lambda: readme(xs),
        "symnum g.njit_batch(X) (compiled loop)": lambda: readme.njit_batch(xs),
        "hand-written numba loop": lambda: hand_readme_grad_batch(xs),
    }
    if jax_parts is not None:
        np.testing.assert_allclose(run_batch(xs), readme(xs), rtol=1e-12, atol=1e-12)
        batch_contenders["jax.jit(jax.vmap(jax.grad(f)))"] = lambda: run_batch(xs)
    report(
        "gradient at 100,000 points (README target)",
        best_per_call(batch_contenders, repeats, target=0.2),
        "hand-written numba loop",
    )
    build_times()
    started = time.strftime("%H:%M:%S")
    print(f"\n(finished {started})")


if __name__ == "__main__":
    main()
