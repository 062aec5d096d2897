"""symnum.numpy.contract against NumPy (tests/_like_numpy.py), 0-d arrays included."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from _assert import assert_close
from _like_numpy import check_like_numpy, evaluate, operands
from hypothesis import given, settings
from hypothesis import strategies as st

import symnum.numpy as snp
from symnum import named_array

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
    ("kron", [(), ()]),
    ("kron", [(2, 3), (2,)]),
    ("kron", [(3,), (2, 2)]),
    ("kron", [(2, 1, 2), (3, 2)]),
    ("cross", [(3,), (3,)]),
    ("cross", [(4, 3), (3,)]),
    ("cross", [(3, 2), (3, 2)], 0, 0, 1),
    ("cross", [(2, 3), (1, 3)], -1, -1, 0),
    ("cross", [(3, 2, 1), (3,)], 0, 0, -1),
    ("cross", [(2, 3), (3, 3)]),
    ("cross", [(4,), (4,)]),
    ("cross", [(), (3,)]),
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


# --------------------------------------------------------------------------------------
# Numeric and symbolic examples


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


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


def test_cross_of_2_vectors():
    # NumPy 2 deprecates 2-vectors (with a warning) but still computes them: so does symnum
    a, b = named_array("a", (2,)), named_array("b", (3,))
    assert snp.cross(a, a[::-1]) == a[0] ** 2 - a[1] ** 2  # the third component alone
    got = snp.cross(a, b)  # a zero third component for a
    assert got.shape == (3,)
    assert list(got.flat) == [a[1] * b[2], -a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    assert snp.cross([1.0, 2.0], [[3.0, 4.0], [5.0, 6.0]]).shape == (2,)


def test_diagonal_and_trace(rng):
    a = rng.normal(size=(3, 4, 5))
    for offset, axis1, axis2 in [(0, 0, 1), (1, 0, 2), (-1, 2, 1), (2, -1, -3)]:
        _close(snp.diagonal(a, offset, axis1, axis2), np.diagonal(a, offset, axis1, axis2))
        _close(snp.trace(a, offset, axis1, axis2), np.trace(a, offset, axis1, axis2))
    m = rng.normal(size=(3, 3))
    assert isinstance(snp.trace(named_array("m", (3, 3))), sympy.Expr)
    _close(snp.trace(m), np.trace(m))


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


# --------------------------------------------------------------------------------------
# convolve, correlate, vander; NumPy 2's vecdot, matvec, vecmat, matrix_transpose,
# permute_dims

SEQUENCE_SHAPES = [
    [(4,), (2,)],
    [(2,), (5,)],
    [(5,), (4,)],
    [(4,), (5,)],
    [(3,), (3,)],
    [(1,), (1,)],
    [(), (3,)],
    [(6,), ()],
]


@pytest.mark.parametrize("shapes", SEQUENCE_SHAPES)
@pytest.mark.parametrize("mode", ["full", "same", "valid", 0, 1, 2, "default"])
def test_convolve_and_correlate_like_numpy(shapes, mode):
    kwargs = {} if mode == "default" else {"mode": mode}
    for name in ("convolve", "correlate"):
        check_like_numpy(snp, name, shapes, **kwargs)


@pytest.mark.parametrize(
    ("shapes", "mode"),
    [([(3,), (2,)], "VALID"), ([(3,), (2,)], "v"), ([(3,), (2,)], 3), ([(3,), (2,)], -1),
     ([(3,), (2,)], None), ([(3,), (2,)], True), ([(3,), (2,)], 1.0), ([(2, 2), (2,)], "full"),
     ([(3,), (1, 2)], "full"), ([(0,), (3,)], "full"), ([(3,), (0,)], "valid")],
)  # fmt: skip
def test_bad_convolve_and_correlate_arguments_like_numpy(shapes, mode):
    for name in ("convolve", "correlate"):
        check_like_numpy(snp, name, shapes, mode)


@pytest.mark.parametrize(("n", "m"), [(4, 2), (2, 4), (3, 3), (4, 5)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_correlate_conjugates_complex_input(rng, n, m, mode):
    a = rng.normal(size=n) + 1j * rng.normal(size=n)
    v = rng.normal(size=m) + 1j * rng.normal(size=m)
    for name in ("convolve", "correlate"):
        got = np.array([complex(z) for z in getattr(snp, name)(a, v, mode).flat])
        np.testing.assert_allclose(got, getattr(np, name)(a, v, mode), rtol=1e-12)


@pytest.mark.parametrize("shape", [(3,), (1,), (0,), (), (2, 2)])
@pytest.mark.parametrize("n", [None, 0, 1, 4, -1])
@pytest.mark.parametrize("increasing", [False, True])
def test_vander_like_numpy(shape, n, increasing):
    check_like_numpy(snp, "vander", [shape], n, increasing=increasing)


def test_vander_powers():
    x = named_array("x", (2,))
    assert snp.vander(x).tolist() == [[x[0], 1], [x[1], 1]]
    assert snp.vander(x, 3, increasing=True).tolist() == [
        [1, x[0], x[0] ** 2],
        [1, x[1], x[1] ** 2],
    ]
    with pytest.raises(TypeError, match="int"):
        snp.vander(x, 2.0)


NUMPY2_PRODUCTS = [
    ("vecdot", [(3,), (3,)], {}),
    ("vecdot", [(2, 3), (3,)], {}),
    ("vecdot", [(2, 1, 3), (4, 3)], {}),
    ("vecdot", [(3, 2), (3, 2)], {"axis": 0}),
    ("vecdot", [(3, 2), (3,)], {"axis": 0}),
    ("vecdot", [(2, 4, 3), (4, 1)], {"axis": -2}),
    ("vecdot", [(2, 3), (1,)], {}),  # core dimensions do not broadcast
    ("vecdot", [(), ()], {}),
    ("vecdot", [(3,), (3,)], {"axis": 1}),
    ("vecdot", [(2, 3), (3, 2)], {"axis": 0}),
    ("vecdot", [(2, 3), (4, 3)], {}),  # batch axes do not broadcast
    ("matvec", [(2, 3), (3,)], {}),
    ("matvec", [(4, 2, 3), (3,)], {}),
    ("matvec", [(2, 3), (4, 3)], {}),
    ("matvec", [(1, 2, 3), (4, 3)], {}),
    ("matvec", [(3,), (3,)], {}),
    ("matvec", [(2, 3), (2,)], {}),
    ("matvec", [(2, 2, 3), (3, 3)], {}),
    ("vecmat", [(3,), (3, 2)], {}),
    ("vecmat", [(4, 3), (3, 2)], {}),
    ("vecmat", [(4, 3), (5, 1, 3, 2)], {}),
    ("vecmat", [(3,), (3,)], {}),
    ("vecmat", [(2,), (3, 2)], {}),
    ("matrix_transpose", [(2, 3)], {}),
    ("matrix_transpose", [(4, 2, 3)], {}),
    ("matrix_transpose", [(3,)], {}),
    ("permute_dims", [(2, 3)], {}),
    ("permute_dims", [(2, 3, 4)], {"axes": (1, 2, 0)}),
    ("permute_dims", [(2, 3, 4)], {"axes": (-1, 0, 1)}),
    ("permute_dims", [(2, 3)], {"axes": (0,)}),
    ("permute_dims", [(2, 3)], {"axes": (0, 0)}),
]


@pytest.mark.parametrize(
    "case", NUMPY2_PRODUCTS, ids=[f"{c[0]}-{i}" for i, c in enumerate(NUMPY2_PRODUCTS)]
)
def test_numpy2_products_like_numpy(case):
    name, shapes, kwargs = case
    check_like_numpy(snp, name, shapes, **kwargs)


def test_vecdot_and_vecmat_conjugate_the_first_operand(rng):
    a = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    b = rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))
    as_complex = np.vectorize(complex)
    np.testing.assert_allclose(as_complex(snp.vecdot(a, b.T)), np.vecdot(a, b.T), rtol=1e-12)
    np.testing.assert_allclose(as_complex(snp.vecmat(a, b)), np.vecmat(a, b), rtol=1e-12)
    np.testing.assert_allclose(as_complex(snp.matvec(a, b.T)), np.matvec(a, b.T), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="first two"):
        snp.vecdot(a, a, out=None)


@pytest.mark.parametrize(
    "name",
    ["convolve", "correlate", "vander", "vecdot", "matvec", "vecmat", "matrix_transpose",
     "permute_dims"],
)  # fmt: skip
def test_added_docstrings_name_numpy_and_state_shapes(name):
    doc = getattr(snp, name).__doc__
    assert f"numpy.{name}" in doc
    assert "shape" in doc or "length" in doc


def test_products_of_data_rows_stay_loops():
    data = np.random.default_rng(5).normal(size=(60, 3))
    t = named_array("t", (3,))
    for value in (snp.vecdot(data, t), snp.matvec(data, t), snp.vander(data @ t, 3)):
        assert type(value).__name__ == "DataArray"
    assert "DataSum" in str(snp.sum(snp.vecdot(data, t) ** 2))
