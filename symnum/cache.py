"""Content-addressed on-disk cache shared by the backends.

An *entry* is a directory holding the files one build produced (a generated module, a
compiled extension, ...) plus a manifest of their SHA-256 digests, written last. Entries
live at ``<root>/<namespace>/<key[:2]>/<key>``, ``key`` being a hash of everything the
artefact depends on (see :func:`make_key`).

Safety rules:

* Builds happen in a private temporary directory beside the entry and are published by
  one atomic ``rename``, so concurrent processes never see half an entry; when two
  processes race, the first rename wins and the loser discards its copy.
* An entry whose manifest is missing, or whose files do not match it (truncated,
  zero-length, garbage), is moved aside and rebuilt, never loaded.
* A root that is missing and cannot be created, is not writable, or is writable by
  other users (where anyone could plant an artefact) is not used: the cache falls back
  to a private temporary directory and warns once.

``SYMNUM_CACHE_DIR`` relocates the root; ``SYMNUM_DISABLE_CACHE=1`` makes every process
build into its own private temporary directory (removed at exit).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

__all__ = ["CacheWarning", "cache_root", "entry", "make_key"]

MANIFEST = "MANIFEST.json"
_FORMAT = 1
_private_root: Path | None = None
_warned: set[str] = set()


class CacheWarning(UserWarning):
    """The cache directory could not be used as configured."""


def make_key(*parts: str | bytes) -> str:
    """A hex SHA-256 over ``parts`` (each length-prefixed, so boundaries matter)."""
    h = hashlib.sha256()
    h.update(f"symnum-cache-{_FORMAT}".encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else bytes(part)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _default_root() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "symnum"


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, CacheWarning, stacklevel=4)


def _private() -> Path:
    """This process's own temporary cache root (mode 0700, removed at exit)."""
    global _private_root  # noqa: PLW0603
    if _private_root is None or not _private_root.is_dir():
        _private_root = Path(tempfile.mkdtemp(prefix="symnum-cache-"))
        atexit.register(shutil.rmtree, _private_root, ignore_errors=True)
    return _private_root


def _unsafe_reason(path: Path) -> str | None:
    """Why ``path`` (an existing directory) must not be trusted, or ``None``."""
    if sys.platform == "win32":
        return None
    st = path.stat()
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return "it is writable by every user"
    if st.st_mode & stat.S_IWGRP or st.st_mode & stat.S_IWOTH:
        return "it is writable by other users"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return "it is owned by another user"
    return None


def cache_root() -> Path:
    """The directory the cache uses now (created if needed).

    Honours ``SYMNUM_DISABLE_CACHE`` and ``SYMNUM_CACHE_DIR``; falls back to a private
    temporary directory, with a :class:`CacheWarning`, when the configured one cannot
    be used safely.
    """
    if os.environ.get("SYMNUM_DISABLE_CACHE", "").strip() not in ("", "0"):
        return _private()
    configured = os.environ.get("SYMNUM_CACHE_DIR")
    root = Path(configured).expanduser() if configured else _default_root()
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        _warn_once(
            f"symnum cache directory {root} cannot be created ({exc}); "
            "using a private temporary directory instead"
        )
        return _private()
    reason = _unsafe_reason(root)
    if reason is not None:
        _warn_once(
            f"symnum cache directory {root} is not used because {reason}; "
            "using a private temporary directory instead"
        )
        return _private()
    if not os.access(root, os.W_OK | os.X_OK):
        _warn_once(
            f"symnum cache directory {root} is not writable; "
            "using a private temporary directory instead"
        )
        return _private()
    return root


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_manifest(directory: Path) -> None:
    files = {
        p.relative_to(directory).as_posix(): _digest(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST and "__pycache__" not in p.parts
    }
    (directory / MANIFEST).write_text(json.dumps({"format": _FORMAT, "files": files}))


def _valid(directory: Path) -> bool:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        files = manifest["files"]
        if manifest.get("format") != _FORMAT or not files:
            return False
        return all(_digest(directory / name) == digest for name, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _discard(directory: Path) -> None:
    """Move a bad entry out of the way (a rename is atomic), then delete it."""
    trash = directory.with_name(f"{directory.name}.bad-{os.getpid()}-{id(directory)}")
    try:
        directory.rename(trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def entry(namespace: str, key: str, build: Callable[[Path], None]) -> Path:
    """The directory of the cache entry ``namespace/key``, building it if needed.

    ``build(directory)`` must write the artefact's files into ``directory`` (an empty
    private directory); the entry is published atomically once it returns. An existing
    entry is verified against its manifest before it is returned, and rebuilt if it
    does not match. Returns the entry's directory.
    """
    root = cache_root()
    try:
        return _entry_at(root, namespace, key, build)
    except PermissionError as exc:
        private = _private()
        if root == private:
            raise
        _warn_once(
            f"cannot write to symnum cache {root} ({exc}); "
            "using a private temporary directory instead"
        )
        return _entry_at(private, namespace, key, build)


def _entry_at(root: Path, namespace: str, key: str, build) -> Path:
    parent = root / namespace / key[:2]
    final = parent / key
    if final.is_dir():
        if _valid(final):
            return final
        _discard(final)
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=parent))
    try:
        build(scratch)
        _write_manifest(scratch)
        os.chmod(scratch, 0o755)  # noqa: S103 - readable like the rest of the cache
        try:
            scratch.rename(final)
        except OSError:
            # Another process published the same entry first: keep theirs if it is good.
            if not _valid(final):
                _discard(final)
                scratch.rename(final)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return final
