"""The cache against hostile or odd file systems.

* a manifest may only name regular files inside its own entry, and checking an entry
  takes bounded time (``/dev/zero``, a fifo, a huge file never hang);
* folders symnum creates are 0700 whatever the umask, and folders on the way to an
  entry are checked before anything in them is loaded: another user cannot plant code;
* nothing is loaded through a symbolic link or from a file of another user;
* a full disk or a file where a folder should be falls back to a private folder with a
  :class:`~symnum.cache.CacheWarning` instead of failing;
* a manifest fuzzer: whatever the manifest says and whatever lies in the entry, the
  entry is either loaded intact or rebuilt, quickly, and nothing outside is opened.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symnum import cache

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file permissions")
PAYLOAD = b"the real artefact " * 64
NOBODY = 65534


@pytest.fixture
def root(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(directory))
    monkeypatch.delenv("SYMNUM_DISABLE_CACHE", raising=False)
    cache._warned.clear()
    return directory


class Builder:
    """A build function that writes :data:`PAYLOAD` and counts its calls."""

    def __init__(self, payload: bytes = PAYLOAD):
        self.payload = payload
        self.calls = 0

    def __call__(self, directory: Path) -> None:
        self.calls += 1
        (directory / "artefact.bin").write_bytes(self.payload)
        (directory / "sub").mkdir()
        (directory / "sub" / "part.txt").write_text("part")


def _manifest(entry: Path) -> dict:
    return json.loads((entry / cache.MANIFEST).read_text())


def _write_manifest(entry: Path, files: dict) -> None:
    path = entry / cache.MANIFEST
    path.unlink(missing_ok=True)
    path.write_text(json.dumps({"format": 1, "files": files}))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Opened files and time limits


_opened: list | None = None


def _audit(event, args):
    # relative names are opened relative to a folder's descriptor (shutil.rmtree does)
    path = args[0] if event == "open" else None
    if _opened is not None and isinstance(path, (str, bytes, Path)) and os.path.isabs(path):
        _opened.append(os.fsdecode(path))


sys.addaudithook(_audit)


@contextlib.contextmanager
def opened_files():
    """Record the paths opened (``open``, ``os.open``) inside the block."""
    global _opened  # noqa: PLW0603
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


class Hung(Exception):  # noqa: N818 - not an OSError, which the cache would catch
    """A time limit expired."""


@contextlib.contextmanager
def time_limit(seconds: int):
    """Fail (instead of hanging forever) if the block takes longer than ``seconds``."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise Hung(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _inside(path: str, folder: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _assert_rebuilt(root: Path, key: str, builder: Builder, calls: int = 2) -> Path:
    with time_limit(30), opened_files() as opened:
        directory = cache.entry("test", key, builder)
    assert builder.calls == calls, "the bad entry was loaded instead of rebuilt"
    assert (directory / "artefact.bin").read_bytes() == PAYLOAD
    outside = [p for p in opened if not _inside(p, root)]
    assert outside == [], f"files outside the cache were opened: {outside}"
    return directory


# --------------------------------------------------------------------------------------
# Issue 14.4: manifests naming files outside their entry


@POSIX
@pytest.mark.parametrize(
    "name",
    ["/dev/zero", "../outside.bin", "sub/../../outside.bin", "{outside}", "./artefact.bin"],
)
def test_manifest_naming_a_file_outside_its_entry_is_rebuilt(root, tmp_path, name):
    builder = Builder()
    key = cache.make_key("outside", name)
    entry = cache.entry("test", key, builder)
    outside = entry.parent / "outside.bin"
    outside.write_bytes(b"not part of the entry")
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(b"not part of the entry")
    name = name.format(outside=elsewhere)
    files = _manifest(entry)["files"]
    # a digest that matches what the path points to, so only the path itself is wrong
    target = Path(name) if name.startswith("/") else entry / name
    files[name] = _sha(b"" if name == "/dev/zero" else target.read_bytes())
    _write_manifest(entry, files)
    _assert_rebuilt(root, key, builder)
    assert outside.read_bytes() == b"not part of the entry"


