"""symnum.numeric: NumericFunction and BoundClosure against the backend contract.

Most tests use a recording backend ("fake": the numpy backend's kernels behind a
kernel that offers ``entry`` and logs which path each call took), so they test the
contract itself: the entry becomes ``__call__``, every unusual call reaches the
checked path, operator-valued results use ``entry(slow, captured)``, and no backend
hook beyond the contract is consulted. The last tests build from many threads at once
on every real backend.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from symnum import backends
from symnum.ir import Assign, Closure, Elem, Function, Op, Output, Param, Var
from symnum.numeric import BoundClosure, NumericFunction

REPO = Path(__file__).resolve().parent.parent


# -- a recording backend -------------------------------------------------------------------


class FakeSource:
    def __init__(self, inner, shapes):
        self.inner, self.shapes = inner, shapes

    @property
    def text(self):
        return self.inner.text


class RecordingKernel:
    """The numpy backend's kernel, plus a fast entry that logs "fast" or "slow"."""

    __slots__ = ("__weakref__", "calls", "entries", "inner", "shapes", "special")

    def __init__(self, inner, shapes):
        self.inner, self.shapes = inner, shapes
        self.calls, self.entries = [], []
        self.special = object()

    @property
    def exports(self):
        return {"special": self.special}

    @property
    def point(self):
        return self.inner.point

    @property
    def batch(self):
        return self.inner.batch

    def _exact(self, args) -> bool:
        return len(args) == len(self.shapes) and all(
            type(a) is np.ndarray
            and a.dtype == np.float64
            and a.dtype.isnative
            and a.flags.c_contiguous
            and a.flags.aligned
            and a.shape == shape
            for a, shape in zip(args, self.shapes, strict=True)
        )

    def entry(self, slow, captured=None):
        self.entries.append(captured)

        def call(*args, **kwargs):
            full = args if captured is None else (captured, *args)
            if not kwargs and self._exact(full):
                self.calls.append("fast")
                return self.inner.point(*full)
            self.calls.append("slow")
            return slow(*args, **kwargs)

        return call


class FakeBackend:
    name, extra = "fake", None

    def __init__(self):
        self.kernels: dict[str, RecordingKernel] = {}
        self.registered = []

    def available(self):
        return True

    def requirement_error(self):
        return backends.BackendUnavailableError("fake")

    def emit(self, fn):
        return FakeSource(backends.get("numpy").emit(fn), tuple(p.shape for p in fn.params))

    def build(self, source):
        key = source.text
        if key not in self.kernels:
            inner = backends.get("numpy").build(source.inner)
            self.kernels[key] = RecordingKernel(inner, source.shapes)
        return self.kernels[key]

    def register_function_type(self, cls, kernel_of):
        self.registered.append((cls, kernel_of))

    def wrap(self, numeric):  # the old hook: never called any more
        raise AssertionError("wrap() must not be called")


@pytest.fixture
def fake(monkeypatch):
    backend = FakeBackend()
    monkeypatch.setitem(backends._registered, "fake", backend)
    monkeypatch.setattr("symnum.numeric._adopted", set())
    return backend


def product_fn(name="prod") -> Function:
    """x: (2,) -> (x0 * x1, (x0, x1) * x1)."""
    x0, x1 = Elem("x", 0), Elem("x", 1)
    body = (Assign(0, Op.MUL, (x0, x1)), Assign(1, Op.MUL, (x1, x1)))
    return Function(name, (Param("x", (2,)),), body, (Output((), (Var(0),)),
                    Output((2,), (Var(0), Var(1)))))  # fmt: skip


def jvp_fn() -> Function:
    """x: (2,) -> v -> (cos(x0) v0 + 2 x1 v1); the operator captures cos(x0), 2 x1."""
    body = (Assign(0, Op.COS, (Elem("x", 0),)), Assign(1, Op.MUL, (Elem("x", 1), Elem("x", 1))))
    inner = (
        Assign(2, Op.MUL, (Var(0), Elem("v", 0))),
        Assign(3, Op.MUL, (Elem("x", 1), Elem("v", 1))),
        Assign(4, Op.ADD, (Var(2), Var(3), Var(3))),
    )
    closure = Closure((Param("v", (2,)),), inner, Output((), (Var(4),)))
    return Function("jvp", (Param("x", (2,)),), body, (closure, Output((), (Var(1),))))


# -- the entry -----------------------------------------------------------------------------


def test_exact_calls_take_the_entry_and_others_the_checked_path(fake):
    f = NumericFunction.from_ir(product_fn(), "fake")
    kernel = f.kernel
    assert isinstance(f, NumericFunction)
    assert type(f).__name__ == "NumericFunction"
    assert type(f).__dict__["__call__"].__func__.__qualname__.endswith("entry.<locals>.call")
    x = np.array([2.0, 3.0])
    value, array = f(x)
    assert kernel.calls == ["fast"]
    assert value == 6.0
    np.testing.assert_array_equal(array, [6.0, 9.0])
    for odd in ([2.0, 3.0], x.astype(np.float32), x.astype(">f8"), np.stack([x, x])):
        got = f(odd)
        np.testing.assert_array_equal(got[1], np.broadcast_to([6.0, 9.0], np.shape(odd)))
    assert kernel.calls == ["fast"] + ["slow"] * 4
    with pytest.raises(TypeError, match=r"prod\(\) takes 1 argument\(s\) \(x\) but 2"):
        f(x, x)
    with pytest.raises(TypeError, match="keyword"):
        f(x=x)
    with pytest.raises(ValueError, match=r"argument 'x' of prod\(\) must have shape"):
        f(np.ones(3))


