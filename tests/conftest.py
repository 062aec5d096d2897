"""Shared fixtures.

* The suite never touches the user's cache: ``SYMNUM_CACHE_DIR`` points at one directory
  for the whole session, so a kernel compiled once (numba's are slow to compile) serves
  every test that builds the same function. A test that needs an empty cache of its own
  (cache and pickling behaviour, compile counting, fault injection) asks for one with
  ``@pytest.mark.fresh_cache`` (or ``pytestmark`` in its module) or the ``fresh_cache``
  fixture. ``SYMNUM_TEST_FRESH_CACHE=1`` gives every test a fresh cache, as the suite
  did before (slower; useful to look for tests that depend on each other's artefacts).
* ``backend`` is parametrised over the built-in backends; a backend whose toolchain is
  missing is skipped with the reason :mod:`symnum.backends` gives (or fails when
  ``SYMNUM_REQUIRE_ALL_BACKENDS=1``, as in CI, where nothing may be skipped).
"""

from __future__ import annotations

import os

import pytest

BACKENDS = ["numpy", "numba", "c"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "fresh_cache: the test gets a private, empty symnum cache directory"
    )


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory):
    """The symnum cache shared by the tests of this session."""
    return tmp_path_factory.mktemp("symnum-session-cache")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A private, empty symnum cache for this test; returns its (not yet created) root."""
    root = tmp_path / "symnum-cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(root))
    return root


@pytest.fixture(autouse=True)
def isolated_cache_dir(request, session_cache_dir, monkeypatch):
    """The cache directory of this test: the session's, or a fresh one where asked for."""
    monkeypatch.delenv("SYMNUM_DISABLE_CACHE", raising=False)
    fresh = request.node.get_closest_marker("fresh_cache") is not None
    if fresh or os.environ.get("SYMNUM_TEST_FRESH_CACHE", "") == "1":
        return request.getfixturevalue("fresh_cache")
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(session_cache_dir))
    return session_cache_dir


def require_backend(name: str) -> str:
    """Return ``name`` if that backend is available here, else skip (or fail in CI)."""
    from symnum import backends

    try:
        backends.get(name)
    except backends.BackendUnavailableError as exc:
        if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS", "") == "1":
            pytest.fail(f"backend {name!r} is required here: {exc}")
        pytest.skip(f"backend {name!r} unavailable: {exc}")
    return name


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """The name of each built-in backend in turn (skipped where unavailable)."""
    return require_backend(request.param)
