"""The C backend (symnum.backends.c): emitted C, builds, the C call path, extension
modules, C export and the CMake/ctest build.

Kernels are built from hand-written IR, so these tests do not depend on the front end,
and compared with :func:`symnum.ir.interpret.evaluate` and NumPy/SciPy. Compiled modules
are reused across tests (one cache directory per session) to keep the runtime modest.
"""

from __future__ import annotations

import gc
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import numpy as np
import pytest
from _products import PRODUCTS, check_batches_and_lists, check_refusals, operator

from symnum import ir
from symnum.backends import BackendUnavailableError, UnsupportedOpError
from symnum.ir import Assign, Closure, Const, Elem, Function, Op, Output, Param, Var, interpret

c = pytest.importorskip("symnum.backends.c")

REPO = Path(__file__).resolve().parent.parent

if not c.available():
    if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS") == "1":
        raise RuntimeError(str(c.requirement_error()))
    pytest.skip(str(c.requirement_error()), allow_module_level=True)


@pytest.fixture(scope="session", autouse=True)
def c_cache_root(tmp_path_factory):
    """The C tests' shared cache, also set while module-scoped kernels are built."""
    root = tmp_path_factory.mktemp("c-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMNUM_CACHE_DIR", str(root))
        yield root


@pytest.fixture(autouse=True)
def isolated_cache_dir(c_cache_root, monkeypatch):
    """Overrides conftest's per-test cache: the C tests share one private cache, so
    compiled modules are reused (subprocesses inherit it); tests about the cache itself
    pass their own directory."""
    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(c_cache_root))
    monkeypatch.delenv("SYMNUM_DISABLE_CACHE", raising=False)
    return c_cache_root


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# -- IR examples ------------------------------------------------------------------------


def rosen_grad_and_value() -> Function:
    """Gradient and value of (1 - x0)^2 + 100 (x1 - x0^2)^2, written by hand."""
    x0, x1 = Elem("x", 0), Elem("x", 1)
    body = (
        Assign(0, Op.MUL, (x0, x0)),
        Assign(1, Op.SUB, (x1, Var(0))),
        Assign(2, Op.SUB, (Const(1.0), x0)),
        Assign(3, Op.MUL, (Const(-2.0), Var(2))),
        Assign(4, Op.MUL, (Const(-400.0), x0, Var(1))),
        Assign(5, Op.ADD, (Var(3), Var(4))),
        Assign(6, Op.MUL, (Const(200.0), Var(1))),
        Assign(7, Op.MUL, (Var(2), Var(2))),
        Assign(8, Op.MUL, (Var(1), Var(1))),
        Assign(9, Op.MUL, (Const(100.0), Var(8))),
        Assign(10, Op.ADD, (Var(7), Var(9))),
    )
    outputs = (Output((2,), (Var(5), Var(6))), Output((), (Var(10),)))
    return Function("rosen", (Param("x", (2,)),), body, outputs)


def rosen_reference(x):
    x = np.asarray(x, dtype=float)
    t = x[..., 1] - x[..., 0] ** 2
    grad = np.stack([-2 * (1 - x[..., 0]) - 400 * x[..., 0] * t, 200 * t], axis=-1)
    return grad, (1 - x[..., 0]) ** 2 + 100 * t**2


UNARY_INPUTS = {
    Op.ACOSH: lambda x: 1 + abs(x),
    Op.ATANH: np.tanh,
    Op.ASIN: np.sin,
    Op.ACOS: np.cos,
}
#: ops whose C implementation is not the interpreter's algorithm: looser tolerance
SPECIAL = {Op.LGAMMA, Op.GAMMA, Op.DIGAMMA, Op.POLYGAMMA, Op.ERF, Op.ERFC}


def every_op_function() -> Function:
    """One output per op (POLYGAMMA for orders 0 to 3) over the arguments a, b, c."""
    a, b, cond = Elem("a", 0), Elem("b", 0), Elem("c", 0)
    body, atoms = [], []
    for op in Op:
        low, _ = ir.ARITY[op]
        if op is Op.POLYGAMMA:
            calls = [(Const(float(n)), a) for n in range(4)]
        elif op is Op.SELECT:
            calls = [(cond, a, b)]
        elif low == 1:
            calls = [(a,)]
        elif op in ir.VARIADIC:
            calls = [(a, b), (a, b, cond)]
        else:
            calls = [(a, b)]
        for args in calls:
            body.append(Assign(len(body), op, args))
            atoms.append(Var(len(body) - 1))
    params = (Param("a", ()), Param("b", ()), Param("c", ()))
    return Function("every_op", params, tuple(body), Output((len(atoms),), tuple(atoms)))


@pytest.fixture(scope="module")
def rosen_kernel():
    return c.build(c.emit(rosen_grad_and_value()))


@pytest.fixture(scope="module")
def every_op_kernel():
    return c.build(c.emit(every_op_function()))


# -- emit -------------------------------------------------------------------------------

GOLDEN_ROSEN = """\
#include <math.h>

/* rosen(x [2]) -> out0 [2], out1 scalar; arrays flat, C order */
void rosen(const double *restrict x, double *restrict out0, double *restrict out1)
{
    const double t0 = x[0] * x[0];
    const double t1 = x[1] - t0;
    const double t2 = 1.0 - x[0];
    const double t3 = (-2.0) * t2;
    const double t4 = (-400.0) * x[0] * t1;
    const double t5 = t3 + t4;
    const double t6 = 200.0 * t1;
    const double t7 = t2 * t2;
    const double t8 = t1 * t1;
    const double t9 = 100.0 * t8;
    const double t10 = t7 + t9;
    out0[0] = t5;
    out0[1] = t6;
    out1[0] = t10;
}
/* rosen at n points: every array gets a leading axis of length n */
void rosen_batch(long long n, const double *restrict x, double *restrict out0, \
double *restrict out1)
{
    long long i;
    for (i = 0; i < n; i++) {
        rosen(x + i * 2, out0 + i * 2, out1 + i * 1);
    }
}
/* rosen: parameter count, (rank, dims) of each; output count, (rank, dims) */
const long long rosen_shapes[7] = {1, 1, 2, 2, 1, 2, 0};
"""


def test_emit_golden():
    source = c.emit(rosen_grad_and_value())
    assert source.text == GOLDEN_ROSEN.replace("\\\n", "")
    assert str(source) == source.text
    assert c.emit(rosen_grad_and_value()) == source  # deterministic


def test_emit_records_needs_and_math_only():
    fn = every_op_function()
    source = c.emit(fn)
    assert source.needs == ("digamma", "erfcinv", "erfinv", "ndtri", "polygamma")
    includes = [line for line in source.text.splitlines() if line.startswith("#include")]
    assert includes == ["#include <math.h>"]
    plain = c.emit(rosen_grad_and_value())
    assert plain.needs == ()
    assert "symnum_digamma" not in plain.text


def test_literals_are_exact():
    values = [1 / 3, 0.1, -2.5, 1e-300, 5e-324, 1.7976931348623157e308, 2.0**60, -0.0, 3.0]
    values += [math.inf, -math.inf, math.nan]
    fn = Function("lits", (), (), Output((len(values),), tuple(Const(v) for v in values)))
    source = c.emit(fn)
    assert "0.3333333333333333" in source.text
    assert "1/3" not in source.text
    assert "INFINITY" in source.text
    assert "NAN" in source.text
    out = c.build(source).point()
    expected = np.array(values)
    assert np.array_equal(out, expected, equal_nan=True)
    assert np.array_equal(np.signbit(out), np.signbit(expected))


def test_division_of_integers_is_float_division():
    # 1/3 computed at run time from constants that look like integers
    fn = Function(
        "third", (), (Assign(0, Op.DIV, (Const(1.0), Const(3.0))),), Output((), (Var(0),))
    )
    assert c.build(c.emit(fn)).point() == 1 / 3


def test_complex_is_refused_at_emit_time():
    fn = Function(
        "cplx",
        (Param("z", (2,), "complex128"),),
        (Assign(0, Op.MUL, (Elem("z", 0), Elem("z", 1))),),
        Output((), (Var(0),), "complex128"),
    )
    with pytest.raises(UnsupportedOpError, match="does not support complex"):
        c.emit(fn)
    fn2 = Function("cconst", (), (), Output((), (Const(1j),), "complex128"))
    with pytest.raises(UnsupportedOpError, match="numpy"):
        c.emit(fn2)


def test_emit_rejects_closures():
    fn = Function(
        "outer",
        (Param("x", (1,)),),
        (),
        Closure((Param("v", (1,)),), (), Output((), (Elem("x", 0),))),
    )
    with pytest.raises(ValueError, match="split_closures"):
        c.emit(fn)


