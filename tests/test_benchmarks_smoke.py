"""Smoke test of the benchmark harness: ``python benchmarks/run.py --quick`` must run and
write its table and JSON. Contenders that are not installed are reported as missing by
the harness; they never fail this test. Nothing here asserts a timing."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--quick",
            "--cases",
            "readme-grad",
            "--make-venv",
            "no",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=str(ROOT),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


def test_writes_table_and_json(quick_run):
    out, _ = quick_run
    doc = json.loads((out / "results.json").read_text())
    table = (out / "results.md").read_text()
    assert doc["cases"] == ["readme-grad"]
    assert "readme-grad" in table
    assert "Per-call latency" in table
    assert doc["machine"]["cores"]
    assert doc["versions"]["numpy"]


def test_every_contender_is_reported(quick_run):
    out, stdout = quick_run
    doc = json.loads((out / "results.json").read_text())
    recs = doc["results"]["readme-grad"]
    names = [c["name"] for c in doc["contenders"]]
    assert set(names) == set(recs)  # nothing silently dropped
    for name, rec in recs.items():
        assert rec["status"] in {"ok", "missing", "unsupported", "wrong", "error", "timeout"}
        assert name in stdout
        if rec["status"] == "ok":
            assert rec["latency_ns"] > 0
            assert rec["max_rel_err"] <= 1e-8


def test_symnum_and_floor_measured(quick_run):
    out, _ = quick_run
    recs = json.loads((out / "results.json").read_text())["results"]["readme-grad"]
    # the hand-written NumPy floor needs nothing optional
    assert recs["numpy (hand)"]["status"] == "ok"
    for name, rec in recs.items():
        if rec["group"] == "symnum":
            # a symnum backend may be missing (toolchain), never wrong
            assert rec["status"] in {"ok", "missing"}, (name, rec.get("reason"))
    if recs["symnum[numpy]"]["status"] == "ok":
        assert recs["symnum[numpy]"]["batch_ns_per_point"] > 0
        assert recs["symnum[numpy]"]["sampler_us_per_step"] > 0
        assert recs["symnum[numpy]"]["build_cold_s"] > 0
        assert recs["symnum[numpy]"]["build_warm_s"] > 0


def test_pytensor_reported_never_wrong(quick_run):
    out, _ = quick_run
    recs = json.loads((out / "results.json").read_text())["results"]["readme-grad"]
    for name in ("pytensor (C)", "pytensor (NUMBA)"):
        assert recs[name]["status"] in {"ok", "missing"}, (name, recs[name].get("reason"))


# --- models with data: benchmarks/data_bench.py --------------------------------------------

DATA_BENCH = ROOT / "benchmarks" / "data_bench.py"


def _data_run(out, *args, env=None):
    proc = subprocess.run(
        [sys.executable, str(DATA_BENCH), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=str(ROOT),
        env=None if env is None else {**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "data_results.json").read_text())


@pytest.fixture(scope="module")
def data_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("data-bench")
    contenders = "symnum[numpy],numpy (hand)"
    doc = _data_run(
        out,
        *("--models", "logreg", "--sizes", "30", "--ops", "grad", "--contenders", contenders),
        *("--build-repeats", "2"),
    )
    return out, doc


def test_data_bench_builds_checks_and_times(data_run):
    out, doc = data_run
    assert doc["cases"] == ["logreg-grad@30"]
    entry = doc["results"]["logreg-grad@30"]
    assert (entry["model"], entry["op"], entry["n"], entry["dim"]) == ("logreg", "grad", 30, 10)
    recs = entry["contenders"]
    assert set(recs) == {"symnum[numpy]", "numpy (hand)"}
    for name, rec in recs.items():
        assert rec["status"] == "ok", (name, rec.get("reason"))
        assert rec["max_rel_err"] <= 1e-8
        assert rec["latency_ns"] > 0
        assert rec["peak_rss_mb"] > 0
    builds = recs["symnum[numpy]"]["builds_s"]
    assert len(builds) == 2  # two cold builds in fresh processes, the fastest reported
    assert recs["symnum[numpy]"]["build_s"] == min(builds) > 0
    # both build processes took per-call rounds in turn
    assert recs["symnum[numpy]"]["timing_processes"] == 2
    table = (out / "data_results.md").read_text()
    assert "Issue 11's targets" in table
    assert "logreg-grad@30" in table
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "data_scaling.png").stat().st_size > 0


def test_data_bench_timeout_skips_larger_sizes(tmp_path):
    # an unrolled symnum build (data loops off) at N = 2,000 takes far longer than 1 ms
    doc = _data_run(
        tmp_path,
        *("--models", "logreg", "--sizes", "2000,3000", "--ops", "grad,hess"),
        *("--contenders", "symnum[numpy]", "--timeout", "0.001"),
        env={"SYMNUM_DATA_THRESHOLD": "0"},
    )
    recs = {name: e["contenders"]["symnum[numpy]"] for name, e in doc["results"].items()}
    assert list(recs) == [
        "logreg-grad@2000",
        "logreg-grad@3000",
        "logreg-hess@2000",
        "logreg-hess@3000",
    ]
    assert recs["logreg-grad@2000"]["status"] == "timeout", recs
    skipped = {"group": "symnum", "status": "skipped", "reason": "timeout at N = 2,000"}
    assert recs["logreg-grad@3000"] == skipped
    # the Hessian differentiates the gradient: not tried either
    skipped["reason"] += " (grad)"
    assert recs["logreg-hess@2000"] == skipped
    assert recs["logreg-hess@3000"] == skipped


def test_data_bench_reports_out_of_memory(tmp_path):
    # 100 MB of address space: less than the interpreter with NumPy already holds
    doc = _data_run(
        tmp_path,
        *("--models", "logreg", "--sizes", "50", "--ops", "grad"),
        *("--contenders", "symnum[numpy]", "--mem-gb", "0.1"),
    )
    rec = doc["results"]["logreg-grad@50"]["contenders"]["symnum[numpy]"]
    assert rec["status"] == "out of memory", rec


def _bench_module(name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_data_targets_verdicts():
    report = _bench_module("report")

    def rec(status="ok", **figures):
        return {"group": "symnum", "status": status, **figures}

    def entry(model, op, n, recs):
        return {"model": model, "op": op, "n": n, "dim": 10, "contenders": recs}

    doc = {
        "contenders": [
            {"name": "symnum[c]", "group": "symnum"},
            {"name": "jax.jit", "group": "peer"},
            {"name": "numba (hand)", "group": "floor"},
        ],
        "results": {
            "a": entry(
                "logreg", "grad", 100, {"symnum[c]": rec(build_s=2.0), "jax.jit": rec(build_s=1.0)}
            ),
            "b": entry(
                "logreg",
                "grad",
                100_000,
                {"symnum[c]": rec("timeout"), "jax.jit": rec(build_s=1.0)},
            ),
            "c": entry(
                "logreg",
                "grad",
                10_000,
                {
                    "symnum[c]": rec(latency_ns=90.0),
                    "jax.jit": rec(latency_ns=100.0),
                    "numba (hand)": rec(latency_ns=50.0),
                },
            ),
            "d": entry("gmm", "hess", 40, {"symnum[c]": rec(build_s=3.0, peak_rss_mb=3000.0)}),
        },
    }
    verdicts = {(r["target"], r["contender"]): r["verdict"] for r in report.data_targets(doc)}

    def find(words):
        (hit,) = [v for (t, c), v in verdicts.items() if all(w in t for w in words)]
        return hit

    no_build = "no build: timeout, out of memory or error (not met)"
    assert find(["grad: cold build"]) == no_build  # timed out where JAX built
    assert find(["grad: build growth"]) == no_build
    assert find(["hess: cold build"]) == "not measured"
    assert find(["grad per call", "faster than jax"]) == "0.9x (met)"
    assert find(["grad per call", "numba"]) == "1.8x (not met)"
    assert find(["gmm hess"]) == "3 s, 3000 MB (not met)"  # memory over 2 GB


def test_data_cases_and_references():
    cases = _bench_module("cases")
    with pytest.raises(ValueError, match=r"expected e\.g\. 'logreg-grad@1000'"):
        cases.parse_data_case("logreg-grad")
    with pytest.raises(ValueError, match="unknown operator 'jac'"):
        cases.parse_data_case("gmm-jac@40")
    names = [c.name for c in cases.data_cases()]
    assert "logreg-hess@100000" in names
    assert "poisson-mtp@1000" in names
    assert "gmm-val@40" in names
    # the closed-form references agree with central differences of the value
    for model in ("logreg", "poisson"):
        grad_case = cases.parse_data_case(f"{model}-grad@50")
        theta, _ = grad_case.point()
        val_case = cases.parse_data_case(f"{model}-val@50")
        h = 1e-6
        fd = []
        for j in range(len(theta)):
            step = np.zeros_like(theta)
            step[j] = h
            up = cases._glm_reference(val_case, theta + step, None, _LINK[model])
            down = cases._glm_reference(val_case, theta - step, None, _LINK[model])
            fd.append((up - down) / (2 * h))
        np.testing.assert_allclose(cases.data_reference(grad_case), fd, rtol=1e-6, atol=1e-6)


_LINK = {"logreg": "softplus", "poisson": "exp"}
