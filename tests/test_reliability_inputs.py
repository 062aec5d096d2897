"""Reliability: odd but valid inputs, bad inputs, and a property-based sweep.

* Odd but valid inputs (Python lists and scalars, float32, integer and boolean arrays,
  Fortran-ordered, strided and read-only arrays, 0-d arrays, NaN and inf, empty batch
  dimensions) give the same answer on every backend as a plain NumPy reference, with
  IEEE semantics: no exception and no warning (every call runs with warnings turned
  into errors).
* Bad inputs (wrong shapes, wrong argument count, strings, objects, complex input to a
  real function) raise the same error type on every backend, and before any kernel
  runs: the function's kernel entry points are replaced by traps for these calls.
* A hypothesis sweep throws random shapes, dtypes, layouts and values at every backend:
  each call gives the numpy backend's answer (itself checked against NumPy) or a clean
  ValueError / TypeError. The C backend's sweep also runs in a subprocess, so a crash
  shows as a failed exit code instead of killing pytest.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

BACKENDS = ["numpy", "numba", "c"]


# --------------------------------------------------------------------------------------
# The functions and their NumPy references


def _f(x, s):
    """x: (3,), s: () -> ((), (3,)); every op here has a non-finite corner."""
    import symnum.numpy as snp

    value = snp.sum(x**2) * s + snp.sin(x[0]) + snp.exp(x[1]) + snp.log(x[2]) + x[0] / s
    return value, snp.sqrt(x) * s + x[2] ** 3


def _f_ref(x, s):
    x, s = np.asarray(x, dtype=float), np.asarray(s, dtype=float)
    batch = np.broadcast_shapes(x.shape[:-1], s.shape)
    with np.errstate(all="ignore"):
        value = (
            np.sum(x**2, axis=-1) * s
            + np.sin(x[..., 0])
            + np.exp(x[..., 1])
            + np.log(x[..., 2])
            + x[..., 0] / s
        )
        array = np.sqrt(x) * s[..., None] + x[..., 2:3] ** 3
        return np.broadcast_to(value, batch), np.broadcast_to(array, (*batch, 3))


def _g(a, v):
    """a: (2, 3), v: (3,) -> ((2,), ())."""
    import symnum.numpy as snp

    return a @ v, snp.sum(a * a) - a[1, 0]


def _g_ref(a, v):
    a, v = np.asarray(a, dtype=float), np.asarray(v, dtype=float)
    batch = np.broadcast_shapes(a.shape[:-2], v.shape[:-1])
    value = np.sum(a * a, axis=(-2, -1)) - a[..., 1, 0]
    return np.einsum("...ij,...j->...i", a, v), np.broadcast_to(value, batch)


def _h(x):
    import symnum.numpy as snp

    return snp.array([x[0] * x[1], snp.sin(x[1]) + x[2] ** 2])


def _jvp_ref(x, v):
    x, v = np.asarray(x, dtype=float), np.asarray(v, dtype=float)
    j0 = np.stack([x[..., 1], x[..., 0], np.zeros_like(x[..., 0])], axis=-1)
    j1 = np.stack([np.zeros_like(x[..., 0]), np.cos(x[..., 1]), 2 * x[..., 2]], axis=-1)
    return np.stack([np.sum(j0 * v, axis=-1), np.sum(j1 * v, axis=-1)], axis=-1)


_functions: dict[str, dict] = {}


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("inputs-cache")


def build(backend: str) -> dict:
    import symnum

    return {
        "f": symnum.numpify(_f, (3,), (), backend=backend),
        "g": symnum.numpify(_g, (2, 3), (3,), backend=backend),
        "jvp": symnum.jacobian_vector_product(_h, (3,), backend=backend),
    }


@pytest.fixture
def funcs(backend, module_cache, monkeypatch):
    """The functions of ``backend`` (built once per session, in a module cache)."""
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(module_cache))
    if backend not in _functions:
        _functions[backend] = build(backend)
    return _functions[backend]


def _strict_call(func, *args):
    """Call with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return func(*args)


def _assert_same(got, want, what=""):
    if isinstance(want, tuple):
        assert isinstance(got, tuple), what
        for g_, w_ in zip(got, want, strict=True):
            _assert_same(g_, w_, what)
        return
    got = np.asarray(got)
    assert got.dtype == np.float64, f"{what}: dtype {got.dtype}"
    assert got.shape == np.shape(want), f"{what}: shape {got.shape} != {np.shape(want)}"
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=what)


# --------------------------------------------------------------------------------------
# Odd but valid inputs


def _readonly(a):
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


