"""Tests of symnum.numpy.linalg (symnum.numpy.linalg): det, inv, solve, slogdet, cholesky, norm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from _assert import as_float, assert_close
from _like_numpy_calls import check_calls

import symnum
import symnum.numpy as snp
from symnum import named_array
from symnum.numpy import linalg

_num = as_float


def _close(actual, expected, rtol=1e-11, atol=1e-12):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _spd(rng, n, batch=()):
    a = rng.normal(size=(*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def test_linalg_is_snp_linalg():
    assert snp.linalg is linalg


# --------------------------------------------------------------------------------------
# Numeric input


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_det_inv_slogdet(rng, n):
    a = rng.normal(size=(n, n))
    _close(linalg.det(a), np.linalg.det(a))
    _close(linalg.inv(a), np.linalg.inv(a), rtol=1e-9)
    sign, logabsdet = linalg.slogdet(a)
    ref = np.linalg.slogdet(a)
    _close(sign, ref.sign)
    _close(logabsdet, ref.logabsdet)


def test_zero_leading_minor(rng):
    """The cofactor expansion needs no pivoting: a zero (1, 1) entry is fine."""
    a = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [4.0, 1.0, 0.0]])
    _close(linalg.det(a), np.linalg.det(a))
    _close(linalg.inv(a), np.linalg.inv(a))
    x = named_array("x", (3, 3))
    f = symnum.numpify(linalg.inv, (3, 3))
    np.testing.assert_allclose(f(a), np.linalg.inv(a), rtol=1e-13)
    assert linalg.det(x).has(x[0, 0])


def test_batched(rng):
    a = rng.normal(size=(2, 3, 3, 3))
    _close(linalg.det(a), np.linalg.det(a))
    _close(linalg.inv(a), np.linalg.inv(a), rtol=1e-9)
    _close(linalg.slogdet(a).logabsdet, np.linalg.slogdet(a).logabsdet)
    s = _spd(rng, 3, (2,))
    _close(linalg.cholesky(s), np.linalg.cholesky(s))


def test_solve(rng):
    a = rng.normal(size=(3, 3))
    b_vec, b_mat = rng.normal(size=3), rng.normal(size=(3, 2))
    _close(linalg.solve(a, b_vec), np.linalg.solve(a, b_vec), rtol=1e-9)
    _close(linalg.solve(a, b_mat), np.linalg.solve(a, b_mat), rtol=1e-9)
    stack = rng.normal(size=(4, 3, 3))
    _close(linalg.solve(stack, b_vec), np.linalg.solve(stack, b_vec), rtol=1e-9)
    _close(linalg.solve(stack, b_mat), np.linalg.solve(stack, b_mat), rtol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 4, 7])
def test_cholesky(rng, n):
    s = _spd(rng, n)
    _close(linalg.cholesky(s), np.linalg.cholesky(s))
    _close(linalg.cholesky(s, upper=True), np.linalg.cholesky(s).T)


VECTOR_ORDERS = [None, 2, 1, 0, math.inf, -math.inf, 3, 0.5, -1]
MATRIX_ORDERS = [None, "fro", 1, -1, math.inf, -math.inf]


@pytest.mark.parametrize("order", VECTOR_ORDERS)
def test_vector_norms(rng, order):
    v = rng.normal(size=5)
    if order is None or order >= 0:  # a zero would give 0 ** negative
        v[2] = 0.0
    _close(linalg.norm(v, order), np.linalg.norm(v, order))
    m = rng.normal(size=(3, 4))
    _close(linalg.norm(m, order, axis=1), np.linalg.norm(m, order, axis=1))
    _close(
        linalg.norm(m, order, axis=0, keepdims=True),
        np.linalg.norm(m, order, axis=0, keepdims=True),
    )


@pytest.mark.parametrize("order", MATRIX_ORDERS)
def test_matrix_norms(rng, order):
    m = rng.normal(size=(3, 4))
    _close(linalg.norm(m, order), np.linalg.norm(m, order))
    t = rng.normal(size=(2, 3, 4))
    _close(linalg.norm(t, order, axis=(2, 0)), np.linalg.norm(t, order, axis=(2, 0)))


def test_norm_of_any_array(rng):
    t = rng.normal(size=(2, 3, 4))
    _close(linalg.norm(t), np.linalg.norm(t))
    _close(linalg.norm(t, keepdims=True), np.linalg.norm(t, keepdims=True))


def test_symbolic_results():
    a, b, c, d = sympy.symbols("a b c d", real=True)
    m = snp.array([[a, b], [c, d]])
    assert sympy.expand(linalg.det(m) - (a * d - b * c)) == 0
    inverse = linalg.inv(m)
    assert sympy.simplify(inverse[0, 0] - d / (a * d - b * c)) == 0
    x = named_array("x", 3)
    assert linalg.norm(x) == sympy.sqrt(sum(e**2 for e in x))
    assert isinstance(linalg.det(named_array("y", (3, 3))), sympy.Expr)


# --------------------------------------------------------------------------------------
# Compiled on every backend, with derivatives


def _all_linalg(a, b, v):
    spd = a @ a.T + 3 * snp.eye(3)
    return (
        linalg.det(a),
        linalg.inv(a),
        linalg.solve(a, v),
        linalg.solve(a, b),
        linalg.slogdet(a)[0],
        linalg.slogdet(a)[1],
        linalg.cholesky(spd),
        linalg.norm(v),
        linalg.norm(a, "fro"),
        linalg.norm(b, 1),
        linalg.norm(v, math.inf),
    )


def test_linalg_on_backend(backend, rng):
    f = symnum.numpify(_all_linalg, (3, 3), (3, 2), (3,), backend=backend)
    a, b, v = rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=3)
    spd = a @ a.T + 3 * np.eye(3)
    expected = (
        np.linalg.det(a),
        np.linalg.inv(a),
        np.linalg.solve(a, v),
        np.linalg.solve(a, b),
        np.linalg.slogdet(a)[0],
        np.linalg.slogdet(a)[1],
        np.linalg.cholesky(spd),
        np.linalg.norm(v),
        np.linalg.norm(a, "fro"),
        np.linalg.norm(b, 1),
        np.linalg.norm(v, np.inf),
    )
    for got, want in zip(f(a, b, v), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    # a batch of matrices through the generated batch kernel
    stack = rng.normal(size=(5, 3, 3))
    dets = symnum.numpify(linalg.det, (3, 3), backend=backend)(stack)
    np.testing.assert_allclose(dets, np.linalg.det(stack), rtol=1e-12)


def test_logdet_derivatives(backend, rng):
    """d log|det A| / dA = inv(A).T exactly; the Hessian against finite differences."""

    def logdet(a):
        return linalg.slogdet(a)[1]

    a = rng.normal(size=(3, 3))
    grad = symnum.gradient(logdet, (3, 3), backend=backend)
    np.testing.assert_allclose(grad(a), np.linalg.inv(a).T, rtol=1e-10)
    grad_det = symnum.gradient(linalg.det, (3, 3), backend=backend)
    np.testing.assert_allclose(grad_det(a), np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-10)
    hess = symnum.hessian(logdet, (3, 3), backend=backend)(a)
    h = 1e-6
    for i in np.ndindex(3, 3):
        plus, minus = a.copy(), a.copy()
        plus[i] += h
        minus[i] -= h
        expected = (np.linalg.inv(plus).T - np.linalg.inv(minus).T) / (2 * h)
        np.testing.assert_allclose(hess[i], expected, rtol=1e-5, atol=1e-6)


def test_cholesky_and_norm_derivatives(backend, rng):
    """log det S = 2 sum(log(diag(cholesky(S)))), so its gradient is inv(S) (symmetrised)."""

    def half_logdet(a):
        spd = a @ a.T + 2 * snp.eye(3)
        return snp.sum(snp.log(snp.diagonal(linalg.cholesky(spd)))) + linalg.norm(a[0])

    a = rng.normal(size=(3, 3))
    grad = symnum.gradient(half_logdet, (3, 3), backend=backend)(a)
    spd = a @ a.T + 2 * np.eye(3)
    expected = np.linalg.inv(spd) @ a
    expected[0] += a[0] / np.linalg.norm(a[0])
    np.testing.assert_allclose(grad, expected, rtol=1e-10)


def test_solve_derivative(backend, rng):
    def f(a, b):
        return snp.sum(linalg.solve(a, b) ** 2)

    a, b = rng.normal(size=(2, 2)) + 2 * np.eye(2), rng.normal(size=2)
    grad = symnum.gradient(f, (2, 2), (2,), wrt=1, backend=backend)(a, b)
    x = np.linalg.solve(a, b)
    np.testing.assert_allclose(grad, 2 * np.linalg.solve(a.T, x), rtol=1e-10)


def test_six_by_six_builds():
    """The documented largest size builds (shared minors keep it small)."""
    x = named_array("x", (6, 6))
    f = symnum.numpify(linalg.det, (6, 6))
    a = np.random.default_rng(1).normal(size=(6, 6))
    np.testing.assert_allclose(f(a), np.linalg.det(a), rtol=1e-10)
    assert linalg.inv(x).shape == (6, 6)


# --------------------------------------------------------------------------------------
# Bad input


def test_not_square():
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        linalg.det(named_array("x", (2, 3)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        linalg.inv(named_array("x", 3))
    with pytest.raises(ValueError, match="square"):
        linalg.cholesky(np.ones((3, 2)))


@pytest.mark.parametrize("name", ["det", "inv", "slogdet"])
def test_too_large(name):
    with pytest.raises(ValueError, match=r"n <= 6"):
        getattr(linalg, name)(named_array("x", (7, 7)))
    with pytest.raises(ValueError, match=r"n <= 6"):
        linalg.solve(named_array("x", (7, 7)), named_array("b", 7))
    with pytest.raises(ValueError, match=r"n <= 10"):
        linalg.cholesky(named_array("x", (11, 11)))


def test_numeric_failures():
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        linalg.inv(np.ones((2, 2)))
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        linalg.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert linalg.slogdet(np.ones((2, 2))) == (0, -sympy.oo)


def test_bad_solve_and_norm_arguments():
    with pytest.raises(ValueError, match="does not match"):
        linalg.solve(named_array("a", (3, 3)), named_array("b", 2))
    with pytest.raises(ValueError, match="does not match"):
        linalg.solve(named_array("a", (3, 3)), 1.0)
    with pytest.raises(ValueError, match="invalid norm order"):
        linalg.norm(named_array("v", 3), "fro")
    with pytest.raises(ValueError, match="invalid norm order"):
        linalg.norm(named_array("m", (2, 2)), 3)
    with pytest.raises(NotImplementedError, match="singular values"):
        linalg.norm(named_array("m", (2, 2)), 2)
    with pytest.raises(ValueError, match="improper number of dimensions"):
        linalg.norm(named_array("t", (2, 2, 2)), 1)
    with pytest.raises(ValueError, match="pair of ints"):
        linalg.norm(named_array("t", (2, 2, 2)), axis=(0, 1, 2))
    with pytest.raises(np.exceptions.AxisError):
        linalg.norm(named_array("v", 3), axis=1)


# --------------------------------------------------------------------------------------
# matrix_power, multi_dot and NumPy 2's names (against numpy.linalg.<name>)


def _like_linalg(name, shapes, *args, **kwargs):
    """``linalg.<name>`` agrees with ``numpy.linalg.<name>`` (errors included)."""
    check_calls(
        getattr(np.linalg, name),
        getattr(linalg, name),
        shapes,
        lambda func, *ops: func(*ops, *args, **kwargs),
        seed=len(name),
    )


@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2), (1, 1), (0, 0), (2, 3), (3,), ()])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2, True])
def test_matrix_power_like_numpy(shape, n):
    _like_linalg("matrix_power", [shape], n)


def test_matrix_power_exponent_must_be_an_integer():
    _like_linalg("matrix_power", [(2, 2)], 2.0)
    _like_linalg("matrix_power", [(2, 2)], np.int64(4))
    x = named_array("x", (2, 2))
    assert snp.linalg.matrix_power(x, 0).tolist() == [[1, 0], [0, 1]]
    assert snp.linalg.matrix_power(x, 1) is x


@pytest.mark.parametrize(
    "shapes",
    [[(3,), (3, 4), (4,)], [(2, 3), (3, 4), (4, 5), (5, 2)], [(3,), (3, 4), (4, 2), (2,)],
     [(1, 5), (5, 5), (5, 1)], [(5, 1), (1, 5), (5, 2)], [(2, 3), (3,)], [(3,), (3,)],
     [(2, 2, 2), (2, 2)], [(3,)], [(2, 3), (2, 3), (3,)], [(2,), (2, 2, 2), (2,)],
     [(2,), (2, 2), ()]],
)  # fmt: skip
def test_multi_dot_like_numpy(shapes):
    check_calls(np.linalg.multi_dot, linalg.multi_dot, shapes, lambda f, *ops: f(list(ops)))


def _distinct_nodes(array) -> int:
    """The number of distinct subexpressions of the elements (the work once shared)."""
    return len({node for el in array.flat for node in sympy.preorder_traversal(el)})


def test_multi_dot_multiplies_in_the_cheapest_order():
    a, b, c = named_array("a", (1, 4)), named_array("b", (4, 4)), named_array("c", (4, 4))
    # (a @ b) @ c takes 32 scalar products, a @ (b @ c) 80
    got = linalg.multi_dot([a, b, c])
    assert got.shape == (1, 4)
    assert _distinct_nodes(got) == _distinct_nodes((a @ b) @ c)
    assert _distinct_nodes(got) < _distinct_nodes(a @ (b @ c))
    # and the other way round
    got = linalg.multi_dot([c, b, a.T])
    assert _distinct_nodes(got) == _distinct_nodes(c @ (b @ a.T))
    assert _distinct_nodes(got) < _distinct_nodes((c @ b) @ a.T)


LINALG_ARRAY_API = [
    ("trace", [(3, 3)], {}),
    ("trace", [(2, 3, 4)], {"offset": 1}),
    ("trace", [(2, 3, 4)], {"offset": -2}),
    ("trace", [(3,)], {}),
    ("diagonal", [(3, 4)], {}),
    ("diagonal", [(2, 3, 4)], {"offset": -1}),
    ("diagonal", [(3,)], {}),
    ("outer", [(3,), (2,)], {}),
    ("outer", [(2, 2), (2,)], {}),
    ("outer", [(), (2,)], {}),
    ("cross", [(3,), (3,)], {}),
    ("cross", [(4, 3), (3,)], {}),
    ("cross", [(3, 4), (3, 1)], {"axis": 0}),
    ("cross", [(2,), (2,)], {}),
    ("cross", [(2, 3), (2, 3)], {"axis": 0}),
    ("cross", [(), (3,)], {}),
    ("cross", [(3,), (3,)], {"axis": 1}),
    ("matmul", [(2, 3), (3, 4)], {}),
    ("matmul", [(5, 2, 3), (3,)], {}),
    ("matmul", [(2, 3), (2, 3)], {}),
    ("vecdot", [(2, 3), (3,)], {}),
    ("vecdot", [(3, 2), (3, 2)], {"axis": 0}),
    ("vecdot", [(3,), (4,)], {}),
    ("tensordot", [(2, 3, 4), (3, 4, 2)], {}),
    ("tensordot", [(2, 3), (3, 4)], {"axes": 1}),
    ("tensordot", [(2, 3), (2, 3)], {"axes": ([0, 1], [0, 1])}),
    ("matrix_transpose", [(2, 3)], {}),
    ("matrix_transpose", [(3,)], {}),
]


@pytest.mark.parametrize(
    "case", LINALG_ARRAY_API, ids=[f"{c[0]}-{i}" for i, c in enumerate(LINALG_ARRAY_API)]
)
def test_linalg_array_api_like_numpy(case):
    name, shapes, kwargs = case
    _like_linalg(name, shapes, **kwargs)


@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 3, 2), ()])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, -1), (-1, 0), (), 3])
@pytest.mark.parametrize("order", [2, 1, math.inf, -math.inf, 0, 3, -1, None, "fro"])
def test_vector_norm_like_numpy(shape, axis, order):
    for keepdims in (False, True):
        _like_linalg("vector_norm", [shape], axis=axis, ord=order, keepdims=keepdims)


@pytest.mark.parametrize("shape", [(2, 3), (4, 2, 3), (3,)])
@pytest.mark.parametrize("order", ["fro", 1, -1, math.inf, -math.inf, 3])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norm_like_numpy(shape, order, keepdims):
    _like_linalg("matrix_norm", [shape], ord=order, keepdims=keepdims)


def test_matrix_norms_needing_singular_values_are_refused():
    for order in (2, -2, "nuc"):
        with pytest.raises(NotImplementedError, match="singular"):
            linalg.matrix_norm(named_array("x", (2, 2)), ord=order)
    with pytest.raises(NotImplementedError, match="dtype"):
        linalg.trace(named_array("x", (2, 2)), dtype=float)
    with pytest.raises(NotImplementedError, match="out"):
        linalg.multi_dot([np.eye(2)] * 3, out=np.empty((2, 2)))


@pytest.mark.parametrize(
    "name",
    ["matrix_power", "multi_dot", "trace", "diagonal", "outer", "cross", "matmul", "vecdot",
     "tensordot", "matrix_transpose", "vector_norm", "matrix_norm"],
)  # fmt: skip
def test_added_linalg_docstrings(name):
    doc = getattr(linalg, name).__doc__
    assert f"numpy.linalg.{name}" in doc
    assert "shape" in doc or "scalar" in doc


def test_multi_dot_of_data_rows_stays_a_loop():
    data = np.random.default_rng(9).normal(size=(60, 3))
    a, t = named_array("a", (3, 3)), named_array("t", (3,))
    # X @ (A @ t): the chain order keeps the rows of data outermost
    value = linalg.multi_dot([data, a, t])
    assert type(value).__name__ == "DataArray"
    total = snp.sum(value**2)
    assert "DataSum" in str(total)
    with symnum.data_threshold(0):
        unrolled = snp.sum(linalg.multi_dot([data, a, t]) ** 2)
    rng = np.random.default_rng(1)
    rule = {s: sympy.Float(v) for s, v in zip([*a.flat, *t.flat], rng.normal(size=12), strict=True)}
    f_lazy = symnum.numpify(lambda m, v: snp.sum(linalg.multi_dot([data, m, v]) ** 2), (3, 3), (3,))
    m, v = rng.normal(size=(3, 3)), rng.normal(size=3)
    np.testing.assert_allclose(f_lazy(m, v), np.sum((data @ m @ v) ** 2), rtol=1e-12)
    assert float(unrolled.xreplace(rule)) == pytest.approx(
        np.sum((data @ np.array([float(rule[s]) for s in a.flat]).reshape(3, 3)
                @ np.array([float(rule[s]) for s in t.flat])) ** 2), rel=1e-10
    )  # fmt: skip
