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
   with an empty cache (cold) and again with the cache filled (warm);
5. operator-valued products of the README example (Jacobian-vector, vector-Jacobian,
   Hessian-vector, matrix-Hessian and matrix-Tressian): the outer call ``op(x)``, the
   product ``p(v)`` and the whole ``op(x)(v)``, against the same backend's gradient
   call; ``--products [BACKENDS]`` times only these, on each of the backends (default
   ``numba,numpy,c``);
6. ``--compile``: numba compile time and peak memory (peak RSS) of every benchmark case
   (:mod:`cases`) and of two large ones -- the Hessian of a 40-point 1-D Gaussian mixture
   with 3 components and the matrix-Tressian product of a 200 x 5 logistic regression --
   each in a fresh process with an empty cache, under a memory limit and a timeout.

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
    dispatchers = (g.njit, g.kernel.exact())  # the kernel and its exact-type entry
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


# --- operator-valued products ----------------------------------------------------------

#: label -> (symnum operator, README function: "forward" or "target", argument shape)
PRODUCTS = {
    "jvp": ("jacobian_vector_product", "forward", (2,)),
    "vjp": ("vector_jacobian_product", "forward", (2,)),
    "hvp": ("hessian_vector_product", "target", (2,)),
    "mhp": ("matrix_hessian_product", "forward", (2, 2)),
    "mtp": ("matrix_tressian_product", "target", (2, 2)),
}


def per_call_stmt(stmt: str, repeats: int, **names) -> float:
    """Best seconds per call of the statement ``stmt`` (timed as written, no lambda in
    between, so ``f(x)(v)`` is timed as users write it)."""
    timer = timeit.Timer(stmt, globals=names)
    number, _ = timer.autorange()
    number = max(number, int(number * 0.05 / max(timer.timeit(number), 1e-9)))
    return min(timer.repeat(repeat=repeats, number=number)) / number


def operator_products(backends: list[str], repeats: int) -> None:
    """µs per call of ``op(x)``, ``p(v)`` and ``op(x)(v)`` on the README example."""
    functions = {"forward": cases.readme_forward_array(snp), "target": cases.readme_array(snp)}
    x = np.array([0.3, -0.4])
    rng = np.random.default_rng(6)
    print("\noperator-valued products of the README example, us per call (best of "
          f"{repeats}); ratio: op(x)(v) / the same backend's gradient call")  # fmt: skip
    print(f"  {'backend':<8}{'operator':<6}{'op(x)':>10}{'p(v)':>10}{'op(x)(v)':>10}  ratio")
    for backend in backends:
        grad = symnum.gradient(functions["target"], (2,), backend=backend)
        t_grad = per_call_stmt("g(x)", repeats, g=grad, x=x)
        print(f"  {backend:<8}{'grad':<6}{t_grad * 1e6:10.3f}{'':>10}{'':>10}  1.00x")
        for label, (name, function, shape) in PRODUCTS.items():
            op = getattr(symnum, name)(functions[function], (2,), backend=backend)
            v = rng.normal(size=shape)
            p = op(x)
            t_outer = per_call_stmt("f(x)", repeats, f=op, x=x)
            t_inner = per_call_stmt("p(v)", repeats, p=p, v=v)
            t_both = per_call_stmt("f(x)(v)", repeats, f=op, x=x, v=v)
            print(
                f"  {backend:<8}{label:<6}{t_outer * 1e6:10.3f}{t_inner * 1e6:10.3f}"
                f"{t_both * 1e6:10.3f}  {t_both / t_grad:.2f}x"
            )


# --- compile time and memory ----------------------------------------------------------

#: Cases beyond benchmarks/cases.py: name -> (symnum operator, shape of x, model source).
#: The model source defines ``f`` over ``snp`` (symnum.numpy) and ``np``.
LARGE_CASES = {
    "mixture40-hess": (
        "hessian",
        (9,),
        """
rng = np.random.default_rng(1)
data = np.concatenate([rng.normal(-2, 0.5, 14), rng.normal(0, 1, 13), rng.normal(3, 0.7, 13)])

def f(theta):
    # theta: 3 means, 3 log standard deviations, 3 unnormalised log weights
    mu, log_sigma, logits = theta[0:3], theta[3:6], theta[6:9]
    log_w = logits - snp.log(snp.sum(snp.exp(logits)))
    total = 0
    for x in data:
        z = (x - mu) / snp.exp(log_sigma)
        terms = log_w - log_sigma - z**2 / 2
        peak = terms[0]
        total = total + snp.log(snp.sum(snp.exp(terms - peak))) + peak
    return -total
""",
    ),
    "logreg200x5-mtp": (
        "matrix_tressian_product",
        (5,),
        """
rng = np.random.default_rng(2)
X = rng.standard_normal((200, 5)) * 0.5
y = (rng.uniform(size=200) < 0.5).astype(float)

def f(w):
    z = X @ w
    return snp.sum(snp.log(1 + snp.exp(z)) - y * z) + snp.sum(w**2) / 2
""",
    ),
}

