"""Reliability: cache faults with real artefacts of the C and numba backends.

tests/test_cache.py covers the cache mechanism on fake artefacts; here the artefacts are
the real ones (cffi extension modules, generated numba modules and numba's own index /
data files), and every load happens in a fresh interpreter (a subprocess), so

* the in-process kernel memos of the backends cannot hide a fault, and
* a crash (segfault, abort) while loading shows as a failed exit code instead of
  killing pytest.

Each child unpickles a function built by the parent (pickles carry generated source, so
children build through the cache without tracing SymPy), calls it at a point and on a
batch, and prints the results, the cache warnings it saw and numba's compile stats as
JSON.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

X = [0.3, -1.2, 2.0]
XB = [[0.3, -1.2, 2.0], [1.0, 1.0, 1.0], [-0.5, 0.25, 4.0]]
COMPILED = ["c", "numba"]

_CHILD = textwrap.dedent(
    """
    import json, pickle, sys, warnings
    import numpy as np
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        with open(sys.argv[1], "rb") as f:
            func = pickle.load(f)
        point = func(np.array(json.loads(sys.argv[2])))
        batch = func(np.array(json.loads(sys.argv[3])))
    stats = {}
    if getattr(func, "njit", None) is not None:
        # every dispatcher that ran: the exact-signature entry (single points), the
        # batch kernel, and the lazily compiled point kernel
        kernel = func.kernel
        dispatchers = (kernel.exact(), kernel.njit_batch, kernel.njit)
        stats = {"hits": sum(sum(d.stats.cache_hits.values()) for d in dispatchers),
                 "misses": sum(sum(d.stats.cache_misses.values()) for d in dispatchers)}
    print(json.dumps({
        "point": [np.asarray(v).tolist() for v in point],
        "batch": [np.asarray(v).tolist() for v in batch],
        "warnings": [[w.category.__name__, str(w.message)] for w in caught],
        "stats": stats,
    }))
    """
)


def _function(backend: str, constant: float = 2.0):
    """A small function with a scalar and an array output; ``constant`` makes it unique."""
    import symnum
    import symnum.numpy as snp

    def f(x):
        return (
            snp.sum((1 - x[:-1]) ** 2 + constant * (x[1:] - x[:-1] ** 2) ** 2),
            snp.exp(x / constant) * x[0],
        )

    return symnum.numpify(f, (3,), backend=backend)


def _reference(constant: float = 2.0):
    def f(x):
        x = np.asarray(x, dtype=float)
        value = np.sum((1 - x[..., :-1]) ** 2 + constant * (x[..., 1:] - x[..., :-1] ** 2) ** 2,
                       axis=-1)  # fmt: skip
        return value, np.exp(x / constant) * x[..., :1]

    return f


@pytest.fixture(params=COMPILED)
def backend_compiled(request):
    from conftest import require_backend

    return require_backend(request.param)


_golden: dict[str, tuple[Path, Path]] = {}


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("golden")


def _golden_for(backend: str, golden_dir: Path) -> tuple[Path, Path]:
    """(pickled function, a cache holding its artefacts), built once per backend."""
    if backend not in _golden:
        root = golden_dir / f"{backend}-cache"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SYMNUM_CACHE_DIR", str(root))
            func = _function(backend)
            func(np.array(X))  # numba compiles lazily: fill its on-disk cache
            func(np.array(XB))
        pkl = golden_dir / f"{backend}.pkl"
        pkl.write_bytes(pickle.dumps(func))
        assert len(_entries(root, _namespace(backend))) == 1
        _golden[backend] = (pkl, root)
    return _golden[backend]


@pytest.fixture
def pickled(backend_compiled, golden_dir, tmp_path):
    """(pickled function, a private copy of a cache holding its artefacts)."""
    pkl, golden = _golden_for(backend_compiled, golden_dir)
    root = tmp_path / "cache"
    shutil.copytree(golden, root)
    return pkl, root


def _env(cache_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYMNUM_")}
    env["SYMNUM_CACHE_DIR"] = str(cache_dir)
    env.update(extra)
    return env


def _start(pkl: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(pkl), json.dumps(X), json.dumps(XB)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _finish(proc: subprocess.Popen, timeout: float = 240) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"child exited with {proc.returncode}:\n{err[-4000:]}"
    report = json.loads(out.strip().splitlines()[-1])
    _check_numbers(report)
    return report


def _run(pkl: Path, env: dict) -> dict:
    return _finish(_start(pkl, env))


def _check_numbers(report: dict) -> None:
    ref = _reference()
    for got, want in zip(report["point"], ref(X), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    for got, want in zip(report["batch"], ref(XB), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def _entries(root: Path, namespace: str) -> list[Path]:
    """Published entries (64-hex-digit directories) under ``root/namespace``."""
    base = root / namespace
    if not base.is_dir():
        return []
    return [p for p in base.glob("*/*") if p.is_dir() and len(p.name) == 64]


def _leftovers(root: Path, namespace: str) -> list[Path]:
    base = root / namespace
    if not base.is_dir():
        return []
    return [p for p in base.glob("*/*") if len(p.name) != 64]


def _namespace(backend: str) -> str:
    return "c" if backend == "c" else "numba"


def _manifest_ok(entry: Path) -> bool:
    import hashlib

    manifest = json.loads((entry / "MANIFEST.json").read_text())
    return all(
        hashlib.sha256((entry / name).read_bytes()).hexdigest() == digest
        for name, digest in manifest["files"].items()
    )


def _cache_warnings(report: dict) -> list[str]:
    return [msg for cat, msg in report["warnings"] if cat == "CacheWarning"]


# --------------------------------------------------------------------------------------
# Races


@pytest.mark.slow
def test_racing_processes_build_one_entry(pickled, backend_compiled, tmp_path):
    """Three processes build the same function into an empty cache at the same time."""
    pkl, _ = pickled
    fresh = tmp_path / "race-cache"
    procs = [_start(pkl, _env(fresh)) for _ in range(3)]
    reports = [_finish(p) for p in procs]
    assert all(r["point"] == reports[0]["point"] for r in reports)
    assert all(r["batch"] == reports[0]["batch"] for r in reports)
    namespace = _namespace(backend_compiled)
    entries = _entries(fresh, namespace)
    assert len(entries) == 1, entries
    assert _manifest_ok(entries[0])
    assert _leftovers(fresh, namespace) == []
    # and a fifth process now loads it: nothing compiled
    report = _run(pkl, _env(fresh))
    if backend_compiled == "numba":
        assert report["stats"]["misses"] == 0, report["stats"]
    assert _entries(fresh, namespace) == entries


@pytest.mark.parametrize("backend_compiled", ["c"], indirect=True)
def test_killed_builder_leaves_a_usable_cache(pickled, backend_compiled, tmp_path):
    """A build killed half-way (SIGKILL) must not poison the cache for the next process."""
    pkl, _ = pickled
    fresh = tmp_path / "killed-cache"
    victim = _start(pkl, _env(fresh))
    time.sleep(1.5)  # import + start of the build
    victim.kill()
    victim.communicate()
    _run(pkl, _env(fresh))
    namespace = _namespace(backend_compiled)
    assert len(_entries(fresh, namespace)) == 1
    assert _manifest_ok(_entries(fresh, namespace)[0])


# --------------------------------------------------------------------------------------
# Damaged artefacts are rebuilt, never loaded


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _zero(path: Path) -> None:
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    size = max(path.stat().st_size, 64)
    path.write_bytes(np.random.default_rng(1).bytes(size))


FAULTS = {"truncated": _truncate, "zero-length": _zero, "garbage": _garbage}

#: artefact kind -> glob inside the entry
ARTEFACTS = {
    "c-extension": "*.so" if sys.platform != "win32" else "*.pyd",
    "c-source": "*.c",
    "numba-module": "kernel.py",
    "numba-index": "__pycache__/*.nbi",
    "numba-data": "__pycache__/*.nbc",
    "manifest": "MANIFEST.json",
}

DAMAGE = [
    *(("c", "c-extension", fault) for fault in FAULTS),
    ("c", "c-source", "garbage"),
    ("c", "manifest", "garbage"),
    ("numba", "numba-module", "truncated"),
    ("numba", "numba-index", "zero-length"),
    ("numba", "numba-index", "garbage"),
    ("numba", "numba-data", "truncated"),
]


@pytest.mark.parametrize(("backend_compiled", "artefact", "fault"), DAMAGE,
                         indirect=["backend_compiled"])  # fmt: skip
def test_damaged_artefact_is_rebuilt(pickled, backend_compiled, artefact, fault):
    """The damaged file is detected and rebuilt (or, for numba's own cache files, which
    the manifest does not cover, recompiled); the loading process does not crash."""
    pattern = ARTEFACTS[artefact]
    pkl, root = pickled
    namespace = _namespace(backend_compiled)
    (entry,) = _entries(root, namespace)
    targets = sorted(entry.glob(pattern))
    assert targets, f"no {pattern} in {entry}: {sorted(entry.rglob('*'))}"
    for target in targets:
        FAULTS[fault](target)
    report = _run(pkl, _env(root))
    (entry,) = _entries(root, namespace)
    assert _manifest_ok(entry), "the damaged entry was not rebuilt"
    for target in sorted(entry.glob(pattern)):
        assert target.stat().st_size > 0
    if artefact in ("numba-index", "numba-data"):
        # numba's own files are outside the manifest: they must be recompiled, not loaded
        assert report["stats"]["misses"] >= 1, report["stats"]
        if artefact == "numba-index" and fault == "garbage":
            again = _run(pkl, _env(root))
            assert again["stats"]["misses"] == 0, "the recompiled code was not cached again"


@pytest.mark.parametrize("backend_compiled", ["c"], indirect=True)
def test_entry_without_manifest_is_rebuilt(pickled, backend_compiled):
    pkl, root = pickled
    namespace = _namespace(backend_compiled)
    (entry,) = _entries(root, namespace)
    (entry / "MANIFEST.json").unlink()
    _run(pkl, _env(root))
    (entry,) = _entries(root, namespace)
    assert _manifest_ok(entry)


def test_empty_entry_directory_is_rebuilt(pickled, backend_compiled):
    pkl, root = pickled
    namespace = _namespace(backend_compiled)
    (entry,) = _entries(root, namespace)
    shutil.rmtree(entry)
    entry.mkdir()
    _run(pkl, _env(root))
    (entry,) = _entries(root, namespace)
    assert _manifest_ok(entry)


# --------------------------------------------------------------------------------------
# Unusable cache directories: private temporary fallback with a warning


def _assert_fell_back(report: dict, root: Path) -> None:
    messages = _cache_warnings(report)
    assert messages, f"no CacheWarning: {report['warnings']}"
    assert any(str(root) in m for m in messages), messages


@pytest.mark.parametrize("backend_compiled", ["c"], indirect=True)
def test_missing_cache_directory_that_cannot_be_created(pickled, tmp_path):
    pkl, _ = pickled
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    root = blocker / "cache"
    report = _run(pkl, _env(root))
    _assert_fell_back(report, root)
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize("backend_compiled", ["c"], indirect=True)
def test_missing_cache_directory_is_created(pickled, backend_compiled, tmp_path):
    pkl, _ = pickled
    root = tmp_path / "does" / "not" / "exist"
    report = _run(pkl, _env(root))
    assert _cache_warnings(report) == []
    assert len(_entries(root, _namespace(backend_compiled))) == 1
    assert stat.S_IMODE(root.stat().st_mode) & 0o022 == 0


class _ReadOnly:
    """Make a directory read-only, also for root (who ignores permission bits): with
    ``chattr +i`` when running as root."""

    def __init__(self, path: Path):
        self.path = path
        self.immutable = False

    def __enter__(self):
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            chattr = shutil.which("chattr")
            proc = (
                subprocess.run([chattr, "+i", str(self.path)], capture_output=True, check=False)
                if chattr
                else None
            )
            if proc is None or proc.returncode != 0:
                pytest.skip(
                    "running as root and cannot make a directory immutable (chattr +i): "
                    "a read-only directory cannot be simulated"
                )
            self.immutable = True
        else:
            self.path.chmod(0o500)
        return self.path

    def __exit__(self, *exc):
        if self.immutable:
            subprocess.run(["chattr", "-i", str(self.path)], check=True)  # noqa: S607
        self.path.chmod(0o700)


@pytest.mark.parametrize("backend_compiled", ["c"], indirect=True)
def test_read_only_cache_directory(pickled, backend_compiled, tmp_path):
    pkl, _ = pickled
    root = tmp_path / "read-only"
    root.mkdir(mode=0o700)
    with _ReadOnly(root):
        report = _run(pkl, _env(root))
    _assert_fell_back(report, root)
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("backend_compiled", ["c"], indirect=True)
def test_read_only_namespace_directory(pickled, backend_compiled, tmp_path):
    """The root is fine but the backend's sub-directory cannot be written."""
    pkl, _ = pickled
    root = tmp_path / "partly-read-only"
    namespace = root / _namespace(backend_compiled)
    namespace.mkdir(parents=True, mode=0o700)
    with _ReadOnly(namespace):
        report = _run(pkl, _env(root))
    assert _cache_warnings(report), report["warnings"]
    assert list(namespace.iterdir()) == []


