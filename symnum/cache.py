"""Content-addressed on-disk cache shared by the backends.

An *entry* is a directory holding the files one build produced (a generated module, a
compiled extension, ...) plus a manifest of their SHA-256 digests, written last. Entries
live at ``<root>/<namespace>/<key[:2]>/<key>``, ``key`` being a hash of everything the
artefact depends on (see :func:`make_key`); the namespace is the backend's name.

Safety rules:

* Builds happen in a private temporary directory beside the entry and are published by
  one atomic ``rename``, so concurrent processes never see half an entry; when two
  processes race, the first rename wins and the loser discards its copy.
* Every directory symnum creates is made mode 0700 explicitly, whatever the umask, and
  every file it publishes loses its group and other permissions.
* Before anything in an entry is used, every directory on the way to it (the root, the
  namespace, the key prefix, the entry) must be a real directory (not a symbolic link)
  owned by the current user and not writable by group or others, and nothing inside the
  entry may be a symbolic link, a special file (fifo, device, socket) or belong to
  another user. The root itself may be reached through a symbolic link (it is resolved
  once), but no folder above it may be writable by every user without the sticky bit.
* The manifest is read with bounded size and may only name plain relative paths of
  regular files inside its entry (no absolute paths, ``..``, NUL bytes or odd
  characters; at most :data:`MAX_FILE_BYTES` each). An entry whose manifest is missing,
  malformed, or does not match its files is moved aside and rebuilt, never loaded, and
  checking it takes bounded time.
* A root that is missing and cannot be created, is not writable, or is unsafe as above,
  and a cache that fails while writing (disk full, a file where a folder should be, ...),
  is not used: the cache falls back to a private temporary directory and warns once
  (:class:`CacheWarning`).

``SYMNUM_CACHE_DIR`` relocates the root; ``SYMNUM_DISABLE_CACHE=1`` makes every process
build into its own private temporary directory (removed at exit).

:func:`root`, :func:`entries` and :func:`clear` serve ``python -m symnum cache``.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from symnum import _log

__all__ = [
    "CacheWarning",
    "Entry",
    "cache_root",
    "clear",
    "configured_root",
    "entries",
    "entry",
    "make_key",
    "persistent",
    "root",
    "unsafe_folders",
    "unusable_reason",
    "write_failed",
]

MANIFEST = "MANIFEST.json"
_FORMAT = 1
#: Largest manifest read, in bytes.
MAX_MANIFEST_BYTES = 1 << 20
#: Largest file a manifest may name, in bytes.
MAX_FILE_BYTES = 1 << 30
#: Most files and folders an entry may hold (including numba's ``__pycache__``).
MAX_ENTRY_ITEMS = 4096
#: Names of the namespaces (backends), keys and the parts of a manifest's paths.
_NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_KEY = re.compile(r"[A-Za-z0-9_-]{3,128}")
_PREFIX = re.compile(r"[A-Za-z0-9_-]{2}")
_PART = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,254}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
#: Folders an entry may contain that the manifest does not cover (numba's own cache).
_UNLISTED = ("__pycache__",)

_private_root: Path | None = None
_warned: set[str] = set()


class CacheWarning(UserWarning):
    """The cache directory could not be used as configured."""


class _Unusable(Exception):  # noqa: N818 - internal signal, never escapes this module
    """A folder of the cache cannot be trusted or created: use the private fallback."""


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


def _disabled() -> bool:
    return os.environ.get("SYMNUM_DISABLE_CACHE", "").strip() not in ("", "0")


# --------------------------------------------------------------------------------------
# Who may write where


def _uid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _unsafe_stat(st: os.stat_result, what: str = "it") -> str | None:
    """Why a directory with lstat result ``st`` must not be trusted, or ``None``."""
    if stat.S_ISLNK(st.st_mode):
        return f"{what} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{what} is not a directory"
    if sys.platform == "win32":
        return None
    return _unsafe_owner_or_mode(st, what)


def _unsafe_owner_or_mode(st: os.stat_result, what: str) -> str | None:
    """Why a POSIX directory with lstat result ``st`` may be changed by other users, or
    ``None``."""
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return f"{what} is writable by every user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} is writable by other users"
    if _uid() is not None and st.st_uid != _uid():
        return f"{what} is owned by another user (uid {st.st_uid})"
    return None


def _unsafe_reason(path: Path) -> str | None:
    """Why the root ``path`` (an existing directory, already resolved) must not be
    trusted, or ``None``: it, and every folder above it, are checked."""
    reason = _unsafe_stat(os.lstat(path))
    if reason is not None or sys.platform == "win32":
        return reason
    # Whoever may rename a folder above the root may swap the whole cache. Folders
    # writable by every user are fine only with the sticky bit (like /tmp).
    for above in path.parents:
        st = os.lstat(above)
        if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
            return f"the folder above it, {above}, is writable by every user"
    return None


def _make_private_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents, each mode 0700 whatever the umask."""
    missing = []
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            break
        missing.append(candidate)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue  # made by a concurrent process; checked by the caller
        os.chmod(directory, 0o700)


