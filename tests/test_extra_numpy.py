"""Tests of the further NumPy API of symnum.numpy (symnum/numpy/_extra.py).

Three layers: (1) numeric input, where every function must return NumPy's values;
(2) symbolic input compiled on every backend, against NumPy on random inputs, with
derivatives against finite differences; (3) bad input, which must raise ValueError /
TypeError with a useful message.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import sympy
from _assert import as_float, assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum
import symnum.numpy as snp
from symnum import named_array

_num = as_float


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


# --------------------------------------------------------------------------------------
# Numeric input: the values NumPy computes


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
]


@pytest.mark.parametrize(("sa", "sb"), MATMUL_SHAPES)
def test_matmul_any_dims(rng, sa, sb):
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    _close(snp.matmul(a, b), np.matmul(a, b))


@pytest.mark.parametrize(
    ("sa", "sb"),
    [((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 3, 4), (5, 4, 2)),
     ((3,), (2, 3, 4))],
)  # fmt: skip
def test_dot(rng, sa, sb):
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    _close(snp.dot(a, b), np.dot(a, b))


def test_inner_vdot_outer(rng):
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(4, 3))
    _close(snp.inner(a, b), np.inner(a, b))
    _close(snp.vdot(a, a), np.vdot(a, a))
    _close(snp.outer(a, b), np.outer(a, b))


@pytest.mark.parametrize(
    ("sa", "sb", "axes"),
    [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4,), 0),
     ((2, 3, 4), (4, 3), ([1, 2], [1, 0])), ((2, 3), (3, 2), ([-1], [0])),
     ((2, 3), (2, 3), ([0, 1], [0, 1]))],
)  # fmt: skip
def test_tensordot(rng, sa, sb, axes):
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    _close(snp.tensordot(a, b, axes), np.tensordot(a, b, axes))


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ba", [(2, 3)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk->...ik", [(4, 2, 3), (3, 2)]),
    ("...i->...", [(2, 3)]),
    ("i...", [(3, 2)]),
    ("ijk->kj", [(2, 3, 4)]),
    ("ij,j->i", [(2, 3), (1,)]),
    ("Ab,b->A", [(2, 3), (3,)]),
    ("i,ij,j", [(2,), (2, 3), (3,)]),
]


@pytest.mark.parametrize(("subscripts", "shapes"), EINSUM_CASES)
def test_einsum(rng, subscripts, shapes):
    ops = [rng.normal(size=s) for s in shapes]
    _close(snp.einsum(subscripts, *ops), np.einsum(subscripts, *ops))


@pytest.mark.parametrize("k", [0, 1, -2])
def test_diag(rng, k):
    v, m = rng.normal(size=3), rng.normal(size=(3, 4))
    _close(snp.diag(v, k), np.diag(v, k))
    _close(snp.diag(m, k), np.diag(m, k))


def test_diagonal_and_trace(rng):
    a = rng.normal(size=(3, 4, 5))
    for offset, axis1, axis2 in [(0, 0, 1), (1, 0, 2), (-1, 2, 1), (2, -1, -3)]:
        _close(snp.diagonal(a, offset, axis1, axis2), np.diagonal(a, offset, axis1, axis2))
        _close(snp.trace(a, offset, axis1, axis2), np.trace(a, offset, axis1, axis2))
    m = rng.normal(size=(3, 3))
    assert isinstance(snp.trace(named_array("m", (3, 3))), sympy.Expr)
    _close(snp.trace(m), np.trace(m))


def test_joining(rng):
    a, b = rng.normal(size=3), rng.normal(size=3)
    c, d = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    for axis in (0, 1, -1):
        _close(snp.stack([a, b], axis=axis), np.stack([a, b], axis=axis))
    _close(snp.stack([c, d], axis=2), np.stack([c, d], axis=2))
    for name in ("hstack", "vstack", "dstack", "column_stack"):
        for args in ([a, b], [c, d]):
            _close(getattr(snp, name)(args), getattr(np, name)(args))
    x = named_array("x", 3)
    assert snp.stack([x, x]).shape == (2, 3)
    assert snp.hstack((x, a)).shape == (6,)


def test_shape_functions(rng):
    a = rng.normal(size=(2, 1, 3))
    _close(snp.reshape(a, (3, 2)), np.reshape(a, (3, 2)))
    _close(snp.reshape(a, -1), np.reshape(a, -1))
    _close(snp.reshape(a, shape=(1, 6)), np.reshape(a, (1, 6)))
    _close(snp.ravel(a), np.ravel(a))
    _close(snp.transpose(a), np.transpose(a))
    _close(snp.transpose(a, (1, 2, 0)), np.transpose(a, (1, 2, 0)))
    _close(snp.swapaxes(a, 0, 2), np.swapaxes(a, 0, 2))
    _close(snp.moveaxis(a, 0, -1), np.moveaxis(a, 0, -1))
    _close(snp.moveaxis(a, (0, 1), (2, 0)), np.moveaxis(a, (0, 1), (2, 0)))
    _close(snp.broadcast_to(a, (4, 2, 5, 3)), np.broadcast_to(a, (4, 2, 5, 3)))
    _close(snp.squeeze(a), np.squeeze(a))
    _close(snp.squeeze(a, axis=1), np.squeeze(a, axis=1))
    _close(snp.expand_dims(a, 1), np.expand_dims(a, 1))
    _close(snp.expand_dims(a, (0, -1)), np.expand_dims(a, (0, -1)))
    _close(snp.flip(a, 2), np.flip(a, 2))
    _close(snp.flip(a), np.flip(a))
    for f in ("atleast_1d", "atleast_2d", "atleast_3d"):
        _close(getattr(snp, f)(2.5), getattr(np, f)(2.5))
        _close(getattr(snp, f)(a[0]), getattr(np, f)(a[0]))
    x, y = snp.broadcast_arrays(a, rng.normal(size=(4, 1, 1, 1)))
    assert x.shape == y.shape == (4, 2, 1, 3)


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), ()])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(rng, axis, keepdims):
    a = rng.normal(size=(2, 3, 4))
    for name in ("mean", "var", "std", "max", "min", "amax", "amin"):
        _close(
            getattr(snp, name)(a, axis=axis, keepdims=keepdims),
            getattr(np, name)(a, axis=axis, keepdims=keepdims),
        )
    if axis != ():
        _close(snp.var(a, axis=axis, ddof=1), np.var(a, axis=axis, ddof=1))


def test_max_initial_and_scalar_results(rng):
    a = rng.normal(size=(3, 4))
    _close(snp.max(a, axis=0, initial=0.5), np.max(a, axis=0, initial=0.5))
    _close(snp.min(np.zeros((0, 3)), axis=0, initial=1.0), np.min(np.zeros((0, 3)), 0, initial=1.0))
    x = named_array("x", (2, 2))
    assert isinstance(snp.max(x), sympy.Expr)
    assert isinstance(snp.mean(x), sympy.Expr)
    assert snp.max(x, axis=1).shape == (2,)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumulative(rng, axis):
    a = rng.normal(size=(3, 4))
    _close(snp.cumsum(a, axis=axis), np.cumsum(a, axis=axis))
    _close(snp.cumprod(a, axis=axis), np.cumprod(a, axis=axis))


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


@st.composite
def _matmul_shapes(draw):
    """Random shapes NumPy's matmul accepts (batch dimensions broadcasting)."""
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    batch_a = [draw(st.sampled_from([1, b])) for b in batch]
    batch_b = [draw(st.sampled_from([1, b])) for b in batch][draw(st.integers(0, len(batch))) :]
    shape_a = (k,) if draw(st.booleans()) else (*batch_a, n, k)
    shape_b = (k,) if draw(st.booleans()) else (*batch_b, k, m)
    return shape_a, shape_b


