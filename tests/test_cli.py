"""``python -m symnum``: info, cache list, cache clear (and the demo still runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import symnum
from symnum import __main__ as cli
from symnum import cache


@pytest.fixture
def root(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(directory))
    monkeypatch.delenv("SYMNUM_DISABLE_CACHE", raising=False)
    cache._warned.clear()
    return directory


def _fill(namespace: str, name: str, size: int = 1500) -> Path:
    def build(directory):
        (directory / "artefact.bin").write_bytes(b"x" * size)

    return cache.entry(namespace, cache.make_key(namespace, name), build)


def _du(entry: Path) -> int:
    return sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())


def _run(capsys, *argv: str) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_info_shows_versions_backends_and_cache(root, capsys):
    total = _du(_fill("c", "one")) + _du(_fill("numba", "two", 2500))
    out = _run(capsys, "info")
    lines = out.splitlines()
    assert lines[0] == f"symnum {symnum.__version__}"
    assert any(
        re.fullmatch(rf"python {re.escape(sys.version.split()[0])} \(.*\)", x) for x in lines
    )
    assert f"numpy {np.__version__}" in lines
    assert any(re.fullmatch(r"sympy \d+\.\d+.*", x) for x in lines)
    assert "  numpy    available" in lines
    for name in symnum.backends.available():
        assert any(x.startswith(f"  {name:<8} available") for x in lines), out
    assert f"cache: {root} (SYMNUM_CACHE_DIR)" in lines
    assert f"  2 entries, {total / 1000:.1f} kB (c: 1, numba: 1)" in lines


def test_info_says_what_to_install_for_a_missing_backend(root, capsys, monkeypatch):
    numba_backend = symnum.backends._module("numba")
    monkeypatch.setattr(numba_backend, "available", lambda: False)
    out = _run(capsys, "info")
    (line,) = [x for x in out.splitlines() if x.startswith("  numba")]
    assert "not available" in line
    assert 'pip install "symnum[numba]"' in line


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_info_says_why_the_cache_is_not_used(root, capsys):
    root.mkdir(mode=0o700)
    root.chmod(0o777)
    out = _run(capsys, "info")
    assert "not used because it is writable by every user" in out
    assert "private temporary folder" in out


def test_info_with_the_cache_disabled(root, capsys, monkeypatch):
    monkeypatch.setenv("SYMNUM_DISABLE_CACHE", "1")
    assert "cache: disabled" in _run(capsys, "info")
    assert not root.exists()


def test_info_does_not_create_the_cache(root, capsys):
    assert "  0 entries, 0 B" in _run(capsys, "info")
    assert not root.exists()


def test_cache_list_one_line_per_entry(root, capsys):
    entries = [_fill("c", "a"), _fill("c", "b", 12_000), _fill("numba", "c")]
    old = time.time() - 3 * 3600
    os.utime(entries[0], (old, old))
    out = _run(capsys, "cache", "list")
    rows = [x.split() for x in out.splitlines() if x.startswith(("c ", "numba "))]
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        ("c" if e.parent.parent.name == "c" else "numba", e.name) for e in entries
    )
    by_key = {r[1]: r for r in rows}
    assert by_key[entries[0].name][2:] == [f"{_du(entries[0]) / 1000:.1f}", "kB", "3", "h"]
    assert by_key[entries[1].name][2:4] == [f"{_du(entries[1]) / 1000:.1f}", "kB"]
    assert out.splitlines()[-1] == f"3 entries, {sum(map(_du, entries)) / 1000:.1f} kB"
    only_numba = _run(capsys, "cache", "list", "--backend", "numba")
    assert entries[2].name in only_numba
    assert entries[0].name not in only_numba


def test_cache_list_of_an_empty_or_missing_cache(root, capsys):
    assert _run(capsys, "cache", "list").splitlines()[-1] == "no entries"
    assert not root.exists()


def test_cache_clear_removes_entries_only(root, capsys, tmp_path):
    keep_c = _fill("c", "a")
    _fill("numba", "b")
    notes = root / "notes.txt"
    notes.write_text("mine")
    stray = keep_c.parent.parent / "README"
    stray.write_text("also mine")
    # a link planted in the cache pointing outside: removed, never followed
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("precious")
    link = keep_c.parent / cache.make_key("link")
    link.symlink_to(outside, target_is_directory=True)
    # a scratch folder left by a killed build
    scratch = keep_c.parent / f".{keep_c.name[:16]}-abcdef"
    scratch.mkdir()

    out = _run(capsys, "cache", "clear", "--backend", "numba")
    assert out.strip() == f"removed 1 entry of backend 'numba' from {root}"
    assert [e.backend for e in cache.entries()] == ["c"]

    out = _run(capsys, "cache", "clear")
    assert out.strip() == f"removed 1 entry from {root}"
    assert cache.entries() == []
    assert not os.path.lexists(link)
    assert not scratch.exists()
    assert (outside / "precious.txt").read_text() == "precious"
    assert notes.read_text() == "mine"
    assert stray.read_text() == "also mine"
    assert not (root / "numba").exists()


def test_cache_clear_does_not_follow_a_namespace_link(root, capsys, tmp_path):
    root.mkdir(mode=0o700)
    outside = tmp_path / "outside"
    (outside / "ab" / ("ab" + "0" * 62)).mkdir(parents=True)
    (root / "c").symlink_to(outside, target_is_directory=True)
    assert f"{root / 'c'} is not used because it is a symbolic link" in _run(capsys, "info")
    _run(capsys, "cache", "clear")
    assert (outside / "ab" / ("ab" + "0" * 62)).is_dir()
    assert not os.path.lexists(root / "c"), "the link itself is removed"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_cache_clear_repairs_a_folder_writable_by_others(root, capsys):
    entry = _fill("c", "lax")
    entry.parent.parent.chmod(0o777)
    out = _run(capsys, "info")
    assert f"{entry.parent.parent} is not used because it is writable by every user" in out
    with pytest.warns(cache.CacheWarning, match="cache clear"):
        assert not _fill("c", "lax").is_relative_to(root)
    _run(capsys, "cache", "clear")
    assert cache.unsafe_folders() == []
    again = _fill("c", "lax")
    assert again.is_relative_to(root)
    assert (again.parent.parent.stat().st_mode & 0o777) == 0o700


def test_unknown_backend_is_an_error(root, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["cache", "clear", "--backend", "fortran"])
    assert info.value.code == 2
    assert "unknown backend 'fortran'; known backends: c, numba, numpy" in capsys.readouterr().err


def test_cache_api_matches_the_command_line(root):
    entry = _fill("c", "api")
    (listed,) = cache.entries()
    assert listed == cache.Entry("c", entry.name, entry, _du(entry), entry.stat().st_mtime)
    assert cache.root() == root
    assert cache.clear(backend="numba") == 0
    assert cache.clear() == 1
    assert cache.entries() == []


def test_demo_still_runs(root, capsys):
    assert cli.main(["demo", "--backend", "numpy", "--number", "3"]) == 0
    assert "all 1 backends agree" in capsys.readouterr().out


def test_python_dash_m_symnum_info(root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYMNUM_")}
    env["SYMNUM_CACHE_DIR"] = str(root)
    proc = subprocess.run(
        [sys.executable, "-m", "symnum", "info"],
        capture_output=True, text=True, check=False, timeout=240, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"symnum {symnum.__version__}\n")
    assert f"cache: {root}" in proc.stdout