def test_names_that_clash_with_c_are_renamed():
    params = tuple(Param(n, (1,)) for n in ("double", "exp", "t0", "out0", "NAN", "w"))
    body = (Assign(0, Op.EXP, (Elem("exp", 0),)),)
    atoms = (Var(0), *(Elem(p.name, 0) for p in params))
    fn = Function("sin", params, body, Output((len(atoms),), atoms))
    source = c.emit(fn)
    assert source.cname == "sin_"
    names = [cname for _, cname, _ in source.params]
    assert len(set(names)) == len(names)
    assert not {"double", "exp", "t0", "out0", "NAN", "w"} & set(names)
    kernel = c.build(source)
    args = [np.array([float(i + 1)]) for i in range(len(params))]
    assert np.array_equal(kernel.point(*args), [math.exp(2.0), 1, 2, 3, 4, 5, 6])


def _header_macros() -> list[str]:
    """Object-like macros of the headers a kernel module sees (Python, NumPy, libc),
    as the configured compiler defines them here, that are valid Python names."""
    import keyword
    import re
    import sysconfig

    includes = ["Python.h", "numpy/arrayobject.h", "numpy/arrayscalars.h", "structmember.h"]
    includes += ["math.h", "stdlib.h", "stdio.h", "string.h", "stddef.h"]
    text = "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION\n" + "".join(
        f"#include <{h}>\n" for h in includes
    )
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    command = [*cc, "-dM", "-E", "-", f"-I{sysconfig.get_paths()['include']}"]
    command.append(f"-I{np.get_include()}")
    result = subprocess.run(command, input=text, capture_output=True, text=True, check=True)
    names = set()
    for line in result.stdout.splitlines():
        match = re.match(r"#define ([A-Za-z_][A-Za-z0-9_]*)(\s|$)", line)
        if match and match.group(1).isascii() and not keyword.iskeyword(match.group(1)):
            names.add(match.group(1))
    return sorted(names)


@pytest.mark.slow
def test_parameters_named_like_any_header_macro():
    """Every macro the compiler's headers define (``linux``, ``M_PIf``, ``L_tmpnam``,
    ``errno``, ``Py_None``...) works as a parameter name and as a function name."""
    if sys.platform == "win32":
        pytest.skip("reads the macros with a GCC-style -dM -E")
    from symnum.backends.c.emit import _is_reserved

    found = _header_macros()
    assert "linux" in found or sys.platform != "linux"
    # the names the emitter keeps as they are (thousands more are renamed: Py_*, _*,
    # all-capitals...; a sample of those too)
    macros = [n for n in found if not _is_reserved(n)] + found[:: max(len(found) // 40, 1)]
    macros = sorted(set(macros))
    assert len(macros) > 50
    params = tuple(Param(n, ()) for n in macros)
    body = (Assign(0, Op.ADD, tuple(Elem(n, 0) for n in macros)),)
    fn = Function("M_PIf", params, body, Output((), (Var(0),)))
    kernel = c.build(c.emit(fn))
    args = [np.array(float(k)) for k in range(len(macros))]
    assert kernel.point(*args) == sum(range(len(macros)))
    for name in ("linux", "L_tmpnam", "errno", "PRId64"):
        one = Function(name, (Param(name, (1,)),), (), Output((), (Elem(name, 0),)))
        assert c.build(c.emit(one)).point(np.array([2.5])) == 2.5


# -- numbers ----------------------------------------------------------------------------


def _op_inputs(rng, n=400):
    a = rng.normal(scale=3, size=n)
    b = rng.normal(scale=3, size=n)
    cond = rng.choice([0.0, 1.0, -2.0, np.nan], size=n)
    special = [0.0, -0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, np.nan, 0.5, -2.5, 1e-10, 30.0]
    a[: len(special)] = special
    b[: len(special)] = special[::-1]
    a[20:40] = np.round(a[20:40])  # integers and ties for comparisons and poles
    b[20:40] = a[20:40]
    return a, b, cond


def test_every_op_matches_interpreter(every_op_kernel):
    fn = every_op_function()
    a, b, cond = _op_inputs(np.random.default_rng(0))
    got = every_op_kernel.batch(a, b, cond)
    ops = [s.op for s in fn.body]
    for i in range(len(a)):
        expected = interpret.evaluate(fn, a[i], b[i], cond[i])
        for j, op in enumerate(ops):
            rtol = 1e-12 if op in SPECIAL else 1e-14
            np.testing.assert_allclose(
                got[i, j],
                expected[j],
                rtol=rtol,
                atol=1e-300,
                equal_nan=True,
                err_msg=f"{op.name} at a={a[i]!r}, b={b[i]!r}, c={cond[i]!r}",
            )


def test_unary_ops_match_numpy_on_their_domains():
    ops = {
        Op.SQRT: np.sqrt, Op.CBRT: np.cbrt, Op.EXP: np.exp, Op.EXP2: np.exp2,
        Op.EXPM1: np.expm1, Op.LOG: np.log, Op.LOG2: np.log2, Op.LOG10: np.log10,
        Op.LOG1P: np.log1p, Op.SIN: np.sin, Op.COS: np.cos, Op.TAN: np.tan,
        Op.ASIN: np.arcsin, Op.ACOS: np.arccos, Op.ATAN: np.arctan, Op.SINH: np.sinh,
        Op.COSH: np.cosh, Op.TANH: np.tanh, Op.ASINH: np.arcsinh, Op.ACOSH: np.arccosh,
        Op.ATANH: np.arctanh, Op.ABS: np.abs, Op.FLOOR: np.floor, Op.CEIL: np.ceil,
        Op.SIGN: np.sign, Op.NEG: np.negative,
    }  # fmt: skip
    # one parameter per op, so each gets arguments from its own domain
    params = tuple(Param(f"x{j}", ()) for j in range(len(ops)))
    body = tuple(Assign(j, op, (Elem(f"x{j}", 0),)) for j, op in enumerate(ops))
    outputs = Output((len(ops),), tuple(Var(j) for j in range(len(ops))))
    kernel = c.build(c.emit(Function("unary", params, body, outputs)))
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(0.01, 0.99, 100), rng.uniform(1.01, 20, 100)])
    inputs = [UNARY_INPUTS.get(op, lambda v: v)(x) for op in ops]
    got = kernel.batch(*inputs)
    for j, (op, ref) in enumerate(ops.items()):
        with np.errstate(all="ignore"):
            want = ref(inputs[j])
        np.testing.assert_allclose(got[:, j], want, rtol=1e-14, err_msg=op.name)


def test_accurate_functions_keep_tiny_arguments():
    ops = (Op.LOG1P, Op.EXPM1)
    body = tuple(Assign(i, op, (Elem("x", 0),)) for i, op in enumerate(ops))
    fn = Function("tiny", (Param("x", ()),), body, Output((2,), (Var(0), Var(1))))
    out = c.build(c.emit(fn)).point(np.array(1e-20))
    assert out[0] == 1e-20
    assert out[1] == 1e-20


def test_special_functions_match_scipy():
    special = pytest.importorskip("scipy.special")
    body = [
        Assign(0, Op.ERF, (Elem("x", 0),)),
        Assign(1, Op.ERFC, (Elem("x", 0),)),
        Assign(2, Op.LGAMMA, (Elem("x", 0),)),
        Assign(3, Op.GAMMA, (Elem("x", 0),)),
        Assign(4, Op.DIGAMMA, (Elem("x", 0),)),
        *(Assign(5 + n, Op.POLYGAMMA, (Const(float(n)), Elem("x", 0))) for n in range(1, 6)),
        Assign(11, Op.HYPOT, (Elem("x", 0), Const(3.0))),
    ]
    fn = Function(
        "special", (Param("x", ()),), tuple(body), Output((11,), tuple(Var(s.target) for s in body))
    )
    kernel = c.build(c.emit(fn))
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(0.05, 40, 300), -rng.uniform(0.05, 8, 100) + 0.013])
    got = kernel.batch(x)
    refs = [
        special.erf(x), special.erfc(x), special.gammaln(x), special.gamma(x),
        special.digamma(x), *(special.polygamma(n, x) for n in range(1, 6)), np.hypot(x, 3.0),
    ]  # fmt: skip
    for j, ref in enumerate(refs):
        np.testing.assert_allclose(got[:, j], ref, rtol=1e-10, atol=1e-300, err_msg=f"column {j}")


