"""Benchmarks of the C backend (not tests): per-call cost against a hand-written
CPython extension (the floor, benchmarks/floor_ext/) and jax.jit(jax.grad);
operator-valued products (``f(x)(v)``: Jacobian-vector, vector-Jacobian, Hessian-vector,
matrix-Hessian and matrix-Tressian products) against a gradient call on the same
function, on C and (when installed) numba; batch throughput against a hand-written numba
loop; cold and warm build times.

usage: python benchmarks/c_bench.py

Prints one table, every case measured side by side in the one run; the ratios are
what issues 5 and 13 ask for (a C call at most 1.1x the floor, an operator-valued
product at most 2.5x a gradient call).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "floor_ext"))  # build.py

from cases import readme_array, rosen_array  # noqa: E402

import symnum  # noqa: E402
import symnum.numpy as snp  # noqa: E402


def per_call(func, *args, number=None) -> float:
    """Best per-call CPU time in microseconds (CPU time, not wall time, so other load
    on the machine does not distort the ratios)."""
    func(*args)
    if number is None:
        t = timeit.timeit(lambda: func(*args), number=100)
        number = max(1000, int(0.2 / max(t / 100, 1e-9)))
    timer = timeit.Timer("f(*a)", timer=time.process_time, globals={"f": func, "a": args})
    return min(timer.repeat(repeat=7, number=number)) / number * 1e6


def interleaved(cases: dict, rounds: int = 25, number: int = 20_000) -> dict:
    """Best per-call CPU time in microseconds of each of ``cases`` (label -> (statement,
    names)), timed in interleaved rounds: every round times every case once, so a slow
    phase of the shared machine hits all of them alike and the ratios stay fair."""
    timers = {
        label: timeit.Timer(stmt, timer=time.process_time, globals=names)
        for label, (stmt, names) in cases.items()
    }
    for timer in timers.values():
        timer.timeit(number=100)
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(rounds):
        for label, timer in timers.items():
            best[label] = min(best[label], timer.timeit(number=number) / number * 1e6)
    return best


def jax_grad(model):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    f = jax.jit(jax.grad(model(jnp)))
    return lambda x: f(x).block_until_ready()


def numba_rosen_grad_batch():
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=False)
    def loop(xs, out):
        for i in range(xs.shape[0]):
            x0, x1 = xs[i, 0], xs[i, 1]
            t = x1 - x0 * x0
            out[i, 0] = -2.0 * (1.0 - x0) - 400.0 * x0 * t
            out[i, 1] = 200.0 * t

    def grad(xs):
        out = np.empty_like(xs)
        loop(xs, out)
        return out

    return grad


def product_backends() -> list[str]:
    """The backends whose operator-valued products are timed: C, and numba if installed."""
    try:
        symnum.backends.get("numba")
    except symnum.backends.BackendUnavailableError:
        return ["c"]
    return ["c", "numba"]


def build_times() -> tuple[float, float, float]:
    """(first, cold, warm) seconds to build a small C gradient in fresh processes:
    the first build in an empty cache (compiles the shared runtime too), a cold build
    of another function (the runtime is cached, as after any earlier C build on this
    machine) and a warm one (cache hit)."""
    code = textwrap.dedent("""
        import sys, time
        import symnum, symnum.numpy as snp
        scale = float(sys.argv[1])
        def f(x):
            return snp.sum(snp.exp(x) * snp.sin(x)) * scale  # a small function
        symnum.gradient(f, (3,), backend="numpy")  # import and tracing paid here
        t = time.perf_counter()
        g = symnum.gradient(f, (3,), backend="c")
        print(time.perf_counter() - t)
    """)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SYMNUM_CACHE_DIR": cache}
        times = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code, scale],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()[-1]
            )
            for scale in ("1", "2", "2")
        ]
    return times[0], times[1], times[2]


def main() -> None:
    import build as floor_build  # benchmarks/floor_ext/build.py

    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        floor = floor_build.build(tmp)
        readme, rosen = readme_array(snp), rosen_array(snp)
        x2 = np.array([0.3, -0.7])

        # Rosenbrock n = 2, gradient
        g_c = symnum.gradient(rosen, (2,), backend="c")
        g_np = symnum.gradient(rosen, (2,), backend="numpy")
        entry = type(g_c).__dict__.get("_fast_entry", type(g_c).__call__)
        times = interleaved(
            {
                "floor": ("f(x)", {"f": floor.rosen_grad, "x": x2}),
                "c": ("f(x)", {"f": g_c, "x": x2}),
                "entry": ("f(x)", {"f": entry, "x": x2}),
            }
        )
        t_floor, t_c, t_c_direct = times["floor"], times["c"], times["entry"]
        rows += [
            ("rosen2 grad: floor extension", t_floor, "1.00x"),
            ("rosen2 grad: symnum C (NumericFunction)", t_c, f"{t_c / t_floor:.2f}x floor"),
            (
                "rosen2 grad: symnum C callable itself",
                t_c_direct,
                f"{t_c_direct / t_floor:.2f}x floor",
            ),
            ("rosen2 grad: symnum numpy backend", per_call(g_np, x2), ""),
        ]
        jg = jax_grad(rosen_array)
        if jg is not None:
            t_jax = per_call(jg, x2)
            rows.append(
                ("rosen2 grad: jax.jit(jax.grad)", t_jax, f"C is {t_jax / t_c:.0f}x faster")
            )

        # README target, gradient and Hessian
        for op, floor_fn in (("grad", floor.readme_grad), ("hess", floor.readme_hess)):
            make = symnum.gradient if op == "grad" else symnum.hessian
            f_c = make(readme, (2,), backend="c")
            times = interleaved(
                {"floor": ("f(x)", {"f": floor_fn, "x": x2}), "c": ("f(x)", {"f": f_c, "x": x2})}
            )
            t_floor, t_c = times["floor"], times["c"]
            rows += [
                (f"readme {op}: floor extension", t_floor, "1.00x"),
                (f"readme {op}: symnum C", t_c, f"{t_c / t_floor:.2f}x floor"),
            ]
            if jg is not None and op == "grad":
                t_jax = per_call(jax_grad(readme_array), x2)
                rows.append(
                    (f"readme {op}: jax.jit(jax.grad)", t_jax, f"C is {t_jax / t_c:.0f}x faster")
                )

        # operator-valued products on the README target, against its gradient (numba's
        # too, when installed: both backends run them in compiled code)
        m2 = np.array([[0.5, -1.0], [2.0, 0.25]])
        v2 = np.array([0.5, -1.0])
        for backend in product_backends():
            g_readme = symnum.gradient(readme, (2,), backend=backend)
            cases = {"grad": ("g(x)", {"g": g_readme, "x": x2})}
            for label, make, arg in (
                ("jacobian_vector_product", symnum.jacobian_vector_product, v2),
                ("vector_jacobian_product", symnum.vector_jacobian_product, np.array(0.5)),
                ("hessian_vector_product", symnum.hessian_vector_product, v2),
                ("matrix_hessian_product", symnum.matrix_hessian_product, v2),
                ("matrix_tressian_product", symnum.matrix_tressian_product, m2),
            ):
                op = make(readme, (2,), backend=backend)
                cases[label] = ("f(x)(a)", {"f": op, "x": x2, "a": arg})
            times = interleaved(cases, rounds=15, number=10_000)
            t_grad = times.pop("grad")
            rows.append((f"readme grad: symnum {backend} (same run)", t_grad, "1.00x grad"))
            for label, t_op in times.items():
                rows.append(
                    (f"readme {label} f(x)(v): {backend}", t_op, f"{t_op / t_grad:.2f}x grad")
                )

        # gradient at 100,000 points
        xs = np.random.default_rng(0).normal(size=(100_000, 2))
        t_batch = per_call(g_c, xs, number=20)
        rows.append(("rosen2 grad, 1e5 points: symnum C", t_batch, ""))
        nb = numba_rosen_grad_batch()
        if nb is not None:
            np.testing.assert_allclose(nb(xs), g_c(xs), rtol=1e-12, atol=1e-12)
            t_nb = per_call(nb, xs, number=20)
            rows.append(
                ("rosen2 grad, 1e5 points: numba loop", t_nb, f"C is {t_batch / t_nb:.2f}x numba")
            )

    first, cold, warm = build_times()
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'case':<{width}}{'us/call':>12}  ratio")
    for label, micros, ratio in rows:
        print(f"{label:<{width}}{micros:>12.3f}  {ratio}")
    print(f"build of a small C gradient: first in an empty cache {first:.2f} s (with the ", end="")
    print(f"shared runtime), cold {cold:.2f} s, warm (cache hit, new process) {warm * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