def _plant(root: Path, source_root: Path, namespace: str, marker: Path) -> Path:
    """Copy the good entry from ``source_root`` into ``root`` and replace its artefacts by
    hostile ones with a *matching* manifest: loading it would run the attacker's code
    (numba: writes ``marker``; C: a garbage extension module)."""
    from symnum import cache

    (good,) = _entries(source_root, namespace)
    planted = root / namespace / good.parent.name / good.name
    shutil.copytree(good, planted)
    shutil.rmtree(planted / "__pycache__", ignore_errors=True)
    if namespace == "numba":
        module = planted / "kernel.py"
        module.write_text(
            f"open({str(marker)!r}, 'w').write('pwned')\n" + module.read_text(encoding="utf-8")
        )
    else:
        for so in planted.glob("*.so"):
            so.write_bytes(np.random.default_rng(2).bytes(so.stat().st_size))
    (planted / "MANIFEST.json").unlink()
    cache._write_manifest(planted)
    assert _manifest_ok(planted)
    return planted


@pytest.mark.parametrize(
    ("backend_compiled", "mode"),
    [("c", 0o777), ("c", 0o775), ("c", 0o757), ("numba", 0o777)],
    indirect=["backend_compiled"],
)
def test_cache_writable_by_others_is_not_used(pickled, backend_compiled, tmp_path, mode):
    pkl, good_root = pickled
    root = tmp_path / "shared-cache"
    root.mkdir()
    marker = tmp_path / "pwned"
    _plant(root, good_root, _namespace(backend_compiled), marker)
    root.chmod(mode)
    report = _run(pkl, _env(root))
    _assert_fell_back(report, root)
    assert not marker.exists(), "an artefact planted in a world-writable cache was loaded"


