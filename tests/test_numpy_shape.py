"""symnum.numpy.shape against NumPy (tests/_like_numpy.py), 0-d arrays included."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from _assert import assert_close
from _like_numpy import check_like_numpy
from _like_numpy_calls import check_call

import symnum
import symnum.numpy as snp
from symnum import named_array
from symnum.data import is_lazy

SHAPE_CASES = [
    ("reshape", [()], (1,)),
    ("reshape", [(2, 3)], (3, -1)),
    ("reshape", [(2, 3)], (4, 2)),
    ("ravel", [()]),
    ("ravel", [(2, 1, 3)]),
    ("transpose", [()]),
    ("transpose", [(2, 1, 3)]),
    ("transpose", [(2, 1, 3)], (2, 0, 1)),
    ("transpose", [(2, 3)], (0, 0)),
    ("swapaxes", [(2, 1, 3)], 0, -1),
    ("swapaxes", [(2, 3)], 0, 2),
    ("moveaxis", [(2, 1, 3)], (0, 2), (-1, 0)),
    ("moveaxis", [()], 0, 0),
    ("flip", [()]),
    ("flip", [(2, 3)], 1),
    ("flip", [(2, 3)], (0, 1)),
    ("squeeze", [()]),
    ("squeeze", [(1, 3, 1)]),
    ("squeeze", [(1, 3, 1)], -1),
    ("squeeze", [(2, 3)], 0),
    ("expand_dims", [()], 0),
    ("expand_dims", [(2, 3)], (0, 3)),
    ("expand_dims", [(2, 3)], 4),
    ("atleast_1d", [()]),
    ("atleast_2d", [()]),
    ("atleast_2d", [(3,)]),
    ("atleast_3d", [(3,)]),
    ("atleast_3d", [(2, 3)]),
    ("atleast_3d", [(2, 1, 3, 1)]),
    ("atleast_1d", [(), (2,)]),
    ("broadcast_to", [()], (2, 3)),
    ("broadcast_to", [(3,)], (2, 3)),
    ("broadcast_to", [(2, 1)], (2, 3)),
    ("broadcast_to", [(2,)], (2, 3)),
    ("broadcast_arrays", [(), (2, 1), (3,)]),
    ("broadcast_arrays", [(2,), (3,)]),
    ("diag", [(3,)], 1),
    ("diag", [(2, 3)], -1),
    ("diagonal", [(2, 3, 4)], 1, 2, 0),
    (
        "diagonal",
        [()],
    ),
    ("concatenate", [[(2, 3), (1, 3)]]),
    ("concatenate", [[(2, 3), (2, 2)]], -1),
    ("concatenate", [[(), ()]], None),
    ("concatenate", [[(), ()]]),
    ("concatenate", [[(2, 3), (3, 2)]]),
    ("stack", [[(), ()]]),
    ("stack", [[(2, 3), (2, 3)]], -1),
    ("stack", [[(2, 3), (3, 2)]]),
    ("hstack", [[(), (2,)]]),
    ("hstack", [[(2, 1), (2, 3)]]),
    ("vstack", [[(3,), (2, 3)]]),
    ("dstack", [[(3,), (3,)]]),
    ("column_stack", [[(3,), (3, 2)]]),
    ("triu", [(3, 4)]),
    ("triu", [(2, 3, 3)], 1),
    ("triu", [(3,)], -1),
    ("triu", [()]),
    ("tril", [(4, 3)], 2),
    ("tril", [(2, 2, 3)], -1),
    ("tril", [(3,)]),
]


@pytest.mark.parametrize(
    "case", SHAPE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPE_CASES)]
)
def test_shape_functions_like_numpy(case):
    name, shapes, *args = case
    joined = bool(shapes) and isinstance(shapes[0], list)
    check_like_numpy(snp, name, shapes[0] if joined else shapes, *args, joined=joined)


@pytest.mark.parametrize(
    "name",
    sorted({c[0] for c in SHAPE_CASES}),
)
def test_docstrings_name_numpy_and_state_shapes(name):
    doc = getattr(snp, name).__doc__
    assert f"numpy.{name}" in doc
    assert "shape" in doc or "(" in doc


# --------------------------------------------------------------------------------------
# Numeric and symbolic examples


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


@pytest.mark.parametrize("k", [0, 1, -2])
def test_diag(rng, k):
    v, m = rng.normal(size=3), rng.normal(size=(3, 4))
    _close(snp.diag(v, k), np.diag(v, k))
    _close(snp.diag(m, k), np.diag(m, k))


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


# --------------------------------------------------------------------------------------
# Splitting, rearranging, taking, inserting, deleting and padding


def case(name, shapes, *args, **kwargs):
    return name, shapes, args, kwargs


REARRANGING_CASES = [
    case("roll", [(5,)], 2),
    case("roll", [(2, 3)], 4),
    case("roll", [(2, 3)], -1, 1),
    case("roll", [(2, 3, 4)], (1, 2), (0, -1)),
    case("roll", [(2, 3)], (1, 2), 0),
    case("roll", [(2, 3)], (1, 2), (0, 1, 1)),
    case("roll", [(2, 3)], 1, 2),
    case("roll", [()], 1),
    case("tile", [(3,)], 2),
    case("tile", [(2, 3)], (2, 1, 2)),
    case("tile", [()], (2, 2)),
    case("tile", [(2, 3)], 0),
    case("tile", [(2, 3)], -1),
    case("repeat", [(2, 3)], 2),
    case("repeat", [(2, 3)], [1, 0, 2], 1),
    case("repeat", [(2, 3)], [1, 2], -2),
    case("repeat", [(2, 3)], [1, 2], 1),
    case("repeat", [(2, 3)], -1),
    case("repeat", [(2, 3)], 2, -3),
    case("repeat", [()], 3),
    case("fliplr", [(2, 3)]),
    case("fliplr", [(2, 3, 2)]),
    case("fliplr", [(3,)]),
    case("flipud", [(3,)]),
    case("flipud", [(2, 3, 2)]),
    case("flipud", [()]),
    case("rot90", [(2, 3)]),
    case("rot90", [(2, 3)], 3),
    case("rot90", [(2, 3)], -2),
    case("rot90", [(2, 3, 4)], -1, (0, 2)),
    case("rot90", [(2, 3, 4)], 1, (2, -3)),
    case("rot90", [(2, 3)], 1, (0, 0)),
    case("rot90", [(2, 3)], 1, (0, 2)),
    case("rot90", [(3,)]),
    case("resize", [(2, 3)], (4,)),
    case("resize", [(2, 3)], (3, 4)),
    case("resize", [(2, 3)], 0),
    case("resize", [(0,)], 3),
    case("resize", [()], 2),
    case("resize", [(2, 3)], -1),
    case("split", [(6,)], 3),
    case("split", [(6,)], 4),
    case("split", [(2, 6)], [1, 4], 1),
    case("split", [(2, 6)], [4, 1], -1),
    case("split", [(2, 6)], 2, 2),
    case("split", [(2, 6)], 0),
    case("array_split", [(7,)], 3),
    case("array_split", [(2, 7)], 3, 1),
    case("array_split", [(2, 7)], [2, 9], -1),
    case("array_split", [(3,)], 0),
    case("hsplit", [(2, 4)], 2),
    case("hsplit", [(4,)], [1]),
    case("hsplit", [()], 1),
    case("vsplit", [(4, 2)], [1]),
    case("vsplit", [(4, 2, 1)], 2),
    case("vsplit", [(4,)], 2),
    case("dsplit", [(1, 2, 4)], 2),
    case("dsplit", [(1, 2, 4)], [3]),
    case("dsplit", [(2, 4)], 2),
    case("take", [(2, 3)], 4),
    case("take", [(2, 3)], -1),
    case("take", [(2, 3)], [0, -1], 1),
    case("take", [(2, 3)], [[0, 1], [1, 0]], 0),
    case("take", [(2, 3)], np.array(1), 0),
    case("take", [(2, 3)], 7),
    case("take", [(2, 3)], 7, 1, mode="wrap"),
    case("take", [(2, 3)], [5, -5], mode="clip"),
    case("take", [(2, 3)], 1, 2),
    case("take", [(2, 3)], 1.5),
    case("take", [(2, 3)], [0], mode="nearest"),
    case("take", [()], 0),
    case("take_along_axis", [(2, 3)], np.array([[0, 2], [1, 1]]), 1),
    case("take_along_axis", [(2, 3)], np.array([[1, 0, 1]]), 0),
    case("take_along_axis", [(2, 3)], np.array([[2], [0]]), -1),
    case("take_along_axis", [(2, 3)], np.array([0, 5]), None),
    case("take_along_axis", [(2, 3)], np.array([0, 1]), 1),
    case("take_along_axis", [(2, 3)], np.array([[0.5]]), 1),
    case("take_along_axis", [(2, 3)], np.array([[3]]), 1),
    case("take_along_axis", [(2, 3)], np.array([[0]]), 2),
    case("append", [(2, 3), (1, 3)], 0),
    case("append", [(2, 3), (4,)]),
    case("append", [(), ()]),
    case("append", [(2, 3), (2, 1)], -1),
    case("append", [(2, 3), (2, 2)], 0),
    case("append", [(2, 3), (2,)], 1),
    case("delete", [(2, 3)], 1),
    case("delete", [(2, 3)], [0, 2], 1),
    case("delete", [(2, 3)], slice(0, 2), 0),
    case("delete", [(2, 3)], np.array([True, False, True]), 1),
    case("delete", [(2, 3)], -1, -1),
    case("delete", [(2, 3)], 5, 0),
    case("delete", [(2, 3)], 1, 2),
    case("pad", [(3,)], 2),
    case("pad", [(2, 3)], ((1, 0), (0, 2))),
    case("pad", [(2, 3)], 1, constant_values=1.5),
    case("pad", [(2, 3)], (1, 2), constant_values=((1.0, 2.0), (3.0, 4.0))),
    case("pad", [(2, 3)], 1, "edge"),
    case("pad", [(3,)], (2, 3), "reflect"),
    case("pad", [(3,)], (4, 5), "reflect"),
    case("pad", [(2, 3)], (2, 4), "symmetric"),
    case("pad", [(2, 3)], 2, "wrap"),
    case("pad", [(2, 3)], ((0, 3), (4, 0)), mode="wrap"),
    case("pad", [(2, 3)], 1, "reflect", reflect_type="even"),
    case("pad", [(0,)], 1, "edge"),
    case("pad", [(2, 3)], 1, "foo"),
    case("pad", [(2, 3)], 1, "edge", constant_values=2.0),
    case("pad", [(2, 3)], 1, stat_length=2),
    case("pad", [(2, 3)], ((1, 2, 3),)),
    case("pad", [(2, 3)], -1),
    case("pad", [(2, 3)], 1, constant_values=(1.0, 2.0, 3.0)),
    case("pad", [()], 1),
    case("diagflat", [(2, 2)]),
    case("diagflat", [(3,)], -1),
    case("diagflat", [()], 2),
]


@pytest.mark.parametrize(
    "case", REARRANGING_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(REARRANGING_CASES)]
)
def test_rearranging_functions_like_numpy(case):
    name, shapes, args, kwargs = case
    check_like_numpy(snp, name, shapes, *args, **kwargs)


@pytest.mark.parametrize("name", sorted({c[0] for c in REARRANGING_CASES} | {"insert"}))
def test_rearranging_docstrings_name_numpy_and_state_shapes(name):
    doc = getattr(snp, name).__doc__
    assert f"numpy.{name}" in doc
    assert "shape" in doc or "axis" in doc


INSERT_CASES = [
    ([(5,), ()], 2, None),
    ([(2, 3), ()], 1, None),
    ([(2, 3), ()], [0, 2, 2], 1),
    ([(2, 3), (3,)], 1, 0),
    ([(2, 3), (2,)], -1, 1),
    ([(2, 3), (2, 1)], [1], 1),
    ([(2, 3), (2, 2)], [0, 3], 1),
    ([(2, 3), (2, 2)], slice(0, 2), 1),
    ([(2, 3), (3,)], 1, 1),
    ([(2, 3), ()], 5, 0),
    ([(2, 3), ()], 1, 2),
    ([(), ()], 0, None),
]


@pytest.mark.parametrize(("shapes", "obj", "axis"), INSERT_CASES)
def test_insert_like_numpy(shapes, obj, axis):
    check_call(
        lambda arr, values: snp.insert(arr, obj, values, axis),
        lambda arr, values: np.insert(arr, obj, values, axis),
        shapes,
    )


@pytest.mark.parametrize(
    ("shapes", "pad_width"),
    [([(2, 3), ()], 1), ([(2, 3), (2, 2)], (1, 2)), ([(3,), (1, 2)], 2), ([(2, 3), (3,)], 1)],
)
def test_pad_with_symbolic_constant_values_like_numpy(shapes, pad_width):
    check_call(
        lambda a, c: snp.pad(a, pad_width, constant_values=c),
        lambda a, c: np.pad(a, pad_width, constant_values=c),
        shapes,
    )


def test_symbolic_values_cannot_be_indices_or_counts():
    x, i = named_array("x", (2, 3)), named_array("i", 2)
    for call in (
        lambda: snp.take(x, i),
        lambda: snp.take(x, i[0], axis=1),
        lambda: snp.take_along_axis(x, snp.reshape(i, (2, 1)), 1),
        lambda: snp.roll(x, i[0]),
        lambda: snp.repeat(x, i, axis=0),
        lambda: snp.tile(x, i),
        lambda: snp.delete(x, i[0]),
        lambda: snp.insert(x, i[0], 1.0),
        lambda: snp.split(x, i, axis=1),
    ):
        with pytest.raises(TypeError, match="constant integers"):
            call()
    # SymPy integers are constants
    assert snp.take(x, sympy.Integer(4)) == x[1, 1]
    assert snp.roll(x[0], sympy.Integer(1)).tolist() == [x[0, 2], x[0, 0], x[0, 1]]


def test_pad_modes_that_compute_values_are_not_supported():
    x = named_array("x", 3)
    for mode in ("maximum", "mean", "median", "minimum", "linear_ramp", "empty", np.pad):
        with pytest.raises(NotImplementedError, match="mode"):
            snp.pad(x, 1, mode)
    with pytest.raises(NotImplementedError, match="reflect_type"):
        snp.pad(x, 1, "symmetric", reflect_type="odd")
    with pytest.raises(NotImplementedError, match="out"):
        snp.take(x, 0, out=np.zeros(()))


def test_split_returns_a_list_of_symbolic_arrays_that_share_no_storage():
    x = named_array("x", (2, 4))
    parts = snp.split(x, 2, axis=1)
    assert isinstance(parts, list)
    assert [p.shape for p in parts] == [(2, 2), (2, 2)]
    parts[0][0, 0] = 1
    assert x[0, 0] == named_array("x", (2, 4))[0, 0]
    assert snp.hstack(snp.array_split(x, 3, axis=1)).tolist() == x.tolist()


def test_take_gives_scalars_like_numpy():
    x = named_array("x", (2, 3))
    assert snp.take(x, 5) == x[1, 2]
    assert snp.take(x, [5]).shape == (1,)
    assert snp.take(x[0], -1) == x[0, 2]
    assert snp.take(x, 0, axis=0).tolist() == x[0].tolist()


def _rearranged(m, v):
    """The new functions of the NumPy-like module ``m`` on the 6-vector ``v``."""
    x = m.reshape(v, (2, 3))
    pieces = [
        m.roll(x, 1, axis=1),
        m.tile(x[0], 2),
        m.repeat(x, [1, 2], axis=0),
        m.rot90(x),
        m.fliplr(x) * m.flipud(x),
        m.pad(x, ((1, 0), (0, 2)), constant_values=x[1, 2]),
        m.pad(x, (2, 1), "reflect"),
        m.pad(x[0], 3, "wrap"),
        m.take(x, [2, 0, 2], axis=1),
        m.take_along_axis(x, np.array([[2, 0], [1, 1]]), 1),
        m.insert(x, 1, m.sin(x[1]), axis=0),
        m.delete(x, 0, 1),
        m.append(x, x[:, 0] ** 2),
        m.split(x, 3, axis=1)[1],
        m.array_split(v, 4)[0],
        m.resize(x, 8),
        m.diagflat(x[1], 1),
    ]
    return m.concatenate([m.ravel(p) for p in pieces])


def test_rearranged_values_and_jacobian_on_backend(backend, rng):
    v = rng.normal(size=6)
    jac_and_value = symnum.jacobian(
        lambda v: _rearranged(snp, v), (6,), backend=backend, return_aux=True
    )
    jac, value = jac_and_value(v)
    expected = _rearranged(np, v)
    _close(value, expected)
    h = 1e-6
    steps = [(_rearranged(np, v + h * e) - _rearranged(np, v - h * e)) / (2 * h) for e in np.eye(6)]
    np.testing.assert_allclose(jac, np.stack(steps, axis=-1), rtol=1e-6, atol=1e-8)


def test_data_arrays_are_unrolled_with_the_same_result(rng):
    data, b = rng.normal(size=(60, 3)), rng.normal(size=3)

    def model(m, b):
        z = data @ b
        return (
            m.sum(m.roll(z, 1) ** 2 * z)
            + m.sum(m.pad(z, 2, "reflect")[:5] ** 3)
            + m.sum(m.take(z, [0, 59, 7]) ** 2)
            + m.sum(m.split(m.sin(z), 3)[1])
        )

    def f(b):
        return model(snp, b)

    def reference(b):
        return model(np, b)

    assert is_lazy(data @ named_array("b", 3))  # the functions get a data array
    value_lazy, grad_lazy = symnum.value_and_grad(f, (3,))(b)
    with symnum.data_threshold(0):
        assert not is_lazy(data @ named_array("b", 3))
        value_unrolled, grad_unrolled = symnum.value_and_grad(f, (3,))(b)
    _close(value_lazy, reference(b))
    _close(value_unrolled, reference(b))
    np.testing.assert_allclose(grad_lazy, grad_unrolled, rtol=1e-12, atol=1e-12)
    h = 1e-6
    steps = [(reference(b + h * e) - reference(b - h * e)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(grad_lazy, steps, rtol=1e-6, atol=1e-6)