def test_point_and_batch(rosen_kernel):
    x = np.array([1.5, 2.0])
    grad, value = rosen_kernel.point(x)
    ref_grad, ref_value = rosen_reference(x)
    assert type(value) is np.float64
    assert grad.shape == (2,)
    assert grad.dtype == np.float64
    np.testing.assert_array_equal(grad, ref_grad)
    assert value == ref_value
    xs = np.random.default_rng(3).normal(size=(7, 2))
    grads, values = rosen_kernel.batch(xs)
    assert grads.shape == (7, 2)
    assert values.shape == (7,)
    for i in range(7):
        g, v = rosen_kernel.point(xs[i].copy())
        np.testing.assert_array_equal(grads[i], g)
        assert values[i] == v
    assert not [m for m in sys.modules if m.startswith("_symnum_c_")]  # bounded
    empty = rosen_kernel.batch(np.empty((0, 2)))
    assert empty[0].shape == (0, 2)
    assert empty[1].shape == (0,)


def test_fast_call_handles_batches_and_falls_back(rosen_kernel):
    calls = []

    def slow(*args, **kwargs):
        calls.append((args, kwargs))
        return "slow"

    fast = rosen_kernel.entry(slow)
    x = np.array([0.5, -1.0])
    np.testing.assert_array_equal(fast(x)[0], rosen_reference(x)[0])
    xs = np.random.default_rng(4).normal(size=(3, 4, 2))
    grads, values = fast(xs)
    assert grads.shape == (3, 4, 2)
    assert values.shape == (3, 4)
    np.testing.assert_allclose(grads, rosen_reference(xs)[0], rtol=1e-15)
    assert not calls
    unusual = [
        [0.5, -1.0],  # a list
        x.astype(np.float32),
        np.asfortranarray(np.ones((2, 2)))[0],  # not contiguous
        np.ones(3),  # wrong shape
        np.ones((2, 3)),
        np.ma.masked_array(x),  # a subclass
        x.astype(">f8"),  # byte-swapped
        "ab",
    ]
    for arg in unusual:
        assert fast(arg) == "slow"
    assert fast(x, x) == "slow"
    assert fast() == "slow"
    assert fast(x=x) == "slow"
    assert len(calls) == len(unusual) + 3


def test_python_floats_for_scalar_parameters():
    fn = Function(
        "scalars",
        (Param("a", ()), Param("b", ())),
        (Assign(0, Op.SUB, (Elem("a", 0), Elem("b", 0))),),
        Output((), (Var(0),)),
    )
    kernel = c.build(c.emit(fn))
    fast = kernel.entry(lambda *a: "slow")
    assert fast(3.0, 1.0) == 2.0
    assert fast(np.float64(3.0), np.array(1.0)) == 2.0
    assert fast(3, 1.0) == "slow"  # ints go through the general path


def test_bad_shapes_never_reach_the_kernel(rosen_kernel):
    for bad in (np.ones(3), np.ones(1), np.ones((2, 3)), np.ones(()), np.ones((2, 2, 1))):
        with pytest.raises(ValueError, match="argument 'x' has shape"):
            rosen_kernel.point(bad)
    with pytest.raises(ValueError, match="argument 'x'"):
        rosen_kernel.batch(np.ones(2))  # batch needs exactly one leading axis
    with pytest.raises(TypeError, match="takes 1 positional"):
        rosen_kernel.point()
    with pytest.raises(TypeError, match="takes 1 positional"):
        rosen_kernel.point(np.ones(2), np.ones(2))
    with pytest.raises(TypeError):
        rosen_kernel.point(np.ones(2, dtype=complex))


def test_mismatched_batches_are_refused():
    fn = Function(
        "two",
        (Param("x", (2,)), Param("y", (3,))),
        (Assign(0, Op.MUL, (Elem("x", 1), Elem("y", 2))),),
        Output((), (Var(0),)),
    )
    kernel = c.build(c.emit(fn))
    x, y = np.ones((4, 2)), np.ones((4, 3))
    assert kernel.batch(x, y).shape == (4,)
    with pytest.raises(ValueError, match="batch dimensions"):
        kernel.batch(x, np.ones((5, 3)))
    fast = kernel.entry(lambda *a: "slow")
    assert fast(x, np.ones((5, 3))) == "slow"
    assert fast(x, np.ones(3)) == "slow"  # broadcasting is the general path's job


def test_zero_size_and_no_parameters():
    fn = Function("const", (), (), (Output((), (Const(2.0),)), Output((0,), ())))
    value, empty = c.build(c.emit(fn)).point()
    assert value == 2.0
    assert empty.shape == (0,)
    fn = Function("empty_in", (Param("e", (0,)), Param("x", ())), (), Output((), (Elem("x", 0),)))
    kernel = c.build(c.emit(fn))
    assert kernel.point(np.empty(0), np.array(4.0)) == 4.0
    assert kernel.batch(np.empty((3, 0)), np.ones(3)).shape == (3,)


def test_closures_are_separate_kernels():
    # f(x) = sum(sin(x)); jvp: v -> cos(x) . v
    x = [Elem("x", i) for i in range(3)]
    body = tuple(Assign(i, Op.COS, (x[i],)) for i in range(3))
    inner = (
        Assign(10, Op.MUL, (Var(0), Elem("v", 0))),
        Assign(11, Op.MUL, (Var(1), Elem("v", 1))),
        Assign(12, Op.MUL, (Var(2), Elem("v", 2))),
        Assign(13, Op.ADD, (Var(10), Var(11), Var(12))),
    )
    closure = Closure((Param("v", (3,)),), inner, Output((), (Var(13),)))
    fn = Function("jvp", (Param("x", (3,)),), body, closure)
    outer, closures = ir.split_closures(fn)
    outer_kernel = c.build(c.emit(outer))
    inner_kernel = c.build(c.emit(closures[0]))
    xv, vv = np.array([0.1, 0.2, 0.3]), np.array([1.0, -2.0, 0.5])
    captured = outer_kernel.point(xv)
    np.testing.assert_allclose(inner_kernel.point(captured, vv), np.cos(xv) @ vv, rtol=1e-15)
    assert interpret.evaluate(fn, xv)(vv) == inner_kernel.point(captured, vv)
    bound = inner_kernel.entry(None, captured)
    assert bound(vv) == inner_kernel.point(captured, vv)


def _swapped(a):
    return a.astype(a.dtype.newbyteorder("S"))


def _unaligned(a):
    u = np.frombuffer(bytearray(a.nbytes + 1), dtype=float, count=a.size, offset=1)
    u = u.reshape(a.shape)
    u[...] = a
    return u


def test_byte_swapped_and_unaligned_arrays_are_converted(rosen_kernel):
    x = np.array([1.5, 2.0])
    xs = np.random.default_rng(5).normal(size=(6, 2))
    want, wants = rosen_kernel.point(x), rosen_kernel.batch(xs)
    for convert in (_swapped, _unaligned):
        grad, value = rosen_kernel.point(convert(x))
        np.testing.assert_array_equal(grad, want[0])
        assert value == want[1]
        grads, values = rosen_kernel.batch(convert(xs))
        np.testing.assert_array_equal(grads, wants[0])
        np.testing.assert_array_equal(values, wants[1])
        # the fast entry hands them to the checked path, a point and a batch
        fast = rosen_kernel.entry(lambda *a: "slow")
        assert fast(convert(x)) == "slow"
        assert fast(convert(xs)) == "slow"


def test_at_most_32_batch_dimensions(rosen_kernel):
    fast = rosen_kernel.entry(lambda *a: "slow")
    assert fast(np.ones((1,) * 33 + (2,))) == "slow"
    grads, values = fast(np.ones((1,) * 32 + (2,)))
    assert grads.shape == (1,) * 32 + (2,)
    assert values.shape == (1,) * 32


