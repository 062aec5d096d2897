"""The numba backend: every op against NumPy / SciPy and the interpreter, golden source,
batching, closures, the on-disk cache across processes, calls from users' njit code,
pickling and a missing numba.

numba compiles are slow (a fraction of a second each), so compiled kernels are shared
through module-scoped fixtures.
"""

from __future__ import annotations

import importlib
import itertools
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _ops import (
    PAIRS,
    REFERENCE,
    SPECIAL,
    all_ops_function,
    op_args,
    reference,
)
from _products import (
    PRODUCTS,
    check_batches_and_lists,
    check_refusals,
    neg_log_dens,
    operator,
    reference_product,
)
from _profile import python_frames

from symnum import ir
from symnum.backends import BackendUnavailableError, UnsupportedOpError
from symnum.ir import Assign, Closure, Const, Elem, Function, Op, Output, Param, Var

nb_backend = pytest.importorskip("symnum.backends.numba")
if not nb_backend.available():
    if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS", "") == "1":
        pytest.fail("numba is required here (SYMNUM_REQUIRE_ALL_BACKENDS=1)")
    pytest.skip("numba is not installed", allow_module_level=True)

import numba  # noqa: E402

# the submodules (the package's ``emit`` and ``build`` attributes are their functions)
nb_emit = importlib.import_module("symnum.backends.numba.emit")
nb_parts = importlib.import_module("symnum.backends.numba.parts")
nb_build = importlib.import_module("symnum.backends.numba.build")
nb_interop = importlib.import_module("symnum.backends.numba.interop")

special = pytest.importorskip("scipy.special")


