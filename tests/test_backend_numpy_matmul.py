"""Matrix products in the numpy backend's data loops (``backends/numpy/matmul.py``).

Row dot products ``c_0 * X[j_0] + ... + c_k * X[j_k]`` become ``X[:, cols] @ coeffs``,
groups of row sums ``sum(w * X[j])`` become ``w @ X[:, cols]`` and a Hessian's
``sum(w * X[i] * X[j])`` one ``(X.T * w) @ X``. The kernels are compared with the
reference interpreter (point and batch, as in ``test_data_loops_numpy.py``: sums to
``rtol=1e-10``, since BLAS adds in another order) and, through the front end, with the
unrolled build (``data_threshold(0)``).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_data_loops_numpy import SUM_RTOL, Builder, X, check_batch, check_point

import symnum
import symnum.numpy as snp
from symnum import data as sdata
from symnum.backends import numpy as nb
from symnum.ir import Elem, Op, Output, Param
from symnum.ir.interpret import evaluate


def Z(j: int) -> Elem:  # noqa: N802 - a second data matrix
    return Elem("Z", j)


Y = Elem("y", 0)


def patterns_fn():
    """Every pattern over two data matrices and a data vector: row dot products of a
    contiguous subset with a parameter's elements, of scattered columns with constants
    and of the elements of a (2, 2) parameter, with loop-invariant coefficients; a term
    read twice; groups of row sums (contiguous and scattered columns, a data vector);
    Hessian-like sums ``w * X[i] * X[j]``; reductions that match nothing."""
    b = Builder()
    o = b(Op.EXP, Elem("beta", 0))
    with b.loop(stores=(1,)) as loop:
        shared = b(Op.MUL, X(0), Elem("beta", 0))  # read twice: stays
        z1 = b(
            Op.ADD,
            shared,
            b(Op.MUL, Elem("beta", 1), X(1)),
            b(Op.MUL, X(2), Elem("beta", 2)),
            b(Op.MUL, X(3), Elem("beta", 3)),
        )
        o2 = b(Op.MUL, o, 3.0)  # the same on every row
        z2 = b(
            Op.ADD,
            b(Op.MUL, X(4), 2.0),
            b(Op.MUL, X(1), -0.5),
            X(0),
            Y,
            b(Op.MUL, Z(0), Elem("g", 0)),
            b(Op.MUL, Elem("g", 3), Z(2)),
        )
        z3 = b(Op.ADD, b(Op.MUL, Z(0), o), b(Op.MUL, o2, Z(1)), b(Op.MUL, Z(2), X(0)))
        r = b(Op.SUB, Y, z1)
        w = b(Op.EXP, b(Op.MUL, z3, -0.1))
        u0, u1, u2 = b(Op.MUL, w, X(0)), b(Op.MUL, X(2), w), b(Op.MUL, w, Z(1))
        products = [
            b(Op.MUL, r, X(0)),
            b(Op.MUL, X(1), r),
            b(Op.MUL, r, X(3)),
            b(Op.MUL, r, Z(1)),
            b(Op.MUL, z2, Y),
            b(Op.MUL, z2, z3),
            b(Op.MUL, u0, X(0)),
            b(Op.MUL, X(2), u0),
            b(Op.MUL, u1, X(2)),
            b(Op.MUL, u1, X(4)),
            b(Op.MUL, u2, X(1)),
            b(Op.MUL, u2, X(3)),
            b(Op.MUL, Z(0), u0),
        ]
        sums = [loop.reduce(Op.ADD, p) for p in products]
        high = loop.reduce(Op.MAX, z1)
        twice = loop.reduce(Op.ADD, shared)
    params = [
        Param("beta", (4,)),
        Param("g", (2, 2)),
        Param("X", (5,), data=True),
        Param("Z", (3,), data=True),
        Param("y", (), data=True),
    ]
    outputs = (
        Output((len(sums) + 2,), (*sums, high, twice)),
        Output((3,), (z2, r, z3), data=True),
    )
    return b.function("patterns", params, outputs)


BETA = np.array([0.3, -0.7, 0.2, 1.1])
G = np.array([[0.5, -0.25], [2.0, 0.75]])


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)), rng.standard_normal((n, 3)), rng.standard_normal(n)


def test_patterns_are_matrix_products():
    source = nb.emit(patterns_fn()).text
    point = source[: source.index("def patterns_batch_block")]
    batch = source[source.index("def patterns_batch_block") :]
    # row dot products: beta[1:4] (column 0's term is read twice), constants over
    # scattered columns, the (2, 2) parameter's elements 0 and 3, outer coefficients
    assert "X[:, 1:4] @ beta[1:4]" in point
    assert "beta[:, 1:4] @ X[:, 1:4].T" in batch
    assert "X[:, [0, 1, 4]] @ _np.array((1.0, (-0.5), 2.0,))" in source
    assert "Z[:, [0, 2]] @ g.reshape(4)[[0, 3]]" in point
    assert "g.reshape(size, 4)[:, [0, 3]] @ Z[:, [0, 2]].T" in batch
    assert re.search(r"Z\[:, 0:2\] @ _np\.array\(\(t\d+, t\d+,\)\)", point)
    assert re.search(r"coeffs @ Z\[:, 0:2\]\.T", batch)
    # row sums: columns 0, 1, 3 of X (a slice with a spare column) and column 1 of Z
    # with the same weight, the data vector
    assert re.search(r"(t\d+) @ X\[:, 0:4\] \+ 0\.0.*\n.*\n.*\n.*\n.*\1 @ Z\[:, 1:2\] \+ 0", point)
    assert re.search(r"t\d+ @ y\[:, None\] \+ 0\.0", source)
    # w * X[i] * X[j] (i = 0, 2) and w * X[0] * Z[0]: one scaled matrix, two products;
    # w * Z[1] * X[j]: another left matrix
    for text, column in ((point, "t\\d+"), (batch, "t\\d+\\[\\.\\.\\., None, :\\]")):
        scaled = re.search(rf"(t\d+) = X\[:, 0:3\]\.T \* {column}\n", text).group(1)
        assert f"{scaled} @ X + 0.0" in text
        assert f"{scaled} @ Z[:, 0:1] + 0.0" in text
        assert re.search(rf"t\d+ = Z\[:, 1:2\]\.T \* {column}\n", text)
    # what matches nothing is still reduced row by row: sum(z2 * z3), max(z1), sum(shared)
    assert point.count("_np.add.reduce(") == 2
    assert point.count("_np.maximum.reduce(") == 1


@pytest.mark.parametrize("n", [0, 1, 2, 17, 1000])
def test_patterns_against_the_interpreter(n):
    fn = patterns_fn()
    x, z, y = _data(n)
    sums, rows = check_point(fn, BETA, G, x, z, y)
    assert rows.shape == (n, 3)
    if n == 0:
        assert sums[:-2].tolist() == [0.0] * 13
        assert all(np.signbit(sums[:-2]) == False)  # noqa: E712 - +0.0, not -0.0
    for size in (0, 1, 4):
        check_batch(fn, BETA, G, x, z, y, size=size)


def test_patterns_with_nan_and_inf_in_the_data():
    """NaN and infinities propagate as in the row-by-row loop: 0 * nan and inf * 0 are
    NaN in a matrix product too; a NaN in a column only a spare column of a product
    reads reaches no result."""
    fn = patterns_fn()
    x, z, y = _data(40, seed=1)
    x[5, 4] = np.nan  # X[4]: a term of z2 with coefficient 2.0
    z[7, 1] = np.inf  # Z[1]: a term of z3, and a row sum
    x[9, 1] = -np.inf
    x[11, 3] = 0.0
    check_point(fn, BETA, G, x, z, y)
    check_batch(fn, BETA, G, x, z, y, size=3)
    beta = BETA.copy()
    beta[1] = 0.0  # 0 * -inf in z1
    beta[3] = np.inf  # inf * 0 in z1
    sums, _ = check_point(fn, beta, G, x, z, y)
    assert np.isnan(sums[0])
    check_batch(fn, beta, G, x, z, y, size=3)


def spare_fn():
    """Row sums over columns 0, 1 and 3 of X, and ``w * X[i] * X[j]`` over columns 0
    and 3: products over ``X[:, 0:4]``, whose column 2 nobody asked for."""
    b = Builder()
    with b.loop() as loop:
        w = b(Op.EXP, b(Op.MUL, Y, Elem("a", 0)))
        sums = [loop.reduce(Op.ADD, b(Op.MUL, w, X(j))) for j in (0, 1, 3)]
        v = b(Op.EXP, Y)
        u0, u3 = b(Op.MUL, v, X(0)), b(Op.MUL, X(3), v)
        pairs = [b(Op.MUL, u0, X(0)), b(Op.MUL, u0, X(3)), b(Op.MUL, u3, X(3))]
        sums += [loop.reduce(Op.ADD, p) for p in pairs]
    params = [Param("a", ()), Param("X", (5,), data=True), Param("y", (), data=True)]
    return b.function("spare", params, Output((6,), tuple(sums)))


def test_a_nan_in_a_spare_column_reaches_no_result():
    fn = spare_fn()
    source = nb.emit(fn).text
    assert re.search(r"t\d+ @ X\[:, 0:4\] \+ 0\.0", source)
    scaled = re.search(r"(t\d+) = X\[:, 0:4\]\.T \* t\d+\n", source).group(1)
    assert f"{scaled} @ X[:, 0:4] + 0.0" in source
    x, _, y = _data(40, seed=2)
    x[3, 2] = np.nan
    x[4, 2] = np.inf
    sums = check_point(fn, np.array(0.5), x, y)
    assert np.isfinite(sums).all()
    batch = check_batch(fn, np.array(0.5), x, y, size=3)
    assert np.isfinite(batch).all()
    x[5, 3] = np.nan
    sums = check_point(fn, np.array(0.5), x, y)
    # X[3] is read by sums 2, 4 and 5 only
    assert np.isnan(sums).tolist() == [False, False, True, False, True, True]


def test_products_are_bitwise_where_nothing_is_summed():
    """Per-row values that are not sums of column terms keep the loop's exact values."""
    fn = patterns_fn()
    x, z, y = _data(30, seed=3)
    _, rows = check_point(fn, BETA, G, x, z, y)
    _, expected = evaluate(fn, BETA, G, x, z, y)
    np.testing.assert_allclose(rows, expected, rtol=1e-13)


