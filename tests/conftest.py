"""Shared fixtures.

* Every test gets its own cache directory (``SYMNUM_CACHE_DIR`` set to a fresh
  ``tmp_path``), so tests never see each other's artefacts or the user's cache.
* ``backend`` is parametrised over the built-in backends; a backend whose toolchain is
  missing is skipped with the reason :mod:`symnum.backends` gives (or fails when
  ``SYMNUM_REQUIRE_ALL_BACKENDS=1``, as in CI, where nothing may be skipped).
"""

from __future__ import annotations

import os

import pytest

BACKENDS = ["numpy", "numba", "c"]


@pytest.fixture(autouse=True)
def isolated_cache_dir(tmp_path, monkeypatch):
    """A private, empty symnum cache for each test."""
    root = tmp_path / "symnum-cache"
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(root))
    monkeypatch.delenv("SYMNUM_DISABLE_CACHE", raising=False)
    return root


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