@pytest.fixture(scope="module", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test here builds into a cache of its own."""
    root = tmp_path_factory.mktemp("numba-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMNUM_CACHE_DIR", str(root))
        mp.delenv("SYMNUM_DISABLE_CACHE", raising=False)
        yield root


def build(fn: Function):
    return nb_backend.build(nb_backend.emit(fn))


# --------------------------------------------------------------------------------------
# Every op, real arguments

REAL_OPS = list(Op)


@pytest.fixture(scope="module")
def all_real_ops():
    fn = all_ops_function("all_ops", REAL_OPS)
    return fn, build(fn)


@pytest.mark.parametrize("op", REAL_OPS, ids=lambda op: op.name)
def test_real_op_matches_numpy(all_real_ops, op):
    _, kernel = all_real_ops
    got = kernel.batch(PAIRS)[:, REAL_OPS.index(op)]
    # special functions run symnum.ir.specfun, which gives SciPy's values (poles too)
    expected = reference(op, PAIRS[:, 0], PAIRS[:, 1])
    rtol = 1e-12 if op in SPECIAL else 1e-14
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=0, equal_nan=True, err_msg=op.name)


def test_real_ops_match_interpreter(all_real_ops):
    interpret = pytest.importorskip("symnum.ir.interpret")
    fn, kernel = all_real_ops
    got = kernel.batch(PAIRS)
    with np.errstate(all="ignore"):
        expected = np.array([interpret.evaluate(fn, point) for point in PAIRS])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0, equal_nan=True)


def test_point_equals_batch_for_every_op(all_real_ops):
    _, kernel = all_real_ops
    batch = kernel.batch(PAIRS[::7])
    loop = np.array([kernel.point(np.ascontiguousarray(p)) for p in PAIRS[::7]])
    np.testing.assert_array_equal(batch, loop)


@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
def test_polygamma_matches_scipy(order):
    x = np.array([-3.7, -2.5, -0.5, 1e-3, 0.3, 1.0, 1.4616321449683622, 5.5, 15.0, 1e3,
                  0.0, -1.0, np.inf, np.nan])  # fmt: skip
    fn = Function(
        "polygamma_of_x",
        (Param("x", ()),),
        (Assign(0, Op.POLYGAMMA, (Const(float(order)), Elem("x", 0))),),
        Output((), (Var(0),)),
    )
    got = build(fn).batch(x)
    expected = special.polygamma(order, x)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15, equal_nan=True)


def test_constant_powers():
    x = np.array([-2.0, -0.0, 0.0, 0.5, 3.0, np.inf, np.nan])
    exponents = [3.0, -2.0, 0.5, -1.5, 0.0, 64.0, 65.0]
    body = tuple(Assign(k, Op.POW, (Elem("x", 0), Const(e))) for k, e in enumerate(exponents))
    fn = Function(
        "powers",
        (Param("x", ()),),
        body,
        Output((len(body),), tuple(Var(k) for k in range(len(body)))),
    )
    source = nb_backend.emit(fn)
    assert "x_0 ** 3\n" in source.text  # integer powers compile to multiplications
    got = build(fn).batch(x)
    with np.errstate(all="ignore"):
        expected = np.stack([np.power(x, e) for e in exponents], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-14, equal_nan=True)


# --------------------------------------------------------------------------------------
# Complex parameters

#: ops the numba backend refuses for complex arguments
REAL_ONLY = {Op.FLOOR, Op.CEIL, Op.CBRT, Op.ATAN2, Op.HYPOT, Op.FMOD, Op.MAX, Op.MIN, *SPECIAL}
COMPLEX_REFERENCE = {
    **{op: ref for op, ref in REFERENCE.items() if op not in REAL_ONLY},
    # the real table's identities, for complex values
    Op.REAL: lambda a, b: a.real,
    Op.IMAG: lambda a, b: a.imag,
    Op.CONJ: lambda a, b: np.conj(a),
}
COMPLEX_OPS = [op for op in Op if op in COMPLEX_REFERENCE]
COMPLEX_VALUES = [1 + 2j, -0.5 + 0.25j, 2.0 + 0j, -3 - 1j, 0.1 - 0.7j, 2.0 + 1j, 0j]
COMPLEX_PAIRS = np.array(list(itertools.product(COMPLEX_VALUES, COMPLEX_VALUES)))


def test_complex_table_covers_exactly_the_supported_ops():
    supported = {op for op, template in nb_emit.COMPLEX.items() if template is not None}
    assert supported == set(COMPLEX_OPS)


@pytest.mark.slow
def test_complex_ops_match_numpy():
    kernel = build(all_ops_function("all_complex_ops", COMPLEX_OPS, "complex128"))
    got = kernel.batch(COMPLEX_PAIRS)
    a, b = COMPLEX_PAIRS[:, 0], COMPLEX_PAIRS[:, 1]
    for k, op in enumerate(COMPLEX_OPS):
        with np.errstate(all="ignore"):
            expected = np.asarray(COMPLEX_REFERENCE[op](a, b), dtype=complex)
        np.testing.assert_allclose(got[:, k], expected, rtol=1e-13, equal_nan=True, err_msg=op.name)


def test_complex_division_by_zero_is_ieee():
    z = Param("z", (2,), "complex128")
    fn = Function(
        "cdiv",
        (z,),
        (Assign(0, Op.DIV, (Elem("z", 0), Elem("z", 1))),),
        Output((), (Var(0),), "complex128"),
    )
    kernel = build(fn)
    assert kernel.point(np.array([1 + 2j, 2j])) == pytest.approx(1 - 0.5j)
    value = kernel.point(np.array([1 + 2j, 0j]))
    assert isinstance(value, np.complex128)
    assert np.isinf(value.real)
    assert np.isinf(value.imag)
    assert np.isnan(kernel.point(np.array([0j, 0j])))


@pytest.mark.parametrize("op", [Op.MAX, Op.GAMMA, Op.FLOOR], ids=lambda op: op.name)
def test_complex_argument_unsupported_at_emit_time(op):
    z = Param("z", (2,), "complex128")
    fn = Function("bad", (z,), (Assign(0, op, op_args(op, "z")),), Output((), (Var(0),)))
    with pytest.raises(UnsupportedOpError, match=rf"'numba'.*{op.name}"):
        nb_backend.emit(fn)


def test_polygamma_order_must_be_constant():
    fn = Function(
        "bad",
        (Param("x", (2,)),),
        (Assign(0, Op.POLYGAMMA, (Elem("x", 0), Elem("x", 1))),),
        Output((), (Var(0),)),
    )
    with pytest.raises(UnsupportedOpError, match="POLYGAMMA"):
        nb_backend.emit(fn)


# --------------------------------------------------------------------------------------
# Emitted source

ROSEN = Function(
    "rosen_grad",
    (Param("x", (2,)),),
    (
        Assign(0, Op.MUL, (Elem("x", 0), Elem("x", 0))),
        Assign(1, Op.SUB, (Elem("x", 1), Var(0))),
        Assign(2, Op.SUB, (Const(1.0), Elem("x", 0))),
        Assign(3, Op.MUL, (Const(-400.0), Elem("x", 0), Var(1))),
        Assign(4, Op.MUL, (Const(-2.0), Var(2))),
        Assign(5, Op.ADD, (Var(3), Var(4))),
        Assign(6, Op.MUL, (Const(200.0), Var(1))),
        Assign(7, Op.MUL, (Const(100.0), Var(1), Var(1))),
        Assign(8, Op.MUL, (Var(2), Var(2))),
        Assign(9, Op.ADD, (Var(7), Var(8))),
    ),
    (Output((2,), (Var(5), Var(6))), Output((), (Var(9),))),
)

ROSEN_SOURCE = '''\
"""numba kernels for rosen_grad, generated by symnum; do not edit."""

import cmath
import math

import numba
import numpy as np
from symnum.backends.numba import ShapeError as _sn_ShapeError


@numba.njit(cache=True, error_model="numpy")
def rosen_grad(x):
    if x.shape[0] != 2:
        raise _sn_ShapeError(
            "argument 'x' of rosen_grad() must have shape (2,), got shape", x.shape
        )
    x_0 = x[0]
    x_1 = x[1]
    t0 = x_0 * x_0
    t1 = x_1 - t0
    t2 = 1.0 - x_0
    t3 = (-400.0) * x_0 * t1
    t4 = (-2.0) * t2
    t5 = t3 + t4
    t6 = 200.0 * t1
    t7 = 100.0 * t1 * t1
    t8 = t2 * t2
    t9 = t7 + t8
    out0 = np.empty((2,), np.float64)
    out0[0] = t5
    out0[1] = t6
    return (out0, t9)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def rosen_grad_batch(x):
    n = x.shape[0]
    if x.shape[1] != 2:
        raise ValueError("argument 'x' of rosen_grad() must have shape (n, 2) in a batch")
    out0 = np.empty((n, 2), np.float64)
    out1 = np.empty((n,), np.float64)
    for i in range(n):
        x_0 = x[i, 0]
        x_1 = x[i, 1]
        t0 = x_0 * x_0
        t1 = x_1 - t0
        t2 = 1.0 - x_0
        t3 = (-400.0) * x_0 * t1
        t4 = (-2.0) * t2
        t5 = t3 + t4
        t6 = 200.0 * t1
        t7 = 100.0 * t1 * t1
        t8 = t2 * t2
        t9 = t7 + t8
        out0[i, 0] = t5
        out0[i, 1] = t6
        out1[i] = t9
    return (out0, out1)


def rosen_grad_py(x):
    (r0, r1) = rosen_grad(x)
    return (r0, np.float64(r1))
'''


def test_statements_come_from_the_shared_table():
    from symnum.backends import _pysource

    differs = {op for op in Op if nb_emit.REAL[op] != _pysource.SCALAR[op]}
    # ``**``: small integer powers become multiplications; every conditional expression
    # becomes the runtime's branch-free select; fmod is NumPy's (numba has no math.fmod)
    conditional = {op for op in Op if " if " in _pysource.SCALAR[op]}
    assert conditional >= {Op.MAX, Op.SELECT, Op.LT, Op.NOT}
    assert differs == {Op.POW, Op.FMOD} | conditional
    for op in conditional:
        assert " if " not in nb_emit.REAL[op]
        assert "{select}" in nb_emit.REAL[op]
    assert {k: v for k, v in nb_emit.GLOBALS.items() if k in _pysource.GLOBALS} != (
        _pysource.GLOBALS
    )  # numba merges its own globals over the shared ones


def test_runtime_select_is_a_branch_free_conditional_expression():
    """``select(c, a, b)`` is ``a if c else b``: Python's truth (NaN is true, -0.0
    false), the common type of ``a`` and ``b``, complex values too."""
    from symnum.backends.numba.runtime import select

    @numba.njit
    def pick(c, a, b):
        return select(c, a, b)

    for c in (1.0, -2.5, np.nan, np.inf, 0.0, -0.0, True, False, 3, 0):
        for a, b in ((1.5, -2.0), (np.nan, 0.25), (2, 0.5), (1.0 + 2.0j, 3.0)):
            want = a if c else b
            got = pick(c, a, b)
            assert type(got) is type(
                complex(want) if isinstance(b, complex) or isinstance(a, complex) else float(want)
            )
            np.testing.assert_equal(got, want)
    with pytest.raises(numba.TypingError):
        pick(1.0, np.ones(2), 0.0)  # arrays are not selected element-wise


def test_golden_source():
    source = nb_backend.emit(ROSEN)
    assert source.text == ROSEN_SOURCE
    assert source.needs == ()
    assert nb_backend.emit(ROSEN) == source  # deterministic


def test_helpers_recorded_as_needs():
    fn = Function(
        "needs_polygamma",
        (Param("x", ()),),
        (Assign(0, Op.POLYGAMMA, (Const(1.0), Elem("x", 0))),),
        Output((), (Var(0),)),
    )
    source = nb_backend.emit(fn)
    # the runtime's njit polygamma (symnum.ir.specfun's) is imported, nothing else
    assert source.needs == ("_sn_polygamma",)
    assert "from symnum.backends.numba.runtime import polygamma as _sn_polygamma\n" in source.text
    assert "_sn_cdiv" not in source.text
    assert "def _sn_" not in source.text  # no copies of runtime functions in the text


def test_names_that_clash_with_generated_names_are_renamed():
    # parameters named like the module's globals and the generated temporaries
    params = (Param("np", (2,)), Param("t0", ()), Param("math", ()), Param("np_0", ()))
    body = (
        Assign(0, Op.ADD, (Elem("np", 0), Elem("np", 1), Elem("t0", 0))),
        Assign(1, Op.MUL, (Var(0), Elem("math", 0), Elem("np_0", 0))),
        Assign(2, Op.EXP, (Var(1),)),
    )
    fn = Function("clash", params, body, (Output((2,), (Var(2), Var(0))),))
    kernel = build(fn)
    args = [np.array([1.0, 2.0]), np.array(0.5), np.array(0.25), np.array(2.0)]
    (out,) = kernel.point(*args)
    np.testing.assert_allclose(out, [np.exp(3.5 * 0.25 * 2.0), 3.5])
    (batched,) = kernel.batch(*(np.stack([a, a]) for a in args))
    np.testing.assert_allclose(batched, [out, out])


# --------------------------------------------------------------------------------------
# Kernel contract: output types, nesting, shapes, batching


@pytest.fixture(scope="module")
def nested():
    """Matrix, 0-d and vector parameters; nested tuple outputs with scalars."""
    params = (Param("a", (2, 3)), Param("s", ()), Param("v", (2,)))
    body = (
        Assign(0, Op.MUL, (Elem("a", 4), Elem("s", 0))),
        Assign(1, Op.ADD, (Var(0), Elem("v", 1))),
        Assign(2, Op.SIN, (Elem("a", 0),)),
    )
    outputs = (
        Output((), (Var(1),)),
        (Output((2, 2), (Var(0), Const(0.0), Var(2), Elem("v", 0))), Output((), (Const(-1.5),))),
        Output((0,), ()),
    )
    fn = Function("nested", params, body, outputs)
    return fn, build(fn)


def _nested_reference(a, s, v):
    t0 = a.reshape(-1)[4] * s
    return (
        t0 + v[1],
        (np.array([[t0, 0.0], [np.sin(a.reshape(-1)[0]), v[0]]]), -1.5),
        np.zeros(0),
    )


def test_point_returns_the_output_tree(nested):
    _, kernel = nested
    rng = np.random.default_rng(0)
    a, s, v = rng.normal(size=(2, 3)), np.array(0.7), rng.normal(size=2)
    value, (matrix, constant), empty = kernel.point(a, s, v)
    ref_value, (ref_matrix, _), _ = _nested_reference(a, s, v)
    assert type(value) is np.float64
    assert type(constant) is np.float64
    assert value == pytest.approx(ref_value)
    assert constant == -1.5
    assert matrix.dtype == np.float64
    assert matrix.shape == (2, 2)
    np.testing.assert_allclose(matrix, ref_matrix)
    assert empty.shape == (0,)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_batch_equals_loop(nested, n):
    _, kernel = nested
    rng = np.random.default_rng(n)
    a, s, v = rng.normal(size=(n, 2, 3)), rng.normal(size=n), rng.normal(size=(n, 2))
    value, (matrix, constant), empty = kernel.batch(a, s, v)
    assert value.shape == (n,)
    assert matrix.shape == (n, 2, 2)
    assert constant.shape == (n,)
    assert empty.shape == (n, 0)
    for k in range(n):
        p_value, (p_matrix, p_constant), _ = kernel.point(a[k], s[k], v[k])
        assert value[k] == p_value
        assert constant[k] == p_constant
        np.testing.assert_array_equal(matrix[k], p_matrix)


def test_batch_is_one_compiled_loop(nested):
    _, kernel = nested
    # kernel.batch calls it, falling back to an uncached copy if numba cannot save
    assert isinstance(kernel.njit_batch, numba.core.registry.CPUDispatcher)
    assert "for i in range(n):" in kernel.source.text


def test_point_kernel_checks_shapes(nested):
    _, kernel = nested
    with pytest.raises(ValueError, match=r"'a' of nested\(\) must have shape \(2, 3\).*\(3, 3\)"):
        kernel.njit(np.zeros((3, 3)), np.array(1.0), np.zeros(2))
    with pytest.raises(ValueError, match=r"'s' of nested\(\) must have shape \(n,\) in a"):
        kernel.batch(np.zeros((2, 2, 3)), np.zeros(3), np.zeros((2, 2)))


@pytest.mark.parametrize("shape", [(300,), (20, 15), (3, 4, 25)])
def test_large_outputs_are_stored_in_chunks(shape):
    # 300 values: more than TUPLE_STORE_THRESHOLD, in ten tuples of TUPLE_CHUNK (30)
    # values, the last one starting at 270
    assert nb_emit.TUPLE_CHUNK == 30
    x = Param("x", (4,))
    body = tuple(Assign(k, Op.MUL, (Elem("x", k % 4), Const(float(k)))) for k in range(30))
    atoms = tuple((Var(k % 30), Elem("x", k % 4), Const(-0.5))[k % 3] for k in range(300))
    fn = Function("big_output", (x,), body, Output(shape, atoms))
    source = nb_backend.emit(fn)
    assert source.text.count("for k in range(30):") == 20  # point and batch kernels
    subscript = {
        (300,): "[i, 270 + k]",
        (20, 15): "[i, (270 + k) // 15, (270 + k) % 15]",
        (3, 4, 25): "[i, (270 + k) // 100, (270 + k) // 25 % 4, (270 + k) % 25]",
    }[shape]
    assert f"out0{subscript} = v" in source.text
    kernel = nb_backend.build(source)
    interpret = pytest.importorskip("symnum.ir.interpret")
    xs = np.random.default_rng(3).normal(size=(3, 4))
    expected = np.array([interpret.evaluate(fn, row) for row in xs])
    assert expected.shape == (3, *shape)
    np.testing.assert_array_equal(kernel.batch(xs), expected)
    np.testing.assert_array_equal(kernel.point(xs[1]), expected[1])


def test_long_sums_and_products_keep_left_to_right_order():
    interpret = pytest.importorskip("symnum.ir.interpret")
    n = 3000  # one expression this long would overflow Python's compiler
    terms = tuple(Elem("x", k % 7) for k in range(n))
    body = (
        Assign(0, Op.ADD, terms),
        Assign(1, Op.MUL, tuple(Const(1.0 + 1e-4 * (k % 5)) for k in range(200))),
    )
    fn = Function("long_sum", (Param("x", (7,)),), body, Output((2,), (Var(0), Var(1))))
    x = np.random.default_rng(4).normal(size=7) * 1e3
    np.testing.assert_array_equal(build(fn).point(x), interpret.evaluate(fn, x))


def test_function_without_scalar_outputs_has_no_python_wrapper():
    fn = Function("vec", (Param("x", (2,)),), (), Output((2,), (Elem("x", 1), Elem("x", 0))))
    kernel = build(fn)
    # point calls the njit dispatcher directly (through the full-disk guard only)
    assert not hasattr(kernel.module, kernel.source.python_name)
    np.testing.assert_array_equal(kernel.point(np.array([1.0, 2.0])), [2.0, 1.0])


def test_same_source_builds_one_kernel_per_process():
    source = nb_backend.emit(ROSEN)
    assert nb_backend.build(source) is nb_backend.build(source)


def test_kernel_module_is_unregistered_when_kernel_dies():
    import gc

    fn = Function("short_lived", (Param("x", ()),), (), Output((), (Elem("x", 0),)))
    kernel = build(fn)
    name = kernel.module.__name__
    assert name in sys.modules
    del kernel
    gc.collect()
    assert name not in sys.modules


# --------------------------------------------------------------------------------------
# Closures (operator-valued results) through split_closures

JVP = Function(
    "jvp_of_f",
    (Param("x", (2,)),),
    (
        Assign(0, Op.COS, (Elem("x", 0),)),
        Assign(1, Op.MUL, (Elem("x", 1), Elem("x", 1))),
    ),
    (
        Closure(
            (Param("v", (2,)),),
            (
                Assign(2, Op.MUL, (Var(0), Elem("v", 0))),
                Assign(3, Op.MUL, (Const(2.0), Elem("x", 1), Elem("v", 1))),
                Assign(4, Op.ADD, (Var(2), Var(3))),
            ),
            Output((), (Var(4),)),
        ),
        Output((), (Var(1),)),
    ),
)


def test_closures_compile_as_separate_flat_kernels():
    outer, closures = ir.split_closures(JVP)
    outer_kernel = build(outer)
    (inner,) = [build(c) for c in closures if c is not None]
    x, v = np.array([0.3, -1.2]), np.array([0.5, 2.0])
    captured, value = outer_kernel.point(x)
    assert value == pytest.approx(x[1] ** 2)
    assert inner.point(captured, v) == pytest.approx(np.cos(x[0]) * v[0] + 2 * x[1] * v[1])
    # the inner kernel batches over v with the captures broadcast by the caller
    vs = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(
        inner.batch(np.stack([captured, captured]), vs), [np.cos(x[0]), 2 * x[1]]
    )


# --------------------------------------------------------------------------------------
# Cache: a fresh process loads machine code instead of compiling

FRESH_PROCESS = textwrap.dedent(
    """
    import pickle, sys, time
    import numpy as np
    from symnum.backends import numba as nb
    source = pickle.loads(bytes.fromhex(sys.argv[1]))
    start = time.perf_counter()
    kernel = nb.build(source)
    grad, value = kernel.point(np.array([0.5, 1.0]))
    batch = kernel.batch(np.array([[0.5, 1.0]]))
    elapsed = time.perf_counter() - start
    hits = sum(kernel.njit.stats.cache_hits.values())
    hits += sum(kernel.njit_batch.stats.cache_hits.values())
    misses = sum(kernel.njit.stats.cache_misses.values())
    misses += sum(kernel.njit_batch.stats.cache_misses.values())
    print(hits, misses, float(value), elapsed)
    """
)


def _run_fresh(source, cache_dir):
    env = {**os.environ, "SYMNUM_CACHE_DIR": str(cache_dir)}
    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, pickle.dumps(source).hex()],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    hits, misses, value, elapsed = out.stdout.split()
    return int(hits), int(misses), float(value), float(elapsed)


@pytest.mark.slow
def test_second_process_loads_from_cache_without_compiling(tmp_path):
    source = nb_backend.emit(ROSEN)
    hits, misses, value, _ = _run_fresh(source, tmp_path)
    assert (hits, misses) == (0, 2)  # cold: compiled point and batch kernels
    assert value == pytest.approx(56.5)
    hits, misses, value, _ = _run_fresh(source, tmp_path)
    assert (hits, misses) == (2, 0)  # warm: both loaded from numba's cache
    assert value == pytest.approx(56.5)
    # damaged machine-code files (empty, garbage) are compiled again, then reused
    (entry,) = (tmp_path / "numba").glob("*/*")
    damaged = sorted((entry / "__pycache__").glob("*.nb*"))
    assert len(damaged) == 4
    damaged[0].write_bytes(b"")
    for path in damaged[1:]:
        path.write_bytes(b"garbage")
    hits, misses, value, _ = _run_fresh(source, tmp_path)
    assert (hits, misses) == (0, 2)
    assert value == pytest.approx(56.5)
    assert _run_fresh(source, tmp_path)[:2] == (2, 0)


# --------------------------------------------------------------------------------------
# Calling kernels from users' own njit code


class _Wrapper:
    """Stands in for NumericFunction: a Python object holding a kernel."""

    def __init__(self, kernel):
        self.kernel = kernel

    def __call__(self, *args):
        return self.kernel.point(*args)


@pytest.fixture(scope="module")
def rosen_wrapper():
    nb_interop.register_jit_type(_Wrapper, lambda w: w.kernel.njit)
    return _Wrapper(build(ROSEN))


def test_wrapper_called_from_user_njit_as_global(rosen_wrapper):
    g = rosen_wrapper

    @numba.njit
    def descend(x, steps):
        for _ in range(steps):
            grad, _value = g(x)
            x = x - 1e-3 * grad
        return x

    x = np.array([-0.5, 0.5])
    expected = x.copy()
    for _ in range(50):
        expected = expected - 1e-3 * rosen_wrapper(expected)[0]
    np.testing.assert_allclose(descend(x, 50), expected)


def test_wrapper_passed_to_user_njit_as_argument(rosen_wrapper):
    @numba.njit
    def value_at(f, x):
        return f(x)[1]

    assert value_at(rosen_wrapper, np.array([0.5, 1.0])) == pytest.approx(56.5)


def test_register_jit_type_rejects_objects_without_kernel():
    class NoKernel:
        pass

    nb_interop.register_jit_type(NoKernel, lambda obj: None)

    @numba.njit
    def call(f):
        return f(1.0)

    with pytest.raises(numba.core.errors.TypingError):
        call(NoKernel())


# --------------------------------------------------------------------------------------
# Pickling: Source by value, rebuilt from the cache in spawned workers


def _evaluate_in_worker(source, x):
    return nb_backend.build(source).point(x)


def test_source_pickles_by_value():
    source = nb_backend.emit(ROSEN)
    assert pickle.loads(pickle.dumps(source)) == source
    kernel = build(ROSEN)
    clone = pickle.loads(pickle.dumps(kernel))
    assert clone.source == source


@pytest.mark.slow
def test_spawn_pool_rebuilds_kernels(isolated_cache):
    source = nb_backend.emit(ROSEN)
    xs = [np.array([0.5, 1.0]), np.array([-1.0, 2.0])]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.starmap(_evaluate_in_worker, [(source, x) for x in xs])
    kernel = build(ROSEN)
    for (grad, value), x in zip(results, xs, strict=True):
        ref_grad, ref_value = kernel.point(x)
        np.testing.assert_array_equal(grad, ref_grad)
        assert value == ref_value


# --------------------------------------------------------------------------------------
# numba missing


@pytest.fixture
def numba_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` fail
    monkeypatch.setattr(nb_backend, "_status", {})
    yield
    nb_backend._status.clear()


def test_missing_numba_names_the_extra(numba_missing):
    from symnum import backends

    assert not nb_backend.available()
    assert "numba" not in backends.available()
    with pytest.raises(BackendUnavailableError, match=r'pip install "symnum\[numba\]"'):
        backends.get("numba")
    with pytest.raises(BackendUnavailableError, match=r"symnum\[numba\]"):
        nb_backend.build(nb_backend.emit(ROSEN))
    # emitting needs no numba; only building does
    assert "def rosen_grad" in nb_backend.emit(ROSEN).text
    # and the NumPy backend is unaffected
    symnum = pytest.importorskip("symnum")
    gradient = symnum.gradient(_scalar_model, (2,), backend="numpy")
    assert gradient(np.zeros(2)).shape == (2,)
    with pytest.raises(BackendUnavailableError, match=r"symnum\[numba\]"):
        symnum.gradient(_scalar_model, (2,), backend="numba")


# --------------------------------------------------------------------------------------
# Through NumericFunction (symnum.codegen), with the backend's wrap hook

ROSEN_GRAD = Function("rosen_gradient", ROSEN.params, ROSEN.body, ROSEN.outputs[0])


@pytest.fixture(scope="module")
def numeric():
    symnum = pytest.importorskip("symnum")
    return symnum.NumericFunction


@pytest.fixture(scope="module")
def rosen_gradient(numeric):
    return numeric.from_ir(ROSEN_GRAD, "numba")


@pytest.fixture(scope="module")
def rosen_with_value(numeric):
    return numeric.from_ir(ROSEN, "numba")


def _rosen_grad_reference(x):
    x = np.asarray(x, dtype=float)
    t1 = x[..., 1] - x[..., 0] ** 2
    return np.stack([-400 * x[..., 0] * t1 - 2 * (1 - x[..., 0]), 200 * t1], axis=-1)


#: whether the C toolchain is here, so that the entries are the C runtime's guards
C_ENTRIES = nb_build.guard_runtime() is not None


def _entry_of(cls):
    """The fast entry instances of ``cls`` (a NumericFunction or BoundClosure class)
    run: a call class's ``_fast_entry`` (with the C runtime) or the ``__call__``."""
    entry = cls.__dict__.get("_fast_entry")
    if entry is None:
        entry = cls.__dict__["__call__"]
        entry = getattr(entry, "__func__", entry)  # a staticmethod's function
    return entry