def _unaligned(a):
    """A copy of ``a`` (float64) at an odd address: not aligned for doubles."""
    a = np.asarray(a, dtype=float)
    u = np.frombuffer(bytearray(a.nbytes + 1), dtype=float, count=a.size, offset=1)
    u = u.reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


def _swapped(a):
    """``a`` as big- or little-endian float64, whichever is not native."""
    a = np.asarray(a, dtype=float)
    return a.astype(a.dtype.newbyteorder("S"))


X = np.array([0.3, -1.2, 2.0])
A = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
V = np.array([0.5, 2.0, -1.5])

ODD_F = {
    "lists and python float": ([0.3, -1.2, 2.0], 1.5),
    "python int scalar": (X, 2),
    "numpy scalar types": (X, np.float32(1.5)),
    "0-d array": (X, np.array(1.5)),
    "0-d int array": (X, np.array(2)),
    "float32": (X.astype(np.float32), np.float32(0.75)),
    "int arrays": (np.array([1, -2, 3]), np.int64(2)),
    "int8 and uint8": (np.array([1, 2, 3], dtype=np.int8), np.uint8(3)),
    "bool": (np.array([True, False, True]), True),
    "strided": (np.arange(9.0)[::3] - 2.5, 1.5),
    "negative stride": (X[::-1].copy()[::-1], 1.5),
    "read-only": (_readonly(X), _readonly(1.5)),
    "nan": (np.array([np.nan, 1.0, 2.0]), 1.5),
    "inf": (np.array([np.inf, -np.inf, np.inf]), 1.5),
    "overflow": (np.array([1e200, 800.0, 1e300]), 1e300),
    "domain errors": (np.array([-1.0, 0.0, -2.0]), 0.0),
    "zero divisor": (X, 0.0),
    "negative zero": (np.array([-0.0, -0.0, 0.0]), -0.0),
    "nan scalar": (X, np.nan),
    "inf scalar": (X, -np.inf),
    "batch": (np.stack([X, 2 * X, -X]), np.array([1.0, 2.0, 3.0])),
    "batch of scalars only": (X, np.array([[1.5, 2.0], [-1.0, 0.5]])),
    "batch with scalar broadcast": (np.stack([X, 2 * X]), 1.5),
    "batch broadcast both ways": (np.stack([X, 2 * X])[:, None, :], np.array([1.0, 2.0, 3.0])),
    "batch Fortran": (np.asfortranarray(np.stack([X, 2 * X, -X])), 1.5),
    "batch strided": (np.stack([X, 2 * X, -X, X])[::2], np.array([1.0, 2.0])),
    "batch read-only": (_readonly(np.stack([X, 2 * X])), _readonly([1.0, 2.0])),
    "batch lists": ([[0.3, -1.2, 2.0], [1.0, 2.0, 3.0]], [1.5, 2.5]),
    "batch float32": (np.stack([X, 2 * X]).astype(np.float32), np.float32(2.0)),
    "batch non-finite": (np.array([[np.nan, np.inf, -1.0], [0.0, -np.inf, 0.0]]), 0.0),
    "empty batch": (np.zeros((0, 3)), 1.5),
    "empty batch both": (np.zeros((0, 3)), np.zeros((0,))),
    "empty batch broadcast": (np.zeros((0, 3)), np.ones((1,))),
    "empty nested batch": (np.zeros((2, 0, 3)), np.ones((2, 1))),
    "byte-swapped": (_swapped(X), _swapped(1.5)),
    "byte-swapped vector, float scalar": (_swapped(X), 1.5),
    "unaligned": (_unaligned(X), _unaligned(1.5)),
    "batch byte-swapped": (_swapped(np.stack([X, 2 * X])), _swapped([1.0, 2.0])),
    "batch unaligned": (_unaligned(np.stack([X, 2 * X])), _unaligned([1.0, 2.0])),
    "byte-swapped float32": (X.astype(">f4"), np.array(1.5, dtype="<f4")),
}


@pytest.mark.parametrize("case", sorted(ODD_F))
def test_odd_valid_inputs_f(funcs, backend, case):
    x, s = ODD_F[case]
    got = _strict_call(funcs["f"], x, s)
    _assert_same(got, _f_ref(x, s), f"{backend}: {case}")
    if np.ndim(x) == 1 and np.ndim(s) == 0:
        assert isinstance(got[0], np.float64), type(got[0])