@POSIX
@pytest.mark.parametrize("kind", ["fifo", "huge", "directory", "device"])
def test_manifest_naming_a_special_or_huge_file_is_rebuilt_in_bounded_time(root, kind):
    builder = Builder()
    key = cache.make_key("special", kind)
    entry = cache.entry("test", key, builder)
    target = entry / "odd"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "huge":
        with target.open("wb") as f:  # sparse: costs no disk
            f.truncate(cache.MAX_FILE_BYTES + 1)
    elif kind == "directory":
        target.mkdir()
    else:
        if os.geteuid() != 0:
            pytest.skip("creating a device node needs root")
        os.mknod(target, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero's numbers
    files = _manifest(entry)["files"]
    files["odd"] = _sha(b"")
    _write_manifest(entry, files)
    _assert_rebuilt(root, key, builder)


def test_oversized_manifest_is_rebuilt(root):
    builder = Builder()
    key = cache.make_key("big-manifest")
    entry = cache.entry("test", key, builder)
    files = _manifest(entry)["files"]
    text = json.dumps({"format": 1, "files": files, "padding": "x" * cache.MAX_MANIFEST_BYTES})
    (entry / cache.MANIFEST).write_text(text)
    _assert_rebuilt(root, key, builder)


# --------------------------------------------------------------------------------------
# Issue 14.5: folders are private whatever the umask; planted entries are not loaded


def _modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(os.lstat(root).st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


@POSIX
@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_every_folder_is_private_whatever_the_umask(tmp_path, monkeypatch, umask):
    root = tmp_path / "new" / "cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(root))
    previous = os.umask(umask)
    try:
        entry = cache.entry("test", cache.make_key("umask", str(umask)), Builder())
    finally:
        os.umask(previous)
    assert entry.is_relative_to(root)
    modes = _modes(tmp_path / "new")
    for name, mode in modes.items():
        path = tmp_path / "new" / name
        if path.is_dir():
            assert mode == 0o700, f"folder {name} has mode {mode:o}"
        else:
            assert mode & 0o077 == 0, f"file {name} has mode {mode:o}"


def _plant(swap: str, entry: str, payload: bytes) -> None:
    """Another user's move: put ``swap`` aside and create ``entry`` with ``payload``
    and a matching manifest."""
    os.rename(swap, swap + ".aside")
    os.makedirs(entry, 0o755)
    Path(entry, "artefact.bin").write_bytes(payload)
    files = {"artefact.bin": hashlib.sha256(payload).hexdigest()}
    Path(entry, "MANIFEST.json").write_text(json.dumps({"format": 1, "files": files}))


def _as_nobody(action, *args) -> None:
    """Run ``action(*args)`` in a forked child that has become user ``nobody``."""
    if not hasattr(os, "fork") or os.geteuid() != 0:
        pytest.skip("acting as another user needs root (to switch to uid 65534) and fork")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action(*args)
            code = 0
        except BaseException:  # noqa: BLE001 - reported through the exit code
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the other user's action failed"


@pytest.fixture
def shared_root(monkeypatch):
    """A cache root other users can reach (mode 0755, as a home folder usually is)."""
    base = Path(tempfile.mkdtemp(prefix="symnum-shared-"))
    base.chmod(0o755)
    root = base / "cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(root))
    monkeypatch.delenv("SYMNUM_DISABLE_CACHE", raising=False)
    cache._warned.clear()
    yield root
    shutil.rmtree(base, ignore_errors=True)


@POSIX
@pytest.mark.parametrize("folder", ["namespace", "prefix"])
def test_entry_planted_by_another_user_is_not_loaded(shared_root, folder):
    """A folder on the way to an entry became writable by everyone (made under
    ``umask 000`` by an older version, or by hand); another user swaps the entry for
    theirs, with a matching manifest. It must not be loaded."""
    builder = Builder()
    key = cache.make_key("planted", folder)
    entry = cache.entry("test", key, builder)
    shared_root.chmod(0o755)
    entry.chmod(0o755)
    writable = entry.parent.parent if folder == "namespace" else entry.parent
    for path in (entry.parent.parent, entry.parent):
        path.chmod(0o755)
    writable.chmod(0o777)
    # whoever may write a folder may rename what is in it: swap the entry's path
    swap = entry if folder == "prefix" else entry.parent
    _as_nobody(_plant, str(swap), str(entry), b"hostile code")
    assert (entry / "artefact.bin").read_bytes() == b"hostile code"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        directory = cache.entry("test", key, builder)
    assert (directory / "artefact.bin").read_bytes() == PAYLOAD
    assert builder.calls == 2
    assert any(
        issubclass(w.category, cache.CacheWarning) and "writable by every user" in str(w.message)
        for w in caught
    ), [str(w.message) for w in caught]


@POSIX
@pytest.mark.parametrize("what", ["entry", "file", "manifest"])
def test_entry_owned_by_another_user_is_rebuilt(root, what):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    builder = Builder()
    key = cache.make_key("foreign", what)
    entry = cache.entry("test", key, builder)
    target = {"entry": entry, "file": entry / "artefact.bin", "manifest": entry / "MANIFEST.json"}
    os.chown(target[what], NOBODY, NOBODY)
    _assert_rebuilt(root, key, builder)


@POSIX
def test_entry_writable_by_others_inside_a_readable_entry_is_rebuilt(root):
    """Entries of older versions were 0755: their files must not be writable by others."""
    builder = Builder()
    key = cache.make_key("old-entry")
    entry = cache.entry("test", key, builder)
    entry.chmod(0o755)
    (entry / "artefact.bin").chmod(0o666)
    _assert_rebuilt(root, key, builder)


@POSIX
def test_private_entry_tolerates_files_made_under_a_lax_umask(root):
    """numba writes its ``__pycache__`` after publication, under the user's umask;
    inside a 0700 entry nobody else can reach it, so the entry stays valid."""
    builder = Builder()
    key = cache.make_key("lax")
    entry = cache.entry("test", key, builder)
    (entry / "__pycache__").mkdir(mode=0o777)
    (entry / "__pycache__").chmod(0o777)
    (entry / "__pycache__" / "kernel.nbi").write_bytes(b"index")
    assert cache.entry("test", key, builder) == entry
    assert builder.calls == 1


# --------------------------------------------------------------------------------------
# Issue 14.6: symbolic links


@POSIX
def test_entry_that_is_a_symlink_is_not_followed(root, tmp_path):
    builder = Builder()
    key = cache.make_key("linked-entry")
    entry = cache.entry("test", key, builder)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(entry, elsewhere)
    (elsewhere / "artefact.bin").write_bytes(b"hostile code")
    _write_manifest(elsewhere, {"artefact.bin": _sha(b"hostile code")})
    shutil.rmtree(entry)
    entry.symlink_to(elsewhere, target_is_directory=True)
    directory = _assert_rebuilt(root, key, builder)
    assert not directory.is_symlink()
    # the link was removed, never what it pointed to
    assert (elsewhere / "artefact.bin").read_bytes() == b"hostile code"


@POSIX
@pytest.mark.parametrize("what", ["artefact.bin", "MANIFEST.json", "sub"])
def test_file_in_an_entry_that_is_a_symlink_is_not_followed(root, tmp_path, what):
    builder = Builder()
    key = cache.make_key("linked-file", what)
    entry = cache.entry("test", key, builder)
    target = tmp_path / "target"
    shutil.move(entry / what, target)  # the same bytes, reached through a link
    (entry / what).symlink_to(target)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        for path in (target, *target.rglob("*")):
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    _assert_rebuilt(root, key, builder)
    assert target.exists()


@POSIX
@pytest.mark.parametrize("folder", ["namespace", "prefix"])
def test_cache_folder_that_is_a_symlink_is_not_used(root, tmp_path, folder):
    builder = Builder()
    key = cache.make_key("linked-folder", folder)
    entry = cache.entry("test", key, builder)
    link = entry.parent.parent if folder == "namespace" else entry.parent
    moved = tmp_path / "moved"
    shutil.move(link, moved)
    link.symlink_to(moved, target_is_directory=True)
    with pytest.warns(cache.CacheWarning, match="symbolic link"):
        directory = cache.entry("test", key, builder)
    assert not directory.is_relative_to(root)
    assert builder.calls == 2


def test_root_reached_through_a_symlink_is_used(tmp_path, monkeypatch):
    """The root itself may be a link (a cache folder on another disk): it is resolved."""
    real = tmp_path / "real-cache"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(link))
    cache._warned.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        directory = cache.entry("test", cache.make_key("via-link"), Builder())
    assert directory.is_relative_to(real)


@POSIX
def test_root_below_a_world_writable_folder_is_not_used(monkeypatch):
    base = Path(tempfile.mkdtemp(prefix="symnum-open-"))
    try:
        base.chmod(0o777)  # no sticky bit: anyone may rename the cache away
        monkeypatch.setenv("SYMNUM_CACHE_DIR", str(base / "cache"))
        cache._warned.clear()
        with pytest.warns(cache.CacheWarning, match="writable by every user"):
            assert not cache.cache_root().is_relative_to(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Issue 14.7: full disks and files where folders should be


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS])
def test_full_disk_falls_back_with_warning(root, monkeypatch, code):
    real_write_bytes = Path.write_bytes

    def full(self, data):
        if self.is_relative_to(root):
            raise OSError(code, os.strerror(code), str(self))
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    builder = Builder()
    with pytest.warns(cache.CacheWarning, match="cannot write"):
        directory = cache.entry("test", cache.make_key("full", str(code)), builder)
    assert (directory / "artefact.bin").read_bytes() == PAYLOAD
    assert not directory.is_relative_to(root)
    # nothing half-written is left in the cache
    assert not [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("where", ["namespace", "prefix"])
def test_file_where_a_folder_should_be_falls_back_with_warning(root, where):
    key = cache.make_key("blocked", where)
    blocked = root / "test" if where == "namespace" else root / "test" / key[:2]
    blocked.parent.mkdir(parents=True, mode=0o700)
    blocked.write_text("not a folder")
    with pytest.warns(cache.CacheWarning, match="not a directory|cannot be created"):
        directory = cache.entry("test", key, Builder())
    assert (directory / "artefact.bin").read_bytes() == PAYLOAD
    assert blocked.read_text() == "not a folder"


def test_file_where_the_entry_should_be_is_replaced(root):
    key = cache.make_key("blocked-entry")
    blocked = root / "test" / key[:2] / key
    blocked.parent.mkdir(parents=True, mode=0o700)
    blocked.write_text("not a folder")
    directory = cache.entry("test", key, Builder())
    assert directory == blocked
    assert (directory / "artefact.bin").read_bytes() == PAYLOAD


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (a real file system that fills up), or skip."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs Linux and root")
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount_point)],  # noqa: S607
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, timeout=30)  # noqa: S607