def _is_entry(entry, kind: str) -> bool:
    """Whether ``entry`` is the numba kernel's entry of ``kind`` ("entry",
    "method-entry" or "closure-entry"): a guard of the C runtime when it is here, else a
    generated Python function."""
    if C_ENTRIES:
        return type(entry).__name__ == ("MethodGuard" if kind == "method-entry" else "Guard")
    return entry.__code__.co_filename.startswith(f"<symnum-numba-{kind} ")


@pytest.fixture(params=["c", "python"])
def entry_kind(request, monkeypatch):
    """Entry tests run with the C runtime's guards and with the generated Python
    entries (what a machine without the C toolchain gets)."""
    if request.param == "python":
        monkeypatch.setattr(nb_build, "_guard_state", [None])
    elif not C_ENTRIES:
        if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS", "") == "1":
            pytest.fail("the C runtime is required here (SYMNUM_REQUIRE_ALL_BACKENDS=1)")
        pytest.skip("no C toolchain: numba's entries are Python functions")
    return request.param


def test_entries_are_guards_exactly_with_the_c_toolchain(monkeypatch):
    kernel = build(ROSEN_GRAD)
    entry = kernel.entry(record)
    assert type(entry).__name__ == ("Guard" if C_ENTRIES else "function")
    assert ("symnum_c" in type(entry).__module__) == C_ENTRIES
    assert (nb_backend.call_class(object) is not None) == C_ENTRIES
    # SYMNUM_NUMBA_C_ENTRY=0 turns the C entries off (decided once per process)
    monkeypatch.setattr(nb_build, "_guard_state", [])
    monkeypatch.setenv("SYMNUM_NUMBA_C_ENTRY", "0")
    assert nb_build.guard_runtime() is None
    assert nb_backend.call_class(object) is None
    assert type(kernel.entry(record)).__name__ == "function"