def test_method_and_closure_entries():
    """The entries operator-valued results use: a method binding ``obj.captured``, and
    an outer entry returning instances of given classes, both without Python code."""
    fn = Function(
        "dot", (Param("c", (2,)), Param("v", (2,))),
        (Assign(0, Op.MUL, (Elem("c", 0), Elem("v", 0))),
         Assign(1, Op.MUL, (Elem("c", 1), Elem("v", 1))), Assign(2, Op.ADD, (Var(0), Var(1)))),
        Output((), (Var(2),)),
    )  # fmt: skip
    kernel = c.build(c.emit(fn))
    slow_calls = []

    class Bound:
        __slots__ = ("captured",)

        def slow(self, *args, **kwargs):
            slow_calls.append((self, args, kwargs))
            return "slow"

    Bound.__call__ = kernel.method_entry(Bound.slow)
    bound = Bound()
    bound.captured = np.array([2.0, 3.0])
    assert bound(np.array([1.0, -1.0])) == -1.0
    assert bound(np.ones((4, 2))) == "slow"  # broadcasting is the checked path's job
    assert bound([1.0, 1.0]) == "slow"
    assert bound(np.ones(2), np.ones(2)) == "slow"
    assert slow_calls[0][0] is bound
    batched = Bound()
    batched.captured = np.array([[2.0, 3.0], [1.0, 1.0]])
    assert batched(np.ones((2, 2))).tolist() == [5.0, 2.0]
    assert bound.__call__(np.array([1.0, 0.0])) == 2.0  # bound like a method

    pair = Function(
        "pair", (Param("x", (2,)),), (Assign(0, Op.MUL, (Elem("x", 0), Elem("x", 1))),),
        (Output((2,), (Elem("x", 1), Elem("x", 0))), Output((), (Var(0),))),
    )  # fmt: skip
    outer = c.build(c.emit(pair)).closure_entry(lambda *a: "slow", (Bound, None))
    made, product = outer(np.array([4.0, 5.0]))
    assert type(made) is Bound
    assert made.captured.tolist() == [5.0, 4.0]
    assert product == 20.0
    assert made(np.array([1.0, 1.0])) == 9.0
    batch, products = outer(np.array([[4.0, 5.0], [1.0, 2.0]]))
    assert batch.captured.shape == (2, 2)
    assert products.tolist() == [20.0, 2.0]
    assert outer([4.0, 5.0]) == "slow"
    with pytest.raises(TypeError, match="one item per output"):
        c.build(c.emit(pair)).closure_entry(None, (Bound,))


def test_call_class():
    """call_class(base, method): instances are called through vectorcall into the class's
    ``_fast_entry`` (any callable; the instance in front for a method class), keyword
    arguments and long argument lists included; without an entry a call raises
    TypeError; the class cannot be subclassed nor assigned to an object of ``base``."""

    class Base:
        def __init__(self, tag=None):
            self.tag = tag

    def record(*args, **kwargs):
        return args, kwargs

    cls = c.call_class(Base)
    assert issubclass(cls, Base)
    assert (cls.__name__, cls.__module__) == ("Base", Base.__module__)
    obj = cls("t")
    assert obj.tag == "t"
    with pytest.raises(TypeError, match="no entry"):
        obj(1)
    cls._fast_entry = record
    assert obj(1, 2, k=3) == ((1, 2), {"k": 3})
    assert obj.__call__(1) == ((1,), {})  # the tuple path (tp_call) too
    many = tuple(range(40))
    assert obj(*many) == (many, {})

    method = c.call_class(Base, method=True)
    method._fast_entry = record
    inst = method()
    assert inst(1, k=2) == ((inst, 1), {"k": 2})
    assert inst.__call__(1, k=2) == ((inst, 1), {"k": 2})  # no spare slot: copied
    assert inst(*many) == ((inst, *many), {})
    assert inst.__call__(*many, k=1) == ((inst, *many), {"k": 1})
    assert inst() == ((inst,), {})

    class Slotted:
        __slots__ = ("captured",)

    bound = c.call_class(Slotted, method=True)
    bound._fast_entry = lambda self, v: self.captured * v
    b = object.__new__(bound)
    b.captured = 3.0
    assert b(2.0) == 6.0
    assert not hasattr(b, "__dict__")

    with pytest.raises(TypeError):
        type("Sub", (cls,), {})
    with pytest.raises(TypeError):
        Base().__class__ = cls  # layouts differ: refused, not corrupted
    with pytest.raises(TypeError):
        obj.__class__ = Base
    with pytest.raises(TypeError, match="cannot extend"):
        c.call_class(tuple)
    # instances die with their last reference (the class holds none)
    ref = weakref.ref(obj)
    del obj
    gc.collect()
    assert ref() is None


def test_call_class_instances_follow_their_class_entry():
    """Instances remember the entry they last found (checked against the class's
    version tag): a new or deleted ``_fast_entry``, on the class or a base, is seen by
    the next call, and a replaced entry is never called after it is gone."""

    class Base:
        pass

    def entry(k):
        return lambda *args: (k, args)

    def method_entry(k):
        return lambda self, *args: (k, self is inst, args)

    cls = c.call_class(Base)
    first, second = cls(), cls()
    for k in range(50):  # each entry dies when replaced: a stale one would crash
        cls._fast_entry = entry(k)
        assert first(1.0) == (k, (1.0,))
        assert second() == (k, ())
        gc.collect()
    del cls._fast_entry
    with pytest.raises(TypeError, match="no entry"):
        first()
    Base._fast_entry = lambda *args: "from the base"
    assert first() == "from the base"
    Base._fast_entry = lambda *args: "changed on the base"
    assert first() == "changed on the base"

    method = c.call_class(Base, method=True)
    inst = method()
    for k in range(3):
        method._fast_entry = method_entry(k)
        assert inst(2.0) == (k, True, (2.0,))


def _guard_slow(*args, **kwargs):
    return "slow", args, kwargs


def test_guard_checks():
    """guard(target, slow, shapes, mode, captured, flags, flat) -- the numba backend's
    fast entry: ``target`` runs only for exact ndarrays of exactly the parameters'
    shapes (no keywords, the right count); everything else, and any Exception the
    target raises, goes to ``slow`` with the caller's own arguments."""
    runtime = sys.modules["symnum.backends.c.build"].shared_runtime()
    slow = _guard_slow
    ran = []

    def target(*args):
        ran.append(args)
        return np.asarray(args[-1]) * 2.0

    guard = runtime.guard(target, slow, ((2,), ()), 0, None, None, False)
    x, s = np.array([1.0, 2.0]), np.array(3.0)
    np.testing.assert_array_equal(guard(x, s), 6.0)
    assert ran[-1][0] is x
    assert ran[-1][1] is s
    refused = [
        (x,), (x, s, s), (x[None], s), (np.ones(3), s), (x, np.ones(1)),  # count, shapes
        (x.tolist(), s), (np.ma.masked_array(x), s), (x, 3.0),  # not exact ndarrays
    ]  # fmt: skip
    ran.clear()
    for args in refused:
        got = guard(*args)
        assert got[0] == "slow"
        assert all(a is b for a, b in zip(got[1], args, strict=True)), args
    assert guard(x, s=s) == ("slow", (x,), {"s": s})
    assert not ran  # the target never saw any of them

    def raising(exc):
        def target(*args):
            raise exc

        return runtime.guard(target, slow, ((2,), ()), 0, None, None, False)

    # the target's errors go to slow, with no exception left set (nor chained)
    assert raising(ValueError("kernel"))(x, s) == ("slow", (x, s), {})
    assert raising(TypeError("dispatcher"))(x, s)[0] == "slow"
    with pytest.raises(KeyboardInterrupt):  # not an Exception: it propagates
        raising(KeyboardInterrupt())(x, s)
    # no slow path (None): what would need it raises TypeError
    no_slow = runtime.guard(np.negative, None, ((2,),), 0, None, None, False)
    np.testing.assert_array_equal(no_slow(x), -x)
    with pytest.raises(TypeError, match="has none"):
        no_slow([1.0, 2.0])


def test_guard_binds_closure_outputs():
    """A guard with ``binds`` (a closure entry) returns outputs with a class as new
    instances of it holding the output as ``captured``; boxing still applies."""
    runtime = sys.modules["symnum.backends.c.build"].shared_runtime()
    slow, x = _guard_slow, np.array([1.0, 2.0])

    # binds: outputs returned as new instances of their classes, holding them
    class Slotted:
        __slots__ = ("captured",)

    class Plain:
        pass

    def three(a):
        return a * 2.0, 0.5, a[:1].copy()

    binds = (Slotted, None, Plain)
    closure = runtime.guard(three, slow, ((2,),), 0, None, b"\x00\x01\x00", True, binds)
    first, value, third = closure(x)
    assert type(first) is Slotted
    np.testing.assert_array_equal(first.captured, [2.0, 4.0])
    assert type(value) is np.float64
    assert type(third) is Plain
    np.testing.assert_array_equal(third.captured, [1.0])
    single = runtime.guard(lambda a: a + 1.0, slow, ((2,),), 0, None, b"\x00", False, (Slotted,))
    assert type(single(x)) is Slotted
    assert closure(x.tolist())[0] == "slow"
    for bad_binds, flags in [((Slotted,), b"\x00\x00"), ((1, None), b"\x00\x00"), ([], b"")]:
        with pytest.raises(TypeError):
            runtime.guard(three, slow, ((2,),), 0, None, flags, True, bad_binds)
    with pytest.raises(TypeError):  # binds need flags (one per output)
        runtime.guard(three, slow, ((2,),), 0, None, None, True, (None,))


