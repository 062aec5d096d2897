"""Build logging: the ``symnum`` logger reports phases, sizes, times and slow builds."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symnum
import symnum.numpy as snp
from symnum import _log, cache


def _messages(caplog, level=logging.DEBUG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "symnum" and r.levelno == level]


def _f(x):
    return snp.sum(x**2) + snp.exp(x[0]) * x[1]


class FakeClock:
    """``time.perf_counter`` under the test's control."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(_log.time, "perf_counter", fake)
    return fake


def test_numpify_reports_each_phase_with_sizes(caplog):
    caplog.set_level(logging.DEBUG, logger="symnum")
    func = symnum.gradient(_f, (3,), backend="numpy")
    np.testing.assert_allclose(func(np.array([1.0, 2.0, 3.0])), [2 + np.e * 2, 4 + np.e, 6])
    messages = _messages(caplog)
    for pattern in (
        r"^grad__f: differentiate \(elements 3\) in \d+\.\d{3} s$",
        r"^grad__f: trace \(output elements 3\) in \d+\.\d{3} s$",
        r"^grad__f: lower \(statements \d+\) in \d+\.\d{3} s$",
        r"^grad__f: emit \(source chars \d+\) in \d+\.\d{3} s$",
        r"^grad__f: built in \d+\.\d{3} s \(.*trace .*lower .*emit .*\)$",
    ):
        assert any(re.match(pattern, m) for m in messages), (pattern, messages)
    # one build, one summary: the operator's inner numpify is part of it
    assert sum("built in" in m for m in messages) == 1


def test_nothing_is_logged_below_the_configured_level(caplog):
    caplog.set_level(logging.INFO, logger="symnum")
    symnum.numpify(_f, (3,), backend="numpy")
    assert _messages(caplog) == []
    assert _messages(caplog, logging.INFO) == []  # a fast build


def test_cache_miss_compile_then_hit(caplog, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tmp_path / "cache"))
    caplog.set_level(logging.DEBUG, logger="symnum")
    key = cache.make_key("logged")

    def build(directory):
        (directory / "a.bin").write_bytes(b"x" * 1000)

    cache.entry("test", key, build)
    first = _messages(caplog)
    assert any(re.match(rf"test kernel {key[:12]}: cache miss \(entry .*{key}\)", m) for m in first)
    assert any(re.match(r"test kernel \w+: compile \(bytes \d+\) in", m) for m in first), first
    caplog.clear()
    cache.entry("test", key, build)
    second = _messages(caplog)
    assert any("cache hit" in m for m in second), second
    assert not any(": cache miss" in m or ": compile" in m for m in second), second


def test_damaged_entry_is_reported_at_info(caplog, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tmp_path / "cache"))
    caplog.set_level(logging.INFO, logger="symnum")
    key = cache.make_key("logged-damage")
    directory = cache.entry("test", key, lambda d: (d / "a.bin").write_bytes(b"abc"))
    (directory / "a.bin").write_bytes(b"abd")
    cache.entry("test", key, lambda d: (d / "a.bin").write_bytes(b"abc"))
    assert any(
        "is rebuilt: a.bin does not match the manifest" in m
        for m in _messages(caplog, logging.INFO)
    )


def test_phase_times_are_exclusive_of_nested_phases(caplog, clock):
    caplog.set_level(logging.DEBUG, logger="symnum")
    with _log.build("model"):
        with _log.phase("trace"):
            clock.advance(1.0)
            with _log.phase("differentiate"):
                clock.advance(3.0)
            clock.advance(0.5)
        with _log.phase("lower") as info:
            clock.advance(0.25)
            info["statements"] = 12
        _log.timed("cache hit", 0.125)
    messages = _messages(caplog)
    assert "model: differentiate in 3.000 s" in messages
    assert "model: trace in 1.500 s" in messages
    assert "model: lower (statements 12) in 0.250 s" in messages
    assert "model: cache hit in 0.125 s" in messages
    assert messages[-1] == (
        "model: built in 4.750 s (differentiate 3.000 s, trace 1.500 s, lower 0.250 s, "
        "cache hit 0.125 s)"
    )


