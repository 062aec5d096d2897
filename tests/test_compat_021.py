"""symnum as a drop-in for SymNum 0.2.1 (issue 12).

SymNum 0.2.1's own test suite runs in CI against symnum (``.ci/run``); these tests pin
the behaviours a 0.2.1 user meets beyond that suite: its public names and signatures
(``compat_021_names.json``, written down from its sdist), submodules after a bare
``import symnum``, the docstring of numpified functions, 0.2.1's codegen names, and
pickles that a worker loads without the module that defined the function or SymPy.
Structural ``==``, NumPy ufuncs and reductions of 0-d arrays are in ``test_array.py``;
canonical derivatives in ``test_diffops_symbolic.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy

import symnum
import symnum.codegen

NAMES_021 = json.loads((Path(__file__).parent / "compat_021_names.json").read_text())["modules"]

_P = inspect.Parameter
_POSITIONAL = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)

# symnum.numpy's functions of 0.2.1 took ``*args, **kwargs`` only to raise
# NotImplementedError for any of them: symnum's take NumPy's own options instead
_VARARGS_REJECTED_IN_021 = {"symnum.numpy"}


def _incompatibilities(params_021: list, signature: inspect.Signature, module: str) -> list:
    """How a call valid for 0.2.1's parameters ``params_021`` could fail on ``signature``."""
    problems = []
    new = list(signature.parameters.values())
    by_name = {p.name: p for p in new}
    new_positional = [p for p in new if p.kind in _POSITIONAL]
    has_varargs = any(p.kind == _P.VAR_POSITIONAL for p in new)
    has_varkw = any(p.kind == _P.VAR_KEYWORD for p in new)
    old_positional = [p for p in params_021 if p[1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    for index, (name, kind, has_default) in enumerate(old_positional):
        if index >= len(new_positional):
            if not has_varargs:
                problems.append(f"positional parameter {name!r} missing")
            continue
        ours = new_positional[index]
        if kind == "POSITIONAL_OR_KEYWORD" and ours.name != name:
            problems.append(f"parameter {index} is {ours.name!r}, 0.2.1 named it {name!r}")
        if has_default and ours.default is _P.empty:
            problems.append(f"parameter {name!r} lost its default")
    for name, kind, _ in params_021:
        if kind == "KEYWORD_ONLY" and name not in by_name and not has_varkw:
            problems.append(f"keyword parameter {name!r} missing")
        if module in _VARARGS_REJECTED_IN_021:
            continue
        if kind == "VAR_POSITIONAL" and not has_varargs:
            problems.append("no *args")
        if kind == "VAR_KEYWORD" and not has_varkw:
            problems.append("no **kwargs")
    old_names = {p[0] for p in params_021}
    problems.extend(
        f"new required parameter {p.name!r}"
        for p in new[len(old_positional) :]
        if p.kind in (*_POSITIONAL, _P.KEYWORD_ONLY)
        and p.default is _P.empty
        and p.name not in old_names
    )
    return problems


# Deliberate renames of 0.2.1's parameters (README, "Changes from SymNum 0.2.1"): none
_KNOWN_RENAMES: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("module_name", sorted(NAMES_021))
def test_public_names_of_021_exist_with_compatible_signatures(module_name):
    module = importlib.import_module(module_name)
    missing, incompatible = [], {}
    for name, entry in NAMES_021[module_name].items():
        if not hasattr(module, name):
            missing.append(name)
            continue
        value = getattr(module, name)
        if entry["kind"] == "module":
            assert inspect.ismodule(value), f"{module_name}.{name} is not a module"
        elif "params" in entry:
            assert callable(value), f"{module_name}.{name} is not callable"
            problems = _incompatibilities(entry["params"], inspect.signature(value), module_name)
            known = _KNOWN_RENAMES.get((module_name, name))
            problems = [p for p in problems if p != known]
            if problems:
                incompatible[name] = problems
    assert not missing, f"{module_name} lacks 0.2.1's names {missing}"
    assert not incompatible, f"{module_name}: signatures incompatible with 0.2.1: {incompatible}"


def test_signature_check_can_fail():
    def renamed(func, *arg_shapes, **kwargs):
        return func

    def no_varargs(sympy_func):
        return sympy_func

    params = [
        ["sympy_func", "POSITIONAL_OR_KEYWORD", False],
        ["arg_shapes", "VAR_POSITIONAL", False],
        ["kwargs", "VAR_KEYWORD", False],
    ]
    assert _incompatibilities(params, inspect.signature(renamed), "symnum.codegen")
    assert _incompatibilities(params, inspect.signature(no_varargs), "symnum.codegen")
    assert not _incompatibilities(
        params, inspect.signature(symnum.codegen.numpify_func), "symnum.codegen"
    )


def _run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_bare_import_gives_the_submodules_of_021():
    out = _run(
        """
        import sys
        import symnum
        assert "sympy" not in sys.modules  # still lazy
        assert callable(symnum.codegen.numpify)
        assert callable(symnum.array.named_array)
        assert callable(symnum.diffops.numpy.gradient)
        assert callable(symnum.diffops.symbolic.gradient)
        assert {"array", "codegen", "diffops", "numpy"} <= set(dir(symnum))
        print("ok")
        """
    )
    assert out == "ok"


def test_numpified_docstring_shows_the_generated_code():
    def rosen(x):
        return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2

    f = symnum.numpify(rosen, (2,))
    assert f.__doc__.startswith("Automatically generated rosen function.")
    assert f.source in f.__doc__
    assert "def rosen(x)" in f.__doc__
    assert pickle.loads(pickle.dumps(f)).__doc__ == f.__doc__


def test_codegen_keeps_021_names():
    assert symnum.codegen.NUMBA_AVAILABLE is (importlib.util.find_spec("numba") is not None)
    printer = symnum.codegen.TupleArrayPrinter()
    x = sympy.Symbol("x")
    assert printer.doprint(sympy.Array([[x, 1], [2, 3]])) == "numpy.array(((x, 1), (2, 3)))"
    assert printer.doprint(sympy.Matrix([[x, 1]])) == "numpy.array(((x, 1),))"
    assert printer.doprint(sympy.exp(x)) == "numpy.exp(x)"


_USER_MODULE = """
import symnum.numpy as snp


def neg_log_dens(q):
    return snp.sum(q**2) / 2 + snp.log(1 + snp.exp(q[0] * q[1]))
"""


def test_numpify_pickles_by_value(tmp_path, monkeypatch):
    """A worker unpickles and calls a numpified function (and its gradient) without
    importing the module that defined it, or SymPy (issue 12, item 6)."""
    (tmp_path / "compat_user_model.py").write_text(_USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    model = importlib.import_module("compat_user_model")
    path = tmp_path / "functions.pkl"
    try:
        f = symnum.numpify(model.neg_log_dens, (2,))
        grad = symnum.gradient(model.neg_log_dens, (2,))
        # pickled while the module is importable: nothing may refer to it by name
        path.write_bytes(pickle.dumps((f, grad)))
    finally:
        sys.modules.pop("compat_user_model", None)
    q = np.array([0.3, -0.7])
    expected = [float(f(q)), *grad(q).tolist()]
    out = _run(
        f"""
        import importlib.abc, pickle, sys

        class Blocked(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("sympy", "compat_user_model"):
                    raise ImportError(f"{{name}} must not be imported by a worker")
                return None

        sys.meta_path.insert(0, Blocked())
        sys.path.insert(0, {str(tmp_path)!r})  # the module is there, but blocked
        import numpy as np
        with open({str(path)!r}, "rb") as file:
            f, grad = pickle.load(file)
        q = np.array([0.3, -0.7])
        got = [float(f(q)), *grad(q).tolist()]
        assert got == {expected!r}, got
        assert "sympy" not in sys.modules and "compat_user_model" not in sys.modules
        print("ok")
        """
    )
    assert out == "ok"


def test_pickling_check_can_fail(tmp_path):
    """The blocking finder above does stop imports: a pickle of a function by reference
    fails to load."""
    (tmp_path / "compat_user_ref.py").write_text("def f():\n    return 1\n")
    out = _run(
        f"""
        import importlib.abc, pickle, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import compat_user_ref
        data = pickle.dumps(compat_user_ref.f)
        del sys.modules["compat_user_ref"]

        class Blocked(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "compat_user_ref":
                    raise ImportError("blocked")
                return None

        sys.meta_path.insert(0, Blocked())
        try:
            pickle.loads(data)
        except ImportError:
            print("blocked")
        """
    )
    assert out == "blocked"
