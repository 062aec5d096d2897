"""The content-addressed cache: atomic publication, fault detection, unsafe roots."""

from __future__ import annotations

import multiprocessing
import os
import stat
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from symnum import cache


@pytest.fixture
def root(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(directory))
    monkeypatch.delenv("SYMNUM_DISABLE_CACHE", raising=False)
    cache._warned.clear()
    return directory


def _writer(payload: bytes):
    calls = []

    def build(directory: Path) -> None:
        calls.append(directory)
        (directory / "artefact.bin").write_bytes(payload)

    return build, calls


def test_key_depends_on_every_part_and_its_boundaries():
    assert cache.make_key("ab", "c") != cache.make_key("a", "bc")
    assert cache.make_key("a", b"b") == cache.make_key("a", "b")
    assert len(cache.make_key("x")) == 64


def test_entry_builds_once_then_hits(root):
    build, calls = _writer(b"hello")
    first = cache.entry("test", cache.make_key("k"), build)
    second = cache.entry("test", cache.make_key("k"), build)
    assert first == second
    assert first.is_relative_to(root)
    assert len(calls) == 1
    assert (first / "artefact.bin").read_bytes() == b"hello"
    # nothing half-built is left beside the entry
    assert [p.name for p in first.parent.iterdir()] == [first.name]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(b""), id="zero-length"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:2]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(b"\x7fELF garbage"), id="garbage"),
        pytest.param(lambda p: (p.parent / cache.MANIFEST).unlink(), id="no-manifest"),
        pytest.param(lambda p: (p.parent / cache.MANIFEST).write_text("{"), id="bad-manifest"),
        pytest.param(lambda p: p.unlink(), id="missing-file"),
    ],
)
def test_damaged_entry_is_rebuilt_not_returned(root, damage):
    build, calls = _writer(b"payload-bytes")
    key = cache.make_key("damaged")
    directory = cache.entry("test", key, build)
    damage(directory / "artefact.bin")
    again = cache.entry("test", key, build)
    assert len(calls) == 2
    assert (again / "artefact.bin").read_bytes() == b"payload-bytes"


def test_failed_build_leaves_no_entry(root):
    def build(directory):
        (directory / "partial").write_bytes(b"x")
        raise RuntimeError("compiler exploded")

    key = cache.make_key("fails")
    with pytest.raises(RuntimeError, match="compiler exploded"):
        cache.entry("test", key, build)
    assert not (root / "test" / key[:2] / key).exists()
    assert list((root / "test" / key[:2]).iterdir()) == []


def _race(args):
    directory, key = args
    os.environ["SYMNUM_CACHE_DIR"] = directory

    def build(d):
        (d / "artefact.bin").write_bytes(b"same result " * 1000)

    path = cache.entry("race", key, build)
    return (path / "artefact.bin").read_bytes()


def test_racing_processes_all_succeed_with_one_result(root):
    key = cache.make_key("race")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_race, [(str(root), key)] * 8)
    assert set(results) == {b"same result " * 1000}
    assert [p.name for p in (root / "race" / key[:2]).iterdir()] == [key]


def test_racing_threads_all_succeed_with_one_result_per_key(root):
    payload = b"thread result " * 500

    def build(d):
        (d / "artefact.bin").write_bytes(payload)

    keys = [cache.make_key("thread", str(i % 3)) for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda key: cache.entry("threads", key, build), keys))
    assert {(p / "artefact.bin").read_bytes() for p in paths} == {payload}
    published = sorted(p.name for p in (root / "threads").glob("*/*"))
    assert published == sorted(set(keys)), "leftover scratch or duplicate entries"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_directory_writable_by_others_is_not_used(root):
    root.mkdir(mode=0o700)
    root.chmod(0o777)
    with pytest.warns(cache.CacheWarning, match="writable by every user"):
        used = cache.cache_root()
    assert used != root
    assert stat.S_IMODE(used.stat().st_mode) == 0o700


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_group_writable_directory_is_not_used(root):
    root.mkdir(mode=0o700)
    root.chmod(0o770)
    with pytest.warns(cache.CacheWarning, match="writable by other users"):
        assert cache.cache_root() != root


def test_read_only_directory_falls_back_with_warning(root, monkeypatch):
    # Simulated, so that the test also means something when run as root (as CI is),
    # for whom no directory is read-only.
    root.mkdir(mode=0o700)
    real_access = os.access
    monkeypatch.setattr(
        cache.os, "access", lambda p, mode: False if Path(p) == root else real_access(p, mode)
    )
    with pytest.warns(cache.CacheWarning, match="not writable"):
        assert cache.cache_root() != root


def test_write_failure_inside_root_falls_back_with_warning(root, monkeypatch):
    real_mkdtemp = cache.tempfile.mkdtemp

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).is_relative_to(root):
            raise PermissionError(13, "Permission denied", str(dir))
        return real_mkdtemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(cache.tempfile, "mkdtemp", refuse)
    build, _ = _writer(b"ok")
    with pytest.warns(cache.CacheWarning, match="cannot write"):
        directory = cache.entry("test", cache.make_key("denied"), build)
    assert (directory / "artefact.bin").read_bytes() == b"ok"
    assert not directory.is_relative_to(root)


def test_uncreatable_directory_falls_back_with_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(blocker / "cache"))
    cache._warned.clear()
    build, _calls = _writer(b"ok")
    with pytest.warns(cache.CacheWarning, match="cannot be created"):
        directory = cache.entry("test", cache.make_key("fallback"), build)
    assert (directory / "artefact.bin").read_bytes() == b"ok"
    assert not directory.is_relative_to(blocker)


def test_disabled_cache_builds_privately(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("SYMNUM_DISABLE_CACHE", "1")
    build, _ = _writer(b"ok")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        directory = cache.entry("test", cache.make_key("disabled"), build)
    assert not (tmp_path / "shared").exists()
    assert (directory / "artefact.bin").read_bytes() == b"ok"


def test_disable_flag_zero_means_enabled(root, monkeypatch):
    monkeypatch.setenv("SYMNUM_DISABLE_CACHE", "0")
    assert cache.cache_root() == root
