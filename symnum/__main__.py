"""``python -m symnum``: the demo, what is installed, and the on-disk cache.

``python -m symnum demo``
    Builds the value, Jacobian, gradient, Hessian and the five derivative products of
    the README's ``neg_log_dens`` (SymNum's seed example) with each backend in
    :func:`symnum.backends.available`, checks that all backends agree, and prints the
    results and the time per call.
``python -m symnum info``
    Versions (symnum, Python, NumPy, SymPy), which backends work here and what to
    install for those that do not, and the cache: its location, entries and size.
``python -m symnum cache list [--backend NAME]``
    One line per cache entry: backend, key, size, age.
``python -m symnum cache clear [--backend NAME]``
    Removes symnum's entries (of one backend with ``--backend``) and nothing else.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import timeit
from importlib import metadata

import numpy as np

import symnum
from symnum import cache

Y = np.array([1.0, 0.0])
SIGMA = 0.3


def _model():
    import symnum.numpy as snp  # noqa: PLC0415 - imports SymPy: only for the demo

    def forward_func(x):
        return snp.array([[1.0, -0.5], [-0.5, 1.0]]) @ snp.array(
            [snp.cos(-(x[1] ** 2) + 3 * x[0]), snp.sin(x[0] - 1)]
        )

    def neg_log_dens(x):
        return (snp.sum((Y - forward_func(x)) ** 2 / SIGMA**2) + snp.sum(x**2)) / 2

    return forward_func, neg_log_dens


def _operators(backend: str):
    """name -> (numeric function, how to call it on x)."""
    from symnum import (  # noqa: PLC0415 - imports SymPy: only for the demo
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


# --------------------------------------------------------------------------------------
# info


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


#: backend -> distributions whose versions ``info`` shows beside it
_TOOLCHAINS = {"numba": ("numba", "llvmlite"), "c": ("cffi", "setuptools")}


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover - the loop returns at GB


def _age(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f} {unit}"
    return f"{seconds:.0f} s"


def _backend_lines() -> list[str]:
    lines = []
    for name in symnum.backends.names():
        try:
            symnum.backends.get(name)
        except symnum.backends.BackendUnavailableError as exc:
            reason = str(exc.__cause__ or exc)
            lines.append(f"  {name:<8} not available: {reason}")
            continue
        versions = [f"{d} {v}" for d in _TOOLCHAINS.get(name, ()) if (v := _version(d)) is not None]
        detail = f" ({', '.join(versions)})" if versions else ""
        lines.append(f"  {name:<8} available{detail}")
    return lines


def _cache_lines() -> list[str]:
    if os.environ.get("SYMNUM_DISABLE_CACHE", "").strip() not in ("", "0"):
        return ["cache: disabled (SYMNUM_DISABLE_CACHE is set): every process builds privately"]
    where = cache.configured_root()
    source = " (SYMNUM_CACHE_DIR)" if os.environ.get("SYMNUM_CACHE_DIR") else ""
    lines = [f"cache: {where}{source}"]
    reason = cache.unusable_reason(where)
    if reason is not None:
        lines.append(f"  not used because {reason}: builds go to a private temporary folder")
    for folder, why in cache.unsafe_folders(where):
        lines.append(f"  {folder} is not used because {why} (`cache clear` removes it)")
    found = cache.entries()
    per_backend: dict[str, int] = {}
    for item in found:
        per_backend[item.backend] = per_backend.get(item.backend, 0) + 1
    detail = ", ".join(f"{b}: {n}" for b, n in sorted(per_backend.items()))
    total = sum(item.size for item in found)
    lines.append(
        f"  {len(found)} entr{'y' if len(found) == 1 else 'ies'}, {_size(total)}"
        + (f" ({detail})" if detail else "")
    )
    return lines


def info() -> int:
    """Print versions, the backends that work here and the cache's state; returns 0."""
    print(f"symnum {symnum.__version__}")
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"numpy {np.__version__}")
    print(f"sympy {_version('sympy') or 'not installed'}")
    print("backends:")
    for line in _backend_lines():
        print(line)
    for line in _cache_lines():
        print(line)
    return 0


# --------------------------------------------------------------------------------------
# cache list / clear


def _check_backend(name: str | None) -> str | None:
    """``name`` if it names a backend (or a namespace present in the cache); raises
    ``ValueError`` otherwise."""
    if name is None:
        return None
    present = {item.backend for item in cache.entries()}
    if name not in symnum.backends.names() and name not in present:
        known = ", ".join(sorted({*symnum.backends.names(), *present}))
        msg = f"unknown backend {name!r}; known backends: {known}"
        raise ValueError(msg)
    return name


def cache_list(backend: str | None = None) -> int:
    """Print one line per cache entry (backend, key, size, age); returns 0."""
    found = cache.entries(_check_backend(backend))
    now = time.time()
    print(f"cache: {cache.configured_root()}")
    if not found:
        print("no entries")
        return 0
    print(f"{'backend':<10} {'key':<64} {'size':>9} {'age':>7}")
    for item in found:
        age = _age(now - item.mtime)
        print(f"{item.backend:<10} {item.key:<64} {_size(item.size):>9} {age:>7}")
    total = sum(item.size for item in found)
    print(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}, {_size(total)}")
    return 0


def cache_clear(backend: str | None = None) -> int:
    """Remove symnum's cache entries (of ``backend`` only, if given); returns 0."""
    removed = cache.clear(_check_backend(backend))
    which = f" of backend {backend!r}" if backend else ""
    print(f"removed {removed} entr{'y' if removed == 1 else 'ies'}{which} from "
          f"{cache.configured_root()}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m symnum", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="run the README example on every available backend")
    run.add_argument("--backend", action="append", help="only this backend (repeatable)")
    run.add_argument("--number", type=int, default=2000, help="calls per timing repeat")
    commands.add_parser("info", help="versions, available backends and the cache's state")
    cache_parser = commands.add_parser("cache", help="list or clear the on-disk cache")
    actions = cache_parser.add_subparsers(dest="action", required=True)
    for action, text in (
        ("list", "one line per entry: backend, key, size, age"),
        ("clear", "remove symnum's entries (never anything else)"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("--backend", metavar="NAME", help="only this backend's entries")
    args = parser.parse_args(argv)
    if args.command == "info":
        return info()
    if args.command == "cache":
        try:
            if args.action == "list":
                return cache_list(args.backend)
            return cache_clear(args.backend)
        except ValueError as exc:
            cache_parser.error(str(exc))
    return demo(args.backend, args.number)


if __name__ == "__main__":
    sys.exit(main())