def _fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


def test_really_full_disk_falls_back_with_warning(tiny_disk, monkeypatch):
    root = tiny_disk / "cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(root))
    cache._warned.clear()
    assert cache.cache_root() == root
    _fill(tiny_disk)
    builder = Builder(PAYLOAD * 4)
    with pytest.warns(cache.CacheWarning, match="No space left"):
        directory = cache.entry("test", cache.make_key("really-full"), builder)
    assert (directory / "artefact.bin").read_bytes() == PAYLOAD * 4
    assert not directory.is_relative_to(root)


def test_numba_kernel_works_when_its_compiled_code_cannot_be_saved(tiny_disk, monkeypatch):
    """numba compiles on the first call and saves into the entry's ``__pycache__``; a
    full disk at that moment must give a warning, not an error on every call."""
    from conftest import require_backend

    require_backend("numba")
    import symnum
    import symnum.numpy as snp

    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tiny_disk / "cache"))
    cache._warned.clear()

    def f(x):
        return snp.sum(snp.exp(x) * 1.8125) + x[0] * x[1]

    func = symnum.numpify(f, (2,), backend="numba")  # writes the module: fits
    _fill(tiny_disk)
    x = np.array([0.5, -1.5])
    expected = np.sum(np.exp(x) * 1.8125) + x[0] * x[1]
    assert func(x) == pytest.approx(expected, rel=1e-14)
    assert func(x) == pytest.approx(expected, rel=1e-14)