@pytest.mark.slow
def test_no_c_entries_when_the_cache_does_not_persist(tmp_path):
    """With the cache disabled every process would compile the C runtime again, so
    numba's entries stay Python functions, unless the runtime is loaded already."""
    if not C_ENTRIES:
        pytest.skip("no C toolchain: numba's entries are Python functions anyway")
    script = textwrap.dedent(
        """
        import sys
        from symnum.backends.numba.build import guard_runtime
        if sys.argv[1] == "loaded":
            from symnum.backends.c.build import shared_runtime
            shared_runtime()
        print(guard_runtime() is not None)
        """
    )
    env = {**os.environ, "SYMNUM_DISABLE_CACHE": "1", "SYMNUM_CACHE_DIR": str(tmp_path)}
    env.pop("SYMNUM_NUMBA_C_ENTRY", None)
    for first, expected in (("nothing", "False"), ("loaded", "True")):
        command = [sys.executable, "-c", script, first]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[-1] == expected


@pytest.mark.parametrize("kind", ["c", "python"])
def test_numeric_function_calls_dispatcher_directly(kind, numeric, monkeypatch):
    symnum_numeric = importlib.import_module("symnum.numeric")
    if kind == "python":
        monkeypatch.setattr(nb_build, "_guard_state", [None])
    elif not C_ENTRIES:
        pytest.skip("no C toolchain: numba's entries are Python functions")
    # classes are made once per kernel: start afresh for each kind
    monkeypatch.setattr(symnum_numeric, "_entry_classes", type(symnum_numeric._entry_classes)())
    g = numeric.from_ir(ROSEN_GRAD, "numba")
    assert isinstance(g, numeric)
    assert isinstance(g.njit, numba.core.registry.CPUDispatcher)
    # the class calls the kernel's entry; exact single points never reach the checked
    # path; with the C runtime, no Python frame runs at all
    entry = _entry_of(type(g))
    assert type(entry).__name__ == ("Guard" if kind == "c" else "function")
    x = np.array([0.5, 1.0])
    g(x)
    assert python_frames(lambda: g(x)) == ["<lambda>"] + ["_entry"] * (kind == "python")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(numeric, "_checked", lambda *args, **kw: pytest.fail("slow path taken"))
        np.testing.assert_array_equal(g(x), _rosen_grad_reference(x))
    # everything else takes the checked path, with its errors
    np.testing.assert_array_equal(g([0.5, 1.0]), _rosen_grad_reference(x))
    np.testing.assert_allclose(g(np.ones((3, 2))), _rosen_grad_reference(np.ones((3, 2))))
    with pytest.raises(ValueError, match=r"'x'.*\(2,\).*\(3,\)"):
        g(np.zeros(3))
    with pytest.raises(TypeError, match="keyword"):
        g(x=x)
    with pytest.raises(TypeError):
        g(x, x)
    clone = pickle.loads(pickle.dumps(g))
    assert type(clone) is type(g)
    np.testing.assert_array_equal(clone(x), g(x))


