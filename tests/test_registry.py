"""The backend registry: lookup, errors that say what to install, third-party plugins."""

from __future__ import annotations

import types

import pytest

from symnum import backends


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(backends, "_registered", dict(backends._registered))
    monkeypatch.setattr(backends, "_entry_points_loaded", False)


def _fake_backend(name, *, is_available=True):
    def requirement_error():
        return backends.BackendUnavailableError(f"install the {name} toolchain")

    return types.SimpleNamespace(
        name=name,
        extra=None,
        available=lambda: is_available,
        requirement_error=requirement_error,
        emit=lambda fn: None,
        build=lambda source: None,
    )


def test_numpy_backend_is_always_available():
    assert "numpy" in backends.available()
    assert backends.get("numpy").name == "numpy"


def test_builtin_names_are_listed():
    assert backends.names()[:3] == ["numpy", "numba", "c"]


def test_unknown_backend_lists_available_ones():
    with pytest.raises(backends.BackendUnavailableError, match=r"unknown backend 'fortran'.*numpy"):
        backends.get("fortran")


def test_backend_name_must_be_a_string():
    with pytest.raises(TypeError, match="backend must be a string"):
        backends.get(3)


def test_unavailable_backend_says_what_to_install(clean_registry):
    backends.register("broken", _fake_backend("broken", is_available=False))
    with pytest.raises(backends.BackendUnavailableError, match=r"install the broken toolchain"):
        backends.get("broken")
    assert "broken" in backends.names()
    assert "broken" not in backends.available()


def test_register_rejects_objects_without_the_contract(clean_registry):
    with pytest.raises(TypeError, match="has no attribute 'emit'"):
        backends.register("nothing", object())


class _EntryPoint:
    def __init__(self, name, obj=None, exc=None):
        self.name, self._obj, self._exc = name, obj, exc

    def load(self):
        if self._exc is not None:
            raise self._exc
        return self._obj


def test_third_party_backend_from_entry_point(clean_registry, monkeypatch):
    plugin = _fake_backend("plugin")
    points = [_EntryPoint("plugin", plugin), _EntryPoint("bad", exc=ImportError("no libfoo"))]
    monkeypatch.setattr(backends, "entry_points", lambda group: points)
    assert backends.get("plugin") is plugin
    assert "plugin" in backends.available()
    with pytest.raises(backends.BackendUnavailableError, match="failed to load: no libfoo"):
        backends.get("bad")


def test_entry_point_cannot_shadow_builtin(clean_registry, monkeypatch):
    impostor = _fake_backend("numpy")
    monkeypatch.setattr(backends, "entry_points", lambda group: [_EntryPoint("numpy", impostor)])
    assert backends.get("numpy") is not impostor


def test_unsupported_op_error_names_op_and_backend():
    from symnum.ir import Op

    err = backends.UnsupportedOpError(Op.DIGAMMA, "c", "no libm function")
    assert "DIGAMMA" in str(err)
    assert "'c'" in str(err)
    assert isinstance(err, NotImplementedError)
