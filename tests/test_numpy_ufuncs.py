"""symnum.numpy.ufuncs against the shared op table (tests/_ops.py).

Every elementwise function of symnum.numpy that is one IR op is checked against that
op's NumPy / SciPy reference over the table's values (+-0, +-inf, nan included): on
numeric input (scalars and arrays) and compiled from symbolic input.
"""

from __future__ import annotations

import numpy as np
import pytest
from _assert import as_float
from _ops import PAIRS, VALUES, reference

import symnum
import symnum.numpy as snp
from symnum.ir import Op

#: symnum.numpy function -> the op it is
UNARY_OPS = {
    "exp": Op.EXP,
    "expm1": Op.EXPM1,
    "exp2": Op.EXP2,
    "log": Op.LOG,
    "log2": Op.LOG2,
    "log10": Op.LOG10,
    "log1p": Op.LOG1P,
    "sin": Op.SIN,
    "cos": Op.COS,
    "tan": Op.TAN,
    "arcsin": Op.ASIN,
    "arccos": Op.ACOS,
    "arctan": Op.ATAN,
    "sinh": Op.SINH,
    "cosh": Op.COSH,
    "tanh": Op.TANH,
    "arcsinh": Op.ASINH,
    "arccosh": Op.ACOSH,
    "arctanh": Op.ATANH,
    "sqrt": Op.SQRT,
    "abs": Op.ABS,
    "absolute": Op.ABS,
    "sign": Op.SIGN,
    "floor": Op.FLOOR,
    "ceil": Op.CEIL,
    "real": Op.REAL,
    "imag": Op.IMAG,
    "conj": Op.CONJ,
    "conjugate": Op.CONJ,
}
BINARY_OPS = {
    "arctan2": Op.ATAN2,
    "hypot": Op.HYPOT,
    "maximum": Op.MAX,
    "minimum": Op.MIN,
}
#: the arithmetic operators as functions: compiled only (on numeric input they are
#: SymPy's arithmetic, whose 1/0 is zoo, not NumPy's inf)
OPERATOR_OPS = {"subtract": Op.SUB, "divide": Op.DIV, "power": Op.POW}

A = np.array(VALUES)


def _close(actual, expected):
    np.testing.assert_allclose(as_float(actual), expected, rtol=1e-14, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", sorted(UNARY_OPS))
def test_unary_on_numeric_input_is_numpys(name):
    func, op = getattr(snp, name), UNARY_OPS[name]
    expected = reference(op, A, A)
    _close(func(A), expected)
    for value, want in zip(VALUES, expected, strict=True):
        _close(func(value), want)


def _without_negative_zero(values):
    # SymPy numbers have no negative zero: on numeric input -0.0 becomes 0.0, which only
    # arctan2 tells apart (atan2(-0.0, -1.0) is -pi); compiled code keeps the sign
    return np.where(values == 0, 0.0, values)


@pytest.mark.parametrize("name", sorted(BINARY_OPS))
def test_binary_on_numeric_input_is_numpys(name):
    func, op = getattr(snp, name), BINARY_OPS[name]
    a, b = _without_negative_zero(PAIRS[:, 0]), _without_negative_zero(PAIRS[:, 1])
    expected = reference(op, a, b)
    _close(func(a, b), expected)
    # broadcasting a column against a row gives the same table
    column = _without_negative_zero(A)
    grid = func(column[:, None], column[None, :])
    assert grid.shape == (len(VALUES), len(VALUES))
    _close(np.asarray(as_float(grid)).ravel(), expected)
    for x, y, want in zip(a[::7].tolist(), b[::7].tolist(), expected[::7], strict=True):
        _close(func(x, y), want)


def _all_ufuncs(x, y):
    return (
        *(getattr(snp, name)(x) for name in sorted(UNARY_OPS)),
        *(getattr(snp, name)(x, y) for name in sorted(BINARY_OPS)),
        *(getattr(snp, name)(x, y) for name in sorted(OPERATOR_OPS)),
    )


def test_compiled_ufuncs_are_their_ops():
    """Symbolic input lowers each function to its op (numpy backend, one build)."""
    n = len(PAIRS)
    f = symnum.numpify(_all_ufuncs, (n,), (n,), backend="numpy")
    a, b = PAIRS[:, 0].copy(), PAIRS[:, 1].copy()
    results = f(a, b)
    names = [*sorted(UNARY_OPS), *sorted(BINARY_OPS), *sorted(OPERATOR_OPS)]
    ops = {**UNARY_OPS, **BINARY_OPS, **OPERATOR_OPS}
    assert len(results) == len(names)
    for name, got in zip(names, results, strict=True):
        expected = reference(ops[name], a, b)
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0, equal_nan=True, err_msg=name)


def test_compiled_ufuncs_on_0d_arguments():
    f = symnum.numpify(_all_ufuncs, (), (), backend="numpy")
    got = f(np.array(0.4), np.array(2.0))
    expected = _all_ufuncs(np.float64(0.4), np.float64(2.0))
    for g, e in zip(got, expected, strict=True):
        assert np.shape(g) == ()
        np.testing.assert_allclose(g, as_float(e), rtol=1e-14)


@pytest.mark.parametrize("name", sorted(UNARY_OPS))
def test_unary_docstring_states_shapes(name):
    func = getattr(snp, name)
    assert func.__name__ == name
    assert f"numpy.{name}" in func.__doc__
    assert "shape of ``x``" in func.__doc__