@pytest.mark.parametrize(
    "arg",
    [
        [0.5, 1.0],
        np.array([0.5, 1.0], dtype=np.float32),
        np.array([1, 2]),
        np.array([[0.5, 1.0], [2.0, -1.0], [0.0, 0.0]]),
        np.zeros((0, 2)),
        np.array([0.5, 7.0, 1.0])[::2],
        np.array([[[0.5, 1.0]]]),
    ],
    ids=["list", "float32", "int", "batch", "empty-batch", "strided", "batch-3d"],
)
def test_numeric_function_other_inputs_take_the_checked_path(rosen_gradient, arg):
    got = rosen_gradient(arg)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, _rosen_grad_reference(arg))


def test_functions_sharing_a_kernel_keep_their_checks(numeric):
    import gc

    first = numeric.from_ir(ROSEN_GRAD, "numba")
    second = numeric.from_ir(ROSEN_GRAD, "numba")
    assert first.njit is second.njit  # one kernel per source and process
    del second
    gc.collect()
    np.testing.assert_allclose(first([0.5, 1.0]), [-151.0, 150.0])
    np.testing.assert_allclose(first(np.ones((2, 2))), np.zeros((2, 2)), atol=0)


def test_numeric_function_bad_inputs(rosen_gradient):
    with pytest.raises(ValueError, match=r"'x'.*\(2,\).*\(3,\)"):
        rosen_gradient(np.zeros(3))
    with pytest.raises(ValueError, match=r"'x'"):
        rosen_gradient(np.zeros((2, 3)))
    with pytest.raises(TypeError):
        rosen_gradient()
    with pytest.raises(TypeError):
        rosen_gradient(np.zeros(2), np.zeros(2))
    with pytest.raises(TypeError):
        rosen_gradient("ab")


def test_numeric_function_scalar_outputs_are_numpy_scalars(rosen_with_value):
    grad, value = rosen_with_value(np.array([0.5, 1.0]))
    assert type(value) is np.float64
    assert value == 56.5
    np.testing.assert_array_equal(grad, [-151.0, 150.0])
    assert isinstance(rosen_with_value.njit, numba.core.registry.CPUDispatcher)


def test_numeric_function_called_from_user_njit(rosen_gradient, rosen_with_value):
    g, gv = rosen_gradient, rosen_with_value

    @numba.njit
    def walk(x, steps):
        value = 0.0
        for _ in range(steps):
            x = x - 1e-4 * g(x)
            _grad, value = gv(x)
        return x, value

    @numba.njit
    def apply(f, x):
        return f(x)

    x0 = np.array([-0.5, 0.5])
    x, value = walk(x0, 100)
    expected = x0.copy()
    for _ in range(100):
        expected = expected - 1e-4 * _rosen_grad_reference(expected)
    np.testing.assert_allclose(x, expected, rtol=1e-12)
    assert value == pytest.approx(rosen_with_value(expected)[1], rel=1e-12)
    np.testing.assert_array_equal(apply(g, x0), g(x0))


def test_numeric_function_with_closures(numeric):
    jvp = numeric.from_ir(JVP, "numba")
    x, v = np.array([0.3, -1.2]), np.array([0.5, 2.0])
    product, value = jvp(x)
    assert value == pytest.approx(x[1] ** 2)
    assert product(v) == pytest.approx(np.cos(x[0]) * v[0] + 2 * x[1] * v[1])
    # a function returning closures cannot be called from njit code
    assert jvp.njit is None

    @numba.njit
    def call(f, x):
        return f(x)

    with pytest.raises(numba.core.errors.TypingError):
        call(jvp, x)


def _numeric_in_worker(function, x):
    return function(x), type(function).__name__


@pytest.mark.slow
def test_numeric_function_in_spawn_pool(rosen_gradient, rosen_with_value):
    x = np.array([0.25, -0.5])
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        grad, name = pool.apply(_numeric_in_worker, (rosen_gradient, x))
        (grad2, value), _ = pool.apply(_numeric_in_worker, (rosen_with_value, x))
    assert name == "NumericFunction"
    np.testing.assert_array_equal(grad, rosen_gradient(x))
    np.testing.assert_array_equal(grad2, grad)
    assert value == rosen_with_value(x)[1]
    clone = pickle.loads(pickle.dumps(rosen_gradient))
    assert type(clone) is type(rosen_gradient)
    np.testing.assert_array_equal(clone(x), grad)


# --------------------------------------------------------------------------------------
# The public API with backend="numba", against the NumPy backend


def _model(x):
    snp = pytest.importorskip("symnum.numpy")
    return snp.array([snp.sin(x[0]) * x[1] ** 2, snp.exp(x[0] - x[1]) + snp.log1p(x[1] ** 2)])


def _scalar_model(x):
    return _model(x).sum()


OPERATORS = {
    "gradient": ("gradient", _scalar_model, ()),
    "hessian": ("hessian", _scalar_model, ()),
    "jacobian": ("jacobian", _model, ()),
    "jvp": ("jacobian_vector_product", _model, ((2,),)),
    "vjp": ("vector_jacobian_product", _model, ((2,),)),
    "hvp": ("hessian_vector_product", _scalar_model, ((2,),)),
    "mhp": ("matrix_hessian_product", _model, ((2, 2, 2),)),
    "mtp": ("matrix_tressian_product", _scalar_model, ((2, 2, 2),)),
}


@pytest.fixture(scope="module")
def api():
    return pytest.importorskip("symnum")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPERATORS))
def test_operators_match_numpy_backend(api, name):
    operator, func, product_shapes = OPERATORS[name]
    built = {
        backend: getattr(api, operator)(func, (2,), backend=backend, return_aux=True)
        for backend in ("numba", "numpy")
    }
    assert built["numba"].backend == "numba"
    rng = np.random.default_rng(7)
    for x in (rng.normal(size=2), rng.normal(size=(3, 2))):
        fast, reference = built["numba"](x), built["numpy"](x)
        for result, reference_result in zip(fast, reference, strict=True):
            got, expected = result, reference_result
            if callable(expected):  # an operator-valued result (a bound closure)
                if x.ndim == 2:
                    continue
                arg = rng.normal(size=product_shapes[0])
                got, expected = result(arg), reference_result(arg)
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_public_gradient_in_user_njit(api):
    g = api.gradient(_scalar_model, (2,), backend="numba")

    @numba.njit
    def total(xs):
        acc = np.zeros(2)
        for k in range(xs.shape[0]):
            acc += g(xs[k])
        return acc

    xs = np.random.default_rng(8).normal(size=(5, 2))
    np.testing.assert_allclose(total(xs), g(xs).sum(axis=0), rtol=1e-13)
    assert g.njit_batch(xs).shape == (5, 2)


def test_jit_true_builds_operator_valued_results(api):
    # SymNum 0.2.1 fails here: its returned closures are not numba-compatible
    mhp = api.matrix_hessian_product(_model, (2,), jit=True)
    assert mhp.backend == "numba"
    x, m = np.array([0.3, -0.7]), np.random.default_rng(9).normal(size=(2, 2, 2))
    reference = api.matrix_hessian_product(_model, (2,), backend="numpy")
    np.testing.assert_allclose(mhp(x)(m), reference(x)(m), rtol=1e-12)


# --------------------------------------------------------------------------------------
# Large bodies cut into parts (njit functions passing values through a scratch array);
# forced here on small functions


@pytest.fixture
def parts(monkeypatch):
    monkeypatch.setattr(nb_parts, "PART_SIZE", 3)


