"""Build logging: the ``symnum`` logger reports what each build spends its time on.

A build (one call of :func:`symnum.numpify`, :func:`symnum.generate_func`, a
differential operator, or a backend build of an unpickled function) goes through
phases, each reported at ``DEBUG`` with its size and its own time (time spent in a
nested phase is counted once, in the nested phase):

``trace``
    calling the user's function on symbolic arrays (size: output elements);
``differentiate``
    one :meth:`SymbolicArray.diff` (size: derivative elements);
``lower``
    SymPy expressions to the IR (size: IR statements);
``emit``
    IR to the backend's source, and loading the built kernel (size: source characters);
``compile``
    the backend's build step inside the cache (C: the C compiler; numba: writing the
    module, numba itself compiles lazily on the first call; numpy: ``compile``);
``cache hit`` / ``cache miss``
    whether :func:`symnum.cache.entry` found a valid entry (size: files and bytes).

When a build ends, a summary line (``DEBUG``) lists the time of every phase (and of
``other`` work, such as importing a backend's toolchain). A build
that takes longer than :data:`SLOW_BUILD_SECONDS` (2 s) says so at ``INFO``, naming
the phase that dominated.

Setting ``SYMNUM_LOG`` to ``debug``, ``info``, ``warning`` or ``error`` turns the log on
without code: when this module is first imported, it sets the ``symnum`` logger's
level and adds one :class:`logging.StreamHandler` on stderr (only then, and only once).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["SLOW_BUILD_SECONDS", "build", "debugging", "logger", "phase", "timed"]

logger = logging.getLogger("symnum")

#: A build taking longer than this many seconds is reported at INFO.
SLOW_BUILD_SECONDS = 2.0

#: Values of ``SYMNUM_LOG`` and the levels they select.
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


@dataclass
class _Build:
    name: str
    start: float
    #: phase -> own seconds, in the order phases first ran
    times: dict[str, float] = field(default_factory=dict)
    #: seconds spent in nested phases, one slot per open phase
    nested: list[float] = field(default_factory=list)


_current: ContextVar[_Build | None] = ContextVar("symnum_build", default=None)


@contextlib.contextmanager
def build(name: str):
    """Time a build called ``name``; phases run inside it are attributed to it.

    Nested builds (a closure of a function, a derivative built from a numeric
    function) are part of the outermost one and produce no summary of their own.
    """
    if _current.get() is not None:
        yield
        return
    record = _Build(name, time.perf_counter())
    token = _current.set(record)
    try:
        yield
    finally:
        _current.reset(token)
        _summarise(record, time.perf_counter() - record.start)


@contextlib.contextmanager
def phase(name: str, subject: str | None = None, **sizes):
    """Time one phase ``name`` of the current build and log it at DEBUG.

    Yields a dict of sizes (``{"statements": 120}``) that the caller may fill in once
    they are known; they are shown in the log line. ``subject`` names what the phase
    works on when there is no current build (an unpickled function's cache lookup).
    """
    record = _current.get()
    info = dict(sizes)
    start = time.perf_counter()
    if record is not None:
        record.nested.append(0.0)
    try:
        yield info
    finally:
        elapsed = time.perf_counter() - start
        nested = record.nested.pop() if record is not None else 0.0
        timed(name, elapsed, subject, _nested=nested, **info)


def timed(name: str, seconds: float, subject: str | None = None, *, _nested=0.0, **sizes):
    """Report a phase ``name`` that took ``seconds`` (timed by the caller), as
    :func:`phase` does; for phases whose name is known only at their end (a cache
    lookup is a hit or a miss)."""
    record = _current.get()
    own = seconds - _nested
    if record is not None:
        if record.nested:
            record.nested[-1] += seconds
        record.times[name] = record.times.get(name, 0.0) + own
    if logger.isEnabledFor(logging.DEBUG):
        who = record.name if record is not None else subject or "symnum"
        detail = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sizes.items())
        logger.debug("%s: %s%s in %.3f s", who, name, f" ({detail})" if detail else "", own)


def debugging() -> bool:
    """Whether DEBUG lines are wanted (sizes worth computing only then)."""
    return logger.isEnabledFor(logging.DEBUG)


def _summarise(record: _Build, total: float) -> None:
    times = dict(record.times)
    other = total - sum(times.values())
    if other > 0.001:  # importing a backend, wrapping the function, ...
        times["other"] = other
    parts = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in times.items())
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s: built in %.3f s (%s)", record.name, total, parts or "no phases")
    if total > SLOW_BUILD_SECONDS and logger.isEnabledFor(logging.INFO):
        if times:
            slowest, seconds = max(times.items(), key=lambda item: item[1])
            mostly = f"; mostly {slowest} ({seconds:.2f} s, {seconds / total:.0%})"
        else:
            mostly = ""
        logger.info(
            "%s: slow build, %.2f s (over %.0f s)%s", record.name, total, SLOW_BUILD_SECONDS, mostly
        )


def _configure_from_environment() -> logging.Handler | None:
    """Install the stderr handler ``SYMNUM_LOG`` asks for (once per process)."""
    value = os.environ.get("SYMNUM_LOG", "").strip()
    if not value:
        return None
    level = LEVELS.get(value.lower())
    if level is None:
        warnings.warn(
            f"SYMNUM_LOG={value!r} is not one of {', '.join(LEVELS)}; symnum does not log",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    for handler in logger.handlers:
        if getattr(handler, "_symnum_from_environment", False):
            return handler
    handler = logging.StreamHandler(sys.stderr)
    handler._symnum_from_environment = True
    handler.setFormatter(logging.Formatter("symnum %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


_configure_from_environment()
