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