@pytest.mark.parametrize("backend_compiled", ["c"], indirect=True)
def test_cache_owned_by_another_user_is_not_used(pickled, backend_compiled, tmp_path):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    pkl, good_root = pickled
    root = tmp_path / "foreign-cache"
    root.mkdir(mode=0o755)
    marker = tmp_path / "pwned"
    _plant(root, good_root, _namespace(backend_compiled), marker)
    os.chown(root, 65534, 65534)
    report = _run(pkl, _env(root))
    _assert_fell_back(report, root)
    assert not marker.exists()


@pytest.mark.parametrize("backend_compiled", ["c"], indirect=True)
def test_sticky_world_writable_cache_is_not_used(pickled, backend_compiled, tmp_path):
    """Like /tmp: world-writable with the sticky bit. Others may still create entries
    there (an entry planted before us), so it must not be trusted either."""
    pkl, good_root = pickled
    root = tmp_path / "sticky-cache"
    root.mkdir()
    marker = tmp_path / "pwned"
    _plant(root, good_root, _namespace(backend_compiled), marker)
    root.chmod(0o1777)
    report = _run(pkl, _env(root))
    _assert_fell_back(report, root)
    assert not marker.exists()


# --------------------------------------------------------------------------------------
# SYMNUM_DISABLE_CACHE


