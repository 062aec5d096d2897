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


class _PlainKernel:
    """A kernel with only the required ``point`` and ``batch`` (no fast entry)."""

    def __init__(self, inner):
        self.point, self.batch = inner.point, inner.batch


def test_minimal_third_party_backend_runs_through_numeric_function(clean_registry):
    """A backend with just the required attributes (kernels without ``entry``) works
    end to end: calls, batches, operator-valued results and errors take the checked
    path of NumericFunction."""
    import numpy as np

    import symnum
    import symnum.numpy as snp

    numpy_backend = backends.get("numpy")
    plain = _fake_backend("plain")
    plain.emit = numpy_backend.emit
    plain.build = lambda source: _PlainKernel(numpy_backend.build(source))
    backends.register("plain", plain)

    g = symnum.gradient(lambda x: snp.sum(x**3), (2,), backend="plain")
    assert type(g) is symnum.NumericFunction  # no entry: the checked path
    np.testing.assert_array_equal(g(np.array([1.0, 2.0])), [3.0, 12.0])
    np.testing.assert_array_equal(g([[1.0, 2.0]]), [[3.0, 12.0]])
    with pytest.raises(ValueError, match="'x'"):
        g(np.ones(3))

    def sines(x):
        return snp.sin(x)

    jvp = symnum.jacobian_vector_product(sines, (2,), backend="plain")
    product = jvp(np.array([0.0, 1.0]))
    np.testing.assert_allclose(product(np.array([1.0, 1.0])), [1.0, np.cos(1.0)])
    assert product.signature == "(2)->(2)"
