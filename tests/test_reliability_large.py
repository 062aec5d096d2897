"""Reliability: large functions build and run on every backend.

* a sum of 5,184 distinct terms (``sum(sin(x_i x_j k_i))`` over a 72-vector),
* a deeply nested expression (a chain of 2,000 operations),
* the Hessian of Rosenbrock's function with 60 inputs,

each without RecursionError or a compiler blow-up, with results checked against NumPy.
Build times are printed (numba's compile happens on the first call, so that is timed
separately); nothing here asserts a timing.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow

N_BIG = 72
K = np.arange(1, N_BIG + 1).reshape(N_BIG, 1) / N_BIG


def _report(capsys, text: str) -> None:
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        text += f"; peak RSS of the test process so far {peak:.0f} MiB"
    except ImportError:  # Windows
        pass
    with capsys.disabled():
        print(f"\n[reliability timing] {text}", flush=True)


@pytest.fixture(scope="module")
def big_expression():
    """The 5,184-term expression, traced once: (symbolic argument, expression)."""
    import symnum.numpy as snp
    from symnum import named_array

    x = named_array("x", (N_BIG,))
    start = time.perf_counter()
    expr = snp.sum(snp.sin(x[:, None] * x[None, :] * K))
    return x, expr, time.perf_counter() - start


def _big_ref(x):
    return np.sum(np.sin(x[:, None] * x[None, :] * K))


def test_5000_term_expression(backend, big_expression, capsys):
    from symnum import generate_func

    x_sym, expr, trace_time = big_expression
    start = time.perf_counter()
    f = generate_func([x_sym], expr, "big_sum", backend=backend)
    build = time.perf_counter() - start
    x = np.linspace(0.05, 1.2, N_BIG)
    start = time.perf_counter()
    value = f(x)
    first_call = time.perf_counter() - start
    start = time.perf_counter()
    batch = f(np.stack([x, x / 2]))
    first_batch = time.perf_counter() - start
    _report(
        capsys,
        f"5184-term sum, {backend}: trace {trace_time:.2f} s, lower+emit+build {build:.2f} s, "
        f"first point call {first_call:.2f} s, first batch call {first_batch:.2f} s",
    )
    # 5,184 rounded terms: compare relative to the sum of their magnitudes
    scale = np.sum(np.abs(np.sin(x[:, None] * x[None, :] * K)))
    np.testing.assert_allclose(value, _big_ref(x), rtol=0, atol=1e-13 * scale)
    want = [_big_ref(x), _big_ref(x / 2)]
    np.testing.assert_allclose(batch, want, rtol=0, atol=1e-13 * scale)


def test_deep_expression(backend, capsys):
    """A chain 2,000 operations deep (each step wraps the previous one)."""
    import symnum
    import symnum.numpy as snp

    depth = 2000

    def chain(x):
        y = x[0]
        for i in range(depth):
            y = snp.sin(y) * x[1] + x[2] if i % 2 else y / (1 + x[i % 3] ** 2)
        return y

    def chain_ref(x):
        y = x[0]
        for i in range(depth):
            y = np.sin(y) * x[1] + x[2] if i % 2 else y / (1 + x[i % 3] ** 2)
        return y

    start = time.perf_counter()
    f = symnum.numpify(chain, (3,), backend=backend)
    build = time.perf_counter() - start
    x = np.array([0.3, -0.7, 0.2])
    start = time.perf_counter()
    value = f(x)
    first_call = time.perf_counter() - start
    np.testing.assert_allclose(value, chain_ref(x), rtol=1e-9)
    _report(
        capsys,
        f"2000-deep chain, {backend}: trace+lower+emit+build {build:.2f} s, "
        f"first point call {first_call:.2f} s",
    )


def _rosen(x):
    import symnum.numpy as snp

    return snp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _rosen_hessian_ref(x):
    n = x.size
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return h


def test_rosenbrock_60_hessian(backend, capsys):
    import symnum

    n = 60
    start = time.perf_counter()
    hess = symnum.hessian(_rosen, (n,), backend=backend)
    build = time.perf_counter() - start
    x = np.linspace(-1.5, 1.5, n)
    start = time.perf_counter()
    h = hess(x)
    first_call = time.perf_counter() - start
    start = time.perf_counter()
    hb = hess(np.stack([x, -x]))
    first_batch = time.perf_counter() - start
    _report(
        capsys,
        f"Rosenbrock n=60 Hessian, {backend}: trace+lower+emit+build {build:.2f} s, "
        f"first point call {first_call:.2f} s, first batch call {first_batch:.2f} s",
    )
    np.testing.assert_allclose(h, _rosen_hessian_ref(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hb[1], _rosen_hessian_ref(-x), rtol=1e-12, atol=1e-12)
    assert h.shape == (n, n)
    assert h.dtype == np.float64