COMPILE_SCRIPT = textwrap.dedent(
    """
    import resource, sys, time
    sys.path.insert(0, {bench!r})
    import numpy as np, symnum, symnum.numpy as snp, cases
    name = {name!r}
    if name in cases.CASES_BY_NAME:
        case = cases.CASES_BY_NAME[name]
        f, op, n = case.model.array_func(snp), case.symnum_op, case.n
        m = None if not case.has_m else np.ones(case.m_shape)
    else:
        op, shape, source = {large!r}
        n = shape[0]
        namespace = {{"np": np, "snp": snp}}
        exec(source, namespace)
        f = namespace["f"]
        m = np.ones((n, n)) if op == "matrix_tressian_product" else None
    start = time.perf_counter()
    g = getattr(symnum, op)(f, (n,), backend="{backend}")
    built = time.perf_counter()
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    x = np.full(n, 0.1)
    out = g(x) if m is None else g(x)(m)
    called = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    statements = sum(s.count("\\n") for s in [g.source])
    print(built - start, called - built, rss_built / 1024, rss / 1024, statements)
    """
)


def compile_costs(names, limit_gb: float, timeout: float, backend: str = "numba") -> None:
    """Build each case in a fresh process with an empty cache, under ``ulimit -v``."""
    print(
        f"\ncompile cost, backend={backend!r}: fresh process, empty cache, "
        f"ulimit -v {limit_gb:g} GB, timeout {timeout:g} s"
    )
    print(
        f"  {'case':<20} {'trace+emit+build':>17} {'first call':>11} {'peak RSS':>10} {'lines':>8}"
    )
    bench = str(Path(__file__).resolve().parent)
    for name in names:
        large = LARGE_CASES.get(name)
        script = COMPILE_SCRIPT.format(bench=bench, name=name, large=large, backend=backend)
        limit = int(limit_gb * 1024 * 1024)
        with tempfile.TemporaryDirectory() as cache_dir:
            env = {**os.environ, "SYMNUM_CACHE_DIR": cache_dir}
            command = f'ulimit -v {limit}; exec {sys.executable} -c "$0"', script
            try:
                out = subprocess.run(
                    ["bash", "-c", command[0], command[1]],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                print(f"  {name:<20} timed out after {timeout:g} s")
                continue
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["?"])[-1]
            print(f"  {name:<20} failed (exit {out.returncode}): {last[:120]}")
            continue
        build, first, _rss_built, rss, lines = out.stdout.split()
        print(
            f"  {name:<20} {float(build):15.2f} s {float(first):9.2f} s "
            f"{float(rss):7.0f} MB {int(lines):8d}"
        )


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument(
        "--compile",
        nargs="?",
        const="all",
        metavar="CASES",
        help="only measure compile time and memory (comma-separated case names, or all)",
    )
    parser.add_argument(
        "--products",
        nargs="?",
        const="numba,numpy,c",
        metavar="BACKENDS",
        help="only time operator-valued products (comma-separated backends)",
    )
    parser.add_argument("--limit-gb", type=float, default=4.0, help="ulimit -v for --compile")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per case")
    parser.add_argument("--backend", default="numba", help="backend for --compile")
    return parser.parse_args()


def main() -> None:
    options = _options()
    if options.compile:
        names = [c.name for c in cases.CASES] + list(LARGE_CASES)
        if options.compile != "all":
            names = options.compile.split(",")
        compile_costs(names, options.limit_gb, options.timeout, options.backend)
        return
    repeats = 3 if options.quick else 9
    if options.products:
        operator_products(options.products.split(","), repeats)
        return

    rosen = symnum.gradient(cases.rosen_array(snp), (2,), backend="numba")
    readme = symnum.gradient(cases.readme_array(snp), (2,), backend="numba")
    readme_gv = symnum.gradient(cases.readme_array(snp), (2,), backend="numba", return_aux=True)
    x = np.array([0.3, -0.4])
    np.testing.assert_allclose(rosen(x), hand_rosen_grad(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(readme(x), hand_readme_grad(x), rtol=1e-13, atol=1e-13)

    # with the C toolchain, the C runtime's guard is all that separates the two; without
    # it (or SYMNUM_NUMBA_C_ENTRY=0) a generated Python entry (checks, try, call)
    rosen_exact, readme_exact = rosen.kernel.exact(), readme.kernel.exact()
    print(f"numba {numba.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    entry = type(rosen.kernel.entry(print)).__name__
    print(f"entries: {'C guards' if entry == 'Guard' else 'generated Python functions'}")
    report(
        "called from Python: gradient of Rosenbrock, n = 2",
        best_per_call(
            {"symnum.gradient(..., backend='numba')(x)": lambda: rosen(x),
             "its exact-type dispatcher (no Python frame)": lambda: rosen_exact(x),
             "hand-written @njit gradient": lambda: hand_rosen_grad(x)},
            repeats,
        ),
        "hand-written @njit gradient",
    )  # fmt: skip
    report(
        "called from Python: gradient of the README target",
        best_per_call(
            {"symnum.gradient(..., backend='numba')(x)": lambda: readme(x),
             "its exact-type dispatcher (no Python frame)": lambda: readme_exact(x),
             "hand-written @njit gradient": lambda: hand_readme_grad(x)},
            repeats,
        ),
        "hand-written @njit gradient",
    )  # fmt: skip

    operator_products(["numba"], repeats)

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
