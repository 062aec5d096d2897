"""The examples run as a user would run them (a subprocess, ``--small``) and reach the
right answer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require_backend

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, cache_dir: Path, timeout: float = 600):
    env = {**os.environ, "SYMNUM_CACHE_DIR": str(cache_dir)}
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_optimize_scipy_converges_to_the_finite_difference_optimum(isolated_cache_dir):
    pytest.importorskip("scipy", reason="the example needs scipy")
    out = run_example("optimize_scipy.py", "--small", cache_dir=isolated_cache_dir)
    rows = re.findall(
        r"^(symnum \[\w+\]|finite differences|jax\.jit)\s+(\S+)\s+(True|False)\s+(\d+)\s+(\d+)"
        r"\s+\S+\s+\S+\s+(\S+)$",
        out,
        flags=re.MULTILINE,
    )
    methods = {(label.split(" [")[0], method) for label, method, *_ in rows}
    assert {
        ("symnum", "trust-exact"),
        ("symnum", "trust-ncg"),
        ("symnum", "trust-krylov"),
        ("finite differences", "trust-exact"),
        ("finite differences", "BFGS"),
    } <= methods, out
    for label, method, converged, nit, _nfev, distance in rows:
        assert converged == "True", (label, method, out)
        assert int(nit) > 0
        # the same optimum as the finite-difference fit, to the optimiser's tolerance
        assert float(distance) < 1e-4, (label, method, out)
    exact = next(row for row in rows if row[0].startswith("symnum") and row[1] == "trust-exact")
    assert float(exact[5]) < 1e-7, out
    assert ("jax.jit", "trust-exact") in methods or "JAX is not installed" in out


def test_mici_constrained_samples_stay_on_the_manifold(isolated_cache_dir, tmp_path):
    pytest.importorskip("mici", reason="the example needs mici (pip install mici)")
    samples = tmp_path / "samples.npz"
    out = run_example(
        "mici_constrained.py", "--small", "--save", str(samples), cache_dir=isolated_cache_dir
    )
    assert "constrained HMC" in out, out
    with np.load(samples) as saved:
        hmc, q = saved["hmc"], saved["constrained"]
    assert hmc.shape == (40, 2)  # two chains of 20 draws
    assert q.shape == (40, 4)
    assert np.all(np.isfinite(q))
    # the constraint, written again in plain NumPy: forward_func(x) + sigma * eta = y
    x, eta = q[:, :2], q[:, 2:]
    inner = np.stack([np.cos(-(x[:, 1] ** 2) + 3 * x[:, 0]), np.sin(x[:, 0] - 1)], axis=-1)
    forward = inner @ np.array([[1.0, -0.5], [-0.5, 1.0]]).T
    residual = forward + 0.3 * eta - np.array([1.0, 0.0])
    assert np.max(np.abs(residual)) < 1e-8, out
    # the chains moved
    assert np.ptp(q[:, 0]) > 0
    assert np.ptp(hmc[:, 0]) > 0


def test_readme_scipy_block_runs():
    pytest.importorskip("scipy", reason="the README's SciPy example needs scipy")
    for name in ("numba", "c"):  # the README's first block uses both
        require_backend(name)
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    scipy_block = next(block for block in blocks if "optimize.minimize" in block)
    namespace: dict = {}
    exec(blocks[0], namespace)  # noqa: S102 - our own README: defines np, symnum, snp
    exec(scipy_block, namespace)  # noqa: S102
    result = namespace["result"]
    assert result.success, result.message
    np.testing.assert_allclose(result.x, np.ones(4), atol=1e-4)
