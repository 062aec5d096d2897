"""symnum.numpy.ufuncs against the shared op table (tests/_ops.py).

Every elementwise function of symnum.numpy that is one IR op is checked against that
op's NumPy / SciPy reference over the table's values (+-0, +-inf, nan included): on
numeric input (scalars and arrays) and compiled from symbolic input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import sympy
from _assert import as_float, assert_close
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


# --------------------------------------------------------------------------------------
# Numeric and symbolic examples


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


def test_clip(rng):
    a = rng.normal(size=(3, 4))
    lo, hi = rng.normal(size=4) - 0.5, rng.normal(size=(3, 1)) + 0.5
    _close(snp.clip(a, -0.5, 0.5), np.clip(a, -0.5, 0.5))
    _close(snp.clip(a, lo, hi), np.clip(a, lo, hi))
    _close(snp.clip(a, None, 0.2), np.clip(a, None, 0.2))
    _close(snp.clip(a, min=-0.1), np.clip(a, -0.1, None))
    _close(snp.clip(a, max=0.1), np.clip(a, None, 0.1))


def test_elementwise(rng):
    a = rng.normal(size=(3, 4)) * 3
    b = rng.normal(size=4) * 3
    _close(snp.square(a), np.square(a))
    _close(snp.reciprocal(a), np.reciprocal(a))
    _close(snp.hypot(a, b), np.hypot(a, b))
    _close(snp.exp2(a), np.exp2(a))
    _close(snp.logaddexp(a, b), np.logaddexp(a, b))
    _close(snp.logaddexp2(a, b), np.logaddexp2(a, b))
    big = np.array([1000.0, -1000.0, 0.0, 700.0, -np.inf])
    other = np.array([0.0, 0.0, 1e-300, 710.0, -np.inf])
    _close(snp.logaddexp(big, other), np.logaddexp(big, other))
    assert snp.square(sympy.Symbol("t")) == sympy.Symbol("t") ** 2


def test_logaddexp_derivative_is_stable(backend):
    """The derivative has no overflow: 1 / (1 + exp(b - a)) in a, for huge |a - b|."""
    grad = symnum.gradient(lambda v: snp.logaddexp(v[0], v[1]), (2,), backend=backend)
    for a, b in [(1000.0, -1000.0), (-800.0, 800.0), (0.0, 0.0), (3.0, 1.0)]:
        expected = [scipy.special.expit(a - b), scipy.special.expit(b - a)]
        np.testing.assert_allclose(grad(np.array([a, b])), expected, rtol=1e-15)


def test_log1p_expm1_full_precision(backend):
    """log1p(1e-12) and expm1(1e-12) match math to the last bit on every backend."""
    f = symnum.numpify(lambda x: (snp.log1p(x), snp.expm1(x)), (), backend=backend)
    for value in (1e-12, -3e-15, 1e-300, 2.5e-8):
        log1p, expm1 = f(np.array(value))
        assert abs(float(log1p) - math.log1p(value)) <= abs(np.spacing(math.log1p(value)))
        assert abs(float(expm1) - math.expm1(value)) <= abs(np.spacing(math.expm1(value)))
    # the accurate functions survive inside larger expressions too
    g = symnum.numpify(lambda x: snp.sum(snp.logaddexp(x, -40.0)), (2,), backend=backend)
    assert float(g(np.array([0.0, 0.0]))) == 2 * math.log1p(math.exp(-40.0))
