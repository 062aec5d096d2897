"""symnum.numpy.contract against NumPy (tests/_like_numpy.py), 0-d arrays included."""

from __future__ import annotations

import numpy as np
import pytest
from _assert import assert_close
from _like_numpy import check_like_numpy, evaluate, operands

import symnum.numpy as snp

CONTRACT_CASES = [
    ("matmul", [(3,), (3,)]),
    ("matmul", [(2, 1, 3), (4, 3, 2)]),
    ("matmul", [(), (3,)]),
    ("matmul", [(2, 3), (2, 3)]),
    ("dot", [(), ()]),
    ("dot", [(), (2, 3)]),
    ("dot", [(2, 3), (3,)]),
    ("dot", [(2, 3), (4, 3, 2)]),
    ("inner", [(), (3,)]),
    ("inner", [(2, 3), (4, 3)]),
    ("inner", [(2, 3), (2,)]),
    ("vdot", [(2, 3), (6,)]),
    ("vdot", [(), ()]),
    ("outer", [(), (3,)]),
    ("outer", [(2, 3), (2,)]),
    ("tensordot", [(), ()], 0),
    ("tensordot", [(2, 3), (3, 4)], 1),
    ("tensordot", [(2, 3, 4), (4, 3)], ([1, 2], [1, 0])),
    ("trace", [(3, 3)]),
    ("trace", [(2, 3, 4)], 1, 0, 2),
    ("trace", [(3,)]),
    ("einsum", [(2, 3), (3, 4)]),
    ("einsum", [(3, 3)]),
    ("einsum", [()]),
    ("einsum", [(), (2,)]),
]
EINSUM_SUBSCRIPTS = {
    ((2, 3), (3, 4)): "ij,jk->ki",
    ((3, 3),): "ii->",
    ((),): "->",
    ((), (2,)): ",i->i",
}


@pytest.mark.parametrize(
    "case", CONTRACT_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONTRACT_CASES)]
)
def test_contractions_like_numpy(case):
    name, shapes, *args = case
    if name == "einsum":
        subscripts = EINSUM_SUBSCRIPTS[tuple(shapes)]
        values, symbols, rule = operands(shapes)
        expected = np.einsum(subscripts, *values)
        assert_close(snp.einsum(subscripts, *values), expected, rtol=1e-12, atol=1e-14)
        assert_close(
            evaluate(snp.einsum(subscripts, *symbols), rule), expected, rtol=1e-12, atol=1e-14
        )
        return
    check_like_numpy(snp, name, shapes, *args)


@pytest.mark.parametrize("name", sorted({c[0] for c in CONTRACT_CASES}))
def test_docstrings_name_numpy_and_state_shapes(name):
    doc = getattr(snp, name).__doc__
    assert f"numpy.{name}" in doc
    assert "shape" in doc or "scalar" in doc