def test_disabled_cache_every_backend(backend, tmp_path, monkeypatch):
    """With SYMNUM_DISABLE_CACHE=1 nothing is written to SYMNUM_CACHE_DIR, in this process
    (a function never built here before) and in fresh ones, and results are right."""
    root = tmp_path / "disabled-cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(root))
    monkeypatch.setenv("SYMNUM_DISABLE_CACHE", "1")
    func = _function(backend, constant=3.25)
    for got, want in zip(func(np.array(X)), _reference(3.25)(X), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    for got, want in zip(func(np.array(XB)), _reference(3.25)(XB), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    pkl = tmp_path / "func.pkl"
    pkl.write_bytes(pickle.dumps(func))
    assert not root.exists() or not any(root.rglob("*")), sorted(root.rglob("*"))
    child = textwrap.dedent(
        """
        import pickle, sys
        import numpy as np
        func = pickle.load(open(sys.argv[1], "rb"))
        print(func(np.array([0.3, -1.2, 2.0]))[0])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child, str(pkl)],
        capture_output=True, text=True, check=False, timeout=240,
        env=_env(root, SYMNUM_DISABLE_CACHE="1"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert float(proc.stdout.split()[-1]) == pytest.approx(_reference(3.25)(X)[0], rel=1e-13)
    assert not root.exists() or not any(root.rglob("*")), sorted(root.rglob("*"))


@pytest.mark.parametrize(
    ("backend_compiled", "level"),
    [("numba", "namespace"), ("c", "namespace"), ("numba", "prefix")],
    indirect=["backend_compiled"],
)
def test_cache_folder_writable_by_others_is_not_used(pickled, backend_compiled, tmp_path, level):
    """The root is fine, but a folder below it was made writable by everyone (an older
    symnum under ``umask 000`` did that): an entry planted there is never loaded."""
    pkl, good_root = pickled
    root = tmp_path / "lax-cache"
    root.mkdir(mode=0o700)
    marker = tmp_path / "pwned"
    planted = _plant(root, good_root, _namespace(backend_compiled), marker)
    (planted.parent.parent if level == "namespace" else planted.parent).chmod(0o777)
    report = _run(pkl, _env(root))
    messages = _cache_warnings(report)
    assert any("writable by every user" in m for m in messages), report["warnings"]
    assert not marker.exists(), "an artefact planted below a world-writable folder was loaded"


@pytest.mark.parametrize("backend_compiled", ["c", "numba"], indirect=True)
def test_entry_reached_through_a_symlink_is_rebuilt(pickled, backend_compiled, tmp_path):
    """An entry that is a link to a look-alike elsewhere is replaced, never loaded, and
    what the link pointed to is left alone."""
    pkl, good_root = pickled
    root = tmp_path / "linked-cache"
    root.mkdir(mode=0o700)
    marker = tmp_path / "pwned"
    namespace = _namespace(backend_compiled)
    planted = _plant(tmp_path / "elsewhere", good_root, namespace, marker)
    (good,) = _entries(good_root, namespace)
    link = root / namespace / good.parent.name / good.name
    link.parent.mkdir(parents=True, mode=0o700)
    link.parent.parent.chmod(0o700)
    link.symlink_to(planted, target_is_directory=True)
    _run(pkl, _env(root))
    assert not marker.exists(), "an entry reached through a symbolic link was loaded"
    (entry,) = _entries(root, namespace)
    assert not entry.is_symlink()
    assert _manifest_ok(entry)
    assert _manifest_ok(planted), "the link's target was modified"