def test_numba_full_disk_at_first_call_warns(tiny_disk, monkeypatch):
    """numba's save of compiled code at the first batch call fails on a full disk: the
    kernel warns once and goes on without caching instead of raising OSError."""
    from conftest import require_backend

    require_backend("numba")
    import symnum
    import symnum.numpy as snp

    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tiny_disk / "cache"))
    cache._warned.clear()
    func = symnum.numpify(lambda x: snp.sum(snp.exp(x) * 1.6875), (2,), backend="numba")
    _fill(tiny_disk)
    x = np.array([0.5, -1.5])
    expected = np.sum(np.exp(x) * 1.6875)
    with pytest.warns(cache.CacheWarning, match="No space left"):
        values = func(np.array([x, x]))
    np.testing.assert_allclose(values, [expected, expected], rtol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once
        assert func(x) == pytest.approx(expected, rel=1e-14)
        np.testing.assert_allclose(func(np.array([[x], [x]])), [[expected]] * 2, rtol=1e-14)
        # the checked path (a list) compiles the point kernel: no save is tried any more
        assert func([0.5, -1.5]) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("use", ["entry", "method_entry", "closure_entry", "point"])
def test_numba_full_disk_at_fast_entry_and_point(tiny_disk, monkeypatch, use):
    """The fast entries' compile (when a function is made) and the checked path's point
    kernel cannot save on a full disk either: a warning, and they work."""
    from conftest import require_backend

    require_backend("numba")
    from symnum import ir
    from symnum.backends import numba as nb_backend
    from symnum.ir import Assign, Elem, Function, Op, Output, Param, Var

    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tiny_disk / "cache"))
    cache._warned.clear()
    fn = Function(
        f"cos_sum_{use}",
        (Param("x", (2,)),),
        (Assign(0, Op.COS, (Elem("x", 0),)), Assign(1, Op.ADD, (Var(0), Elem("x", 1)))),
        Output((), (Var(1),)),
    )
    kernel = nb_backend.build(nb_backend.emit(ir.check(fn)))  # writes the module: fits
    _fill(tiny_disk)
    x = np.array([0.5, -1.5])

    class Bound:
        __slots__ = ("captured",)

    def call():
        if use == "entry":
            return kernel.entry(lambda *args: None)(x)
        if use == "method_entry":  # x as the captured values of an operator's result
            bound = type("Product", (Bound,), {"__call__": kernel.method_entry(None)})()
            bound.captured = x
            return bound()
        if use == "closure_entry":
            bound = kernel.closure_entry(None, [Bound])(x)
            assert type(bound) is Bound
            return bound.captured
        return kernel.point(x)

    with pytest.warns(cache.CacheWarning, match="No space left"):
        got = call()
    assert got == pytest.approx(np.cos(0.5) - 1.5, rel=1e-15)
    assert isinstance(got, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once
        assert call() == got


def test_numba_full_disk_at_point_without_scalar_outputs(tiny_disk, monkeypatch):
    """A function with only array outputs has no Python wrapper: its point kernel is the
    njit dispatcher, guarded the same way."""
    from conftest import require_backend

    require_backend("numba")
    from symnum import ir
    from symnum.backends import numba as nb_backend
    from symnum.ir import Assign, Elem, Function, Op, Output, Param, Var

    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tiny_disk / "cache"))
    cache._warned.clear()
    fn = Function(
        "sin_pair",
        (Param("x", (2,)),),
        (Assign(0, Op.SIN, (Elem("x", 0),)),),
        Output((2,), (Var(0), Elem("x", 1))),
    )
    kernel = nb_backend.build(nb_backend.emit(ir.check(fn)))  # writes the module: fits
    _fill(tiny_disk)
    x = np.array([0.5, -1.5])
    with pytest.warns(cache.CacheWarning, match="No space left"):
        got = kernel.point(x)
    np.testing.assert_allclose(got, [np.sin(0.5), -1.5], rtol=1e-15)