def test_parts_ops_match_interpreter(parts):
    interpret = pytest.importorskip("symnum.ir.interpret")
    fn = all_ops_function("parts_ops", REAL_OPS)
    source = nb_backend.emit(fn)
    assert "def parts_ops_part0(" in source.text
    assert any(part.name == "parts_ops_part1" for part in source.parts)
    kernel = nb_backend.build(source)
    with np.errstate(all="ignore"):
        expected = np.array([interpret.evaluate(fn, point) for point in PAIRS])
    np.testing.assert_allclose(kernel.batch(PAIRS), expected, rtol=1e-12, equal_nan=True)
    loop = np.array([kernel.point(np.ascontiguousarray(p)) for p in PAIRS[::5]])
    np.testing.assert_allclose(loop, expected[::5], rtol=1e-12, equal_nan=True)


def long_sums_function(count: int) -> Function:
    """Two sums and a product of ``count`` terms each, reading the terms in the reverse
    of the order they are computed in (as traced sums do); a complex term in the middle
    of the second sum."""
    params = (Param("x", (3,)), Param("z", (), "complex128"))
    body, groups = [], []
    for group in range(3):
        first = 2 * count * group
        body += [
            Assign(first + k, Op.MUL, (Elem("x", k % 3), Const(1.0 + (k + group) / 7)))
            for k in range(count)
        ]
        body += [
            Assign(first + count + k, Op.SIN if k % 2 else Op.COS, (Var(first + k),))
            for k in range(count)
        ]
        groups.append([Var(first + count + k) for k in reversed(range(count))])
    total = 6 * count
    half = count // 2
    body += [
        Assign(total, Op.ADD, tuple(groups[0])),
        Assign(total + 1, Op.ADD, (*groups[1][:half], Elem("z", 0), *groups[1][half:])),
        Assign(total + 2, Op.MUL, (*groups[2], Const(2.0))),
    ]
    outputs = (
        Output((), (Var(total),)),
        Output((2,), (Var(total + 1), Var(total + 2)), "complex128"),
    )
    return Function("long_sums", params, tuple(body), outputs)


def test_parts_long_sums_in_partial_results(monkeypatch):
    interpret = pytest.importorskip("symnum.ir.interpret")
    monkeypatch.setattr(nb_parts, "PART_SIZE", 300)
    count = 3 * nb_parts.VARIADIC_CHUNK + 10
    fn = long_sums_function(count)
    source = nb_backend.emit(fn)
    assert "long_sums_part3(" in source.text
    # partial results, each after its terms: few values cross between parts
    assert f"t{6 * count}_1 = t{6 * count}_0 + " in source.text
    slots = int(source.text.split("w = np.empty(")[1].split(",")[0])
    assert slots < 100  # in the IR's order: most of the 3 * count terms
    kernel = nb_backend.build(source)
    rng = np.random.default_rng(5)
    xs = rng.uniform(-1.0, 1.0, size=(4, 3))
    zs = np.array([0.5 - 0.25j, 1j, -2.0, 0.0])
    value, pair = kernel.batch(xs, zs)
    for k in range(4):
        want_value, want_pair = interpret.evaluate(fn, xs[k], np.array(zs[k]))
        # the sums in the same order as the whole expression; the terms may differ in
        # their last bit (compiled cos and sin)
        np.testing.assert_allclose(value[k], want_value, rtol=1e-13)
        np.testing.assert_allclose(pair[k], want_pair, rtol=1e-13)
        p_value, p_pair = kernel.point(xs[k], np.array(zs[k]))
        assert p_value == value[k]
        np.testing.assert_array_equal(p_pair, pair[k])


def test_parts_kernel_contract(parts):
    params = (Param("a", (2, 3)), Param("s", ()), Param("v", (2,)))
    body = (
        Assign(0, Op.MUL, (Elem("a", 4), Elem("s", 0))),
        Assign(1, Op.ADD, (Var(0), Elem("v", 1))),
        Assign(2, Op.SIN, (Elem("a", 0),)),
        Assign(3, Op.POW, (Var(2), Const(3.0))),
    )
    outputs = (
        Output((), (Var(1),)),
        (Output((2, 2), (Var(0), Const(0.0), Var(3), Elem("v", 0))), Output((), (Const(-1.5),))),
        Output((0,), ()),
    )
    fn = Function("nested_parts", params, body, outputs)
    source = nb_backend.emit(fn)
    assert "nested_parts_part0(" in source.text
    kernel = nb_backend.build(source)
    rng = np.random.default_rng(11)
    a, s, v = rng.normal(size=(4, 2, 3)), rng.normal(size=4), rng.normal(size=(4, 2))
    value, (matrix, constant), empty = kernel.batch(a, s, v)
    assert empty.shape == (4, 0)
    for k in range(4):
        p_value, (p_matrix, p_constant), _ = kernel.point(a[k], np.array(s[k]), v[k])
        assert type(p_value) is np.float64
        assert p_value == value[k] == a[k, 1, 1] * s[k] + v[k, 1]
        assert p_constant == constant[k] == -1.5
        np.testing.assert_array_equal(p_matrix, matrix[k])
        assert matrix[k, 1, 0] == pytest.approx(np.sin(a[k, 0, 0]) ** 3, rel=1e-15)

    point = kernel.njit

    @numba.njit
    def from_user_code(a, s, v):
        # a strided (non-contiguous) array and a plain float for the 0-d parameter
        return point(a[:, ::1], s, v[::2])[0]

    wide = np.repeat(v[:1], 2, axis=0).reshape(-1)  # (4,): v[::2] has shape (2,)
    assert from_user_code(a[0], float(s[0]), wide) == a[0, 1, 1] * s[0] + wide[2]


