"""Reliability: no user-supplied string reaches generated code unvalidated.

Names end up in generated Python and C source: function names, argument names (from
``named_array``, from a traced function's parameters, from ``_arg_names``), the
``func_name`` of ``generate_func``, names of extension modules and of their functions,
and the names inside IR handed directly to a backend. Each entry point must reject a
hostile name with ValueError (never emit it), and no hostile name may run code: every
payload below would create a marker file if it were executed.

Names that are valid Python identifiers but special in generated code (``math``, ``np``,
``exp``, ``int``, ``main``, ``I``...) must work and give right answers.

Pickles are another matter: unpickling runs code, as with any pickle; the README says so.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

MARKER = Path("/tmp/symnum-reliability-pwned")  # noqa: S108 - only ever checked, never trusted


def _payloads():
    m = str(MARKER)
    return [
        f"x); open({m!r}, 'w').write('pwned') #",
        f"x):\n    open({m!r}, 'w').write('pwned')\ndef g(x",
        f'x) {{ system("touch {m}"); }} void g(double x',
        f'x */ ; system("touch {m}"); /*',
        "__import__('os').system('touch " + m + "')",
        "a b",
        "",
        "1abc",
        "x-y",
        "x\x00",
        "x\n",
        "class",
        "lambda",
        "None",
        "caf\u00e9",  # an identifier, but not ASCII: rejected
        "\uff41",  # fullwidth 'a': NFKC-normalised to 'a' by Python's parser
        "x.y",
        "x[0]",
    ]


HOSTILE = _payloads()


@pytest.fixture(autouse=True)
def no_marker():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), "a hostile name was executed"


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_named_array_rejects_hostile_names(name):
    from symnum import named_array

    with pytest.raises(ValueError):  # noqa: PT011 - the type is the contract
        named_array(name, (2,))


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_generate_func_rejects_hostile_function_names(backend, name):
    from symnum import generate_func, named_array

    x = named_array("x", (2,))
    with pytest.raises(ValueError):  # noqa: PT011
        generate_func([x], x[0] * x[1], name, backend=backend)


@pytest.mark.parametrize("name", HOSTILE[:6], ids=range(6))
def test_hostile_argument_names_of_traced_functions(backend, name):
    """Argument names come from the function's code object or ``_arg_names``; both can
    be anything, so both are validated."""
    import symnum

    def f(x):
        return x * 2

    f._arg_names = (name,)
    with pytest.raises(ValueError):  # noqa: PT011
        symnum.numpify(f, (2,), backend=backend)

    def g(x):
        return x * 2

    g.__code__ = g.__code__.replace(co_varnames=(name,))
    with pytest.raises(ValueError):  # noqa: PT011
        symnum.numpify(g, (2,), backend=backend)


@pytest.mark.parametrize("name", HOSTILE[:3], ids=range(3))
def test_hostile_function_name_attribute_never_reaches_source(backend, name):
    """``numpify`` derives the generated function's name from ``func.__name__``: a hostile
    ``__name__`` is either rejected or sanitised, never emitted verbatim."""
    import symnum

    def f(x):
        return x[0] * x[1]

    f.__name__ = f.__qualname__ = name
    try:
        g = symnum.numpify(f, (2,), backend=backend)
    except ValueError:
        return
    assert g(np.array([2.0, 3.0])) == 6.0
    assert g.name.isidentifier(), g.name
    assert name not in g.source
    for fragment in ("open(", "system(", "__import__(", "'w'", "touch "):
        assert fragment not in g.source, fragment


def test_hostile_names_in_closure_arguments(backend):
    """Arguments of an operator-valued result are named arrays: validated the same way."""
    from symnum import FunctionExpression, named_array

    x = named_array("x", (2,))
    with pytest.raises(ValueError):  # noqa: PT011
        FunctionExpression((named_array(HOSTILE[0], (2,)),), x)


# --------------------------------------------------------------------------------------
# IR handed directly to a backend (public: symnum.ir, backend.emit, NumericFunction.from_ir)


def _ir_cases():
    from symnum.ir import Assign, Const, Elem, Function, Op, Output, Param, Var

    def fn(name="f", param="x", extra=None):
        return Function(
            name,
            (Param(param, (2,)),),
            (Assign(0, Op.ADD, (Elem(param, 0), extra or Elem(param, 1))),),
            Output((), (Var(0),)),
        )

    h = HOSTILE[1]
    return {
        "function name": fn(name=h),
        "C function name": fn(name=HOSTILE[2]),
        "parameter name": fn(param=h),
        "C parameter name": fn(param=HOSTILE[3]),
        "constant": fn(extra=Const(h)),
        "element index": fn(extra=Elem("x", h)),
        "unknown parameter": fn(extra=Elem(h, 0)),
    }


IR_CASES = sorted(_ir_cases())


@pytest.mark.parametrize("case", IR_CASES)
def test_backend_emit_rejects_hostile_ir(backend, case):
    from symnum import backends

    module = backends.get(backend)
    with pytest.raises(ValueError):  # noqa: PT011 - symnum.ir.IRError is a ValueError
        module.emit(_ir_cases()[case])


@pytest.mark.parametrize("case", IR_CASES)
def test_numeric_function_from_ir_rejects_hostile_ir(backend, case):
    from symnum import NumericFunction

    with pytest.raises(ValueError):  # noqa: PT011
        NumericFunction.from_ir(_ir_cases()[case], backend)


@pytest.mark.parametrize("case", IR_CASES)
@pytest.mark.parametrize("entry", ["export_c", "build_extension"])
def test_c_export_rejects_hostile_ir(case, entry, tmp_path):
    from conftest import require_backend

    require_backend("c")
    from symnum.backends import c

    with pytest.raises(ValueError):  # noqa: PT011
        getattr(c, entry)({"f": _ir_cases()[case]}, tmp_path, "mod")


@pytest.mark.parametrize("name", HOSTILE[:8], ids=range(8))
@pytest.mark.parametrize("entry", ["export_c", "build_extension"])
def test_c_export_rejects_hostile_module_and_function_names(name, entry, tmp_path):
    from conftest import require_backend

    require_backend("c")
    from symnum.backends import c
    from symnum.ir import Assign, Elem, Function, Op, Output, Param, Var

    fn = Function("f", (Param("x", (2,)),), (Assign(0, Op.ADD, (Elem("x", 0), Elem("x", 1))),),
              Output((), (Var(0),)))  # fmt: skip
    with pytest.raises(ValueError):  # noqa: PT011
        getattr(c, entry)({"f": fn}, tmp_path, name)
    with pytest.raises(ValueError):  # noqa: PT011
        getattr(c, entry)({name: fn}, tmp_path, "mod")


# --------------------------------------------------------------------------------------
# Valid names that mean something in generated code

SPECIAL = ["math", "np", "numpy", "numba", "exp", "sin", "int", "double", "main", "I", "out"]


def test_special_but_valid_names_work(backend):
    """Argument names and a function name that clash with what generated Python or C
    uses (modules, libm functions, C keywords and macros) must not change the result."""
    from symnum import generate_func, named_array
    from symnum import numpy as snp

    args = [named_array(n, (2,)) for n in SPECIAL]
    expr = sum(snp.exp(a[0]) * snp.sin(a[1]) + a[0] * (k + 1) for k, a in enumerate(args))
    f = generate_func(args, (expr, args[0] * args[-1]), "exp", backend=backend)
    values = [np.array([0.1 * k, 1.0 - 0.05 * k]) for k in range(len(SPECIAL))]
    value, product = f(*values)
    want = sum(math.exp(v[0]) * math.sin(v[1]) + v[0] * (k + 1) for k, v in enumerate(values))
    assert value == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(product, values[0] * values[-1], rtol=1e-15)


@pytest.mark.parametrize("name", ["x", "np", "numba"])
def test_special_function_names_work(backend, name):
    from symnum import generate_func, named_array

    x = named_array("x", (2,))
    f = generate_func([x], x[0] * x[1] + 1, name, backend=backend)
    assert f(np.array([2.0, 3.0])) == 7.0


# --------------------------------------------------------------------------------------
# Pickles


def test_readme_warns_that_unpickling_runs_code():
    """Unpickling a numeric function builds (and for numpy / numba, executes) the code
    inside the pickle: like any pickle, only load trusted ones. The README must say so."""
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = " ".join(readme.read_text(encoding="utf-8").lower().split())
    assert "pickle" in text
    assert "trust" in text, "the README must warn that unpickling runs code"
    assert "runs code" in text or "execute" in text or "arbitrary code" in text


# --------------------------------------------------------------------------------------
# Any valid Python identifier works as an argument or function name, on every backend

#: leading underscores, C keywords and macros, libc, math.h, Python C-API and NumPy
#: names, and names symnum's generated code uses itself
ODD_NAMES = [
    "_x", "__y", "_", "__", "_Bool", "Python_model", "Py_None", "PyObject", "NPY_MAXDIMS",
    "npy_intp", "import_array", "symnum_k", "cffi_x", "linux", "unix", "i386",
    "math_errhandling", "errno", "stdin", "NULL", "EOF", "INFINITY", "HUGE_VAL", "printf",
    "malloc", "free", "signgam", "isnan", "fpclassify", "restrict", "register", "auto",
    "goto", "long", "t0", "out0", "pi", "w", "n", "main", "I", "complex", "np", "math",
    "numba", "u__x", "u_linux", "x_batch", "x_shapes",
]  # fmt: skip


def test_odd_but_valid_argument_names_work(backend):
    from symnum import generate_func, named_array

    args = [named_array(n, (2,)) for n in ODD_NAMES]
    expr = sum(a[0] * (k + 1) - a[1] for k, a in enumerate(args))
    f = generate_func(args, (expr, args[0] * args[-1]), "odd_names", backend=backend)
    values = [np.array([0.5 + k, 0.25 * k]) for k in range(len(ODD_NAMES))]
    value, product = f(*values)
    want = sum(v[0] * (k + 1) - v[1] for k, v in enumerate(values))
    assert value == pytest.approx(want, rel=1e-13)
    np.testing.assert_array_equal(product, values[0] * values[-1])


@pytest.mark.parametrize(
    "name", ["_f", "__f", "_", "Python_model", "Py_model", "linux", "i386", "printf", "main"]
)
def test_odd_but_valid_function_names_work(backend, name):
    import symnum
    from symnum import generate_func, named_array

    x = named_array("x", (2,))
    f = generate_func([x], x[0] * x[1] + 1, name, backend=backend)
    assert f(np.array([2.0, 3.0])) == 7.0

    def traced(_x):
        return _x[0] * _x[1]

    traced.__name__ = traced.__qualname__ = name
    g = symnum.numpify(traced, (2,), backend=backend)
    assert g(np.array([2.0, 3.0])) == 6.0
    grad = symnum.gradient(traced, (2,), backend=backend)
    np.testing.assert_array_equal(grad(np.array([2.0, 3.0])), [3.0, 2.0])


# --------------------------------------------------------------------------------------
# Extension modules: names that would break the module or shadow another one


def _small_ir():
    from symnum.ir import Assign, Elem, Function, Op, Output, Param, Var

    return Function(
        "f", (Param("x", (2,)),), (Assign(0, Op.ADD, (Elem("x", 0), Elem("x", 1))),),
        Output((), (Var(0),)),
    )  # fmt: skip


@pytest.mark.parametrize("name", ["__name__", "__getattr__", "__dict__", "__spec__", "__x__"])
def test_build_extension_refuses_dunder_function_names(name, tmp_path):
    from conftest import require_backend

    require_backend("c")
    from symnum.backends import c

    with pytest.raises(ValueError, match="reserved"):
        c.build_extension({name: _small_ir()}, tmp_path, "mod")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["math", "sys", "numpy", "os", "json", "symnum", "pytest"])
def test_build_extension_refuses_module_names_that_shadow(name, tmp_path):
    from conftest import require_backend

    require_backend("c")
    from symnum.backends import c

    with pytest.raises(ValueError, match="existing module"):
        c.build_extension({"f": _small_ir()}, tmp_path, name)
    assert not list(tmp_path.iterdir())


def test_build_extension_refuses_clashing_c_names(tmp_path):
    from conftest import require_backend

    require_backend("c")
    from symnum.backends import c

    with pytest.raises(ValueError, match="both define"):
        c.build_extension({"f": _small_ir(), "f_batch": _small_ir()}, tmp_path, "clash")


def test_build_extension_can_rebuild_its_own_module(tmp_path, monkeypatch):
    """A module found on sys.path in the target directory itself is the one being
    rebuilt, not one to shadow."""
    from conftest import require_backend

    require_backend("c")
    from symnum.backends import c

    c.build_extension({"f": _small_ir()}, tmp_path, "mine")
    monkeypatch.syspath_prepend(str(tmp_path))
    c.build_extension({"f": _small_ir()}, tmp_path, "mine")


# --------------------------------------------------------------------------------------
# A stale or corrupt C pickle must be refused, never run out of bounds


def _tampered_states():
    """(description, NumericFunction state) pairs whose C metadata disagrees with the
    code; a fresh gradient each time, so nothing is served from a process cache."""
    import dataclasses

    import symnum
    from symnum.ir import Param

    def f(x):
        return x[0] * x[1] + x[2]

    g = symnum.gradient(f, (3,), backend="c")
    _, (state,) = g.__reduce__()
    source = state["_source"]
    big = (("x", "x", (3000,)),)
    return {
        "param shape": {
            **state,
            "_source": dataclasses.replace(source, params=big),
            "params": (Param("x", (3000,)),),
        },
        "output shape": {**state, "_source": dataclasses.replace(source, outputs=((3000,),))},
        "output tree": {**state, "_source": dataclasses.replace(source, tree=(0, 1, 2))},
        "numeric params only": {**state, "params": (Param("x", (3000,)),)},
    }


@pytest.mark.parametrize(
    "case", ["param shape", "output shape", "output tree", "numeric params only"]
)
def test_corrupt_c_pickle_is_refused(case, tmp_path):
    """Run in a subprocess: an out-of-bounds kernel would crash it (or corrupt memory
    silently); a refused one raises ImportError or ValueError."""
    import os
    import pickle
    import subprocess
    import sys

    from conftest import require_backend

    require_backend("c")
    state = _tampered_states()[case]
    blob = tmp_path / "state.pickle"
    blob.write_bytes(pickle.dumps(state))
    code = f"""
import pickle
import numpy as np
from symnum.numeric import _rebuild
state = pickle.loads(open({str(blob)!r}, "rb").read())
try:
    g = _rebuild(state)
    x = np.ones(g.params[0].shape)
    g(x)
    g(np.ones((4,) + g.params[0].shape))
except (ImportError, ValueError) as exc:
    print("refused:", exc)
else:
    print("ran")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env={**os.environ}, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused:"), result.stdout + result.stderr