def test_numba_data_kernel_on_full_disk_warns(tiny_disk, monkeypatch):
    """A kernel with a data loop, whose batch kernel calls its point kernel (compiled
    within the batch compile): the nested save failure is caught too."""
    from conftest import require_backend

    require_backend("numba")
    from symnum import ir
    from symnum.backends import numba as nb_backend
    from symnum.ir import Assign, Elem, Function, Loop, Op, Output, Param, Reduce, Var

    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tiny_disk / "cache"))
    cache._warned.clear()
    fn = Function(
        "data_sum",
        (Param("a", ()), Param("y", (), data=True)),
        (Loop((Assign(0, Op.MUL, (Elem("a", 0), Elem("y", 0))),), (Reduce(1, Op.ADD, Var(0)),)),),
        Output((), (Var(1),)),
    )
    kernel = nb_backend.build(nb_backend.emit(ir.check(fn)))
    _fill(tiny_disk)
    y = np.arange(4.0)
    with pytest.warns(cache.CacheWarning, match="No space left"):
        np.testing.assert_array_equal(kernel.batch(np.array([1.0, 2.0]), y), [6.0, 12.0])
    assert kernel.point(np.array(3.0), y) == 18.0


# --------------------------------------------------------------------------------------
# The manifest fuzzer

HOSTILE_NAMES = [
    "artefact.bin",
    "sub/part.txt",
    "sub",
    "/dev/zero",
    "/etc/passwd",
    "../outside.bin",
    "sub/../../outside.bin",
    "./artefact.bin",
    "sub//part.txt",
    "artefact.bin\x00.txt",
    "\x00",
    "",
    ".",
    "..",
    "C:\\Windows\\win.ini",
    "sub\\part.txt",
    "a" * 300,
    "MANIFEST.json",
    "fifo",
    "link",
    "huge",
    "__pycache__/x.nbi",
]
EXTRAS = ["fifo", "link", "dirlink", "huge", "foreign"]


