"""symnum.numpy.reduce against NumPy over shapes (0-d included) and every kind of axis.

Through tests/_like_numpy.py: where NumPy raises, symnum must raise the same exception
type; otherwise the values agree, on numeric and on symbolic input.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from _assert import assert_close
from _like_numpy import check_like_numpy, evaluate

import symnum
import symnum.numpy as snp
import symnum.scipy.special as sss
from symnum import named_array
from symnum.array import SymbolicArray

REDUCTIONS = ["sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin"]
SHAPES = [(), (1,), (4,), (2, 3), (2, 1, 3), (0, 3)]
AXES = [None, 0, -1, 1, 2, (0,), (0, -1), (), (1, 0)]


def _evaluate(result, x: SymbolicArray, values: np.ndarray):
    return evaluate(
        result, dict(zip(x.flat, map(sympy.Float, values.ravel().tolist()), strict=True))
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's mean of an empty array
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_like_numpy(shape, axis, keepdims):
    for name in REDUCTIONS:
        check_like_numpy(snp, name, [shape], axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("shape", [*SHAPES, (0,), (0, 3)])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, -1)])
def test_sum_prod_max_min_with_initial_like_numpy(shape, axis):
    for name in ("sum", "prod", "max", "min"):
        check_like_numpy(snp, name, [shape], axis=axis, initial=1.25)


def test_unsupported_sum_arguments_are_refused():
    x = named_array("x", (2, 3))
    for name in ("sum", "prod"):
        with pytest.raises(NotImplementedError, match="dtype"):
            getattr(snp, name)(x, 0, float)
        with pytest.raises(NotImplementedError, match="where"):
            getattr(snp, name)(x, where=True)
    # NumPy arrays are NumPy's business, arguments and all
    values = np.arange(6.0).reshape(2, 3)
    assert snp.sum(values, 0, int, keepdims=True).dtype == np.int64
    assert snp.prod(values, where=values > 0) == 120.0


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [None, 0, -1, 1, -2])
def test_cumulative_like_numpy(shape, axis):
    for name in ("cumsum", "cumprod"):
        check_like_numpy(snp, name, [shape], axis=axis)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (3, 2, 2)])
@pytest.mark.parametrize("axis", [0, -1, 1, -3])
@pytest.mark.parametrize("n", [0, 1, 2, 5, -1])
def test_diff_like_numpy(shape, axis, n):
    check_like_numpy(snp, "diff", [shape], n=n, axis=axis)


def test_diff_prepend_and_append_like_numpy():
    check_like_numpy(snp, "diff", [(2, 3)], axis=0, prepend=1.5)
    check_like_numpy(snp, "diff", [(2, 3)], append=np.array([[0.5], [2.0]]))
    check_like_numpy(snp, "diff", [(2, 3)], 2, 1, np.zeros((2, 2)), -1.0)
    check_like_numpy(snp, "diff", [(2, 3)], prepend=np.zeros((3, 1)))  # wrong shape: error
    x = named_array("x", (3,))
    assert list(snp.diff(x, prepend=x[2], append=0).flat) == [
        x[0] - x[2],
        x[1] - x[0],
        x[2] - x[1],
        -x[2],
    ]


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("axis", [0, -1])
def test_0d_reduction_over_axis_0_gives_the_element(name, axis):
    """As NumPy (and SymNum 0.2.1): ufunc reductions of a 0-d array accept axis 0 / -1."""
    x = named_array("x", ())
    assert getattr(snp, name)(x, axis=axis) == x[()]
    kept = getattr(snp, name)(x, axis=axis, keepdims=True)
    assert np.shape(kept) == ()
    assert kept == x[()]
    assert float(getattr(snp, name)(2.5, axis=axis)) == 2.5
    with pytest.raises(np.exceptions.AxisError):
        getattr(snp, name)(x, axis=1)


@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 1, 3)])
@pytest.mark.parametrize("axis", [None, 0, -1, "all"])
@pytest.mark.parametrize("weighted", [False, True])
def test_logsumexp_like_scipy(shape, axis, weighted):
    special = pytest.importorskip("scipy.special")
    if axis == "all":
        axis = tuple(range(len(shape)))
    rng = np.random.default_rng(11)
    values = rng.normal(size=shape) * 5
    weights = rng.uniform(0.1, 2.0, size=shape[-1:]) if weighted else None
    x = named_array("x", shape)
    for keepdims in (False, True):
        expected = special.logsumexp(values, axis=axis, b=weights, keepdims=keepdims)
        assert_close(
            sss.logsumexp(values, axis=axis, b=weights, keepdims=keepdims),
            expected,
            rtol=1e-12,
            atol=1e-14,
        )
        symbolic = sss.logsumexp(x, axis=axis, b=weights, keepdims=keepdims)
        np.testing.assert_allclose(_evaluate(symbolic, x, values), expected, rtol=1e-12)


def test_reduction_docstrings_state_shapes():
    for name in (*REDUCTIONS, "cumsum", "cumprod", "diff"):
        doc = getattr(snp, name).__doc__
        assert "numpy." in doc
        assert "shape" in doc


# --------------------------------------------------------------------------------------
# Numeric and symbolic examples


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


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