ODD_G = {
    "Fortran matrix": (np.asfortranarray(A), V),
    "transposed view": (np.ascontiguousarray(A.T).T, V),
    "strided matrix": (np.arange(24.0).reshape(4, 6)[::2, ::2] / 7, V),
    "column of a matrix": (A, np.ascontiguousarray(np.stack([V, V], axis=1))[:, 0]),
    "read-only": (_readonly(A), _readonly(V)),
    "nested lists": (A.tolist(), V.tolist()),
    "float32 and int": (A.astype(np.float32), np.array([1, 2, 3])),
    "batch Fortran": (np.asfortranarray(np.stack([A, 2 * A])), V),
    "batch of v only": (A, np.stack([V, -V, 2 * V])),
    "empty batch": (np.zeros((0, 2, 3)), V),
    "non-finite": (np.array([[np.inf, 0.0, 1.0], [np.nan, 1.0, -np.inf]]), V),
}


@pytest.mark.parametrize("case", sorted(ODD_G))
def test_odd_valid_inputs_matrix_argument(funcs, backend, case):
    a, v = ODD_G[case]
    _assert_same(_strict_call(funcs["g"], a, v), _g_ref(a, v), f"{backend}: {case}")


ODD_CLOSURE = {
    "lists": (X.tolist(), V.tolist()),
    "float32 v": (X, V.astype(np.float32)),
    "int v": (X, np.array([1, 0, -1])),
    "read-only": (_readonly(X), _readonly(V)),
    "strided v": (X, np.stack([V, V], axis=1)[:, 1]),
    "batch of v": (X, np.stack([V, 2 * V])),
    "batch of x": (np.stack([X, -X]), V),
    "empty batch": (np.zeros((0, 3)), V),
    "nan": (np.array([np.nan, 1.0, np.inf]), V),
    "byte-swapped": (_swapped(X), _swapped(V)),
    "unaligned": (_unaligned(X), _unaligned(V)),
    "batch byte-swapped v": (X, _swapped(np.stack([V, 2 * V]))),
}


@pytest.mark.parametrize("case", sorted(ODD_CLOSURE))
def test_odd_valid_inputs_operator_valued(funcs, backend, case):
    x, v = ODD_CLOSURE[case]
    product = _strict_call(funcs["jvp"], x)
    got = _strict_call(product, v)
    _assert_same(got, _jvp_ref(np.asarray(x, dtype=float)[..., :], v), f"{backend}: {case}")


def test_outputs_are_fresh_arrays(funcs):
    """Outputs never alias inputs or each other's storage across calls."""
    f = funcs["g"]
    first = f(A, V)
    second = f(A, V)
    assert not np.shares_memory(first[0], second[0])
    first[0][:] = 0.0
    _assert_same(f(A, V), _g_ref(A, V))


def test_inputs_are_not_modified(funcs):
    a, v = np.asfortranarray(A), V.copy()
    a_before, v_before = a.copy(), v.copy()
    funcs["g"](a, v)
    funcs["g"](np.stack([a, a]), v)
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(v, v_before)


# --------------------------------------------------------------------------------------
# Bad inputs: same error type on every backend, before any kernel runs


class _KernelCalledError(AssertionError):
    pass


@pytest.fixture
def trapped(funcs, monkeypatch):
    """``funcs`` whose kernels raise if reached (through the checked call path)."""

    def trap(*args, **kwargs):
        raise _KernelCalledError("a kernel ran on invalid input")

    for func in funcs.values():
        for attr in ("_point", "_batch"):
            monkeypatch.setattr(func, attr, trap)
    return funcs


class _Weird:
    def __float__(self):
        return 1.0


