"""The elementwise functions of symnum.numpy built from other ops (rounding, remainders,
signs, degrees, sinc, heaviside, fmax / fmin, ...) against NumPy.

On numeric input (where NumPy computes the value), on symbolic input evaluated at the
same numbers, and compiled on every backend (values at the edges: ties, zeros of both
signs, infinities, nan; derivatives against finite differences and closed forms).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from _assert import as_float
from _like_numpy import check_like_numpy

import symnum
import symnum.numpy as snp
from symnum import named_array

UNARY = (
    "fabs", "cbrt", "positive", "negative", "deg2rad", "radians", "rad2deg", "degrees",
    "trunc", "fix", "rint", "round", "around", "sinc",
)  # fmt: skip
BINARY = (
    "float_power", "mod", "remainder", "fmod", "floor_divide", "copysign", "heaviside",
    "fmax", "fmin",
)  # fmt: skip

# edge points: ties of rint, zero, negatives, large values, the infinities and nan
# (numeric input has no -0.0: SymPy's zero has no sign; the compiled tests use it)
X = np.array([
    -1e300, -7.5, -3.5, -2.5, -1.0, -0.5, -0.3, -1e-12, 0.0, 1e-12, 0.3, 0.5,
    0.49999999999999994, 1.5, 2.5, 4.5, 7.25, 2.0**52 + 1, 1e300, np.inf, -np.inf, np.nan,
])  # fmt: skip
# pairs for the binary functions (with broadcasting, a column against a row)
X1 = np.array([-7.5, -3.0, -1.0, -0.25, 0.0, 0.25, 1.0, 3.0, 7.5, np.inf, np.nan])[:, None]
X2 = np.array([-2.0, -0.75, 0.0, 0.75, 2.0, np.inf, -np.inf, np.nan])[None, :]


def _reference(name, *args):
    with np.errstate(all="ignore"):
        return getattr(np, name)(*args).astype(float)


def _same(actual, expected, rtol=1e-14):
    np.testing.assert_allclose(as_float(actual), expected, rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", UNARY)
def test_unary_numeric_is_numpys(name):
    func = getattr(snp, name)
    _same(func(X), _reference(name, X))
    for value in X[::3].tolist():
        result = func(value)
        assert isinstance(result, sympy.Expr)
        _same(result, _reference(name, np.float64(value)))


@pytest.mark.parametrize("name", BINARY)
def test_binary_numeric_is_numpys(name):
    func = getattr(snp, name)
    result = func(X1, X2)
    assert result.shape == (X1.size, X2.size)
    # numbers give NumPy's values, also NumPy's exact remainder and infinite divisors
    _same(result, _reference(name, X1, X2))
    _same(func(1.0, 0.1), _reference(name, 1.0, 0.1))


@pytest.mark.parametrize("name", UNARY)
def test_unary_like_numpy(name):
    check_like_numpy(snp, name, [(2, 3)])
    check_like_numpy(snp, name, [()])


@pytest.mark.parametrize("name", BINARY)
def test_binary_like_numpy(name):
    check_like_numpy(snp, name, [(2, 3), (3,)])
    check_like_numpy(snp, name, [(2, 1), (1, 3)])


def test_exact_and_symbolic_values():
    assert snp.cbrt(-8) == -2
    assert snp.cbrt(sympy.Integer(27)) == 3
    x = sympy.Symbol("x", real=True)
    assert float(snp.cbrt(x).subs(x, -1.5)) == pytest.approx(np.cbrt(-1.5), rel=1e-15)
    assert snp.sinc(0) == 1
    assert snp.sinc(x).subs(x, 0) == 1
    assert snp.rint(sympy.Rational(5, 2)) == 2
    assert snp.rint(sympy.Rational(-5, 2)) == -2
    assert snp.rint(sympy.Rational(7, 2)) == 4
    assert snp.mod(-7, 3) == 2
    assert snp.fmod(-7, 3) == -1
    assert snp.heaviside(0, x) == x
    assert snp.heaviside(-2, x) == 0
    assert snp.signbit(-3.0) == sympy.true
    assert snp.signbit(np.array([-1.0, 2.0])).tolist() == [sympy.true, sympy.false]
    assert snp.fmax(np.nan, 2.0) == 2.0
    assert snp.fmin(-1.0, np.nan) == -1.0
    assert math.isnan(float(snp.fmax(np.nan, np.nan)))
    assert float(snp.deg2rad(180)) == pytest.approx(math.pi, rel=1e-15)
    assert snp.round(2.675, 2) == np.round(2.675, 2)
    assert snp.round(1234.5, -2) == np.round(1234.5, -2)


def test_bad_arguments():
    x = named_array("x", 3)
    with pytest.raises(TypeError, match="decimals must be an int"):
        snp.round(x, 1.5)
    with pytest.raises(NotImplementedError, match="out"):
        snp.around(x, 0, out=np.zeros(3))
    with pytest.raises(NotImplementedError, match="first two arguments"):
        snp.mod(x, 2.0, np.zeros(3))
    with pytest.raises(ValueError, match="broadcast"):
        snp.copysign(x, named_array("y", 2))
    with pytest.raises(TypeError, match="scalar or an array"):
        snp.sinc(object())


def test_docstrings():
    for name in (*UNARY, *BINARY, "signbit"):
        func = getattr(snp, name)
        assert func.__name__ == name
        assert f"numpy.{name}" in func.__doc__


# --------------------------------------------------------------------------------------
# Compiled on every backend

# a point set with -0.0, ties, tiny and huge values, infinities and nan
A = np.array([-2.5, -1.5, -0.5, -0.0, 0.0, 1e-9, 0.3, 0.5, 2.5, 3.5, -7.25, np.inf, -np.inf,
              np.nan])  # fmt: skip
B = np.array([2.0, -2.0, 0.75, -1.0, -0.0, 0.0, -1.5, 1.0, -3.0, 2.0, 0.5, 1.0, 2.0, 1.0])


def _all_new(m, a, b):
    return (
        m.fabs(a), m.cbrt(a), m.positive(a), m.negative(a), m.deg2rad(a), m.rad2deg(a),
        m.trunc(a), m.rint(a), m.round(a, 1), m.around(a * 100, -1), m.sinc(a),
        m.signbit(a), m.copysign(a, b), m.heaviside(a, b), m.fmax(a, b), m.fmin(a, b),
        m.float_power(m.fabs(a), b), m.mod(a, b), m.fmod(a, b), m.floor_divide(a, b),
    )  # fmt: skip


_NAMES = ("fabs", "cbrt", "positive", "negative", "deg2rad", "rad2deg", "trunc", "rint",
          "round", "around", "sinc", "signbit", "copysign", "heaviside", "fmax", "fmin",
          "float_power", "mod", "fmod", "floor_divide")  # fmt: skip


def _smooth(v):
    """A scalar of the new functions, smooth at the test point except at x[0] == 0,
    where sinc is smooth and heaviside's branch at 0 is taken (as finite differences
    see it: heaviside(x, 0.5) * c * x has derivative c / 2 there)."""
    x, y = v[:4], v[4:]
    return (
        snp.sum(snp.sinc(x) * snp.cbrt(y))
        + snp.sum(snp.mod(x * y + 0.35, 0.7) ** 2)
        + snp.sum(snp.fmod(y, -0.4) * snp.copysign(x, -y))
        + snp.sum(snp.fmax(x, y) * snp.fmin(x, -y))
        + snp.sum(snp.float_power(snp.fabs(y), x) + snp.deg2rad(x) * snp.rad2deg(y))
        + snp.sum(snp.heaviside(x, 0.5) * snp.trunc(3 * y) * x)
    )


@pytest.mark.slow  # numba takes ~20 s to compile these
def test_new_ufuncs_on_backend(backend):
    f = symnum.numpify(lambda a, b: _all_new(snp, a, b), (A.size,), (B.size,), backend=backend)
    with np.errstate(all="ignore"):
        expected = _all_new(np, A, B)
    got = f(A, B)
    assert len(got) == len(_NAMES)
    for name, g, reference in zip(_NAMES, got, expected, strict=True):
        want = np.asarray(reference, dtype=float)
        np.testing.assert_allclose(g, want, rtol=1e-14, atol=0, equal_nan=True, err_msg=name)
        if name in ("signbit", "copysign", "trunc", "fabs", "negative", "mod", "fmod"):
            # the sign of zero results as NumPy's
            zero = want == 0
            np.testing.assert_array_equal(np.signbit(g[zero]), np.signbit(want[zero]), name)
    # the sign bit of -0.0: signbit and copysign see it in compiled code
    assert got[_NAMES.index("signbit")][3] == 1.0
    assert got[_NAMES.index("copysign")][4] == -0.0  # copysign(0.0, -0.0)
    assert np.signbit(got[_NAMES.index("copysign")][4])

    v = np.array([0.0, 0.37, -1.21, 2.3, 0.8, -0.45, 1.7, 0.6])
    grad = symnum.gradient(_smooth, (8,), backend=backend)(v)
    reference = symnum.numpify(_smooth, (8,), backend="numpy")
    h = 1e-6
    fd = np.array([(reference(v + h * e) - reference(v - h * e)) / (2 * h) for e in np.eye(8)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


def test_remainders_are_numpys_exactly(backend):
    # from the exact fmod: no rounding of x1 / x2 (mod(1, 0.1) is 0.09999999999999995,
    # not 0), an infinite divisor, zeros with the divisor's (mod) or dividend's (fmod)
    # sign, nan for an infinite dividend or a zero divisor
    a = np.array([1.0, -1.0, 5.5, -5.5, 4.0, -4.0, -0.0, 3.0, -3.0, 1e300, -1e-300, np.inf, 7.0])
    b = np.array([0.1, 0.1, 2.0, -2.0, -2.0, 2.0, 3.0, np.inf, np.inf, 1e-300, 5.0, 2.0, 0.0])

    def remainders(x, y):
        return snp.mod(x, y), snp.remainder(x, y), snp.fmod(x, y)

    got = symnum.numpify(remainders, (a.size,), (b.size,), backend=backend)(a, b)
    with np.errstate(all="ignore"):
        want = np.mod(a, b), np.remainder(a, b), np.fmod(a, b)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
        finite = ~np.isnan(w)
        np.testing.assert_array_equal(np.signbit(g[finite]), np.signbit(w[finite]))


def test_sinc_derivatives_at_and_near_zero():
    """The Taylor branch: finite, accurate value, gradient and Hessian at and near 0."""
    points = np.array([0.0, 1e-9, -1e-4, 0.0999, 0.1, 0.1001, -0.25, 1.5])

    def total(x):
        return snp.sum(snp.sinc(x))

    value = symnum.numpify(total, (points.size,), backend="numpy")(points)
    grad = symnum.gradient(total, (points.size,), backend="numpy")(points)
    hess = np.diag(symnum.hessian(total, (points.size,), backend="numpy")(points))
    y = np.pi * points
    with np.errstate(all="ignore"):
        d1 = (y * np.cos(y) - np.sin(y)) / (np.pi * points**2)
        d2 = np.pi**2 * ((2 - y * y) * np.sin(y) - 2 * y * np.cos(y)) / y**3
    assert value == pytest.approx(np.sum(np.sinc(points)), rel=1e-15)
    np.testing.assert_allclose(grad[[0, 1, 2]], -(np.pi**2) / 3 * points[[0, 1, 2]], rtol=1e-7)
    # away from 0 the closed forms cancel, which bounds the tolerance (not symnum)
    np.testing.assert_allclose(grad[3:], d1[3:], rtol=1e-12)
    np.testing.assert_allclose(hess[[0, 1, 2]], -(np.pi**2) / 3, rtol=1e-7)
    np.testing.assert_allclose(hess[3:], d2[3:], rtol=1e-10)
    assert np.all(np.isfinite(hess))
