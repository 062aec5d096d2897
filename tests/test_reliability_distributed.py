"""Reliability: every kind of numeric function runs on real process-based engines.

``multiprocessing`` pools under fork, spawn and forkserver, a
``concurrent.futures.ProcessPoolExecutor`` and a Dask ``distributed.LocalCluster`` with
process workers each receive the *pickled* functions of every backend (plain, derivative
and operator-valued ones, plus a bound closure) and evaluate them at a point and on a
batch. Results must equal the parent's, and no worker may trace SymPy again: the worker
installs traps on every route from SymPy to generated code (tracing, ``generate_func``,
lowering) before unpickling and reports whether any was hit.

Pools are module-scoped and small (2 workers), and workers share the parent's warm
cache, so they load compiled artefacts instead of compiling. Rebuilding from an empty
cache on a worker, and "unpickling imports no SymPy at all", are tested separately in
fresh interpreters.

This module must not import SymPy (or ``symnum.numpy``) at import time: spawned workers
import it to find the task function.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

BACKENDS = ["numpy", "numba", "c"]
N = 3  # size of x in every case
BATCH = 4


# --------------------------------------------------------------------------------------
# The functions: one of each public kind, built once per backend


def _scalar_f(x):
    import symnum.numpy as snp

    return snp.sum(x**2) / 2 + snp.cos(x[0]) * x[1] + snp.exp(x[2] * x[0] / 4)


def _vector_f(x):
    import symnum.numpy as snp

    return snp.array([x[0] * x[1], snp.sin(x[1]) + x[2] ** 2])


def _two_args(x, y):
    import symnum.numpy as snp

    return snp.sum(x * y) + snp.log1p(x[0] ** 2), x * y - y[0]


def build_cases(backend: str) -> dict:
    """name -> (numeric function, args, closure args or None)."""
    import symnum

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=N), rng.normal(size=N)
    v3, v2 = rng.normal(size=N), rng.normal(size=2)
    m23, m33 = rng.normal(size=(2, N)), rng.normal(size=(N, N))
    sf, vf = _scalar_f, _vector_f
    cases = {
        "numpify": (symnum.numpify(_two_args, (N,), (N,), backend=backend), (x, y), None),
        "gradient": (symnum.gradient(sf, (N,), backend=backend), (x,), None),
        "gradient_aux": (
            symnum.gradient(sf, (N,), return_aux=True, backend=backend),
            (x,),
            None,
        ),
        "hessian": (symnum.hessian(sf, (N,), backend=backend), (x,), None),
        "jacobian": (symnum.jacobian(vf, (N,), backend=backend), (x,), None),
        "jvp": (symnum.jacobian_vector_product(vf, (N,), backend=backend), (x,), (v3,)),
        "vjp": (symnum.vector_jacobian_product(vf, (N,), backend=backend), (x,), (v2,)),
        "hvp": (symnum.hessian_vector_product(sf, (N,), backend=backend), (x,), (v3,)),
        "mhp": (symnum.matrix_hessian_product(vf, (N,), backend=backend), (x,), (m23,)),
        "mtp": (symnum.matrix_tressian_product(sf, (N,), backend=backend), (x,), (m33,)),
    }
    # a bound closure (what jvp(x) returns) travels on its own too
    jvp = cases["jvp"][0]
    bound = jvp(x)
    cases["jvp_bound"] = (_Bound(bound), (), (v3,))
    return cases


class _Bound:
    """Wraps a bound closure so ``evaluate`` calls it with the closure args only."""

    def __init__(self, closure):
        self.closure = closure

    def __call__(self):
        return self.closure


def _batched(a):
    a = np.asarray(a)
    scale = np.linspace(0.5, 1.5, BATCH).reshape((BATCH,) + (1,) * a.ndim)
    return a * scale


def evaluate(func, args, closure_args):
    """Point and batch results of one case, as plain arrays (closures applied)."""
    out = {}
    for mode in ("point", "batch"):
        call_args = args if mode == "point" else tuple(_batched(a) for a in args)
        result = func(*call_args)
        if closure_args is not None:
            if mode == "batch":
                # (a bound closure captured at one point broadcasts against the batch)
                result = result(*(_batched(a) for a in closure_args))
            else:
                result = result(*closure_args)
        out[mode] = _plain(result)
    return out


def _plain(result):
    if isinstance(result, tuple):
        return tuple(_plain(r) for r in result)
    if callable(result):
        msg = f"unexpected callable result {result!r}"
        raise TypeError(msg)
    return np.asarray(result)


def assert_same(actual, expected, where=""):
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple), where
        assert len(actual) == len(expected), where
        for a, e in zip(actual, expected, strict=True):
            assert_same(a, e, where)
        return
    assert actual.shape == expected.shape, where
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-300, err_msg=where)


# --------------------------------------------------------------------------------------
# What runs in a worker


def _install_tracing_traps() -> dict:
    """Count every call on a route from SymPy to new generated code.

    Any numeric code built from SymPy goes through ``symnum.ir.lower.Lowerer`` (the only
    SymPy -> IR path), and tracing starts in ``numpify_func`` / ``generate_func`` /
    ``named_array``; unpickling a numeric function must touch none of them.
    """
    import symnum.array
    import symnum.codegen
    import symnum.ir.lower

    calls: dict[str, int] = {}

    def trap(owner, name):
        original = getattr(owner, name)
        if getattr(original, "_reliability_trap", False):
            return

        def wrapper(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return original(*args, **kwargs)

        wrapper._reliability_trap = True
        setattr(owner, name, wrapper)

    trap(symnum.ir.lower.Lowerer, "lower")
    trap(symnum.ir.lower.Lowerer, "closure")
    trap(symnum.codegen, "_build_ir")
    trap(symnum.codegen, "generate_func")
    trap(symnum.codegen, "numpify_func")
    trap(symnum.array, "named_array")
    trap(symnum.codegen, "named_array")
    return calls


def run_in_worker(payload: bytes, cache_dir: str) -> dict:
    """Unpickle the cases (after installing the traps) and evaluate them all."""
    os.environ["SYMNUM_CACHE_DIR"] = cache_dir
    os.environ.pop("SYMNUM_DISABLE_CACHE", None)
    calls = _install_tracing_traps()
    cases = pickle.loads(payload)
    results = {name: evaluate(*case) for name, case in cases.items()}
    return {"results": results, "traced": dict(calls), "pid": os.getpid()}


# --------------------------------------------------------------------------------------
# Fixtures: functions built once per backend in a module cache; pools reused


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMNUM_CACHE_DIR", str(root))
        mp.delenv("SYMNUM_DISABLE_CACHE", raising=False)
        yield root


_built: dict[str, tuple[bytes, dict]] = {}


@pytest.fixture
def built(backend, module_cache, monkeypatch):
    """(pickled cases, expected results) for ``backend``, built in the module cache."""
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(module_cache))
    if backend not in _built:
        cases = build_cases(backend)
        # evaluating here also warms numba's on-disk cache for the workers
        expected = {name: evaluate(*case) for name, case in cases.items()}
        payload = pickle.dumps(cases)
        _built[backend] = (payload, expected)
    return _built[backend]


def _check(report: dict, expected: dict, engine: str) -> None:
    assert report["traced"] == {}, f"{engine} worker traced SymPy again: {report['traced']}"
    assert report["pid"] != os.getpid()
    assert set(report["results"]) == set(expected)
    for name, modes in expected.items():
        for mode, value in modes.items():
            assert_same(report["results"][name][mode], value, f"{engine}: {name} ({mode})")


@pytest.fixture(scope="module")
def pools():
    """Lazily created pools, closed at the end of the module."""
    created: dict[str, object] = {}

    def get(method: str):
        if method not in created:
            if method not in multiprocessing.get_all_start_methods():
                pytest.skip(f"start method {method!r} is not supported on {sys.platform}")
            created[method] = multiprocessing.get_context(method).Pool(2)
        return created[method]

    yield get
    for pool in created.values():
        pool.close()
        pool.join()


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing_pool(method, backend, built, module_cache, pools):
    payload, expected = built
    pool = pools(method)
    # two tasks, so with luck both workers get one; each must succeed
    reports = pool.starmap(run_in_worker, [(payload, str(module_cache))] * 2)
    for report in reports:
        _check(report, expected, f"multiprocessing/{method}")


@pytest.fixture(scope="module")
def executor():
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as ex:
        yield ex


def test_process_pool_executor(backend, built, module_cache, executor):
    payload, expected = built
    futures = [executor.submit(run_in_worker, payload, str(module_cache)) for _ in range(2)]
    for future in futures:
        _check(future.result(timeout=120), expected, "ProcessPoolExecutor")


@pytest.fixture(scope="module")
def dask_client(module_cache):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')"
    )
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"SYMNUM_CACHE_DIR": str(module_cache)},
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_local_cluster(backend, built, module_cache, dask_client):
    payload, expected = built
    workers = list(dask_client.scheduler_info()["workers"])
    assert len(workers) == 2
    futures = [
        dask_client.submit(run_in_worker, payload, str(module_cache), workers=[w], pure=False)
        for w in workers
    ]
    pids = set()
    for future in futures:
        report = future.result(timeout=120)
        _check(report, expected, "dask")
        pids.add(report["pid"])
    assert len(pids) == 2  # really two worker processes


def test_dask_functions_as_tasks(backend, built, module_cache, dask_client):
    """The numeric functions themselves as Dask tasks (Dask pickles them)."""
    payload, expected = built
    cases = pickle.loads(payload)
    func, args, _ = cases["gradient"]
    points = list(_batched(args[0]))
    futures = dask_client.map(func, points, pure=False)
    results = dask_client.gather(futures)
    for got, want in zip(results, expected["gradient"]["batch"], strict=True):
        assert_same(np.asarray(got), want, "dask map")


# --------------------------------------------------------------------------------------
# Fresh interpreters: an empty cache is rebuilt on the worker; unpickling imports no SymPy

_FRESH_WORKER = textwrap.dedent(
    """
    import pickle, sys
    sys.path.insert(0, sys.argv[3])
    from test_reliability_distributed import evaluate, _install_tracing_traps
    calls = _install_tracing_traps() if sys.argv[4] == "traps" else {}
    with open(sys.argv[1], "rb") as f:
        cases = pickle.load(f)
    results = {name: evaluate(*case) for name, case in cases.items()}
    with open(sys.argv[2], "wb") as f:
        pickle.dump({"results": results, "traced": dict(calls), "pid": 0,
                     "sympy": "sympy" in sys.modules}, f)
    """
)


def _fresh(tmp_path, payload: bytes, cache_dir, traps: bool, extra_env=None) -> dict:
    src, out = tmp_path / "cases.pkl", tmp_path / "out.pkl"
    src.write_bytes(payload)
    env = {**os.environ, "SYMNUM_CACHE_DIR": str(cache_dir), **(extra_env or {})}
    env.pop("SYMNUM_DISABLE_CACHE", None)
    tests_dir = os.path.dirname(__file__)
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH_WORKER, str(src), str(out), tests_dir,
         "traps" if traps else "none"],
        capture_output=True, text=True, env=env, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return pickle.loads(out.read_bytes())


def _subset(payload: bytes, expected: dict, names) -> tuple[bytes, dict]:
    """Only some cases (compiling all of them again in one worker takes too long)."""
    cases = pickle.loads(payload)
    return pickle.dumps({k: cases[k] for k in names}), {k: expected[k] for k in names}


def test_worker_with_empty_cache_rebuilds(backend, built, tmp_path):
    """A worker whose cache is empty rebuilds every artefact (and still traces nothing)."""
    payload, expected = built
    payload, expected = _subset(payload, expected, ("gradient_aux", "jvp"))
    empty = tmp_path / "empty-cache"
    report = _fresh(tmp_path, payload, empty, traps=True)
    report["pid"] = -1
    _check(report, expected, "fresh interpreter, empty cache")
    namespace = "c" if backend == "c" else "numba"
    if backend != "numpy":
        assert any((empty / namespace).rglob("MANIFEST.json")), "nothing was cached"


def test_unpickling_does_not_import_sympy(backend, built, module_cache, tmp_path):
    """symnum documents that unpickling a numeric function in a worker does not import
    SymPy (workers only need the generated code); check it in a fresh interpreter."""
    payload, expected = _subset(*built, ("numpify", "jvp", "jvp_bound"))
    report = _fresh(tmp_path, payload, module_cache, traps=False)
    report["pid"] = -1
    _check(report, expected, "fresh interpreter")
    assert not report["sympy"], "unpickling/calling a numeric function imported sympy"


def test_pickle_references_no_sympy_module(built):
    """The payload refers to no global of sympy (or of the tracing front end)."""
    payload, _ = built
    modules = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            modules.add(module)
            return super().find_class(module, name)

    Recorder(__import__("io").BytesIO(payload)).load()
    bad = {m for m in modules if m.split(".")[0] == "sympy" or m in ("symnum.array",)}
    assert not bad, f"the pickle refers to {sorted(bad)}"


_MAIN_SCRIPT = textwrap.dedent(
    """
    import pickle, sys
    import symnum
    import symnum.numpy as snp

    def f(x):
        return snp.sum(x ** 2) + x[0] * x[1]

    funcs = [symnum.numpify(f, (2,), backend=sys.argv[2]),
             symnum.gradient(f, (2,), backend=sys.argv[2])]
    with open(sys.argv[1], "wb") as out:
        pickle.dump(funcs, out)
    """
)
_LOAD_SCRIPT = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    f = "not the traced function"  # a by-reference pickle of __main__.f would find this
    with open(sys.argv[1], "rb") as fh:
        value, grad = pickle.load(fh)
    x = np.array([1.0, 2.0])
    print(float(value(x)), *grad(x))
    """
)


def test_main_function_pickle_loads_elsewhere(tmp_path):
    """Functions traced from a script's ``__main__`` are pickled to a file and loaded by
    an unrelated interpreter (what a Dask worker or a job queue does)."""
    pkl = tmp_path / "funcs.pkl"
    env = {**os.environ, "SYMNUM_CACHE_DIR": str(tmp_path / "cache")}
    # pickling is backend-independent (NumericFunction.__reduce__): numpy is enough
    for script, args in ((_MAIN_SCRIPT, [str(pkl), "numpy"]), (_LOAD_SCRIPT, [str(pkl)])):
        proc = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True, text=True, env=env, timeout=300, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-4000:]
    assert [float(v) for v in proc.stdout.split()] == [7.0, 4.0, 5.0]
    # pickles by value: nothing refers to the script's own globals
    assert b"__main__" not in pkl.read_bytes()