def test_guard_outputs_and_prefixes():
    """A guard's flagged outputs come back as NumPy scalars; mode 1 binds captured
    values, mode 2 an instance's (as a class's ``__call__`` too); bad constructor
    arguments raise; guards take part in garbage collection."""
    runtime = sys.modules["symnum.backends.c.build"].shared_runtime()
    slow, target = _guard_slow, np.negative
    x = np.array([1.0, 2.0])

    # shape-() outputs numba returns as Python numbers become NumPy scalars
    def pair(*args):
        return args[-1] * 2.0, 1.5

    boxed = runtime.guard(pair, slow, ((2,),), 0, None, b"\x00\x01", True)
    got = boxed(x)
    assert type(got) is tuple
    assert type(got[1]) is np.float64
    assert got[1] == 1.5
    np.testing.assert_array_equal(got[0], [2.0, 4.0])
    one = runtime.guard(lambda a: 2.5 + 1j, slow, ((2,),), 0, None, b"\x01", False)
    assert type(one(x)) is np.complex128
    assert one(x) == 2.5 + 1j
    wrong = runtime.guard(lambda a: (1.0,), slow, ((2,),), 0, None, b"\x01\x01", True)
    with pytest.raises(SystemError, match="another tree"):
        wrong(x)

    # mode 1: a captured array in front (checked like the arguments)
    captured = np.array([5.0, 7.0])
    bound = runtime.guard(lambda c, v: c * v, slow, ((2,), (2,)), 1, captured, None, False)
    np.testing.assert_array_equal(bound(x), [5.0, 14.0])
    assert bound([1.0, 2.0])[0] == "slow"
    batched = runtime.guard(target, slow, ((2,), (2,)), 1, captured[None], None, False)
    assert batched(x) == ("slow", (x,), {})

    # mode 2: a method guard binds the instance's captured values, as __call__ too
    class Product:
        __slots__ = ("captured",)
        __call__ = runtime.guard(lambda c, v: c @ v, slow, ((2,), (2,)), 2, None, None, False)

    product = Product()
    product.captured = captured
    assert product(x) == 19.0
    assert product([1.0, 2.0]) == ("slow", (product, [1.0, 2.0]), {})
    product.captured = captured[None]  # batched captures: the checked path
    assert product(x) == ("slow", (product, x), {})
    del product.captured
    with pytest.raises(AttributeError):
        product(x)

    # many parameters (a heap buffer for the prefixed arguments)
    many = tuple(np.array(float(k)) for k in range(40))
    total = runtime.guard(lambda *a: sum(a), slow, ((),) * 41, 1, np.array(1.0), None, False)
    assert total(*many) == 1.0 + sum(range(40))

    for bad in [
        (1, slow, ((2,),), 0, None, None, False),  # target not callable
        (target, slow, ((2,),), 3, None, None, False),  # mode
        (target, slow, ((2,),), 1, None, None, False),  # mode 1 without captured
        (target, slow, (), 2, None, None, False),  # no parameter for the instance's
        (target, slow, ((2,),), 0, None, b"\x01\x01", False),  # flags of one output
        (target, slow, ([2],), 0, None, None, False),  # shapes as lists
    ]:
        with pytest.raises(TypeError):
            runtime.guard(*bad)
    with pytest.raises(ValueError, match="negative"):
        runtime.guard(target, slow, ((-2,),), 0, None, None, False)
    # -1: a dimension of any length (a data argument's rows)
    rows = runtime.guard(lambda a: a.shape, slow, ((-1, 2),), 0, None, None, False)
    assert rows(np.ones((5, 2))) == (5, 2)
    assert rows(np.ones((0, 2))) == (0, 2)
    assert rows(np.ones((5, 3)))[0] == "slow"
    assert rows(np.ones(2))[0] == "slow"
    # guards and what they hold die with their last reference (they take part in gc)
    ref = weakref.ref(Product)
    del Product, product  # the guard remembers the instance's type: a cycle gc breaks
    gc.collect()
    assert ref() is None


def test_numeric_functions_are_call_class_instances():
    """On the C backend, a function, a function returning operator-valued results and
    those results are called without a Python frame when the arguments are exact."""
    import symnum
    import symnum.numpy as snp

    def f(x):
        return snp.sum(x**3) + x[0] * x[1]

    x, v = np.array([0.5, -1.5]), np.array([1.0, 2.0])
    ops = (symnum.gradient, symnum.hessian_vector_product, symnum.matrix_tressian_product)
    grad, hvp, mtp = (op(f, (2,), backend="c") for op in ops)
    reference = symnum.hessian_vector_product(f, (2,), backend="numpy")(x)(v)
    product = hvp(x)
    m = np.eye(2)
    for call in (lambda: grad(x), lambda: hvp(x), lambda: product(v), lambda: mtp(x)(m)):
        call()
        events = []
        sys.setprofile(
            lambda frame, event, arg, seen=events: seen.append((event, frame.f_code.co_name))
        )
        try:
            call()
        finally:
            sys.setprofile(None)
        # the lambda itself is the only Python frame
        assert [e for e in events if e[0] == "call"] == [("call", "<lambda>")], events
    np.testing.assert_allclose(product(v), reference, rtol=1e-14)
    assert pickle.loads(pickle.dumps(product))(v).tolist() == product(v).tolist()
    assert pickle.loads(pickle.dumps(hvp))(x)(v).tolist() == product(v).tolist()
    with pytest.raises(TypeError, match="takes 1 argument"):
        product(v, v)
    with pytest.raises(TypeError, match="keyword"):
        grad(x=x)


def test_shape_tables(rosen_kernel, tmp_path):
    assert rosen_kernel.shapes() == (1, 1, 2, 2, 1, 2, 0)
    assert "const long long rosen_shapes[7] = {1, 1, 2, 2, 1, 2, 0};" in rosen_kernel.source.code
    header, _ = c.export_c({"rosen": rosen_grad_and_value()}, tmp_path, "tbl")
    assert "extern const long long tbl_rosen_shapes[7];" in header.read_text()