BAD_F = {
    "too long": ((np.ones(4), 1.0), ValueError),
    "too short": ((np.ones(2), 1.0), ValueError),
    "scalar for vector": ((1.0, 1.0), ValueError),
    "trailing 1": ((np.ones((3, 1)), 1.0), ValueError),
    "batch mismatch": ((np.ones((2, 3)), np.ones(3)), ValueError),
    "batch mismatch 2-d": ((np.ones((2, 4, 3)), np.ones((3, 4))), ValueError),
    "empty vector": ((np.ones(0), 1.0), ValueError),
    "too few args": ((X,), TypeError),
    "no args": ((), TypeError),
    "too many args": ((X, 1.0, 1.0), TypeError),
    "string": (("abc", 1.0), TypeError),
    "string scalar": ((X, "1.5"), TypeError),
    "bytes": ((b"abc", 1.0), TypeError),
    "list of strings": ((["1", "2", "3"], 1.0), TypeError),
    "str array": ((np.array(["a", "b", "c"]), 1.0), TypeError),
    "None": ((None, 1.0), TypeError),
    "None scalar": ((X, None), TypeError),
    "object array of floats": ((np.array([1.0, 2.0, 3.0], dtype=object), 1.0), TypeError),
    "object": ((X, object()), TypeError),
    "float-like object": ((X, _Weird()), TypeError),
    "dict": (({"a": 1}, 1.0), TypeError),
    "ragged list": (([[1.0, 2.0, 3.0], [1.0]], 1.0), TypeError),
    "huge int": (([10**400, 1, 2], 1.0), TypeError),
    "complex array": ((X + 1j, 1.0), TypeError),
    "complex scalar": ((X, 1j), TypeError),
    "complex list": (([1j, 2.0, 3.0], 1.0), TypeError),
    "complex batch": ((np.ones((2, 3), dtype=complex), 1.0), TypeError),
    "datetime": ((np.array(["2020-01-01"] * 3, dtype="datetime64[D]"), 1.0), TypeError),
    "timedelta": ((np.array([1, 2, 3], dtype="timedelta64[s]"), 1.0), TypeError),
    "structured": ((np.zeros(3, dtype=[("a", float)]), 1.0), TypeError),
    "masked array": ((np.ma.masked_array(X, mask=[False, True, False]), 1.0), TypeError),
    "masked, nothing masked": ((np.ma.masked_array(X), 1.0), TypeError),
    "masked scalar": ((X, np.ma.masked_array(1.5)), TypeError),
    "33 batch dimensions": ((np.ones((1,) * 33 + (3,)), 1.0), ValueError),
    "33 batch dimensions, all arguments": (
        (np.ones((1,) * 33 + (3,)), np.ones((1,) * 33)),
        ValueError,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_F))
def test_bad_inputs_same_error_before_kernel(trapped, backend, case):
    args, error = BAD_F[case]
    with pytest.raises(error) as info:
        trapped["f"](*args)
    assert type(info.value) in (ValueError, TypeError), repr(info.value)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((np.ones((3, 2)), V), ValueError),  # transposed shape
        ((np.ones(6), V), ValueError),  # right size, wrong shape
        ((A, np.ones(2)), ValueError),
        ((A.astype(complex), V), TypeError),
        ((A, V.astype(object)), TypeError),
        ((A,), TypeError),
    ],
    ids=["transposed", "flat", "short v", "complex", "object", "missing v"],
)
def test_bad_inputs_matrix_argument(trapped, backend, args, error):
    with pytest.raises(error):
        trapped["g"](*args)


@pytest.mark.parametrize(
    ("v", "error"),
    [
        (np.ones(2), ValueError),
        (np.ones((2, 2)), ValueError),
        ("abc", TypeError),
        (V + 1j, TypeError),
        (np.array([None] * 3), TypeError),
    ],
    ids=["short", "matrix", "string", "complex", "object"],
)
def test_bad_inputs_operator_valued(funcs, backend, v, error):
    product = funcs["jvp"](X)
    with pytest.raises(error):
        product(v)
    with pytest.raises(TypeError):
        product()
    with pytest.raises(TypeError):
        product(V, V)


def test_masked_array_error_names_the_argument(funcs, backend):
    with pytest.raises(TypeError, match=r"argument 'x' is a masked array"):
        funcs["f"](np.ma.masked_array(X, mask=[False, True, False]), 1.0)
    product = funcs["jvp"](X)
    with pytest.raises(TypeError, match=r"masked array"):
        product(np.ma.masked_array(V))


def test_too_many_batch_dimensions_error(funcs, backend):
    from symnum.numeric import MAX_BATCH_DIMS

    deep = np.ones((1,) * (MAX_BATCH_DIMS + 1) + (3,))
    with pytest.raises(ValueError, match=rf"33 batch dimensions; at most {MAX_BATCH_DIMS}"):
        funcs["f"](deep, np.ones((1,) * (MAX_BATCH_DIMS + 1)))
    with pytest.raises(ValueError, match="batch dimensions"):
        funcs["jvp"](X)(deep)
    # exactly the limit works
    value, array = funcs["f"](deep[0], np.ones((1,) * MAX_BATCH_DIMS))
    assert value.shape == (1,) * MAX_BATCH_DIMS
    assert array.shape == (1,) * MAX_BATCH_DIMS + (3,)


def test_huge_shapes_are_refused_up_front(backend):
    """A function of 2**31 elements is refused at once (it would trace for minutes and
    be killed for memory), with the limit in the message."""
    import time

    import symnum
    from symnum.array import MAX_NAMED_SIZE

    start = time.perf_counter()
    with pytest.raises(ValueError, match=str(MAX_NAMED_SIZE)):
        symnum.numpify(lambda x: x[0], (2**31,), backend=backend)
    with pytest.raises(ValueError, match="elements"):
        symnum.gradient(lambda x: x[0] * x[1], (2**16, 2**16), backend=backend)
    assert time.perf_counter() - start < 10