@settings(max_examples=40, deadline=None)
@given(_matmul_shapes(), st.integers(0, 2**32 - 1))
def test_matmul_property(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    _close(snp.matmul(a, b), np.matmul(a, b))
    if a.ndim <= 2 and b.ndim <= 2:
        _close(snp.dot(a, b), np.dot(a, b))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from("abcd"), min_size=1, max_size=3),
    st.lists(st.sampled_from("abcd"), min_size=1, max_size=3),
    st.integers(0, 2**32 - 1),
)
def test_einsum_property(labels_a, labels_b, seed):
    """Two-operand einsum in implicit and explicit (all-kept-labels) form."""
    sizes = {"a": 2, "b": 3, "c": 1, "d": 2}
    rng = np.random.default_rng(seed)
    x = rng.normal(size=[sizes[c] for c in labels_a])
    y = rng.normal(size=[sizes[c] for c in labels_b])
    implicit = "".join(labels_a) + "," + "".join(labels_b)
    _close(snp.einsum(implicit, x, y), np.einsum(implicit, x, y))
    kept = "".join(sorted(set(labels_a) | set(labels_b)))
    _close(snp.einsum(implicit + "->" + kept, x, y), np.einsum(implicit + "->" + kept, x, y))


# --------------------------------------------------------------------------------------
# Symbolic input compiled on every backend