def test_parts_carry_complex_values(parts):
    z = Param("z", (2,), "complex128")
    body = (
        Assign(0, Op.MUL, (Elem("z", 0), Elem("z", 1))),
        Assign(1, Op.EXP, (Var(0),)),
        Assign(2, Op.ABS, (Var(1),)),
        Assign(3, Op.ADD, (Var(1), Var(0), Elem("z", 0))),
        Assign(4, Op.DIV, (Var(3), Var(2))),
    )
    fn = Function("complex_parts", (z,), body, (Output((2,), (Var(4), Var(0)), "complex128"),))
    source = nb_backend.emit(fn)
    assert "complex_parts_part1(" in source.text
    zs = np.array([[1 + 2j, -0.5 + 0.25j], [0.3j, 2.0 + 0j]])
    (got,) = nb_backend.build(source).batch(zs)
    t0 = zs[:, 0] * zs[:, 1]
    t1 = np.exp(t0)
    expected = np.stack([(t1 + t0 + zs[:, 0]) / np.abs(t1), t0], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


# --------------------------------------------------------------------------------------
# The fast entry (contract: exact float64 C-contiguous aligned arrays run the kernel,
# anything else goes to slow), and odd inputs end to end


def _unaligned(values):
    buffer = np.zeros(len(values) * 8 + 1, dtype=np.uint8)
    array = np.frombuffer(buffer[1:].data, dtype=np.float64)
    array[:] = values
    assert not array.flags.aligned
    return array


@pytest.mark.usefixtures("entry_kind")
def test_entry_runs_exact_points_and_refuses_everything_else():
    kernel = build(ROSEN_GRAD)
    calls = []

    def slow(*args):
        calls.append(args)
        return "slow"

    fast = kernel.entry(slow)
    x = np.array([0.5, 1.0])
    np.testing.assert_array_equal(fast(x), _rosen_grad_reference(x))
    assert not calls
    unusual = [
        [0.5, 1.0],  # a list
        x.astype(np.float32),
        x.astype(np.int64),
        x.astype(">f8"),  # byte-swapped
        _unaligned(x),
        np.array([0.5, 7.0, 1.0])[::2],  # strided
        np.ones(3),  # wrong shape
        np.ones((2, 2)),  # a batch
        np.ma.masked_array(x, mask=[True, False]),  # a subclass
        np.array(0.5),
        "ab",
    ]
    readonly = x.copy()
    readonly.setflags(write=False)
    unusual.append(readonly)
    for arg in unusual:
        assert fast(arg) == "slow"
        assert calls[-1][0] is arg
    assert fast(x, x) == "slow"
    assert fast() == "slow"
    assert len(calls) == len(unusual) + 2
    np.testing.assert_array_equal(fast(x), _rosen_grad_reference(x))  # still exact


def test_python_entries_check_shapes_before_numba(monkeypatch):
    """Batches and wrong shapes never reach the exact-type dispatcher: its refusal of a
    rank builds an error message (tens of microseconds a call), and the kernel's
    ShapeError, raised from compiled code, leaks memory (numba issue 1549). The C
    guards check the same (``test_backend_c.py::test_guard_checks``)."""
    monkeypatch.setattr(nb_build, "_guard_state", [None])
    fast = build(ROSEN_GRAD).entry(record)
    reached = []
    exact = fast.__globals__["_exact"]
    fast.__globals__["_exact"] = lambda *args: reached.append(args) or exact(*args)
    x = np.array([0.5, 1.0])
    np.testing.assert_array_equal(fast(x), _rosen_grad_reference(x))
    assert len(reached) == 1
    for arg in [np.ones(3), np.ones((4, 2)), np.ones((1, 2)), np.array(0.5)]:
        assert fast(arg) == ("slow", (arg,), {})
    assert len(reached) == 1


@pytest.mark.usefixtures("entry_kind")
@pytest.mark.parametrize("captured", [False, True])
def test_entry_errors_are_not_chained_to_numbas_refusal(captured):
    """What ``slow`` raises for a call the dispatcher refused (here a wrong shape, which
    the kernel itself rejects) has no ``__context__``: the user's traceback shows the
    function's own error, not numba's or the kernel's first."""

    def slow(*args):
        raise ValueError("the checked path's error")

    if captured:
        outer, closures = ir.split_closures(JVP)
        values, _ = build(outer).point(np.array([0.3, -1.2]))
        (inner,) = [build(c) for c in closures if c is not None]
        fast = inner.entry(slow, values)
    else:
        fast = build(ROSEN_GRAD).entry(slow)
    with pytest.raises(ValueError, match="the checked path's error") as raised:
        fast(np.ones(3))
    assert raised.value.__context__ is None


@pytest.mark.usefixtures("entry_kind")
def test_entry_with_captured_values_and_scalar_outputs():
    outer, closures = ir.split_closures(JVP)
    captured, _ = build(outer).point(np.array([0.3, -1.2]))
    (inner,) = [build(c) for c in closures if c is not None]
    fast = inner.entry(lambda *args: ("slow", args), captured)
    v = np.array([0.5, 2.0])
    value = fast(v)
    assert type(value) is np.float64
    assert value == pytest.approx(np.cos(0.3) * 0.5 + 2 * -1.2 * 2.0)
    # slow gets the caller's arguments only, not the captured values
    assert fast([0.5, 2.0]) == ("slow", ([0.5, 2.0],))
    assert fast(v.astype(">f8"))[0] == "slow"


# --------------------------------------------------------------------------------------
# Method and closure entries: operator-valued results


class Bound:
    """Stands for NumericFunction's BoundClosure classes (``__slots__``, no ``__init__``)."""

    __slots__ = ("captured",)


def record(*args, **kwargs):
    """A ``slow`` that reports how it was called."""
    return ("slow", args, kwargs)


CLOSURE_LIKE = Function(
    "closure_like",
    (Param("c", (2,)), Param("v", (2,))),
    (Assign(0, Op.MUL, (Elem("c", 0), Elem("v", 1))),),
    Output((), (Var(0),)),
)


@pytest.mark.usefixtures("entry_kind")
def test_method_entry_binds_the_instance_captures():
    kernel = build(CLOSURE_LIKE)
    cls = type("Product", (Bound,), {"__slots__": (), "__call__": kernel.method_entry(record)})
    product = cls()
    product.captured = np.array([2.0, 5.0])
    v = np.array([1.0, 3.0])
    assert product(v) == 6.0
    assert type(product(v)) is np.float64
    assert type(product).__call__(product, v) == 6.0  # a method: binds like one
    assert product([1.0, 3.0]) == ("slow", (product, [1.0, 3.0]), {})
    readonly = v.copy()
    readonly.flags.writeable = False
    unusual = [
        (), (v, v), (np.ones(3),), (np.ones((4, 2)),), (v.astype(np.float32),),
        (v.astype(">f8"),), (np.array([1.0, 7.0, 3.0])[::2],), (readonly,),
        (np.ma.masked_array(v),), (np.array(1.0),), ("ab",),
    ]  # fmt: skip
    for args in unusual:
        got = product(*args)
        assert got[0] == "slow"
        assert got[1][0] is product
        assert len(got[1]) == 1 + len(args)
        assert all(a is b for a, b in zip(got[1][1:], args, strict=True))
        assert got[2] == {}
    assert product(v=v) == ("slow", (product,), {"v": v})
    assert product(v, v=v) == ("slow", (product, v), {"v": v})
    # captures the entry cannot take as they are go to the checked path too
    for captured in [
        np.array([[2.0, 5.0]]),  # batched
        [2.0, 5.0],
        np.array([2, 5]),
        np.ones(3),
        np.ma.masked_array([2.0, 5.0]),
    ]:
        product.captured = captured
        assert product(v) == ("slow", (product, v), {})
    product.captured = np.array([2.0, 5.0])
    assert product(v) == 6.0  # still exact


@pytest.mark.usefixtures("entry_kind")
def test_closure_entry_wraps_closure_outputs():
    x0, x1 = Elem("x", 0), Elem("x", 1)
    fn = Function(
        "outer",
        (Param("x", (2,)),),
        (Assign(0, Op.MUL, (x0, x1)), Assign(1, Op.LOG, (x1,))),
        (Output((2,), (Var(0), x0)), (Output((), (Var(1),)), Output((1,), (x1,)))),
    )
    kernel = build(fn)
    closures = type("First", (Bound,), {"__slots__": ()}), type("Third", (Bound,), {})
    entry = kernel.closure_entry(record, [closures[0], None, closures[1]])
    with np.errstate(all="ignore"):
        for x in [np.array([2.0, 3.0]), np.array([2.0, 0.0]), np.array([2.0, -1.0])]:
            first, (value, third) = entry(x)
            assert type(first) is closures[0]
            assert type(third) is closures[1]
            np.testing.assert_array_equal(first.captured, [x[0] * x[1], x[0]])
            np.testing.assert_array_equal(value, np.log(x[1]))  # IEEE: -inf, nan
            assert type(value) is np.float64
            np.testing.assert_array_equal(third.captured, [x[1]])
            assert type(first.captured) is np.ndarray
    x = np.array([2.0, 3.0])
    assert entry([2.0, 3.0]) == ("slow", ([2.0, 3.0],), {})
    for args in [(np.ones((3, 2)),), (np.ones(3),), (x.astype(np.float32),), (), (x, x)]:
        got = entry(*args)
        assert got[0] == "slow"
        assert all(a is b for a, b in zip(got[1], args, strict=True))
    got = entry(x=np.ones(2))
    assert got[:2] == ("slow", ())
    assert got[2].keys() == {"x"}
    # no closure outputs: the point's outputs as they are
    plain = kernel.closure_entry(record, [None, None, None])
    first, (value, third) = plain(x)
    np.testing.assert_array_equal(first, [6.0, 2.0])
    assert value == np.log(3.0)
    assert type(value) is np.float64
    np.testing.assert_array_equal(third, [3.0])
    with pytest.raises(TypeError, match="one item per output"):
        kernel.closure_entry(record, [Bound, None])


@pytest.mark.usefixtures("entry_kind")
def test_entries_of_complex_kernels():
    z = Elem("z", 0)
    fn = Function(
        "cplx",
        (Param("z", (1,), "complex128"),),
        (Assign(0, Op.MUL, (z, Const(2j))),),
        (Output((1,), (Var(0),), "complex128"), Output((), (z,), "complex128")),
    )
    entry = build(fn).closure_entry(record, [Bound, None])
    bound, value = entry(np.array([0.5 + 1j]))
    assert type(bound) is Bound
    np.testing.assert_array_equal(bound.captured, [(0.5 + 1j) * 2j])
    assert bound.captured.dtype == np.complex128
    assert value == 0.5 + 1j
    assert type(value) is np.complex128
    assert entry(np.array([0.5]))[0] == "slow"  # real input: the checked path converts
    assert entry(np.array([0.5j, 1j]))[0] == "slow"
    inner = Function(
        "cplx_inner",
        (Param("c", (1,), "complex128"), Param("w", (), "complex128")),
        (Assign(0, Op.MUL, (Elem("c", 0), Elem("w", 0))),),
        Output((), (Var(0),), "complex128"),
    )
    product = type("Product", (Bound,), {"__call__": build(inner).method_entry(record)})()
    product.captured = bound.captured
    got = product(np.array(1j))
    assert type(got) is np.complex128
    assert got == (0.5 + 1j) * 2j * 1j
    assert product(np.array(1.0))[0] == "slow"
    assert product(1j)[0] == "slow"


@pytest.mark.usefixtures("entry_kind")
def test_entries_names_never_collide_with_parameters():
    # parameters named like the locals and globals of the generated entries
    names = ("self", "args", "kwargs", "a0", "r0", "b0", "_slow", "_exact", "_new", "type")
    params = tuple(Param(name, ()) for name in names)
    fn = Function(
        "f",
        params,
        (Assign(0, Op.ADD, tuple(Elem(name, 0) for name in names)),),
        (Output((1,), (Var(0),)), Output((), (Elem("self", 0),))),
    )
    kernel = build(fn)
    args = [np.array(float(k)) for k in range(len(names))]
    product = type("Product", (Bound,), {"__call__": kernel.method_entry(record)})()
    product.captured = args[0]
    total, first = product(*args[1:])
    np.testing.assert_array_equal(total, [45.0])
    assert first == 0.0
    bound, value = kernel.closure_entry(record, [Bound, None])(*args)
    np.testing.assert_array_equal(bound.captured, [45.0])
    assert value == 0.0


@pytest.mark.usefixtures("entry_kind")
def test_functions_without_parameters_have_entries():
    fn = Function("const", (), (), Output((2,), (Const(1.0), Const(2.0))))
    kernel = build(fn)
    bound = kernel.closure_entry(record, [Bound])()
    assert type(bound) is Bound
    np.testing.assert_array_equal(bound.captured, [1.0, 2.0])
    assert kernel.closure_entry(record, [Bound])(1.0) == ("slow", (1.0,), {})


@pytest.fixture(scope="module", params=list(PRODUCTS))
def product_case(request):
    """(name, numba operator, a point, an argument of the operator)."""
    rng = np.random.default_rng(len(request.param))
    shape = PRODUCTS[request.param][2]
    return (
        request.param,
        operator(request.param, "numba"),
        rng.normal(size=2),
        rng.normal(size=shape),
    )


def test_operators_use_the_generated_entries(product_case):
    from symnum import BoundClosure, NumericFunction

    _, op, x, arg = product_case
    # f(x) runs the outer kernel's closure entry, p(v) the closure kernel's method entry
    assert _is_entry(_entry_of(type(op)), "closure-entry")
    product = op(x)
    assert isinstance(product, BoundClosure)
    assert _is_entry(_entry_of(type(product)), "method-entry")
    if C_ENTRIES:  # neither call runs a Python frame
        assert python_frames(lambda: product(arg)) == ["<lambda>"]
        assert python_frames(lambda: op(x)(arg)) == ["<lambda>"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(NumericFunction, "_checked", lambda *a, **k: pytest.fail("slow path"))
        got = op(x)(arg)
    assert not hasattr(product, "_call")  # BoundClosure.__call__ did not run
    assert type(got) is np.ndarray
    assert got.shape == (2,)


def test_products_equal_the_checked_paths(product_case):
    name, op, x, arg = product_case
    got = op(x)(arg)
    # the checked paths give the same values bit for bit, and so do numpy's kernels
    slow = type(op)._slow(op, x)
    np.testing.assert_array_equal(slow.captured, op(x).captured)
    np.testing.assert_array_equal(got, slow._slow(arg))
    np.testing.assert_allclose(got, operator(name)(x)(arg), rtol=1e-13)
    tolerance = {"rtol": 1e-6, "atol": 1e-6} if name in ("mhp", "mtp") else {"rtol": 1e-13}
    np.testing.assert_allclose(got, reference_product(name, x, arg), **tolerance)


def test_products_of_batches_and_lists(product_case):
    _, op, x, arg = product_case
    check_batches_and_lists(op, x, arg)


def test_products_refuse_what_they_refused(product_case):
    name, op, x, arg = product_case
    check_refusals(name, op, x, arg)


def test_pickled_operators_and_products(product_case):
    _, op, x, arg = product_case
    product = op(x)
    expected = product(arg)
    clone = pickle.loads(pickle.dumps(op))
    assert _is_entry(_entry_of(type(clone)), "closure-entry")
    np.testing.assert_array_equal(clone(x)(arg), expected)
    again = pickle.loads(pickle.dumps(product))
    assert _is_entry(_entry_of(type(again)), "method-entry")
    np.testing.assert_array_equal(again(arg), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(op(x[None])))(arg), [expected])
    both = pickle.loads(pickle.dumps((op, product)))
    np.testing.assert_array_equal(both[0](x)(arg), both[1](arg))


def test_products_with_aux_outputs_and_ieee_points():
    import symnum
    import symnum.numpy as snp

    hvp = operator("hvp", "numba", return_aux=True)
    x, v = np.array([0.2, -0.4]), np.array([0.5, -1.0])
    product, grad, value = hvp(x)
    np.testing.assert_array_equal(product(v), operator("hvp", "numba")(x)(v))
    np.testing.assert_array_equal(grad, symnum.gradient(neg_log_dens, (2,), backend="numba")(x))
    assert type(value) is np.float64
    assert (product, grad, value)[0].captured.dtype == np.float64
    jvp = symnum.jacobian_vector_product(snp.log, (2,), return_aux=True, backend="numba")
    with np.errstate(all="ignore"):
        product, value = jvp(np.array([0.0, 2.0]))
        np.testing.assert_array_equal(value, [-np.inf, np.log(2.0)])
        np.testing.assert_array_equal(product(np.array([1.0, 4.0])), [np.inf, 2.0])
        np.testing.assert_array_equal(product(np.array([0.0, 4.0]))[1], 2.0)


@pytest.mark.parametrize("batch", [False, True], ids=["point", "batch"])
def test_odd_inputs_are_converted_not_misread(rosen_gradient, batch):
    x = np.array([[0.5, 1.0], [2.0, -1.0]]) if batch else np.array([0.5, 1.0])
    expected = _rosen_grad_reference(x)
    for _ in range(2):  # first call and later calls
        np.testing.assert_array_equal(rosen_gradient(x), expected)
        for odd in (
            x.astype(">f8"),
            _unaligned(x.ravel()).reshape(x.shape),
            x.astype(np.float32).astype(">f4"),
            np.asfortranarray(x),
        ):
            got = rosen_gradient(odd)
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, expected, rtol=1e-6 if odd.itemsize == 4 else 0)


