"""Smoke test of the benchmark harness: ``python benchmarks/run.py --quick`` must run and
write its table and JSON. Contenders that are not installed are reported as missing by
the harness; they never fail this test. Nothing here asserts a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