def _kitchen_sink(m, x, y, z):
    """Many functions of the NumPy-like module ``m`` at once (one compilation per backend)."""
    return (
        m.matmul(z, y),
        m.dot(x, y),
        m.tensordot(z, x, ([1, 2], [0, 1])),
        m.einsum("ij,jk->ki", x, y),
        m.einsum("aij,aik->jk", z, z),
        m.outer(x[0], y[:, 0]),
        m.diag(x[1]),
        m.trace(y[:, :3]),
        m.stack([x, z[0]], axis=1),
        m.hstack([x, z[1]]),
        m.vstack([x, y.T[:2]]),
        m.moveaxis(z, 0, -1),
        m.broadcast_to(x[0], (2, 3)),
        m.mean(z, axis=(0, 2)),
        m.cumsum(y, axis=1),
        m.max(y, axis=0),
        m.min(x),
        m.clip(y, -0.5, 0.5),
        m.square(x) + m.reciprocal(x),
        m.logaddexp(x, y.T[:2]),
        m.hypot(x, 1.5),
        m.exp2(x),
        m.var(z, axis=1),
    )


def test_kitchen_sink_on_backend(backend, rng):
    f = symnum.numpify(
        lambda x, y, z: _kitchen_sink(snp, x, y, z), (2, 3), (3, 4), (2, 2, 3), backend=backend
    )
    x, y, z = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(2, 2, 3))
    results = f(x, y, z)
    expected = _kitchen_sink(np, x, y, z)
    assert len(results) == len(expected)
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
        assert np.shape(got) == np.shape(want)


def _scalar_objective(x, y):
    """A scalar function exercising the differentiable functions."""
    z = snp.einsum("ij,jk->ik", x, y)
    return (
        snp.sum(snp.logaddexp(z, 0.3 * z[:, :1]))
        + snp.trace(snp.matmul(x, snp.reshape(y[:, :2], (3, 2))))
        + snp.max(z)
        - snp.min(snp.cumsum(y, axis=0))
        + snp.mean(snp.square(snp.clip(x, -0.8, 0.8)))
        + snp.sum(snp.hypot(x, snp.moveaxis(y[:, :2], 0, 1)))
        + snp.dot(snp.exp2(x[0]), y[:, 1])
        + snp.sum(snp.tensordot(snp.stack([x, x * x]), y, 1) / 10)
        + snp.std(y)
    )


def _finite_difference(f, arrays, index, h=1e-6):
    """Central difference gradient of the numeric scalar ``f`` wrt argument ``index``."""
    base = [np.array(a, dtype=float) for a in arrays]
    grad = np.zeros_like(base[index])
    for i in np.ndindex(base[index].shape):
        plus = [a.copy() for a in base]
        minus = [a.copy() for a in base]
        plus[index][i] += h
        minus[index][i] -= h
        grad[i] = (f(*plus) - f(*minus)) / (2 * h)
    return grad


def _flat_objective(v):
    return _scalar_objective(snp.reshape(v[:6], (2, 3)), snp.reshape(v[6:], (3, 4)))


@pytest.mark.slow  # numba takes ~8 s to compile this gradient
def test_derivatives_against_finite_differences(backend, rng):
    v = rng.normal(size=18)
    # the finite-difference reference runs on the numpy backend (fast to build)
    value = symnum.numpify(_flat_objective, (18,), backend="numpy")
    grad = symnum.gradient(_flat_objective, (18,), backend=backend)
    expected = _finite_difference(value, (v,), 0)
    np.testing.assert_allclose(grad(v), expected, rtol=1e-6, atol=1e-6)


def test_hessian_of_logaddexp_and_max(backend, rng):
    def f(x):
        return snp.sum(snp.logaddexp(x, x[::-1] * 0.5)) + snp.max(x * x) + snp.mean(x**3)

    x = rng.normal(size=4)
    grad = symnum.gradient(f, (4,), backend=backend)
    hess = symnum.hessian(f, (4,), backend=backend)
    expected = np.array([_finite_difference(lambda v, i=i: grad(v)[i], (x,), 0) for i in range(4)])
    np.testing.assert_allclose(hess(x), expected, rtol=1e-6, atol=1e-6)


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