def test_slow_build_says_so_at_info_with_the_dominant_phase(caplog, clock):
    caplog.set_level(logging.INFO, logger="symnum")
    with _log.build("big_model"):
        with _log.phase("lower"):
            clock.advance(0.5)
        with _log.phase("compile"):
            clock.advance(_log.SLOW_BUILD_SECONDS)
    assert _messages(caplog, logging.INFO) == [
        f"big_model: slow build, {_log.SLOW_BUILD_SECONDS + 0.5:.2f} s (over "
        f"{_log.SLOW_BUILD_SECONDS:.0f} s); mostly compile ({_log.SLOW_BUILD_SECONDS:.2f} s, "
        f"{_log.SLOW_BUILD_SECONDS / (_log.SLOW_BUILD_SECONDS + 0.5):.0%})"
    ]


def test_build_just_under_the_threshold_is_not_reported(caplog, clock):
    caplog.set_level(logging.INFO, logger="symnum")
    with _log.build("model"), _log.phase("compile"):
        clock.advance(_log.SLOW_BUILD_SECONDS * 0.99)
    assert _messages(caplog, logging.INFO) == []


def test_slow_real_build_is_reported(caplog, monkeypatch):
    """A real build over the (here lowered) threshold names a phase that exists."""
    monkeypatch.setattr(_log, "SLOW_BUILD_SECONDS", 0.0)
    caplog.set_level(logging.INFO, logger="symnum")
    symnum.hessian(_f, (3,), backend="numpy")
    (message,) = _messages(caplog, logging.INFO)
    assert re.match(
        r"hess__f: slow build, \d+\.\d\d s \(over 0 s\); mostly "
        r"(trace|differentiate|lower|emit|other) \(",
        message,
    ), message


def test_threads_keep_their_own_builds(caplog):
    import threading

    caplog.set_level(logging.DEBUG, logger="symnum")
    errors = []

    def work(name):
        try:

            def g(x):
                return snp.sum(x) * 2.0

            g.__name__ = name
            symnum.numpify(g, (2,), backend="numpy")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"model{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    summaries = [m for m in _messages(caplog) if "built in" in m]
    assert sorted(m.split(":")[0] for m in summaries) == [f"model{i}" for i in range(4)]


def test_environment_variable_installs_one_handler(monkeypatch):
    logger = logging.getLogger("symnum")
    before_handlers, before_level = list(logger.handlers), logger.level
    monkeypatch.setenv("SYMNUM_LOG", "Info")
    try:
        first = _log._configure_from_environment()
        second = _log._configure_from_environment()
        assert first is second
        assert [h for h in logger.handlers if h not in before_handlers] == [first]
        assert first.stream is sys.stderr
        assert logger.level == logging.INFO
    finally:
        logger.handlers[:] = before_handlers
        logger.setLevel(before_level)


def test_unknown_environment_level_warns(monkeypatch):
    logger = logging.getLogger("symnum")
    before = list(logger.handlers)
    monkeypatch.setenv("SYMNUM_LOG", "loud")
    with pytest.warns(RuntimeWarning, match="SYMNUM_LOG='loud' is not one of debug, info"):
        assert _log._configure_from_environment() is None
    assert logger.handlers == before


_CHILD = textwrap.dedent(
    """
    import logging
    import symnum, symnum.numpy as snp
    def model(x):
        return snp.sum(x ** 2)
    symnum.gradient(model, (2,), backend="numpy")
    print(len(logging.getLogger("symnum").handlers))
    """
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("debug", r"symnum DEBUG: grad_model: trace \(output elements 2\) in "),
        ("DEBUG", r"symnum DEBUG: grad_model: built in "),
        ("info", None),
        ("", None),
    ],
)
def test_symnum_log_in_a_fresh_process(tmp_path, value, expected):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYMNUM_")}
    env["SYMNUM_CACHE_DIR"] = str(tmp_path / "cache")
    if value:
        env["SYMNUM_LOG"] = value
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        capture_output=True, text=True, check=False, timeout=240, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == (["1"] if value else ["0"])
    if expected is None:
        assert "symnum DEBUG" not in proc.stderr, proc.stderr
    else:
        assert re.search(expected, proc.stderr), proc.stderr
    if value == "":
        assert proc.stderr == ""