# -- through the front end --------------------------------------------------------------

RNG = np.random.default_rng(20261202)
N = 60
XS = RNG.standard_normal((N, 5))
ZS = RNG.standard_normal((N, 2))
LABELS = (RNG.random(N) < 0.5) * 1.0
POINT = np.array([0.3, -0.2, 0.5, 0.1, -0.4])


def logistic(beta):
    z = XS @ beta
    return snp.sum(snp.log1p(snp.exp(z)) - LABELS * z) + snp.sum(beta**2) / 2


def two_arrays(beta):
    """Two data matrices, a subset of the columns of the first (the zero coefficients
    drop columns 1 and 4), a data vector."""
    z = XS @ snp.array([beta[0], 0, beta[1], beta[2], 0]) + ZS @ beta[3:]
    return snp.sum(snp.log1p(snp.exp(z)) - LABELS * z) + snp.sum(snp.cos(ZS @ beta[3:] + XS[:, 1]))


MODELS = {"logistic": logistic, "two_arrays": two_arrays}


@pytest.mark.parametrize("operator", ["gradient", "hessian"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_front_end_matches_the_interpreter_and_the_unrolled_build(model, operator):
    make = getattr(symnum, operator)
    structured = make(MODELS[model], (5,))
    assert structured._data_params
    with sdata.data_threshold(0):
        unrolled = make(MODELS[model], (5,))
    assert not unrolled._data_params
    assert " @ " in structured.source
    value = structured(POINT)
    np.testing.assert_allclose(value, unrolled(POINT), rtol=1e-10, atol=1e-12)
    reference = evaluate(structured.ir, POINT, *structured._data)
    np.testing.assert_allclose(value, reference, rtol=SUM_RTOL, atol=1e-12)
    points = np.stack([POINT, -POINT, 0.5 * POINT, np.zeros(5)])
    batch = structured(points)
    for k, point in enumerate(points):
        np.testing.assert_allclose(batch[k], unrolled(point), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(batch[k], structured(point), rtol=1e-12, atol=1e-14)


def test_logistic_gradient_and_hessian_are_matrix_products():
    grad = symnum.gradient(logistic, (5,))
    point = grad.source[: grad.source.index("_batch_block")]
    assert "= data0 @ beta\n" in point  # X @ beta
    assert re.search(r"\(t\d+ @ data0 \+ 0\.0\)\.tolist\(\)", point)  # r @ X
    assert "add.reduce" not in point
    hess = symnum.hessian(logistic, (5,))
    point = hess.source[: hess.source.index("_batch_block")]
    assert re.search(
        r"(t\d+) = data0\.T \* t\d+\n(\s*del .*\n)?\s*t\d+ = \(\1 @ data0 \+ 0\.0\)", point
    )
    assert "add.reduce" not in point


def _logistic_of_data(beta, features, labels):
    z = features @ beta
    return snp.sum(snp.log1p(snp.exp(z)) - labels * z)


@pytest.mark.parametrize("n", [0, 1, 2, 40])
def test_data_arguments_of_any_length(n):
    grad = symnum.gradient(_logistic_of_data, (3,), (None, 3), (None,))
    hess = symnum.hessian(_logistic_of_data, (3,), (None, 3), (None,))
    rng = np.random.default_rng(n)
    features, labels = rng.standard_normal((n, 3)), (rng.random(n) < 0.5) * 1.0
    beta = np.array([0.5, -1.0, 0.25])
    p = 1 / (1 + np.exp(-features @ beta))
    g, h = grad(beta, features, labels), hess(beta, features, labels)
    np.testing.assert_allclose(g, features.T @ (p - labels), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(h, (features.T * (p * (1 - p))) @ features, rtol=1e-11, atol=1e-13)
    if n == 0:
        assert g.tolist() == [0.0] * 3
        assert h.tolist() == [[0.0] * 3] * 3
    for f, value in ((grad, g), (hess, h)):
        np.testing.assert_allclose(value, evaluate(f.ir, beta, features, labels), rtol=SUM_RTOL)
        batch = f(np.stack([beta, 2 * beta]), features, labels)
        np.testing.assert_allclose(batch[0], value, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(
            batch[1], evaluate(f.ir, 2 * beta, features, labels), rtol=SUM_RTOL, atol=1e-13
        )


def test_nan_and_inf_data_through_the_front_end():
    grad = symnum.gradient(_logistic_of_data, (3,), (None, 3), (None,))
    hess = symnum.hessian(_logistic_of_data, (3,), (None, 3), (None,))
    rng = np.random.default_rng(5)
    features, labels = rng.standard_normal((50, 3)), (rng.random(50) < 0.5) * 1.0
    features[4, 1] = np.nan
    features[8, 2] = np.inf
    for beta in (np.array([0.5, -1.0, 0.25]), np.array([0.5, 0.0, 0.0])):
        for f in (grad, hess):
            expected = evaluate(f.ir, beta, features, labels)
            value = f(beta, features, labels)
            np.testing.assert_allclose(value, expected, rtol=SUM_RTOL, equal_nan=True)
            batch = f(np.stack([beta, beta]), features, labels)
            np.testing.assert_allclose(batch[1], expected, rtol=SUM_RTOL, equal_nan=True)
            assert np.isnan(value).any()


def test_integer_data_are_float64_rows():
    """Integer data (constant or given as arguments) reach the products as float64."""
    counts = RNG.integers(-3, 4, (N, 5))

    def model(beta):
        z = counts @ beta
        return snp.sum(snp.log1p(snp.exp(z)) - LABELS * z)

    hess = symnum.hessian(model, (5,))
    assert all(d.dtype == np.float64 for d in hess._data)
    with sdata.data_threshold(0):
        unrolled = symnum.hessian(model, (5,))
    np.testing.assert_allclose(hess(POINT), unrolled(POINT), rtol=1e-10)
    grad = symnum.gradient(_logistic_of_data, (5,), (None, 5), (None,))
    labels = LABELS.astype(int)
    expected = evaluate(grad.ir, POINT, counts.astype(float), labels.astype(float))
    np.testing.assert_allclose(grad(POINT, counts, labels), expected, rtol=SUM_RTOL)
