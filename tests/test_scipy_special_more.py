"""entr, rel_entr, kl_div, huber, pseudo_huber, beta and the Box-Cox transformations of
symnum.scipy.special against SciPy: numeric input (domain edges: 0, negatives, inf,
nan), symbolic input evaluated at numbers, compiled on every backend, derivatives.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as ss
import sympy
from _assert import as_float

import symnum
import symnum.numpy as snp
import symnum.scipy.special as sss
from symnum import named_array

EDGES = np.array([-1.0, 0.0, 0.5, 2.0, np.inf, np.nan])
GRID = (EDGES[:, None], EDGES[None, :])
X = np.array([-1.0, 0.0, 1e-300, 0.3, 1.0, 2.5, 1e10, np.inf, np.nan])
LAMBDAS = np.array([-2.0, -0.5, -1e-3, -1e-10, 0.0, 1e-12, 1e-3, 0.5, 2.0])[None, :]
CASES = {
    "entr": (X,),
    "rel_entr": GRID,
    "kl_div": GRID,
    "huber": (EDGES[:4, None], np.array([-3.0, -1.0, -0.2, 0.0, 0.5, 2.0, 1e10])[None, :]),
    "pseudo_huber": (
        np.array([-1.0, 0.0, 0.5, 2.0, 1e5])[:, None],
        np.array([-3.0, -1.0, -0.2, 0.0, 1e-3, 2.0, 1e10])[None, :],
    ),
    "beta": (
        np.array([0.5, 1.0, 2.5, -0.5, -1.25, 30.0, 100.0, 200.0, 1e-3])[:, None],
        np.array([0.5, 1.0, 3.5, 80.0, 150.0, -2.7])[None, :],
    ),
    "boxcox": (np.array([0.0, 1e-5, 0.3, 1.0, 2.0, 50.0, np.inf, -1.0])[:, None], LAMBDAS),
    "boxcox1p": (np.array([-1.0, -0.5, 0.0, 1e-5, 0.3, 2.0, 50.0, -2.0])[:, None], LAMBDAS),
    "inv_boxcox": (np.array([-3.0, -0.5, 0.0, 1e-5, 0.4, 2.0, 10.0])[:, None], LAMBDAS),
    "inv_boxcox1p": (np.array([-3.0, -0.5, 0.0, 1e-5, 0.4, 2.0, 10.0])[:, None], LAMBDAS),
}
# beta's relative error above 160 is about 1e-16 * |gammaln|
RTOL = {"beta": 1e-12}


def _reference(name, *args):
    with np.errstate(all="ignore"):
        return getattr(ss, name)(*args)


@pytest.mark.parametrize("name", sorted(CASES))
def test_numeric_is_scipys(name):
    args = CASES[name]
    got = as_float(getattr(sss, name)(*args))
    want = _reference(name, *args)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL.get(name, 1e-14), atol=0, equal_nan=True)
    value = getattr(sss, name)(*(float(np.ravel(a)[2]) for a in args))
    assert isinstance(value, sympy.Expr)


@pytest.mark.parametrize("name", sorted(CASES))
def test_symbolic_evaluated_is_scipys(name):
    """Symbolic input, evaluated at positive numbers, and exact integers."""
    rng = np.random.default_rng(len(name))
    values = [rng.uniform(0.2, 2.5, size=(2, 3)) for _ in CASES[name]]
    symbols = [named_array(f"a{i}", (2, 3)) for i in range(len(values))]
    result = getattr(sss, name)(*symbols)
    rule = {
        s: sympy.Float(v)
        for sym, val in zip(symbols, values, strict=True)
        for s, v in zip(sym.flat, val.ravel().tolist(), strict=True)
    }
    got = np.array([complex(e.xreplace(rule).evalf()).real for e in result.flat])
    np.testing.assert_allclose(got.reshape(2, 3), _reference(name, *values), rtol=1e-12)
    exact = getattr(sss, name)(*(sympy.Integer(2) for _ in values))
    assert float(exact) == pytest.approx(_reference(name, *(2.0 for _ in values)), rel=1e-14)


def test_edge_values():
    assert sss.entr(0) == 0
    assert sss.entr(-1.0) == -sympy.oo
    assert sss.kl_div(0.0, 3.0) == 3.0
    assert sss.rel_entr(1.0, 0.0) == sympy.oo
    assert sss.huber(-1.0, 2.0) == sympy.oo
    assert sss.boxcox(0.0, 0.0) == -sympy.oo
    # pseudo_huber has no overflow where SciPy's formula has (SciPy gives nan)
    assert float(sss.pseudo_huber(1e-300, 1e10)) == pytest.approx(1e-290, rel=1e-14)
    x, lmbda = sympy.symbols("x lmbda", positive=True)
    # the lambda-derivative of boxcox at lambda == 0 is log(x)**2 / 2
    d = sss.boxcox(x, lmbda).diff(lmbda).subs({x: 3, lmbda: 0})
    assert float(d) == pytest.approx(float(sympy.log(3) ** 2 / 2), rel=1e-15)


def test_bad_input():
    x = named_array("x", 3)
    with pytest.raises(ValueError, match="broadcast"):
        sss.kl_div(x, named_array("y", 2))
    with pytest.raises(TypeError, match="scalar or an array"):
        sss.entr(object())


# --------------------------------------------------------------------------------------
# Compiled on every backend

P = np.array([-1.0, 0.0, 0.0, 1e-300, 0.4, 2.0, 3.0, np.inf, np.nan])
Q = np.array([0.5, 0.0, -1.0, 2.0, 0.4, 0.0, 1e-3, 1.0, 1.0])
L = np.array([-1.5, 0.0, 1e-12, -1e-3, 0.0, 0.5, 2.0, 0.0, 1.0])


def _all_new(m, p, q, lmbda):
    return (
        m.entr(p),
        m.rel_entr(p, q),
        m.kl_div(p, q),
        m.huber(q, p),
        m.pseudo_huber(q, p),
        m.beta(p[4:7] + 0.1, q[4:7] + 1.0),
        m.beta(np.array([200.0, 0.5, -1.5]), np.array([30.0, 170.0, 0.7])),
        m.boxcox(p[1:7], lmbda[1:7]),
        m.boxcox1p(p[1:7], lmbda[1:7]),
        m.inv_boxcox(p[:7], lmbda[:7]),
        m.inv_boxcox1p(p[:7], lmbda[:7]),
    )


_NAMES = ("entr", "rel_entr", "kl_div", "huber", "pseudo_huber", "beta", "beta_large",
          "boxcox", "boxcox1p", "inv_boxcox", "inv_boxcox1p")  # fmt: skip


def _smooth(v):
    """A scalar of the new functions at smooth points (lambda == 0 included)."""
    x, y, lmbda = v[:3], v[3:6], v[6:]
    return (
        snp.sum(sss.entr(x) + sss.rel_entr(x, y) + sss.kl_div(y, x))
        + snp.sum(sss.huber(1.0, x - y) + sss.pseudo_huber(0.7, x - y))
        + snp.sum(sss.beta(x, y))
        + snp.sum(sss.boxcox(x, lmbda) + sss.boxcox1p(y, lmbda))
        + snp.sum(sss.inv_boxcox(x, lmbda) + sss.inv_boxcox1p(y, lmbda))
    )


@pytest.mark.slow  # numba takes ~20 s to compile these
def test_new_special_functions_on_backend(backend):
    f = symnum.numpify(
        lambda p, q, lmbda: _all_new(sss, p, q, lmbda), (9,), (9,), (9,), backend=backend
    )
    got = f(P, Q, L)
    with np.errstate(all="ignore"):
        expected = _all_new(ss, P, Q, L)
    for name, g, want in zip(_NAMES, got, expected, strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=0, equal_nan=True, err_msg=name)

    v = np.array([0.3, 1.2, 2.5, 0.9, 2.0, 0.6, 0.0, -0.4, 1.3])
    grad = symnum.gradient(_smooth, (9,), backend=backend)(v)
    reference = symnum.numpify(_smooth, (9,), backend="numpy")
    h = 1e-6
    fd = np.array([(reference(v + h * e) - reference(v - h * e)) / (2 * h) for e in np.eye(9)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)
    # the lambda-derivatives at lambda == 0 in closed form
    assert grad[6] == pytest.approx(
        np.log(0.3) ** 2 / 2 + np.log1p(0.9) ** 2 / 2 - 0.3**2 / 2 * np.exp(0.3)
        - 0.9**2 / 2 * np.exp(0.9), rel=1e-13)  # fmt: skip