def configured_root() -> Path:
    """Where the cache lives when it can be used: ``SYMNUM_CACHE_DIR`` or the user's
    cache directory (``~/.cache/symnum`` on Linux). Nothing is created or checked."""
    configured = os.environ.get("SYMNUM_CACHE_DIR")
    return Path(configured).expanduser() if configured else _default_root()


def unusable_reason(path: Path | None = None) -> str | None:
    """Why the cache root ``path`` (default :func:`configured_root`) would not be used,
    or ``None`` if it would (or does not exist yet). Nothing is created."""
    path = configured_root() if path is None else Path(path)
    if not os.path.lexists(path):
        return None
    try:
        real = Path(os.path.realpath(path))
        reason = _unsafe_reason(real)
    except OSError as exc:
        return f"it cannot be inspected ({exc})"
    if reason is None and not os.access(real, os.W_OK | os.X_OK):
        reason = "it is not writable"
    return reason


def cache_root() -> Path:
    """The directory the cache uses now (created if needed, symbolic links resolved).

    Honours ``SYMNUM_DISABLE_CACHE`` and ``SYMNUM_CACHE_DIR``; falls back to a private
    temporary directory, with a :class:`CacheWarning`, when the configured one cannot
    be used safely.
    """
    if _disabled():
        return _private()
    path = configured_root()
    try:
        _make_private_dirs(path)
        real = Path(os.path.realpath(path))
        reason = _unsafe_reason(real)
    except OSError as exc:
        _warn_once(
            f"symnum cache directory {path} cannot be created ({exc}); "
            "using a private temporary directory instead"
        )
        return _private()
    if reason is not None:
        _warn_once(
            f"symnum cache directory {path} is not used because {reason}; "
            "using a private temporary directory instead"
        )
        return _private()
    if not os.access(real, os.W_OK | os.X_OK):
        _warn_once(
            f"symnum cache directory {path} is not writable; "
            "using a private temporary directory instead"
        )
        return _private()
    return real


#: The public name of :func:`cache_root`.
root = cache_root


def persistent() -> bool:
    """Whether entries made now outlive this process: the cache is enabled and its
    folder usable (not the private temporary folder of a disabled or unusable cache)."""
    return cache_root() != _private_root


def _subdir(parent: Path, name: str) -> Path:
    """``parent / name``, created mode 0700 if missing; raises :class:`_Unusable` if it
    is anything but a safe directory of ours (``parent`` must already be safe)."""
    path = parent / name
    try:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            _make_private_dirs(path)
            st = os.lstat(path)
        reason = _unsafe_stat(st)
    except OSError as exc:
        msg = f"symnum cache folder {path} cannot be created ({exc})"
        raise _Unusable(msg) from exc
    if reason is not None:
        hint = (
            "move it away"
            if "not a directory" in reason
            else "`python -m symnum cache clear` removes it"
        )
        msg = f"symnum cache folder {path} is not used because {reason} ({hint})"
        raise _Unusable(msg)
    return path


# --------------------------------------------------------------------------------------
# Manifests