def test_keyword_arguments_are_rejected(funcs, backend):
    with pytest.raises(TypeError):
        funcs["f"](x=X, s=1.0)
    with pytest.raises(TypeError):
        funcs["f"](X, s=1.0)


def test_bad_input_errors_name_argument_and_shapes(funcs):
    with pytest.raises(ValueError, match=r"'x'.*\(3,\).*\(4,\)"):
        funcs["f"](np.ones(4), 1.0)


# --------------------------------------------------------------------------------------
# Property-based sweep

DTYPES = ["float64", "float32", "int64", "int8", "bool", "complex128", "object", "str"]


def _strategies():
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    floats = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True, width=64),
        st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e-300]),
    )

    def shape_for(core):
        batch = hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3)
        right = st.builds(lambda b: tuple(b) + core, batch)
        wrong = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
        return st.one_of(st.just(core), right, right, wrong)

    @st.composite
    def argument(draw, core):
        shape = draw(shape_for(core))
        dtype = draw(st.sampled_from(DTYPES))
        values = np.array(
            draw(st.lists(floats, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
            dtype=float,
        ).reshape(shape)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dtype == "str":
                array = values.astype(str)
            elif dtype == "object":
                array = values.astype(object)
            elif dtype in ("int64", "int8"):
                array = np.nan_to_num(values, posinf=7, neginf=-7).clip(-100, 100).astype(dtype)
            else:
                array = values.astype(dtype)
        array = np.asarray(array)
        form = draw(st.sampled_from(["array", "array", "list", "fortran", "strided", "readonly"]))
        if form == "list":
            return array.tolist()
        if form == "fortran":
            return np.asfortranarray(array)
        if form == "strided" and array.ndim:
            bigger = np.repeat(array, 2, axis=-1)
            return bigger[..., ::2]
        if form == "readonly":
            array = array.copy()
            array.flags.writeable = False
        return array

    return st.tuples(argument((3,)), argument(()))


def _outcome(func, args):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return "ok", func(*args)
    except (ValueError, TypeError) as exc:
        return "error", type(exc)


def check_against_numpy(func, reference, args) -> None:
    """``func`` (any backend) behaves like ``reference`` (the numpy backend) on ``args``."""
    want = _outcome(reference, args)
    got = _outcome(func, args)
    assert got[0] == want[0], f"{func.backend}: {got} but numpy backend: {want} for {args!r}"
    if want[0] == "error":
        assert got[1] is want[1], (got, want, args)
        return
    expected = _f_ref(*args)
    _assert_same(want[1], expected, f"numpy backend vs NumPy for {args!r}")
    _assert_same(got[1], expected, f"{func.backend} vs NumPy for {args!r}")


def sweep(func, reference, max_examples: int) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(_strategies())
    def run(args):
        check_against_numpy(func, reference, args)

    run()


@pytest.fixture
def numpy_f(module_cache, monkeypatch):
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(module_cache))
    if "numpy" not in _functions:
        _functions["numpy"] = build("numpy")
    return _functions["numpy"]["f"]


def test_hypothesis_sweep(funcs, backend, numpy_f):
    pytest.importorskip("hypothesis")
    sweep(funcs["f"], numpy_f, max_examples=150)


_SWEEP_CHILD = textwrap.dedent(
    """
    import faulthandler, pickle, sys
    faulthandler.enable()
    sys.path.insert(0, sys.argv[2])
    from test_reliability_inputs import sweep
    with open(sys.argv[1], "rb") as f:
        func, reference = pickle.load(f)
    sweep(func, reference, int(sys.argv[3]))
    print("swept")
    """
)


def test_hypothesis_sweep_c_in_subprocess(numpy_f, tmp_path, module_cache):
    """The C backend's sweep in its own interpreter: a crash is a failed exit code."""
    pytest.importorskip("hypothesis")
    from conftest import require_backend

    require_backend("c")
    if "c" not in _functions:
        _functions["c"] = build("c")
    pkl = tmp_path / "funcs.pkl"
    pkl.write_bytes(pickle.dumps((_functions["c"]["f"], numpy_f)))
    env = {**os.environ, "SYMNUM_CACHE_DIR": str(module_cache)}
    proc = subprocess.run(
        [sys.executable, "-c", _SWEEP_CHILD, str(pkl), os.path.dirname(__file__), "200"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stderr[-6000:]}"
    assert "swept" in proc.stdout