def test_large_max_reduction_builds_fast():
    """A 200-element max (a binary tree, not SymPy's pairwise n-ary Max) and its gradient."""
    x = named_array("x", 200)
    m = snp.max(x)
    assert m.diff(x[17]).has(x[17])
    grad = symnum.gradient(lambda v: snp.max(v), (200,))  # noqa: PLW0108 - one argument
    values = np.linspace(-1, 1, 200)[::-1].copy()
    expected = np.zeros(200)
    expected[0] = 1.0
    np.testing.assert_array_equal(grad(values), expected)


# --------------------------------------------------------------------------------------
# Bad input


def test_bad_axes():
    x = named_array("x", (2, 3))
    with pytest.raises(np.exceptions.AxisError):
        snp.mean(x, axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        snp.max(x, axis=(0, 0))
    with pytest.raises(TypeError, match="axis"):
        snp.min(x, axis=1.5)
    with pytest.raises(ValueError, match="out of bounds"):
        snp.moveaxis(x, 0, 3)
    with pytest.raises(ValueError, match="axis"):
        snp.cumsum(x, axis=-3)
    with pytest.raises(ValueError, match=r"size not equal to one|squeeze"):
        snp.squeeze(x, axis=0)
    with pytest.raises(ValueError, match="zero-size array"):
        snp.max(np.zeros((0, 2)), axis=0)
    with pytest.raises(ValueError, match="axis"):
        snp.trace(x, axis1=0, axis2=0)


def test_unbroadcastable_shapes():
    x, y = named_array("x", (2, 3)), named_array("y", (4,))
    with pytest.raises(ValueError, match="broadcast"):
        snp.logaddexp(x, y)
    with pytest.raises(ValueError, match="broadcast"):
        snp.clip(x, y, 1.0)
    with pytest.raises(ValueError, match="broadcast"):
        snp.broadcast_to(x, (3, 3))
    with pytest.raises(ValueError, match="not aligned"):
        snp.matmul(x, y)
    with pytest.raises(ValueError, match="batch"):
        snp.matmul(named_array("a", (2, 2, 3)), named_array("b", (3, 3, 1)))
    with pytest.raises(ValueError, match="dimension"):
        snp.matmul(x, 2.0)
    with pytest.raises(ValueError, match="not aligned"):
        snp.dot(x, y)
    with pytest.raises(ValueError, match="shape-mismatch"):
        snp.tensordot(x, y, ([1], [0]))
    with pytest.raises(ValueError, match="axes"):
        snp.tensordot(x, y, 3)
    with pytest.raises(ValueError, match="cannot reshape"):
        snp.reshape(x, (4, 2))
    with pytest.raises(ValueError, match=r"same shape|dimensions"):
        snp.stack([x, y])
    with pytest.raises(ValueError, match=r"at least one array|need at least"):
        snp.stack([])


@pytest.mark.parametrize(
    ("subscripts", "shapes", "match"),
    [
        ("ij,jk->ik", [(2, 3)], "operand"),
        ("ij->ik", [(2, 3)], "does not appear"),
        ("ij->ii", [(2, 3)], "repeat"),
        ("ijk", [(2, 3)], "dimensions"),
        ("ij,jk", [(2, 3), (4, 5)], "broadcast"),
        ("ii", [(2, 3)], "repeated subscript"),
        ("i1", [(2, 3)], "letters"),
        ("i->i->i", [(2,)], "'->'"),
        ("...i.", [(2, 3)], "ellipsis"),
        ("...i->i", [(2, 3)], "'...'"),
    ],
)
def test_bad_einsum_subscripts(subscripts, shapes, match):
    operands = [named_array(f"a{i}", s) for i, s in enumerate(shapes)]
    with pytest.raises(ValueError, match=match):
        snp.einsum(subscripts, *operands)


def test_bad_argument_types():
    with pytest.raises(TypeError, match="subscripts string"):
        snp.einsum(["i"], named_array("a", 2))
    with pytest.raises(TypeError, match="list or tuple"):
        snp.stack(named_array("a", (2, 2)))
    with pytest.raises(TypeError, match="must be an int"):
        snp.diag(named_array("a", 3), 1.5)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        snp.diag(named_array("a", (2, 2, 2)))
    with pytest.raises(ValueError, match="at least one"):
        snp.clip(named_array("a", 3))
    with pytest.raises(TypeError, match="not both"):
        snp.clip(named_array("a", 3), 0.0, min=1.0)
    with pytest.raises(TypeError, match="scalar or an array"):
        snp.logaddexp(object(), 1.0)
    with pytest.raises(NotImplementedError, match="order"):
        snp.reshape(named_array("a", 4), (2, 2), order="F")
    with pytest.raises(NotImplementedError, match="where"):
        snp.max(named_array("a", 4), where=True)