def _digest_fd(fd: int, size: int) -> str:
    """SHA-256 of the first ``size`` bytes of ``fd`` (reads at most ``size + 1``)."""
    h = hashlib.sha256()
    remaining = size + 1  # one more byte: a file that grew does not match
    while remaining > 0:
        block = os.read(fd, min(remaining, 1 << 20))
        if not block:
            break
        h.update(block)
        remaining -= len(block)
    return h.hexdigest()


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_OPEN_FLAGS |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_regular(path: Path, limit: int) -> tuple[int, int]:
    """``(fd, size)`` of the regular file ``path``, opened without following a symbolic
    link and without blocking (a fifo); raises ``OSError`` if it is anything else, is
    not ours, or is larger than ``limit`` bytes."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if _uid() is not None and st.st_uid != _uid():
            raise OSError(errno.EPERM, "owned by another user", str(path))
        if st.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def _digest(path: Path) -> str:
    fd, size = _open_regular(path, MAX_FILE_BYTES)
    try:
        return _digest_fd(fd, size)
    finally:
        os.close(fd)


def _valid_name(name: object) -> bool:
    """Whether a manifest may name ``name``: a plain relative path inside the entry."""
    if not isinstance(name, str) or len(name) > 1024:
        return False
    parts = name.split("/")
    return all(_PART.fullmatch(part) for part in parts) and parts[0] not in _UNLISTED


def _walk(directory: Path):
    """``(relative path, lstat)`` of everything under ``directory``, without following
    symbolic links; at most :data:`MAX_ENTRY_ITEMS` items (then ``OSError``)."""
    pending = [(directory, "")]
    count = 0
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as it:
            for item in it:
                count += 1
                if count > MAX_ENTRY_ITEMS:
                    raise OSError(errno.EFBIG, "too many files", str(directory))
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # replaced meanwhile (numba renames its index files into place)
                relative = prefix + item.name
                yield relative, st
                if stat.S_ISDIR(st.st_mode):
                    pending.append((Path(item.path), relative + "/"))


def _seal(directory: Path) -> dict[str, str]:
    """Make a freshly built entry private and return its manifest's files.

    Raises ``ValueError`` if the build left something that could never be loaded back
    (a symbolic link, a special file, a name a manifest may not hold)."""
    files = {}
    for relative, st in _walk(directory):
        path = directory / relative
        if stat.S_ISDIR(st.st_mode):
            os.chmod(path, 0o700)
        elif stat.S_ISREG(st.st_mode):
            os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
            if relative.split("/")[0] in _UNLISTED:
                continue
            if not _valid_name(relative) or relative == MANIFEST:
                msg = f"a cache build produced a file the manifest cannot name: {relative!r}"
                raise ValueError(msg)
            files[relative] = _digest(path)
        else:
            msg = f"a cache build produced {relative!r}, which is not a regular file"
            raise ValueError(msg)
    if not files:
        msg = "a cache build produced no files"
        raise ValueError(msg)
    return files


def _write_manifest(directory: Path) -> None:
    """Seal ``directory`` (see :func:`_seal`) and write its manifest, mode 0600."""
    text = json.dumps({"format": _FORMAT, "files": _seal(directory)}, sort_keys=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(directory / MANIFEST, flags | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode())


def _damage(directory: Path) -> str | None:
    """Why the entry ``directory`` must not be loaded, or ``None`` if it is sound.

    Bounded work: at most :data:`MAX_ENTRY_ITEMS` items are looked at, the manifest is
    read up to :data:`MAX_MANIFEST_BYTES` and each file it names up to
    :data:`MAX_FILE_BYTES`; nothing outside ``directory`` is opened."""
    try:
        st = os.lstat(directory)
        reason = _unsafe_stat(st, "the entry")
        if reason is not None:
            return reason
        present: set = set()
        reason = _bad_item(directory, st, present)
        if reason is not None:
            return reason
        fd, size = _open_regular(directory / MANIFEST, MAX_MANIFEST_BYTES)
        with os.fdopen(fd, "rb") as f:
            manifest = json.loads(f.read(size + 1))
        return _manifest_mismatch(directory, manifest, present)
    except (OSError, ValueError, RecursionError) as exc:
        return f"it cannot be read ({exc})"


def _bad_item(directory: Path, st: os.stat_result, present: set) -> str | None:
    """Why an item inside the entry ``directory`` (lstat result ``st``) must not be
    trusted, or ``None``; adds the relative paths of its listed regular files to
    ``present``."""
    # Inside a folder only its owner can enter, modes do not matter; otherwise
    # (entries made by older versions) nothing may be writable by others.
    private = sys.platform == "win32" or not st.st_mode & 0o077
    for relative, item in _walk(directory):
        if stat.S_ISREG(item.st_mode) and relative.split("/")[0] not in _UNLISTED:
            present.add(relative)
        if not (stat.S_ISDIR(item.st_mode) or stat.S_ISREG(item.st_mode)):
            return f"{relative} is not a regular file or folder"
        if _uid() is not None and item.st_uid != _uid():
            return f"{relative} is owned by another user"
        if not private and item.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{relative} is writable by other users"
    return None


def _manifest_mismatch(directory: Path, manifest, present: set) -> str | None:
    """Why the parsed ``manifest`` does not vouch for the files ``present`` in the entry
    ``directory``, or ``None``."""
    if not isinstance(manifest, dict) or type(manifest.get("format")) is not int:
        return "the manifest's format is not known"
    if manifest["format"] != _FORMAT:
        return "the manifest's format is not known"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files or len(files) > MAX_ENTRY_ITEMS:
        return "the manifest lists no files"
    reason = _malformed_listing(files)
    if reason is not None:
        return reason
    return _files_mismatch(directory, files, present)


def _files_mismatch(directory: Path, files: dict, present: set) -> str | None:
    """Why the files ``present`` in the entry ``directory`` are not those the manifest
    lists (``{name: digest}``) with those digests, or ``None``."""
    if set(files) != present - {MANIFEST}:
        return "the entry's files are not those its manifest lists"
    for name, digest in files.items():
        if _digest(directory / name) != digest:
            return f"{name} does not match the manifest"
    return None


def _malformed_listing(files: dict) -> str | None:
    """Why the manifest's ``{name: digest}`` is malformed, or ``None``."""
    for name, digest in files.items():
        if not _valid_name(name) or name == MANIFEST:
            return f"the manifest names {name!r}, which is not a file of the entry"
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            return f"the manifest's digest of {name} is malformed"
    return None