def test_kernels_compile_without_the_runtime(tmp_path, monkeypatch):
    """The runtime is compiled once per toolchain into the cache (namespace c_runtime);
    each kernel's module holds only its kernels and their descriptions."""
    build_module = sys.modules["symnum.backends.c.build"]
    compiled = []
    real = build_module.compile_shared

    def counting(c_file, target, *args, **kwargs):
        compiled.append(Path(c_file).read_text())
        return real(c_file, target, *args, **kwargs)

    monkeypatch.setenv("SYMNUM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(build_module, "compile_shared", counting)
    monkeypatch.setattr(build_module, "_runtime_module", None)
    monkeypatch.setattr(build_module, "_loaded", {})
    kernels = [c.build(c.emit(_fresh_function(tag))) for tag in (11.0, 12.0)]
    runtime, *kernel_texts = compiled
    assert "PyInit__symnum_c_runtime" in runtime
    assert len(kernel_texts) == 2
    for text in kernel_texts:
        assert "symnum_call_vectorcall" not in text  # the runtime is not in it
        assert "symnum_kernel_table" in text
    assert [p.name for p in (tmp_path / "c_runtime").glob("*/*")] != []
    x = np.array([1.5, 2.0])
    assert [k.point(x)[1] for k in kernels] == [6.5 * 11.0, 6.5 * 12.0]


def test_runtime_refuses_foreign_tables(rosen_kernel):
    import ctypes

    runtime = sys.modules["symnum.backends.c.build"].shared_runtime()
    with pytest.raises(TypeError, match="capsule"):
        runtime.adopt(object())
    with pytest.raises(TypeError):
        runtime.make(object(), 0, None, (), 0)

    class Table(ctypes.Structure):
        _fields_ = (
            ("abi", ctypes.c_int),
            ("size", ctypes.c_int),
            ("nspecs", ctypes.c_int),
            ("specs", ctypes.c_void_p),
        )

    new_capsule = ctypes.pythonapi.PyCapsule_New
    new_capsule.restype = ctypes.py_object
    new_capsule.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
    for abi, size, name in ((99, 8, b"symnum.kernel_table"), (1, 1, b"symnum.kernel_table")):
        table = Table(abi, size, 0, None)
        capsule = new_capsule(ctypes.addressof(table), name, None)
        with pytest.raises(ImportError, match="another runtime layout"):
            runtime.adopt(capsule)
    table = Table(1, 8, 0, None)
    wrong_name = new_capsule(ctypes.addressof(table), b"not.symnum", None)
    with pytest.raises(ValueError, match="incorrect name"):
        runtime.adopt(wrong_name)
    with pytest.raises(ValueError, match="incorrect name"):
        runtime.shapes(wrong_name, 0)
    # the rosen kernel's own table is fine; an index outside it is refused
    assert rosen_kernel.shapes() == (1, 1, 2, 2, 1, 2, 0)
    with pytest.raises(ValueError, match="out of range"):
        rosen_kernel._runtime.shapes(1)
    with pytest.raises(ValueError, match="out of range"):
        rosen_kernel._runtime.make(5, None, (), 0)


def test_source_records_its_parts():
    small = c.emit(rosen_grad_and_value())
    assert small.parts == ()
    assert not small.split
    assert small.globals == ("rosen", "rosen_batch", "rosen_shapes")
    body, acc = [], Elem("x", 0)
    for k in range(c._SPLIT_ABOVE + 10):
        body.append(Assign(k, Op.ADD, (acc, Const(1.0))))
        acc = Var(k)
    big = c.emit(Function("chain", (Param("x", ()),), tuple(body), Output((), (acc,))))
    assert big.split
    assert big.parts == ("chain_part0", "chain_part1", "chain_part2")
    assert all(f"{part}(" in big.code for part in big.parts)


@pytest.mark.slow
def test_builds_never_change_the_working_directory(monkeypatch, tmp_path):
    """cffi's ffi.compile and setuptools chdir into their build directory, which breaks
    builds from several threads; the C backend compiles by absolute paths instead."""

    def no_chdir(path):
        raise AssertionError(f"os.chdir({path!r}) during a build")

    monkeypatch.setattr(os, "chdir", no_chdir)
    kernel = c.build(c.emit(_fresh_function(11.0)))
    assert kernel.point(np.array([1.5, 2.0]))[1] == 6.5 * 11.0
    path = c.build_extension({"f": _fresh_function(12.0)}, tmp_path, "nochdir")
    assert path.exists()


# -- large functions --------------------------------------------------------------------


@pytest.mark.slow
def test_large_function_is_split_and_correct():
    n_terms, n = 5000, 7
    body, terms = [], []
    for k in range(n_terms):
        body.append(Assign(len(body), Op.MUL, (Const(1.0 + k / n_terms), Elem("x", k % n))))
        body.append(Assign(len(body), Op.SIN, (Var(len(body) - 1),)))
        terms.append(Var(len(body) - 1))
    # a long chain so values cross chunk boundaries
    acc = terms[0]
    for term in terms[1:]:
        body.append(Assign(len(body), Op.ADD, (acc, term)))
        acc = Var(len(body) - 1)
    outputs = (Output((), (acc,)), Output((3,), (terms[0], terms[-1], terms[n_terms // 2])))
    fn = Function("big", (Param("x", (n,)),), tuple(body), outputs)
    source = c.emit(fn)
    assert "big_part0" in source.text
    assert "big_part20" in source.text
    kernel = c.build(source)
    x = np.random.default_rng(5).normal(size=n)
    total, picks = kernel.point(x)
    k = np.arange(n_terms)
    sines = np.sin((1.0 + k / n_terms) * x[k % n])
    np.testing.assert_allclose(total, sines.sum(), rtol=1e-12)
    np.testing.assert_array_equal(picks, sines[[0, -1, n_terms // 2]])
    expected = interpret.evaluate(fn, x)
    assert total == expected[0]


@pytest.mark.slow
def test_hessian_of_60_inputs():
    # Hessian of sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, written out by hand
    n = 60
    x = [Elem("x", i) for i in range(n)]
    body: list[Assign] = []

    def emit(op, *args):
        body.append(Assign(len(body), op, args))
        return Var(len(body) - 1)

    atoms = [[Const(0.0)] * n for _ in range(n)]
    diag = [Const(0.0)] * n
    for i in range(n - 1):
        xi2 = emit(Op.MUL, x[i], x[i])
        d = emit(Op.SUB, x[i + 1], xi2)
        # d2/dx_i^2: 1200 x_i^2 - 400 x_{i+1} + 2 ; d2/dx_i dx_{i+1}: -400 x_i
        hii = emit(
            Op.ADD,
            emit(Op.MUL, Const(1200.0), xi2),
            emit(Op.MUL, Const(-400.0), x[i + 1]),
            Const(2.0),
        )
        diag[i] = emit(Op.ADD, diag[i], hii) if isinstance(diag[i], Var) else hii
        diag[i + 1] = Const(200.0)
        off = emit(Op.MUL, Const(-400.0), x[i])
        atoms[i][i + 1] = atoms[i + 1][i] = off
        del d
    for i in range(n):
        if i > 0 and i < n - 1:
            diag[i] = emit(Op.ADD, diag[i], Const(200.0))
        atoms[i][i] = diag[i]
    flat = tuple(a for row in atoms for a in row)
    fn = Function("hess60", (Param("x", (n,)),), tuple(body), Output((n, n), flat))
    kernel = c.build(c.emit(fn))
    xv = np.random.default_rng(6).normal(size=n)
    hess = kernel.point(xv)
    expected = interpret.evaluate(fn, xv)
    np.testing.assert_array_equal(hess, expected)
    assert hess.shape == (n, n)
    np.testing.assert_array_equal(hess, hess.T)


# -- the cache and processes ------------------------------------------------------------

_SUBPROCESS_PRELUDE = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import numpy as np
from symnum.backends import c
from test_backend_c import rosen_grad_and_value
"""


def test_pickling_source_and_kernel(rosen_kernel):
    source = c.emit(rosen_grad_and_value())
    assert pickle.loads(pickle.dumps(source)) == source
    again = pickle.loads(pickle.dumps(rosen_kernel))
    x = np.array([0.3, 0.4])
    np.testing.assert_array_equal(again.point(x)[0], rosen_kernel.point(x)[0])


def test_cache_hit_in_a_fresh_process_compiles_nothing(rosen_kernel):
    _run_python(
        _SUBPROCESS_PRELUDE
        + """
def no_compiling(*args):
    raise AssertionError("compiled again")
sys.modules['symnum.backends.c.build']._cffi_compile = no_compiling
kernel = c.build(c.emit(rosen_grad_and_value()))
assert kernel.point(np.array([1.5, 2.0]))[0].tolist() == [151.0, -50.0]
"""
    )


def _fresh_function(tag: float) -> Function:
    fn = rosen_grad_and_value()
    body = (*fn.body, Assign(99, Op.MUL, (Var(10), Const(tag))))
    return Function(fn.name, fn.params, body, (fn.outputs[0], Output((), (Var(99),))))


@pytest.mark.slow
def test_corrupt_artefact_is_rebuilt(tmp_path):
    code = (
        _SUBPROCESS_PRELUDE
        + """
from test_backend_c import _fresh_function
kernel = c.build(c.emit(_fresh_function(7.0)))
print(kernel.path)
assert kernel.point(np.array([1.5, 2.0]))[1] == 6.5 * 7.0
"""
    )
    env = {"SYMNUM_CACHE_DIR": str(tmp_path)}
    path = Path(_run_python(code, **env).stdout.strip().splitlines()[-1])
    for damage in (b"", b"garbage", path.read_bytes()[:1000]):
        path.write_bytes(damage)
        rebuilt = Path(_run_python(code, **env).stdout.strip().splitlines()[-1])
        assert rebuilt == path
        assert rebuilt.stat().st_size > 10000


@pytest.mark.slow
def test_concurrent_builds_all_succeed(tmp_path):
    code = (
        _SUBPROCESS_PRELUDE
        + """
from test_backend_c import _fresh_function
kernel = c.build(c.emit(_fresh_function(3.0)))
assert kernel.point(np.array([1.5, 2.0]))[1] == 6.5 * 3.0
"""
    )
    env = {**os.environ, "SYMNUM_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    entries = [p for p in (tmp_path / "c").glob("*/*") if not p.name.startswith(".")]
    assert len(entries) == 1


def test_missing_toolchain_errors(monkeypatch):
    from symnum import backends

    toolchain = sys.modules["symnum.backends.c.build"]
    monkeypatch.setattr(toolchain, "_import_cffi", lambda: None)
    assert not c.available()
    assert 'pip install "symnum[c]"' in str(c.requirement_error())
    with pytest.raises(BackendUnavailableError, match="cffi"):
        c.build(c.emit(rosen_grad_and_value()))
    with pytest.raises(BackendUnavailableError, match=r"symnum\[c\]"):
        backends.get("c")
    assert "numpy" in backends.available()
    assert "c" not in backends.available()
    monkeypatch.undo()
    monkeypatch.setattr(toolchain, "_find_compiler", lambda: None)
    monkeypatch.setenv("CC", "no-such-cc")
    assert "C compiler" in str(c.requirement_error())
    assert "no-such-cc" in str(c.requirement_error())
    with pytest.raises(BackendUnavailableError, match="compiler"):
        backends.get("c")
    backends.get("numpy")  # unaffected


# -- extension modules and C export -----------------------------------------------------


def _functions():
    x = [Elem("x", i) for i in range(3)]
    body = (*(Assign(i, Op.COS, (x[i],)) for i in range(3)), Assign(3, Op.ADD, tuple(x)))
    inner = (
        Assign(10, Op.MUL, (Var(0), Elem("v", 0))),
        Assign(11, Op.MUL, (Var(1), Elem("v", 1))),
        Assign(12, Op.MUL, (Var(2), Elem("v", 2))),
        Assign(13, Op.ADD, (Var(10), Var(11), Var(12))),
    )
    jvp = Function(
        "jvp", (Param("x", (3,)),), body,
        (Closure((Param("v", (3,)),), inner, Output((), (Var(13),))), Output((), (Var(3),))),
    )  # fmt: skip
    return {"rosen": rosen_grad_and_value(), "jvp": jvp}


def test_build_extension_needs_only_numpy(tmp_path):
    path = c.build_extension(_functions(), tmp_path, "mymodel")
    assert path.parent == tmp_path
    assert path.name.startswith("mymodel")
    _run_python(
        f"""
import sys
sys.modules["sympy"] = None  # any import of sympy or symnum fails
sys.modules["symnum"] = None
sys.modules["cffi"] = None
sys.path.insert(0, {str(tmp_path)!r})
import numpy as np
import mymodel
x = np.array([1.5, 2.0])
grad, value = mymodel.rosen(x)
assert grad.tolist() == [151.0, -50.0]
assert value == 6.5, (grad, value)
assert type(value) is np.float64
grads, values = mymodel.rosen([[1.5, 2.0], [0.0, 0.0]])  # lists are converted
assert grads.tolist() == [[151.0, -50.0], [-2.0, 0.0]]
assert values.tolist() == [6.5, 1.0]
for bad in (np.ones(3), np.ones((2, 3))):
    try:
        mymodel.rosen(bad)
    except ValueError as exc:
        assert "argument 'x' has shape" in str(exc)
    else:
        raise AssertionError("no error")
try:
    mymodel.rosen(np.ones(2, dtype=complex))
except TypeError:
    pass
else:
    raise AssertionError("complex accepted")
try:
    mymodel.rosen()
except TypeError:
    pass
else:
    raise AssertionError("missing argument accepted")
xv = np.array([0.1, 0.2, 0.3])
op, total = mymodel.jvp(xv)
assert abs(total - 0.6) < 1e-15
v = np.array([1.0, -2.0, 0.5])
assert abs(op(v) - np.cos(xv) @ v) < 1e-15
assert "rosen(x: (2,))" in mymodel.rosen.__doc__
# byte-swapped, unaligned and strided arrays are converted, a point and a batch
swapped = x.astype(x.dtype.newbyteorder("S"))
unaligned = np.frombuffer(bytearray(17), dtype=float, count=2, offset=1)
unaligned[:] = x
for odd in (swapped, unaligned, np.array([1.5, 0.0, 2.0])[::2]):
    assert mymodel.rosen(odd)[0].tolist() == [151.0, -50.0]
    assert mymodel.rosen(np.stack([odd, odd]))[0].tolist() == [[151.0, -50.0]] * 2
try:
    mymodel.rosen(np.ones((1,) * 33 + (2,)))
except ValueError as exc:
    assert "at most 32" in str(exc), exc
else:
    raise AssertionError("33 batch dimensions accepted")
assert "sympy" not in sys.modules or sys.modules["sympy"] is None
print("ok")
"""
    )


def test_build_extension_accepts_numeric_functions_with_ir(tmp_path):
    class Numeric:
        ir = rosen_grad_and_value()

    c.build_extension({"g": Numeric()}, tmp_path, "viaattr")
    with pytest.raises(TypeError, match="no IR"):
        c.build_extension({"g": object()}, tmp_path, "bad")
    with pytest.raises(ValueError, match="not valid"):
        c.build_extension({"g": Numeric()}, tmp_path, "bad-name")


def _c_compilers():
    found = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
    if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS") == "1":
        assert set(found) == {"gcc", "clang"}, f"CI needs gcc and clang, found {found}"
    return found


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_export_c_compiles_cleanly_and_runs(tmp_path, cc):
    if cc not in _c_compilers():
        pytest.skip(f"{cc} is not installed")
    functions = {**_functions(), "every_op": every_op_function()}
    header, source = c.export_c(functions, tmp_path, "model")
    assert header.name == "model.h"
    assert source.name == "model.c"
    text = header.read_text()
    assert "void model_rosen(const double *x, double *out0, double *out1);" in text
    assert "model_jvp_closure0" in text
    main = tmp_path / "main.c"
    main.write_text(
        textwrap.dedent("""\
        #include <stdio.h>
        #include "model.h"
        int main(void)
        {
            const double x[4] = {1.5, 2.0, 0.0, 0.0};
            double g[4], v[2];
            model_rosen(x, g, v);
            model_rosen_batch(2, x, g, v);
            printf("%.17g %.17g %.17g %.17g %.17g\\n", g[0], g[1], v[0], g[2], v[1]);
            return 0;
        }
        """)
    )
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
    exe = tmp_path / "main"
    subprocess.run(
        [cc, *flags, "-o", str(exe), str(main), str(source), "-lm"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert [float(v) for v in out.split()] == [151.0, -50.0, 6.5, -2.0, 1.0]


def inverses_function() -> Function:
    """``inverses(x: ()) -> (3,)``: NDTRI, ERFINV and ERFCINV of x."""
    x = Elem("x", 0)
    body = tuple(Assign(k, op, (x,)) for k, op in enumerate((Op.NDTRI, Op.ERFINV, Op.ERFCINV)))
    return Function("inverses", (Param("x", ()),), body, Output((3,), (Var(0), Var(1), Var(2))))


INVERSE_ARGS = [5e-324, 1e-300, 0.3, 0.5, 0.9, 1 - 2.0**-53, 1.0, 1.5, 2.0, -0.0, -1.0, 0.99]


def test_export_c_and_extensions_compute_the_inverses(tmp_path):
    """Exported C and an extension module carry the helpers of NDTRI, ERFINV and ERFCINV
    (only those), compile cleanly and give symnum.ir.specfun's values bit for bit."""
    from symnum.ir import specfun

    compilers = _c_compilers()
    if not compilers:
        pytest.skip("no C compiler")
    expected = [[specfun.ndtri(v), specfun.erfinv(v), specfun.erfcinv(v)] for v in INVERSE_ARGS]
    _, source = c.export_c({"inv": inverses_function()}, tmp_path, "invmod")
    text = source.read_text()
    assert "symnum_ndtri" in text
    assert "symnum_erfcinv" in text
    assert "symnum_digamma" not in text
    values = ", ".join(repr(v) for v in INVERSE_ARGS)
    main = tmp_path / "main.c"
    main.write_text(
        textwrap.dedent(f"""\
        #include <stdio.h>
        #include "invmod.h"
        int main(void)
        {{
            const double x[{len(INVERSE_ARGS)}] = {{{values}}};
            double out[3];
            int k;
            for (k = 0; k < {len(INVERSE_ARGS)}; k++) {{
                invmod_inv(x + k, out);
                printf("%.17g %.17g %.17g\\n", out[0], out[1], out[2]);
            }}
            return 0;
        }}
        """)
    )
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
    exe = tmp_path / "main"
    subprocess.run(
        [compilers[0], *flags, "-o", str(exe), str(main), str(source), "-lm"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    got = [[float(v) for v in line.split()] for line in out.splitlines()]
    np.testing.assert_array_equal(got, expected)
    c.build_extension({"inv": inverses_function()}, tmp_path, "invext")
    result = _run_python(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import numpy as np
        import invext
        print(json.dumps(invext.inv(np.array({INVERSE_ARGS!r})).tolist()))
        """
    )
    np.testing.assert_array_equal(json.loads(result.stdout), expected)


def wide_function() -> Function:
    """More values cross chunk boundaries than fit the stack work array."""
    n = c._STACK_SLOTS + c._CHUNK + 100
    body = [Assign(k, Op.MUL, (Elem("x", 0), Const(float(k)))) for k in range(n)]
    body.append(Assign(n, Op.ADD, tuple(Var(k) for k in range(n))))
    return Function("wide", (Param("x", ()),), tuple(body), Output((), (Var(n),)))


@pytest.mark.slow
def test_work_array_on_the_heap():
    source = c.emit(wide_function())
    assert "malloc" in source.needs
    kernel = c.build(source)
    n = c._STACK_SLOTS + c._CHUNK + 100
    assert kernel.point(np.array(2.0)) == 2.0 * sum(range(n))


@pytest.mark.slow
@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_export_c_of_a_split_function_compiles_cleanly(tmp_path, cc):
    if cc not in _c_compilers():
        pytest.skip(f"{cc} is not installed")
    body, acc = [], Elem("x", 0)
    for k in range(c._SPLIT_ABOVE + 50):
        body.append(Assign(k, Op.ADD, (acc, Const(float(k)))))
        acc = Var(k)
    fn = Function(
        "chain", (Param("x", (1,)), Param("unused", (2,))), tuple(body), Output((), (acc,))
    )
    _, source = c.export_c({"chain": fn, "wide": wide_function()}, tmp_path, "big")
    assert "malloc" in source.read_text()
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c"]
    subprocess.run(
        [shutil.which(cc), *flags, "-o", str(tmp_path / "big.o"), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_cmake_builds_and_ctest_passes(tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None:
        if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS") == "1":
            pytest.fail("cmake is not installed")
        pytest.skip("cmake is not installed")
    build = tmp_path / "build"
    ctest = str(Path(cmake).with_name("ctest"))
    steps = [
        [cmake, "-S", str(REPO), "-B", str(build), f"-DPython3_EXECUTABLE={sys.executable}"],
        [cmake, "--build", str(build), "-j", "2"],
        [ctest, "--test-dir", str(build), "--output-on-failure"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{step}:\n{result.stdout}\n{result.stderr}"
    assert "tests passed" in result.stdout


# -- through the public API -------------------------------------------------------------


def _rosen_symbolic(x):
    import symnum.numpy as snp

    return snp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.fixture(scope="module")
def api_gradient():
    symnum = pytest.importorskip("symnum")
    return symnum.gradient(_rosen_symbolic, (2,), backend="c")


def test_public_api_gradient_and_fast_path(api_gradient):
    import symnum
    from symnum.codegen import NumericFunction

    g = api_gradient
    reference = symnum.gradient(_rosen_symbolic, (2,), backend="numpy")
    assert isinstance(g, NumericFunction)
    assert g.backend == "c"
    # the call reaches C without a Python frame: the function's class is a call class
    # (instances called by vectorcall) whose entry is the kernel's C callable
    assert type(type(g).__dict__["_fast_entry"]).__name__ == "CFunction"
    x = np.array([1.5, 2.0])
    frames = []
    sys.setprofile(lambda frame, event, arg: frames.append(event))
    try:
        g(x)
    finally:
        sys.setprofile(None)
    assert "call" not in frames, frames  # "call": a Python frame ran
    np.testing.assert_array_equal(g(x), reference(x))
    xs = np.random.default_rng(7).normal(size=(4, 3, 2))
    np.testing.assert_allclose(g(xs), reference(xs), rtol=1e-15)
    np.testing.assert_allclose(g(xs[:, :1]), reference(xs[:, :1]), rtol=1e-15)
    # the general path: lists, float32, strided, broadcasting
    np.testing.assert_array_equal(g([1.5, 2.0]), reference(x))
    np.testing.assert_array_equal(g(x.astype(np.float32)), reference(x.astype(np.float32)))
    np.testing.assert_array_equal(g(np.array([1.5, 0.0, 2.0])[::2]), reference(x))
    with pytest.raises(ValueError, match="'x'"):
        g(np.ones(3))
    with pytest.raises(TypeError):
        g(x, x)
    with pytest.raises(TypeError):
        g(np.ones(2, dtype=complex))


def test_public_api_hessian_and_operators():
    symnum = pytest.importorskip("symnum")
    import symnum.numpy as snp

    x = np.array([0.3, -0.4])
    for op in (symnum.hessian, symnum.gradient):
        got = op(_rosen_symbolic, (2,), backend="c", return_aux=True)(x)
        want = op(_rosen_symbolic, (2,), backend="numpy", return_aux=True)(x)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-14)

    def f(x):
        return snp.sin(x) * x[0]

    v = np.array([1.0, 2.0])
    jvp_c = symnum.jacobian_vector_product(f, (2,), backend="c")(x)
    jvp_np = symnum.jacobian_vector_product(f, (2,), backend="numpy")(x)
    np.testing.assert_allclose(jvp_c(v), jvp_np(v), rtol=1e-14)


def test_public_api_pickle_in_a_fresh_process(api_gradient):
    data = pickle.dumps(api_gradient)
    result = _run_python(
        f"""
import pickle
import sys
import numpy as np
from symnum.backends import c
def no_compiling(*args):
    raise AssertionError("compiled again")
sys.modules['symnum.backends.c.build']._cffi_compile = no_compiling
g = pickle.loads({data!r})
assert g(np.array([1.5, 2.0])).tolist() == [151.0, -50.0]
assert type(type(g).__dict__["_fast_entry"]).__name__ == "CFunction"
import sys
print("sympy" in sys.modules)
"""
    )
    assert result.stdout.split()[-1] == "False"  # unpickling needs no SymPy


def test_kernels_are_callable_from_numba(rosen_kernel):
    numba = pytest.importorskip("numba")
    from numba.core.typing import cffi_utils

    cffi_utils.register_module(rosen_kernel.cffi_module)
    point, batch, ffi = rosen_kernel.lib.rosen, rosen_kernel.lib.rosen_batch, rosen_kernel.ffi

    @numba.njit
    def use(xs):
        grads, values = np.empty_like(xs), np.empty(xs.shape[0])
        batch(xs.shape[0], ffi.from_buffer(xs), ffi.from_buffer(grads), ffi.from_buffer(values))
        one, value = np.empty(2), np.empty(1)
        point(ffi.from_buffer(xs[0]), ffi.from_buffer(one), ffi.from_buffer(value))
        return grads, values, one, value[0]

    xs = np.random.default_rng(8).normal(size=(5, 2))
    grads, values, one, value = use(xs)
    want = rosen_kernel.batch(xs)
    np.testing.assert_array_equal(grads, want[0])
    np.testing.assert_array_equal(values, want[1])
    np.testing.assert_array_equal(one, want[0][0])
    assert value == want[1][0]


# --------------------------------------------------------------------------------------
# Operator-valued products of the README example: the checks the numpy and numba
# backends run too (tests/_products.py)


@pytest.fixture(scope="module", params=list(PRODUCTS))
def product_case(request):
    """(name, C operator, a point, an argument of the operator)."""
    rng = np.random.default_rng(len(request.param))
    shape = PRODUCTS[request.param][2]
    return request.param, operator(request.param, "c"), rng.normal(size=2), rng.normal(size=shape)


def test_products_of_batches_and_lists(product_case):
    _, op, x, arg = product_case
    check_batches_and_lists(op, x, arg)


def test_products_refuse_what_they_refused(product_case):
    name, op, x, arg = product_case
    check_refusals(name, op, x, arg)


def _mostly_zeros(n_vars: int) -> Function:
    """A (10, 10) output with 80 zeros and two -0.0 (which a zero fill does not hold),
    the rest computed from ``n_vars`` statements, beside a small output."""
    body = (
        Assign(0, Op.SIN, (Elem("x", 0),)),
        *(Assign(k, Op.ADD, (Var(k - 1), Elem("x", k % 18))) for k in range(1, n_vars)),
    )  # a chain: every statement is live
    matrix: list = [Const(0.0)] * 100
    for k in range(18):
        matrix[k * 5 + 3] = Var(n_vars - 1 - k)
    matrix[1], matrix[98] = Const(-0.0), Const(-0.0)
    outputs = (Output((10, 10), tuple(matrix)), Output((2,), (Var(0), Const(0.0))))
    return Function("zeros", (Param("x", (18,)),), body, outputs)


@pytest.mark.parametrize("split", [False, True])
def test_zero_filled_outputs(split):
    """An output with many zeros is zero-filled by a loop before anything else writes
    it, its zeros not stored one by one; -0.0 is stored; split bodies alike."""
    fn = _mostly_zeros(c._SPLIT_ABOVE + 20 if split else 30)
    source = c.emit(fn)
    code = source.code
    assert "for (int j = 0; j < 100; j++) out0[j] = 0.0;" in code
    assert "out0[5] = 0.0;" not in code  # a zero no longer stored
    assert "out1[1] = 0.0;" in code  # a small output stores its zero
    assert ("_part0(" in code) is split
    # in a split body the fill comes before the parts, which write the other elements
    if split:
        assert code.index("out0[j] = 0.0;") < code.index("_part0(x,")
    kernel = c.build(source)
    x = np.linspace(-2.0, 2.0, 18)
    want = interpret.evaluate(fn, x)
    for got in (kernel.point(x), [a[1] for a in kernel.batch(np.stack([x + 1, x]))]):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(np.signbit(a), np.signbit(b))  # -0.0 kept
