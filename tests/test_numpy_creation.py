"""symnum.numpy.creation against NumPy (tests/_like_numpy.py): the ``*_like`` functions,
conversions and copies, ranges and grids (``array``, ``eye``, ``zeros``... are tested in
test_numpy.py).

Numbers give NumPy's own arrays (``arange``, ``linspace``, ``meshgrid``...) or
SymbolicArrays of SymPy numbers (``zeros_like``... as ``zeros``); symbolic input gives
SymbolicArrays that evaluate to NumPy's values.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from _assert import assert_close
from _like_numpy import check_like_numpy, evaluate
from _like_numpy_calls import check_call

import symnum
import symnum.numpy as snp
from symnum import named_array
from symnum.array import SymbolicArray


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261127)


def case(name, shapes, *args, **kwargs):
    return name, shapes, args, kwargs


CREATION_CASES = [
    case("zeros_like", [(2, 3)]),
    case("zeros_like", [()]),
    case("zeros_like", [(2, 3)], shape=(4,)),
    case("zeros_like", [(2, 3)], order="X"),
    case("ones_like", [(3,)]),
    case("ones_like", [(3,)], np.float64, "C", shape=(2, 2)),
    case("ones_like", [(3,)], shape=-1),
    case("full_like", [(2, 3)], 1.5),
    case("full_like", [()], -2.0),
    case("full_like", [(2,)], 0.5, shape=(3, 1)),
    case("full_like", [(2, 3)], [1.0, 2.0, 3.0]),
    case("full_like", [(2, 3)], [1.0, 2.0]),
    case("asarray", [(2, 3)]),
    case("asarray", [()]),
    case("asanyarray", [(3,)]),
    case("copy", [(2, 3)]),
    case("linspace", [(), ()]),
    case("linspace", [(), ()], 5),
    case("linspace", [(), ()], 5, False),
    case("linspace", [(), ()], 1),
    case("linspace", [(), ()], 1, False),
    case("linspace", [(), ()], 0),
    case("linspace", [(), ()], 4, retstep=True),
    case("linspace", [(3,), ()], 4, retstep=True),
    case("linspace", [(), ()], 1, retstep=True),
    case("linspace", [(3,), (2, 1)], 3, axis=-1),
    case("linspace", [(3,), (2, 1)], 3, axis=1),
    case("linspace", [(3,), (2, 1)], 3, axis=3),
    case("linspace", [(3,), (2,)], 3),
    case("linspace", [(), ()], -1),
    case("linspace", [(), ()], 2.5),
    case("linspace", [(), ()], 6, dtype=int),
    case("linspace", [(), ()], 6, dtype=float),
    case("logspace", [(), ()], 4),
    case("logspace", [(), ()], 4, False, 2.0),
    case("logspace", [(2,), ()], 3, axis=1),
    case("logspace", [(2,), ()], 3, base=np.array([2.0, 3.0])),
    case("logspace", [(2,), ()], 3, base=np.array([[2.0], [3.0]]), axis=-1),
    case("logspace", [(2,), ()], 3, base=np.array([2.0, 3.0, 4.0])),
    case("logspace", [(), ()], -2),
    case("geomspace", [(), ()], 4),
    case("geomspace", [(3,), (3,)], 3, False),
    case("geomspace", [(3,), ()], 3, axis=-1),
    case("geomspace", [(), ()], 1),
    case("geomspace", [(), ()], 0),
    case("geomspace", [(), ()], 3, axis=2),
    case("meshgrid", [(2,), (3,)]),
    case("meshgrid", [(2,), (3,)], indexing="ij"),
    case("meshgrid", [(2,), (3,), (4,)], sparse=True),
    case("meshgrid", [(2,), (3,), (4,)], indexing="ij", sparse=True),
    case("meshgrid", [(2, 2), (3,)]),
    case("meshgrid", [(2,)]),
    case("meshgrid", [(2,), ()], copy=False),
    case("meshgrid", [(2,), (3,)], indexing="foo"),
]


@pytest.mark.parametrize(
    "case", CREATION_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CREATION_CASES)]
)
def test_creation_functions_like_numpy(case):
    name, shapes, args, kwargs = case
    check_like_numpy(snp, name, shapes, *args, **kwargs)


NEW_NAMES = [
    "arange",
    "asanyarray",
    "asarray",
    "copy",
    "empty_like",
    "full_like",
    "geomspace",
    "linspace",
    "logspace",
    "meshgrid",
    "ones_like",
    "zeros_like",
]


@pytest.mark.parametrize("name", NEW_NAMES)
def test_docstrings_name_numpy_and_state_shapes(name):
    assert name in snp.__all__
    doc = getattr(snp, name).__doc__
    assert f"numpy.{name}" in doc
    assert "shape" in doc or "1-D" in doc


@pytest.mark.parametrize(
    ("shapes", "kwargs"),
    [
        ([(), (), ()], {}),
        ([(2,), (), (2,)], {}),
        ([(2,), (), (2,)], {"axis": 1}),
        ([(), (), (3,)], {"axis": -1}),
        ([(), (), (2, 1)], {}),
        ([(2,), (), (3,)], {}),
    ],
)
def test_logspace_with_symbolic_base_like_numpy(shapes, kwargs):
    check_call(
        lambda start, stop, base: snp.logspace(start, stop, 4, base=base, **kwargs),
        lambda start, stop, base: np.logspace(start, stop, 4, base=base, **kwargs),
        shapes,
    )


@pytest.mark.parametrize("shapes", [[(2, 3), ()], [(3,), ()], [(2, 3), (3,)], [(2, 3), (2,)]])
def test_full_like_with_symbolic_fill_value_like_numpy(shapes):
    check_call(snp.full_like, np.full_like, shapes)


# --------------------------------------------------------------------------------------
# Numeric input: NumPy's arrays (ranges, grids, conversions) or SymPy numbers (*_like)


def test_numbers_give_numpy_arrays_usable_as_constants():
    for got, want in [
        (snp.arange(5), np.arange(5)),
        (snp.arange(1.0, 2.0, 0.25), np.arange(1.0, 2.0, 0.25)),
        (snp.arange(3, dtype=float), np.arange(3, dtype=float)),
        (snp.linspace(0, 1, 5), np.linspace(0, 1, 5)),
        (snp.logspace(0, 2, 3), np.logspace(0, 2, 3)),
        (snp.geomspace(1, 8, 4), np.geomspace(1, 8, 4)),
        (snp.asarray([1, 2]), np.asarray([1, 2])),
        (snp.copy(np.ones(2)), np.ones(2)),
    ]:
        assert type(got) is np.ndarray
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    grid = snp.meshgrid(np.arange(2), np.arange(3))
    assert all(type(g) is np.ndarray for g in grid)
    x = np.ones(2)
    assert snp.asarray(x) is x
    assert snp.copy(x) is not x
    with pytest.raises(ZeroDivisionError):
        snp.arange(0, 5, 0)


def test_like_functions_give_symbolic_arrays_of_numbers():
    a = np.ones((2, 3), dtype=np.float32)
    for func, value in [(snp.zeros_like, 0), (snp.ones_like, 1), (snp.empty_like, 0)]:
        result = func(a)
        assert isinstance(result, SymbolicArray)
        assert result.shape == (2, 3)
        assert result.dtype == np.float32
        assert all(el == value for el in result.flat)
        assert func(a, dtype=int).dtype == np.int64
    x = named_array("x", (2, 2))
    assert snp.full_like(x, x[0, 1]).tolist() == [[x[0, 1]] * 2] * 2
    assert snp.full_like([1.0, 2.0], 3).tolist() == [3, 3]
    assert snp.empty_like(x, shape=3).tolist() == [0, 0, 0]
    # a symbolic fill value keeps its own dtype, not the (integer) array's
    y = named_array("y", ())
    assert snp.full_like(np.arange(3), y).dtype == np.float64
    assert snp.ones_like(np.arange(3), dtype=np.float32).dtype == np.float32


# --------------------------------------------------------------------------------------
# Symbolic input


def test_symbolic_arange():
    x = named_array("x", 1)[0]
    assert snp.arange(x, x + 3).tolist() == [x, x + 1, x + 2]
    assert snp.arange(x, x + 2, 0.5).shape == (4,)
    assert snp.arange(x + 2, x, -1).tolist() == [x + 2, x + 1]
    assert snp.arange(x, x - 1).shape == (0,)
    assert snp.arange(sympy.Integer(3)).tolist() == [0, 1, 2]
    assert snp.arange(x, x + 3, dtype=float).dtype == np.float64
    with pytest.raises(ValueError, match="must not depend on symbols"):
        snp.arange(x)
    with pytest.raises(ValueError, match="must not depend on symbols"):
        snp.arange(0, 3, x)
    with pytest.raises(ZeroDivisionError):
        snp.arange(x, x + 1, 0)
    with pytest.raises(TypeError, match="scalar"):
        snp.arange(named_array("y", 2))
    z = named_array("z", ())  # 0-d arrays are scalars
    assert snp.arange(z, z + 2).tolist() == [z[()], z[()] + 1]


def test_symbolic_linspace_is_exact_at_the_ends():
    x = named_array("x", 2)
    samples = snp.linspace(x[0], x[1], 5)
    assert samples[0] == x[0]
    assert samples[-1] == x[1]
    assert sympy.simplify(samples[2] - (x[0] + x[1]) / 2) == 0
    samples, step = snp.linspace(x[0], x[1], 4, endpoint=False, retstep=True)
    assert sympy.simplify(step - (x[1] - x[0]) / 4) == 0
    assert sympy.simplify(samples[1] - samples[0] - step) == 0
    assert snp.linspace(x, 2 * x, 3, dtype=int)[1, 0] == sympy.floor(3 * x[0] / 2)
    # the last sample is stop itself, not start + (num - 1) * step rounded
    start, stop = 0.1257302210933933, -0.1321048632913019
    assert float(snp.linspace([x[0], start], [1.0, stop], 4)[-1, 1]) == stop


def test_symbolic_geomspace():
    x = named_array("x", 1)[0]
    assert snp.geomspace(x, 8 * x, 4).tolist() == [x, 2 * x, 4 * x, 8 * x]
    values, symbolic = np.geomspace(-1.5, -12.0, 5), snp.geomspace(-x, -8 * x, 5)
    _close(evaluate(symbolic, {x: sympy.Float(1.5)}), values)
    with pytest.raises(ValueError, match="zero"):
        snp.geomspace(0, x)
    with pytest.raises(ValueError, match="zero"):
        snp.geomspace([x, 0.0], 1.0)
    with pytest.raises(NotImplementedError, match="dtype"):
        snp.geomspace(x, 2 * x, 3, dtype=int)
    with pytest.raises(NotImplementedError, match="dtype"):
        snp.logspace(x, 2 * x, 3, dtype=int)


def test_conversions_and_copies_of_symbolic_arrays():
    x = named_array("x", (2, 2))
    assert snp.asarray(x) is x
    assert snp.asanyarray(x) is x
    converted = snp.asarray(x, dtype=np.float32)
    assert converted.dtype == np.float32
    assert converted.tolist() == x.tolist()
    assert snp.asarray([x[0, 0], 1.0]).shape == (2,)
    assert isinstance(snp.asarray(sympy.Symbol("s")), SymbolicArray)
    copied = snp.copy(x)
    assert copied is not x
    assert copied.tolist() == x.tolist()
    copied[0, 0] = 1  # a copy of a read-only named_array is writeable
    assert copied[0, 0] == 1
    assert x[0, 0] != 1
    with pytest.raises(ValueError, match="read-only"):
        x[0, 0] = 1


def test_symbolic_meshgrid():
    x, y = named_array("x", 2), named_array("y", 3)
    xx, yy = snp.meshgrid(x, y)
    assert xx.shape == yy.shape == (3, 2)
    assert xx[2].tolist() == x.tolist()
    assert yy[:, 1].tolist() == y.tolist()
    assert snp.meshgrid() == ()


# --------------------------------------------------------------------------------------
# Compiled on every backend


def _created(m, v):
    """The new creation functions of the NumPy-like module ``m`` on the 2-vector ``v``."""
    a, b = v[0], v[1]
    pieces = [
        m.linspace(a, b, 4),
        m.linspace(v, 2.0, 3, endpoint=False, axis=1),
        m.logspace(a, b, 3, base=2.0),
        m.geomspace(1.0 + a**2, 2.0 + b**2, 4),
        m.arange(a, a + 2, 0.5),
        m.full_like(v, b) * m.ones_like(v) + m.zeros_like(v),
        m.copy(v) * m.asarray(v),
        *m.meshgrid(v, m.linspace(0.0, 1.0, 3) * a),
    ]
    return m.concatenate([m.ravel(p) for p in pieces])


def test_created_values_and_jacobian_on_backend(backend, rng):
    v = rng.uniform(0.5, 1.5, size=2)
    jac_and_value = symnum.jacobian(
        lambda v: _created(snp, v), (2,), backend=backend, return_aux=True
    )
    jac, value = jac_and_value(v)
    _close(value, _created(np, v))
    h = 1e-6
    steps = [(_created(np, v + h * e) - _created(np, v - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(jac, np.stack(steps, axis=-1), rtol=1e-6, atol=1e-8)
