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

import symnum.numpy as snp
import symnum.scipy.special as sss
from symnum import named_array
from symnum.array import SymbolicArray

REDUCTIONS = ["sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin"]
SHAPES = [(), (1,), (4,), (2, 3), (2, 1, 3)]
AXES = [None, 0, -1, 1, 2, (0,), (0, -1), (), (1, 0)]


def _evaluate(result, x: SymbolicArray, values: np.ndarray):
    return evaluate(
        result, dict(zip(x.flat, map(sympy.Float, values.ravel().tolist()), strict=True))
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_like_numpy(shape, axis, keepdims):
    for name in REDUCTIONS:
        check_like_numpy(snp, name, [shape], axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [None, 0, -1, 1, -2])
def test_cumulative_like_numpy(shape, axis):
    for name in ("cumsum", "cumprod"):
        check_like_numpy(snp, name, [shape], axis=axis)


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
    for name in (*REDUCTIONS, "cumsum", "cumprod"):
        doc = getattr(snp, name).__doc__
        assert "numpy." in doc
        assert "shape" in doc