def test_functions_of_one_kernel_share_one_class(fake):
    first = NumericFunction.from_ir(product_fn(), "fake")
    second = NumericFunction.from_ir(product_fn(), "fake")
    assert first.kernel is second.kernel
    assert type(first) is type(second)
    assert len(first.kernel.entries) == 1  # one entry per kernel
    clone = pickle.loads(pickle.dumps(first))
    assert type(clone) is type(first)
    del first
    import gc

    gc.collect()
    # the shared checked path still has a function to check for
    np.testing.assert_array_equal(second([2.0, 3.0])[1], [6.0, 9.0])
    with pytest.raises(ValueError, match="must have shape"):
        second(np.ones(4))


def test_backend_hooks_beyond_the_contract(fake):
    f = NumericFunction.from_ir(product_fn(), "fake")
    jvp = NumericFunction.from_ir(jvp_fn(), "fake")
    NumericFunction.from_ir(product_fn("other"), "fake")
    # register_function_type: once, with the class and a way to the kernel
    ((cls, kernel_of),) = fake.registered
    assert cls is NumericFunction
    assert kernel_of(f) is f.kernel
    assert kernel_of(jvp) is None  # returns closures: nothing a toolchain can call
    # exports: kernel attributes shown as the function's own
    assert f.special is f.kernel.special
    assert jvp.special is None
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = f.missing
    with pytest.raises(AttributeError):
        _ = f._missing
    assert not hasattr(f, "njit")


def test_operator_results_use_entry_with_captured(fake):
    jvp = NumericFunction.from_ir(jvp_fn(), "fake")
    x, v = np.array([0.5, 2.0]), np.array([1.0, -1.0])
    product, value = jvp(x)
    assert value == 4.0
    assert isinstance(product, BoundClosure)
    assert product.signature == "(2)->()"
    closure_kernel = product.function.kernel
    want = np.cos(0.5) * 1.0 + 2 * 2.0 * -1.0
    assert product(v) == pytest.approx(want, rel=1e-15)
    assert product(v) == pytest.approx(want, rel=1e-15)
    # one entry, bound to the captures, for both calls; exact calls are fast
    bound = [e for e in closure_kernel.entries if e is not None]
    assert len(bound) == 1
    np.testing.assert_array_equal(bound[0], product.captured)
    assert closure_kernel.calls == ["fast", "fast"]
    assert product([1.0, -1.0]) == pytest.approx(want, rel=1e-15)
    assert closure_kernel.calls[-1] == "slow"
    with pytest.raises(TypeError, match=r"takes 1 argument\(s\) \(v\) but 0 were given"):
        product()
    with pytest.raises(TypeError, match=r"takes 1 argument\(s\) \(v\) but 2 were given"):
        product(v, v)
    with pytest.raises(TypeError, match="keyword"):
        product(v=v)
    with pytest.raises(ValueError, match="'v'"):
        product(np.ones(3))


def test_bound_closure_pickles_and_rebinds(fake):
    jvp = NumericFunction.from_ir(jvp_fn(), "fake")
    product, _ = jvp(np.array([0.5, 2.0]))
    clone = pickle.loads(pickle.dumps(product))
    assert isinstance(clone, BoundClosure)
    assert clone.signature == product.signature
    v = np.array([0.25, 4.0])
    assert clone(v) == product(v)
    again = BoundClosure(product.function, product.captured)
    assert type(again) is type(product)
    assert again(v) == product(v)
    assert "BoundClosure jvp_closure0" in repr(product) or "BoundClosure" in repr(product)
    # batched captures broadcast against the operator's arguments
    products, _ = jvp(np.array([[0.5, 2.0], [0.0, 1.0]]))
    np.testing.assert_allclose(products(v), [product(v), 1.0 * 0.25 + 2 * 1.0 * 4.0])


def test_numeric_imports_no_backend_and_backends_not_numeric():
    code = (
        "import sys, symnum.numeric\n"
        "bad = [m for m in sys.modules if m.startswith('symnum.backends.') or m == 'sympy']\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    for path in sorted((REPO / "backends").rglob("*.py")):
        text = path.read_text()
        imports = re.findall(
            r"^\s*(?:from|import)\s+symnum(?:\.numeric|\s+import\s+.*numeric)", text, re.M
        )
        assert not imports, path
        assert "_call_slow" not in text, path
        assert "_copy_as" not in text, path
        assert "def wrap(" not in text, path


# -- building from many threads at once, on every backend ------------------------------------


def _model(k: float):
    def model(x):
        import symnum.numpy as snp

        return snp.sum(snp.sin(x) * (k + 1.0)) + x[0] * x[1] * k

    return model


def _model_grad(k, x):
    grad = np.cos(x) * (k + 1.0)
    grad[0] += x[1] * k
    grad[1] += x[0] * k
    return grad


@pytest.mark.parametrize("same", [True, False], ids=["same function", "different functions"])
def test_builds_from_eight_threads(backend, same, tmp_path):
    """Eight threads each build a gradient (the same function, or eight different ones)
    at once: all succeed with right results, and the working directory is left alone."""
    import symnum

    cwd = os.getcwd()
    x = np.array([0.1, 0.2, 0.3])
    results, errors = {}, []
    barrier = threading.Barrier(8)

    def work(i):
        k = 0.5 if same else float(i) + 0.25
        try:
            barrier.wait()
            g = symnum.gradient(_model(k), (3,), backend=backend)
            results[i] = (k, g(x))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"thread {i}: {exc!r}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    assert sorted(results) == list(range(8))
    for k, grad in results.values():
        np.testing.assert_allclose(grad, _model_grad(k, x), rtol=1e-13)
    assert os.getcwd() == cwd
    # and the process can still build afterwards
    g = symnum.gradient(_model(9.0), (3,), backend=backend)
    np.testing.assert_allclose(g(x), _model_grad(9.0, x), rtol=1e-13)