# --------------------------------------------------------------------------------------
# Any valid identifier is a valid argument or function name

LONG = "f" * 300
NAMES = [
    "_x", "__x", "_", "_sn_cdiv", "_sn_polygamma", "_sn_scalar", "_sn_fill", "k", "v0", "abs",
    "float", "complex", "range", "ValueError", "w", "wc", "i", "n", "t0", "out0", "r0", "numba",
    "cmath", "int", "double", "static", "register", "linux", "unix", "match", "case",
    "print", LONG + "_arg",
]  # fmt: skip


def _named_function(symnum, names, func_name):
    snp = pytest.importorskip("symnum.numpy")
    args = [symnum.named_array(name, (2,)) for name in names]
    expr = sum(snp.exp(a[0]) * snp.abs(a[1]) + a[0] * (k + 1) for k, a in enumerate(args))
    f = symnum.generate_func(args, (expr, args[0] * args[-1]), func_name, backend="numba")
    values = [np.array([0.01 * k, 1.0 - 0.05 * k]) for k in range(len(names))]
    want = sum(np.exp(v[0]) * abs(v[1]) + v[0] * (k + 1) for k, v in enumerate(values))
    return f, values, want


@pytest.mark.slow
def test_any_identifier_works_as_a_name():
    symnum = pytest.importorskip("symnum")
    f, values, want = _named_function(symnum, NAMES, LONG)
    value, product = f(*values)
    assert value == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(product, values[0] * values[-1], rtol=1e-15)
    batch_value, _ = f(*(np.stack([v, v]) for v in values))
    np.testing.assert_allclose(batch_value, [want, want], rtol=1e-12)


@pytest.mark.parametrize("func_name", ["__f", "abs", LONG])
def test_any_identifier_works_in_parts(func_name, monkeypatch):
    symnum = pytest.importorskip("symnum")
    monkeypatch.setattr(nb_parts, "PART_SIZE", 12)
    names = ["_x", "w", "_sn_fill", f"{func_name}_part0", LONG + "_arg"]
    f, values, want = _named_function(symnum, names, func_name)
    assert "_part1(" in f.source
    value, product = f(*values)
    assert value == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(product, values[0] * values[-1], rtol=1e-15)
