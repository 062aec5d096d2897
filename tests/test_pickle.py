"""Pickling by value: in-process round trips, a freshly spawned interpreter, a ``spawn``
multiprocessing pool, operator-valued results; and no unbounded growth of
``sys.modules`` / ``linecache`` when building many functions."""

from __future__ import annotations

import gc
import linecache
import multiprocessing
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symnum
import symnum.numpy as snp
from symnum import BoundClosure, NumericFunction

X = np.array([0.3, -0.7])


def neg_log_dens(x):
    forward = snp.array([[1.0, -0.5], [-0.5, 1.0]]) @ snp.array(
        [snp.cos(-(x[1] ** 2) + 3 * x[0]), snp.sin(x[0] - 1)]
    )
    return (snp.sum((np.array([1.0, 0.0]) - forward) ** 2 / 0.3**2) + snp.sum(x**2)) / 2


@pytest.fixture
def functions(backend):
    """A plain function, a tuple-valued one and an operator-valued one."""
    return {
        "grad": symnum.gradient(neg_log_dens, (2,), backend=backend),
        "hess_aux": symnum.hessian(neg_log_dens, (2,), return_aux=True, backend=backend),
        "mtp": symnum.matrix_tressian_product(neg_log_dens, (2,), backend=backend),
    }


def _flatten(result, m):
    if isinstance(result, tuple):
        return [v for r in result for v in _flatten(r, m)]
    if isinstance(result, BoundClosure):
        return [result(m)]
    return [np.asarray(result)]


M = np.array([[1.0, 2.0], [-0.5, 0.25]])


def _values(functions):
    return {name: _flatten(f(X), M) for name, f in functions.items()}


def test_round_trip_in_process(functions, backend):
    expected = _values(functions)
    for name, f in functions.items():
        g = pickle.loads(pickle.dumps(f))
        assert isinstance(g, NumericFunction)
        assert g.backend == backend
        assert g.signature == f.signature
        assert g.ir is None  # only the generated code travels
        for got, want in zip(_flatten(g(X), M), expected[name], strict=True):
            np.testing.assert_array_equal(got, want)


def test_pickles_hold_no_module_reference(functions, backend):
    data = pickle.dumps(functions["grad"])
    assert b"symnum_generated" not in data
    assert b"grad_neg_log_dens" in data  # the generated source, by value
    # a derived function is not importable: it does not travel
    assert pickle.loads(data)._sympy_func is None
    # nor does an importable one: pickles are by value, a worker never imports the
    # module that defined it (see test_compat_021.py)
    f = symnum.numpify(neg_log_dens, (2,), backend=backend)
    assert pickle.loads(pickle.dumps(f))._sympy_func is None


def test_lambdas_pickle_without_their_symbolic_function(backend):
    f = symnum.numpify(lambda x: x[0] * x[1], (2,), backend=backend)
    g = pickle.loads(pickle.dumps(f))
    assert g._sympy_func is None
    assert g(X) == X[0] * X[1]
    with pytest.raises(TypeError, match="no symbolic function"):
        symnum.gradient(g)


def test_bound_closures_pickle(functions):
    product = functions["mtp"](X)
    again = pickle.loads(pickle.dumps(product))
    np.testing.assert_array_equal(again(M), product(M))
    batched = functions["mtp"](np.stack([X, X + 1]))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(batched))(M), batched(M))


def test_fresh_interpreter_without_tracing(functions, tmp_path, backend):
    path = tmp_path / "functions.pkl"
    path.write_bytes(pickle.dumps(functions))
    expected = tmp_path / "expected.npy"
    np.save(expected, np.concatenate([v.ravel() for vs in _values(functions).values() for v in vs]))
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import numpy as np
        with open({str(path)!r}, "rb") as f:
            functions = pickle.load(f)
        x = np.array({X.tolist()!r})
        m = np.array({M.tolist()!r})
        values = []
        for name in ("grad", "hess_aux", "mtp"):
            result = functions[name](x)
            stack = [result]
            out = []
            def flat(r):
                if isinstance(r, tuple):
                    for s in r:
                        flat(s)
                elif callable(r):
                    out.append(np.asarray(r(m)).ravel())
                else:
                    out.append(np.asarray(r).ravel())
            flat(result)
            values.extend(out)
        got = np.concatenate(values)
        assert np.array_equal(got, np.load({str(expected)!r})), got
        # unpickling and calling neither traces nor differentiates
        assert "symnum.diffops.symbolic" not in sys.modules
        assert "symnum.ir.lower" not in sys.modules
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _apply(function, x):
    return function(x)


@pytest.mark.slow
def test_spawn_pool(functions):
    points = [X, X + 1.0, X - 2.0]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        for f in (functions["grad"], functions["hess_aux"]):
            results = pool.starmap(_apply, [(f, x) for x in points])
            for got, x in zip(results, points, strict=True):
                for a, b in zip(_flatten(got, M), _flatten(f(x), M), strict=True):
                    np.testing.assert_array_equal(a, b)
        products = pool.starmap(_apply, [(functions["mtp"], x) for x in points])
    for product, x in zip(products, points, strict=True):
        np.testing.assert_array_equal(product(M), functions["mtp"](x)(M))


def test_building_many_functions_stays_bounded():
    """NumPy backend only: thousands of numba / C compiles would take too long here."""
    backend = "numpy"
    x = symnum.named_array("x", 2)
    modules_before = len(sys.modules)
    linecache_before = len(linecache.cache)
    for k in range(2000):
        f = symnum.generate_func([x], x[0] * k + x[1], f"f{k}", backend=backend)
        assert f(X) == X[0] * k + X[1]
        del f
    gc.collect()
    assert len(sys.modules) <= modules_before + 5
    assert len(linecache.cache) <= linecache_before + symnum.backends.get("numpy").LINECACHE_SIZE