def _digests():
    return st.one_of(
        st.just("good"),
        st.text("0123456789abcdef", min_size=64, max_size=64),
        st.text(max_size=70),
        st.integers(),
        st.none(),
        st.lists(st.integers(), max_size=2),
    )


_manifests = st.one_of(
    st.fixed_dictionaries(
        {
            "format": st.sampled_from([1, 1, 1, 0, 2, "1", None]),
            "files": st.one_of(
                st.dictionaries(
                    st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=20)),
                    _digests(),
                    max_size=6,
                ),
                st.lists(st.text(max_size=5), max_size=3),
                st.none(),
            ),
        }
    ),
    st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=3)),
)


@POSIX
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(manifest=_manifests, extras=st.lists(st.sampled_from(EXTRAS), unique=True, max_size=3))
def test_manifest_fuzzer(tmp_path_factory, manifest, extras):
    base = tmp_path_factory.mktemp("fuzz")
    root = base / "cache"
    outside = base / "outside.bin"
    outside.write_bytes(b"outside")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMNUM_CACHE_DIR", str(root))
        mp.delenv("SYMNUM_DISABLE_CACHE", raising=False)
        builder = Builder()
        key = cache.make_key("fuzz")
        entry = cache.entry("test", key, builder)
        good = _manifest(entry)["files"]
        for extra in extras:
            target = entry / extra
            if extra == "fifo":
                os.mkfifo(target)
            elif extra == "link":
                target.symlink_to(outside)
            elif extra == "dirlink":
                target.symlink_to(base, target_is_directory=True)
            elif extra == "huge":
                with target.open("wb") as f:
                    f.truncate(cache.MAX_FILE_BYTES + 1)
            elif os.geteuid() == 0:  # a file of another user
                target.write_bytes(b"foreign")
                os.chown(target, NOBODY, NOBODY)
            else:
                extras = [e for e in extras if e != "foreign"]
        if isinstance(manifest, dict) and isinstance(manifest.get("files"), dict):
            manifest["files"] = {
                name: good.get(name, _sha(b"")) if digest == "good" else digest
                for name, digest in manifest["files"].items()
            }
        text = json.dumps(manifest)
        (entry / cache.MANIFEST).unlink()
        (entry / cache.MANIFEST).write_text(text)
        with time_limit(30), opened_files() as opened:
            directory = cache.entry("test", key, builder)
        assert directory == entry
        assert (directory / "artefact.bin").read_bytes() == PAYLOAD
        assert (directory / "sub" / "part.txt").read_text() == "part"
        outside_reads = [p for p in opened if not _inside(p, root)]
        assert outside_reads == [], outside_reads
        intact = manifest == {"format": 1, "files": good} and not extras
        assert builder.calls == (1 if intact else 2), (manifest, extras)
        assert outside.read_bytes() == b"outside"
