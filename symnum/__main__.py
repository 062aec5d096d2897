"""``python -m symnum demo``: the README example on every available backend.

Builds the value, Jacobian, gradient, Hessian and the five derivative products of the
README's ``neg_log_dens`` (SymNum's seed example) with each backend in
:func:`symnum.backends.available`, checks that all backends agree, and prints the results
and the time per call.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit

import numpy as np

import symnum
import symnum.numpy as snp
from symnum import (
    gradient,
    hessian,
    hessian_vector_product,
    jacobian,
    jacobian_vector_product,
    matrix_hessian_product,
    matrix_tressian_product,
    numpify,
    vector_jacobian_product,
)

Y = np.array([1.0, 0.0])
SIGMA = 0.3


def _model():
    def forward_func(x):
        return snp.array([[1.0, -0.5], [-0.5, 1.0]]) @ snp.array(
            [snp.cos(-(x[1] ** 2) + 3 * x[0]), snp.sin(x[0] - 1)]
        )

    def neg_log_dens(x):
        return (snp.sum((Y - forward_func(x)) ** 2 / SIGMA**2) + snp.sum(x**2)) / 2

    return forward_func, neg_log_dens


def _operators(backend: str):
    """name -> (numeric function, how to call it on x)."""
    forward_func, neg_log_dens = _model()
    v = np.array([0.5, -1.0])
    m = np.array([[1.0, 0.5], [-0.25, 2.0]])

    def product(arg):
        return lambda f, x: f(x)(arg)

    def direct(f, x):
        return f(x)

    value = numpify(neg_log_dens, (2,), backend=backend)
    return {
        "value": (value, direct),
        "jacobian": (jacobian(forward_func, (2,), backend=backend), direct),
        "gradient": (gradient(value), direct),
        "hessian": (hessian(value), direct),
        "jvp": (jacobian_vector_product(forward_func, (2,), backend=backend), product(v)),
        "vjp": (vector_jacobian_product(forward_func, (2,), backend=backend), product(v)),
        "hvp": (hessian_vector_product(value), product(v)),
        "mhp": (matrix_hessian_product(forward_func, (2,), backend=backend), product(m)),
        "mtp": (matrix_tressian_product(value), product(m)),
    }


def demo(backends: list[str] | None = None, number: int = 2000) -> int:
    """Run the README example on ``backends`` (default: all available); 0 if they agree."""
    backends = backends or symnum.backends.available()
    x = np.array([0.2, -0.4])
    print(f"symnum {symnum.__version__} demo: the README's neg_log_dens at x = {x}")
    print(f"backends: {', '.join(backends)}\n")
    results: dict[str, dict[str, np.ndarray]] = {}
    timings: dict[str, dict[str, float]] = {}
    for backend in backends:
        start = time.perf_counter()
        operators = _operators(backend)
        built = time.perf_counter() - start
        print(f"[{backend}] built {len(operators)} functions in {built:.2f} s")
        results[backend], timings[backend] = {}, {}
        for name, (function, call) in operators.items():
            results[backend][name] = np.asarray(call(function, x))
            seconds = min(
                timeit.repeat(lambda f=function, c=call: c(f, x), number=number, repeat=3)
            )
            timings[backend][name] = seconds / number * 1e6
    reference = backends[0]
    print()
    for name, value in results[reference].items():
        print(f"{name}:\n{np.array2string(value, precision=6, suppress_small=True)}")
    print(f"\ntime per call (microseconds){'':4}" + "".join(f"{b:>10}" for b in backends))
    for name in results[reference]:
        row = "".join(f"{timings[b][name]:10.2f}" for b in backends)
        print(f"  {name:<36}{row}")
    disagreements = [
        (b, name)
        for b in backends[1:]
        for name, value in results[b].items()
        if not np.allclose(value, results[reference][name], rtol=1e-12, atol=1e-12)
    ]
    if disagreements:
        for backend, name in disagreements:
            print(f"MISMATCH: {name} on {backend} differs from {reference}", file=sys.stderr)
        return 1
    print(f"\nall {len(backends)} backends agree (rtol 1e-12)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m symnum", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="run the README example on every available backend")
    run.add_argument("--backend", action="append", help="only this backend (repeatable)")
    run.add_argument("--number", type=int, default=2000, help="calls per timing repeat")
    args = parser.parse_args(argv)
    return demo(args.backend, args.number)


if __name__ == "__main__":
    sys.exit(main())