def _valid(directory: Path) -> bool:
    return _damage(directory) is None


def _discard(directory: Path) -> None:
    """Move a bad entry out of the way (a rename is atomic), then delete it, never
    following a symbolic link."""
    trash = directory.with_name(f".{directory.name}.bad-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        directory.rename(trash)
    except OSError:
        return
    _remove(trash)


def _remove(path: Path) -> None:
    """Delete ``path``: a folder with everything in it, or a file or link itself."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)  # does not follow symbolic links
    else:
        with contextlib.suppress(OSError):
            path.unlink()


# --------------------------------------------------------------------------------------
# Entries


def entry(namespace: str, key: str, build: Callable[[Path], None]) -> Path:
    """The directory of the cache entry ``namespace/key``, building it if needed.

    ``build(directory)`` must write the artefact's files into ``directory`` (an empty
    private directory); the entry is published atomically once it returns. An existing
    entry is verified (its folders, its files and its manifest, see the module
    docstring) before it is returned, and rebuilt if it does not pass. A cache that
    cannot be used or fails while writing is replaced by a private temporary one, with
    a :class:`CacheWarning`. Returns the entry's directory.
    """
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        msg = f"cache namespace must match {_NAMESPACE.pattern}, got {namespace!r}"
        raise ValueError(msg)
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        msg = f"cache key must match {_KEY.pattern} (see make_key), got {key!r}"
        raise ValueError(msg)
    with _log.build(f"{namespace} kernel {key[:12]}"):
        base = cache_root()
        try:
            return _entry_at(base, namespace, key, build)
        except (_Unusable, OSError) as exc:
            private = _private()
            if base == private:
                raise
            if isinstance(exc, _Unusable):
                message = f"{exc}; using a private temporary directory instead"
            else:
                message = (
                    f"cannot write to symnum cache {base} ({exc}); "
                    "using a private temporary directory instead"
                )
            _warn_once(message)
            return _entry_at(private, namespace, key, build)


def _entry_at(base: Path, namespace: str, key: str, build) -> Path:
    parent = _subdir(_subdir(base, namespace), key[:2])
    final = parent / key
    subject = f"{namespace} kernel {key[:12]}"
    start = time.perf_counter()
    damage = _damage(final) if os.path.lexists(final) else "absent"
    if damage is None:
        _log.timed("cache hit", time.perf_counter() - start, subject, entry=str(final))
        return final
    if damage != "absent":
        _log.logger.info("cache entry %s is rebuilt: %s", final, damage)
        _discard(final)
    _log.timed("cache miss", time.perf_counter() - start, subject, entry=str(final))
    scratch = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=parent))
    try:
        os.chmod(scratch, 0o700)
        with _log.phase("compile", subject) as info:
            build(scratch)
            _write_manifest(scratch)
            info["bytes"] = _size(scratch)
        try:
            scratch.rename(final)
        except OSError:
            # Another process published the same entry first: keep theirs if it is good.
            if _valid(final):
                return final
            _discard(final)
            scratch.rename(final)
    finally:
        if os.path.lexists(scratch):
            _remove(scratch)
    return final


def write_failed(path: str | os.PathLike, exc: OSError) -> None:
    """Report (once, as a :class:`CacheWarning`) that a backend could not save a file
    into its entry at ``path`` after publication (numba's compiled code on a full
    disk): the kernel works, but other processes will compile it again."""
    _warn_once(
        f"cannot write to symnum cache {path} ({exc}); the compiled code is used in this "
        "process only"
    )


# --------------------------------------------------------------------------------------
# Listing and clearing (python -m symnum cache)


@dataclass(frozen=True)
class Entry:
    """One published cache entry, as :func:`entries` lists it."""

    #: the namespace, which is the backend's name ("c", "numba", "numpy")
    backend: str
    key: str
    path: Path
    #: total size of its files, in bytes (numba's compiled code included)
    size: int
    #: last modification, seconds since the epoch
    mtime: float


def _listing_root(path: Path | None) -> Path | None:
    path = configured_root() if path is None else Path(path)
    try:
        real = Path(os.path.realpath(path))
        return real if stat.S_ISDIR(os.stat(real).st_mode) else None
    except OSError:
        return None


def _namespaces(base: Path, backend: str | None, links: bool = False) -> list[Path]:
    """The namespace folders of ``base`` (real folders; also symbolic links named like
    one if ``links``, so that :func:`clear` can remove them)."""
    if backend is not None:
        candidates = [backend] if _NAMESPACE.fullmatch(backend) else []
    else:
        try:
            candidates = sorted(os.listdir(base))
        except OSError:
            return []
    found = []
    for name in candidates:
        path = base / name
        try:
            st = os.lstat(path)
        except OSError:
            continue
        wanted = stat.S_ISDIR(st.st_mode) or (links and stat.S_ISLNK(st.st_mode))
        if _NAMESPACE.fullmatch(name) and wanted:
            found.append(path)
    return found


def _children(folder: Path, pattern: re.Pattern | None = None):
    """``(path, lstat)`` of the items of ``folder`` whose names match ``pattern``."""
    try:
        with os.scandir(folder) as it:
            items = [(Path(i.path), i.stat(follow_symlinks=False)) for i in it]
    except OSError:
        return []
    return [(p, st) for p, st in sorted(items) if pattern is None or pattern.fullmatch(p.name)]


def _size(path: Path) -> int:
    try:
        return sum(st.st_size for _, st in _walk(path) if stat.S_ISREG(st.st_mode))
    except OSError:
        return 0


def entries(backend: str | None = None, path: Path | None = None) -> list[Entry]:
    """The published entries of the cache at ``path`` (default: :func:`configured_root`)
    for ``backend`` (default: every backend), sorted by backend then key.

    Only looks (``lstat``), never follows a symbolic link and never opens a file."""
    base = _listing_root(path)
    if base is None:
        return []
    found = []
    for namespace in _namespaces(base, backend):
        for prefix, pst in _children(namespace, _PREFIX):
            if not stat.S_ISDIR(pst.st_mode):
                continue
            for item, st in _children(prefix, _KEY):
                if stat.S_ISDIR(st.st_mode):
                    found.append(Entry(namespace.name, item.name, item, _size(item), st.st_mtime))
    return found


def unsafe_folders(path: Path | None = None) -> list[tuple[Path, str]]:
    """``(folder, reason)`` for each namespace or key-prefix folder of the cache at
    ``path`` (default: :func:`configured_root`) that would not be used (a symbolic link,
    writable by others, owned by another user); :func:`clear` removes them."""
    base = _listing_root(path)
    if base is None:
        return []
    found = []
    for namespace in _namespaces(base, None, links=True):
        reason = _unsafe_stat(os.lstat(namespace))
        if reason is not None:
            found.append((namespace, reason))
            continue
        for prefix, st in _children(namespace, _PREFIX):
            reason = _unsafe_stat(st)
            if reason is not None and (stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                found.append((prefix, reason))
    return found


def clear(backend: str | None = None, path: Path | None = None) -> int:
    """Remove the entries of the cache at ``path`` (default: :func:`configured_root`) for
    ``backend`` (default: every backend); returns how many entries were removed.

    Only symnum's own layout is touched (``<namespace>/<prefix>/<key>`` and the
    temporary folders beside entries); other files in the cache directory are left
    alone. Symbolic links are removed themselves, never followed."""
    base = _listing_root(path)
    if base is None:
        return 0
    removed = 0
    for namespace in _namespaces(base, backend, links=True):
        if namespace.is_symlink():
            _remove(namespace)  # the link, never what it points to
            continue
        for prefix, pst in _children(namespace, _PREFIX):
            if stat.S_ISLNK(pst.st_mode):
                _remove(prefix)
                continue
            if not stat.S_ISDIR(pst.st_mode):
                continue
            for item, st in _children(prefix):
                name = item.name
                is_entry = _KEY.fullmatch(name) is not None
                # scratch folders (".<key>-xxxx") and discarded entries (".<key>.bad-...")
                is_leftover = name.startswith(".") and _KEY.fullmatch(name[1:17]) is not None
                if is_entry or is_leftover:
                    _remove(item)
                    removed += is_entry and stat.S_ISDIR(st.st_mode)
            with contextlib.suppress(OSError):  # not empty: something that is not ours
                prefix.rmdir()
        with contextlib.suppress(OSError):
            namespace.rmdir()
    return removed
