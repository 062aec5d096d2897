"""Spine benchmarks (issue 3): per-call cost of the NumPy backend against SymNum 0.2.1,
and build times (trace + differentiate + generate).

Run from the repository root::

    python benchmarks/spine_bench.py                 # symnum only
    python benchmarks/spine_bench.py --compare /work/venv021/bin/python

``--compare PYTHON`` runs the same cases with that interpreter (which must have SymNum
0.2.1 installed) in a subprocess, in alternation with this process's runs, and prints
the ratios. Times are the best of several repeats (seconds per call in microseconds;
build times in seconds, each in a fresh process with ``SYMNUM_DISABLE_CACHE=1`` so
no cache or memo is warm). Workers run from the temporary directory, so the 0.2.1
interpreter does not pick up this checkout's ``symnum``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import timeit

import numpy as np

Y = np.array([1.0, 0.0])
SIGMA = 0.3


def _cases(snp):
    def forward_func(x):
        return snp.array([[1.0, -0.5], [-0.5, 1.0]]) @ snp.array(
            [snp.cos(-(x[1] ** 2) + 3 * x[0]), snp.sin(x[0] - 1)]
        )

    def neg_log_dens(x):
        return (snp.sum((Y - forward_func(x)) ** 2 / SIGMA**2) + snp.sum(x**2)) / 2

    def rosen(x):
        return snp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    return {"readme": (neg_log_dens, 2), "rosen2": (rosen, 2), "rosen10": (rosen, 10)}


def _logistic(snp, n_data=100, n_params=10):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n_data, n_params))
    labels = (rng.uniform(size=n_data) < 0.5).astype(float)

    def neg_log_lik(beta):
        logits = data @ beta
        return snp.sum(snp.log(1 + snp.exp(logits)) - labels * logits) + snp.sum(beta**2) / 2

    return neg_log_lik, n_params


def per_call(number: int = 5000, repeat: int = 25) -> dict:
    """Microseconds per call, best of ``repeat``, for the gradient and Hessian of each case."""
    import symnum
    import symnum.numpy as snp

    results = {}
    for name, (func, n) in _cases(snp).items():
        x = np.random.default_rng(0).standard_normal(n)
        for op in ("gradient", "hessian"):
            g = getattr(symnum, op)(func, (n,))
            g(x)
            t = min(timeit.repeat(lambda g=g, x=x: g(x), number=number, repeat=repeat)) / number
            results[f"{name} {op}"] = t * 1e6
    return results


def build_time(case: str) -> float:
    """Seconds to trace, differentiate and generate the Hessian of ``case``."""
    import symnum
    import symnum.numpy as snp

    if case == "rosen60":
        func, n = _cases(snp)["rosen2"][0], 60
    elif case == "logistic":
        func, n = _logistic(snp)
    else:
        func, n = _cases(snp)[case]
    start = time.perf_counter()
    h = symnum.hessian(func, (n,))
    elapsed = time.perf_counter() - start
    h(np.zeros(n))
    return elapsed


def _in_subprocess(python: str, mode: str, arg: str = "") -> dict | float:
    # builds are timed cold: no symnum cache entry may help
    env = {**os.environ, "SYMNUM_DISABLE_CACHE": "1"}
    out = subprocess.run(
        [python, __file__, "--worker", mode, arg], capture_output=True, text=True, check=True,
        timeout=3600, env=env, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", metavar="PYTHON", help="interpreter with SymNum 0.2.1")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    if args.worker:
        mode, arg = args.worker
        result = per_call() if mode == "call" else build_time(arg)
        print(json.dumps(result))
        return

    python = sys.executable
    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}
    for _ in range(args.rounds):  # alternate, so machine load hits both sides alike
        for key, value in _in_subprocess(python, "call").items():
            ours[key] = min(value, ours.get(key, np.inf))
        if args.compare:
            for key, value in _in_subprocess(args.compare, "call").items():
                theirs[key] = min(value, theirs.get(key, np.inf))
    print("per call, NumPy backend, single point (microseconds; best of rounds)")
    print(f"{'case':<20} {'symnum':>9} {'0.2.1':>9} {'speed-up':>9}")
    for key, value in ours.items():
        other = theirs.get(key)
        ratio = f"{other / value:8.2f}x" if other else ""
        print(f"{key:<20} {value:9.3f} {other or float('nan'):9.3f} {ratio:>9}")
    if args.skip_build:
        return
    print("\nbuild time of the Hessian: trace + differentiate + generate (seconds)")
    for case in ("readme", "rosen60", "logistic"):
        ours_t = min(_in_subprocess(python, "build", case) for _ in range(2))
        line = f"{case:<20} {ours_t:9.3f}"
        if args.compare and case != "logistic":  # 0.2.1 cannot build the logistic Hessian
            theirs_t = _in_subprocess(args.compare, "build", case)
            line += f" {theirs_t:9.3f} {theirs_t / ours_t:8.1f}x"
        print(line)


if __name__ == "__main__":
    main()
