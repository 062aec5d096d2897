"""Tests of symnum.array: SymbolicArray against NumPy, named_array, FunctionExpression."""

import math
import operator

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sympy.codegen import cfunctions

from symnum.array import (
    FunctionExpression,
    SymbolicArray,
    as_symbolic_array,
    binary_broadcasting_func,
    infer_array_dtype,
    infer_scalar_dtype,
    is_array,
    is_scalar,
    is_sympy_array,
    is_valid_shape,
    named_array,
    unary_elementwise_func,
)

SHAPES = [(), (1,), (2, 3), (3, 2, 1)]
RNG = np.random.default_rng(20241126)


def values_for(array, rng=RNG, low=0.5, high=2.0):
    """Random values for the symbols of ``array`` (positive, so powers are defined)."""
    return rng.uniform(low, high, size=array.shape)


def substitute(result, *pairs):
    """Numeric value of a symbolic result given (symbolic array, values) pairs."""
    rule = {}
    for array, values in pairs:
        numbers = [sympy.Float(v) for v in np.asarray(values, dtype=float).ravel().tolist()]
        rule.update(zip(array.flat, numbers, strict=True))
    if isinstance(result, SymbolicArray):
        data = [_to_number(el.xreplace(rule)) for el in result.flat]
        return np.array(data).reshape(result.shape)
    return _to_number(sympy.sympify(result).xreplace(rule))


def _to_number(value):
    if isinstance(value, sympy.logic.boolalg.BooleanAtom):
        return bool(value)
    return complex(value) if not value.is_extended_real else float(value)


def numeric_array(values):
    """A SymbolicArray holding the numbers of ``values`` (to test structure against NumPy)."""
    return SymbolicArray(np.asarray(values))


def as_numpy(array):
    return np.array(array, dtype=float)


# --------------------------------------------------------------------------------------
# named_array


def test_named_array_symbols_are_named_like_symnum_021():
    a = named_array("a", (2, 2))
    assert [str(s) for s in a.flat] == ["a[0, 0]", "a[0, 1]", "a[1, 0]", "a[1, 1]"]
    assert str(named_array("b", ())[()]) == "b"
    assert str(named_array("c", 3)[2]) == "c[2]"
    assert named_array("d", None).shape == ()


def test_named_array_dtypes_and_assumptions():
    x = named_array("x", 2)
    assert x.dtype == np.float64
    assert x[0].is_real
    z = named_array("z", 2, dtype=np.complex128)
    assert z.dtype == np.complex128
    assert not z[0].is_real
    assert z[0].is_complex
    n = named_array("n", 2, dtype=np.int64)
    assert n[0].is_integer


@pytest.mark.parametrize("name", ["1a", "a b", "x[0]", "class", "", "né"])
def test_named_array_rejects_non_identifier_names(name):
    with pytest.raises(ValueError, match="identifier"):
        named_array(name, 2)


def test_named_array_rejects_non_string_name():
    with pytest.raises(TypeError, match="must be a string"):
        named_array(3, 2)


@pytest.mark.parametrize("shape", ["2", 2.0, (2, "3"), (2.5,), [2, None]])
def test_named_array_rejects_unknown_shapes(shape):
    with pytest.raises(TypeError, match="int or a tuple of ints"):
        named_array("a", shape)


def test_named_array_rejects_negative_shapes():
    with pytest.raises(ValueError, match="non-negative"):
        named_array("a", (2, -1))


def test_named_array_rejects_non_numeric_dtype():
    with pytest.raises(TypeError, match="numeric NumPy dtype"):
        named_array("a", 2, dtype=object)


# --------------------------------------------------------------------------------------
# Arithmetic, comparison and unary operators against NumPy


BINARY_OPS = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.pow,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
]

BROADCAST_PAIRS = [
    ((), ()),
    ((), (2, 3)),
    ((1,), (2, 3)),
    ((2, 3), (3,)),
    ((2, 3), (2, 3)),
    ((3, 2, 1), (2, 3)),
    ((3, 2, 1), (1,)),
    ((3, 2, 1), ()),
]


@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda op: op.__name__)
@pytest.mark.parametrize(("shape_1", "shape_2"), BROADCAST_PAIRS)
def test_binary_operator_symbolic_with_numpy_matches_numpy(op, shape_1, shape_2):
    x = named_array("x", shape_1)
    x_val = values_for(x)
    y_val = RNG.uniform(0.5, 2.0, size=shape_2)
    expected = op(x_val, y_val)
    for result in (op(x, y_val), op(x, SymbolicArray(y_val))):
        assert result.shape == np.shape(expected)
        np.testing.assert_allclose(substitute(result, (x, x_val)), expected, rtol=1e-12)
    # NumPy array on the left defers to the SymbolicArray
    reflected = op(y_val, x) if shape_2 != () else op(y_val[()], x)
    assert isinstance(reflected, SymbolicArray)
    np.testing.assert_allclose(substitute(reflected, (x, x_val)), op(y_val, x_val), rtol=1e-12)


@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda op: op.__name__)
@pytest.mark.parametrize("shape", SHAPES)
def test_binary_operator_with_scalars(op, shape):
    x = named_array("x", shape)
    x_val = values_for(x)
    for scalar in (2, 1.5, np.float64(0.75), sympy.Rational(1, 3)):
        np.testing.assert_allclose(
            substitute(op(x, scalar), (x, x_val)), op(x_val, float(scalar)), rtol=1e-12
        )
        np.testing.assert_allclose(
            substitute(op(scalar, x), (x, x_val)), op(float(scalar), x_val), rtol=1e-12
        )


@pytest.mark.parametrize(("shape_1", "shape_2"), BROADCAST_PAIRS)
def test_binary_operator_between_symbolic_arrays(shape_1, shape_2):
    x, y = named_array("x", shape_1), named_array("y", shape_2)
    x_val, y_val = values_for(x), values_for(y)
    result = x * y - x / y
    np.testing.assert_allclose(
        substitute(result, (x, x_val), (y, y_val)), x_val * y_val - x_val / y_val, rtol=1e-12
    )


@pytest.mark.parametrize("op", [*BINARY_OPS, operator.eq, operator.ne], ids=lambda op: op.__name__)
def test_binary_operator_on_compound_expressions(op):
    """Compound operands take the unevaluated path (no assumption queries): same values."""
    import symnum.numpy as snp

    x, y = named_array("x", (2, 3)), named_array("y", 3)
    x_val, y_val = values_for(x), values_for(y)
    a = snp.exp(x) * 1.5 + x**2 / 3 - 0.25
    b = 2.0 / (1 + y**2) + snp.log(y)
    a_val = np.exp(x_val) * 1.5 + x_val**2 / 3 - 0.25
    b_val = 2.0 / (1 + y_val**2) + np.log(y_val)
    for result, expected in [
        (op(a, b), op(a_val, b_val)),
        (op(b, a), op(b_val, a_val)),
        (op(a, 2.5), op(a_val, 2.5)),
        (op(0.5, b), op(0.5, b_val)),
        (op(a, y), op(a_val, y_val)),
    ]:
        np.testing.assert_allclose(substitute(result, (x, x_val), (y, y_val)), expected)
    for unary, reference in [(operator.neg, np.negative), (abs, np.abs)]:
        np.testing.assert_allclose(substitute(unary(a - 3), (x, x_val)), reference(a_val - 3))


def test_arithmetic_on_conditions_counts_them_as_numbers():
    """As in NumPy, true is 1 and false 0 in arithmetic (``(x > 0) * x`` is relu)."""
    x = named_array("x", 3)
    values = np.array([-1.0, 0.5, 2.0])
    relu = (x > 0) * x
    np.testing.assert_allclose(substitute(relu, (x, values)), (values > 0) * values)
    assert substitute((x > 0).sum(), (x, values)) == 2
    assert substitute(((x > 0) + 1.5)[1], (x, values)) == 2.5
    constant = SymbolicArray([sympy.true, sympy.false])
    assert (constant + 1).tolist() == [2, 1]
    # NumPy refuses to negate booleans, and so do we
    with pytest.raises(TypeError):
        _ = -(x > 0)


def test_symbol_and_sympy_matrix_on_the_left():
    x = named_array("x", (2, 2))
    a = sympy.Symbol("a")
    assert (a * x).tolist() == [[a * x[0, 0], a * x[0, 1]], [a * x[1, 0], a * x[1, 1]]]
    m = sympy.Matrix([[1, 2], [3, 4]])
    x_val = values_for(x)
    np.testing.assert_allclose(substitute(m @ x, (x, x_val)), np.array([[1, 2], [3, 4]]) @ x_val)
    np.testing.assert_allclose(substitute(m * x, (x, x_val)), np.array([[1, 2], [3, 4]]) * x_val)
    np.testing.assert_allclose(substitute(x @ m, (x, x_val)), x_val @ np.array([[1, 2], [3, 4]]))
    arr = sympy.Array([1, 2])
    np.testing.assert_allclose(substitute(x * arr, (x, x_val)), x_val * np.array([1, 2]))


@pytest.mark.parametrize(
    ("shape_1", "shape_2"), [((2,), (3,)), ((2, 3), (2,)), ((3, 2, 2), (3, 2, 4)), ((2,), (0,))]
)
def test_unbroadcastable_shapes_raise(shape_1, shape_2):
    x = named_array("x", shape_1)
    with pytest.raises(ValueError, match="could not be broadcast together with shapes"):
        x + np.ones(shape_2)


@pytest.mark.parametrize("shape", SHAPES)
def test_unary_operators(shape):
    x = named_array("x", shape)
    x_val = values_for(x, low=-2, high=2)
    for op in (operator.neg, operator.pos, abs):
        result = op(x)
        assert isinstance(result, SymbolicArray)
        np.testing.assert_allclose(substitute(result, (x, x_val)), op(x_val))


def test_comparisons_give_relationals():
    import symnum.numpy as snp

    x = named_array("x", 2)
    lt = x < 1
    assert all(isinstance(el, sympy.core.relational.StrictLessThan) for el in lt.flat)
    assert (x <= x[::-1])[0] == sympy.Le(x[0], x[1])
    # elementwise conditions come from snp.equal / snp.not_equal; == and != are
    # structural, as in SymNum 0.2.1 (tested below)
    eq = snp.equal(x, 1)
    assert eq[0] == sympy.Eq(x[0], 1)
    same = x.copy()
    assert snp.equal(x, same)[0] is sympy.true
    assert snp.not_equal(x, 1)[1] == sympy.Ne(x[1], 1)
    both = (x > 0) & (x < 1)
    assert both[0] == sympy.And(x[0] > 0, x[0] < 1)
    assert (~(x > 0))[0] == sympy.Le(x[0], 0)
    assert ((x > 0) | (x < -1))[0] == sympy.Or(x[0] > 0, x[0] < -1)


def test_unsupported_operand_types_return_not_implemented():
    x = named_array("x", 2)
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError):
        x @ 2
    assert (x == None) is False  # noqa: E711


def test_eq_and_ne_are_structural_as_in_021():
    import symnum.numpy as snp

    x, y = sympy.symbols("x y")
    assert not all(SymbolicArray((x, y)) == SymbolicArray((y, x)))
    assert all(SymbolicArray((x, y)) == SymbolicArray((x, y)))
    a = named_array("a", 2)
    assert (a == 1).tolist() == [sympy.false, sympy.false]
    assert (a != 1).tolist() == [sympy.true, sympy.true]
    assert (a == a.copy()).dtype == np.dtype(bool)
    assert (np.array([a[0], 1], dtype=object) == a).tolist() == [sympy.true, sympy.false]
    # conditions for where: snp.equal, comparisons and relational expressions
    assert snp.where(snp.equal(a, 1), 1, 2)[0] == sympy.Piecewise((1, sympy.Eq(a[0], 1)), (2, True))


def test_numpy_ufuncs_on_symbolic_arrays():
    import symnum.numpy as snp

    x, y = sympy.symbols("x y")
    s = SymbolicArray((x, y))
    assert np.all(s == SymbolicArray((x, y)))
    result = np.add(np.ones(2), s)
    assert isinstance(result, SymbolicArray)
    assert result.tolist() == [x + 1.0, y + 1.0]
    assert np.exp(s).tolist() == snp.exp(s).tolist()
    assert np.maximum(s, 1).tolist() == snp.maximum(s, 1).tolist()
    assert np.negative(s).tolist() == [-x, -y]
    assert (np.arange(2.0) @ s) == 1.0 * y
    # reductions and options as 0.2.1: NumPy's ufunc over an object array of elements
    total = np.add.reduce(s)
    assert total == x + y
    assert np.logical_or.reduce(SymbolicArray((True, False)))
    numeric = np.multiply(SymbolicArray((1.0, 2.0)), 2.0, dtype=float)
    assert isinstance(numeric, np.ndarray)
    assert numeric.tolist() == [2.0, 4.0]


def test_reductions_accept_axis_0_and_minus_1_on_0d_arrays():
    import symnum.numpy as snp

    x = sympy.Symbol("x")
    s = SymbolicArray(x)
    for axis in (0, -1):
        assert s.sum(axis=axis) == x
        assert s.prod(axis=axis) == x
        assert snp.sum(s, axis=axis) == x
    with pytest.raises(np.exceptions.AxisError):
        s.sum(axis=1)
    with pytest.raises(np.exceptions.AxisError):
        s.sum(axis=(0,))


def test_numpy_operators_defer_to_symbolic_arrays():
    x = named_array("x", (2, 2))
    a = np.arange(4.0).reshape(2, 2)
    for result in (a @ x, a * x, a + x, a - x, a / (x + 1), a**x, a < x):
        assert isinstance(result, SymbolicArray)
    assert isinstance(np.float64(2.0) * x, SymbolicArray)
    assert isinstance(a @ x @ a, SymbolicArray)


# --------------------------------------------------------------------------------------
# Structure: indexing, iteration, shapes, reductions


INDICES = [
    0,
    -1,
    (1, 2),
    (-1, -2),
    slice(None),
    slice(1, None),
    slice(None, None, -1),
    (slice(None), 1),
    (slice(0, 2), slice(None, None, 2)),
    (Ellipsis, 0),
    (None, 0),
    (0, None, slice(None)),
    [1, 0],
    ([0, 1], [2, 0]),
    np.array([True, False]),
]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_indexing_matches_numpy(index):
    values = np.arange(6.0).reshape(2, 3)
    array = numeric_array(values)
    expected = values[index]
    result = array[index]
    if np.ndim(expected) == 0:
        assert not isinstance(result, SymbolicArray)
        assert float(result) == expected
    else:
        assert result.shape == expected.shape
        np.testing.assert_array_equal(as_numpy(result), expected)


def test_indexing_errors():
    x = named_array("x", (2, 3))
    with pytest.raises(IndexError, match="shape"):
        x[2, 0]
    with pytest.raises(IndexError):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="symbolic"):
        x[x[0, 0]]


@pytest.mark.parametrize(
    ("index", "value"),
    [
        ((0, 1), 5.0),
        ((slice(None), 1), [7.0, 8.0]),
        ((slice(1, None), 0), 9.0),
        (0, [1.0, 2.0, 3.0]),
        ((Ellipsis, 2), [4.0, 5.0]),
        (([0, 1], [2, 0]), [10.0, 11.0]),
        ((slice(None), slice(None)), np.ones((1, 1, 3))),
    ],
    ids=repr,
)
def test_assignment_matches_numpy(index, value):
    values = np.arange(6.0).reshape(2, 3)
    array = numeric_array(values)
    array[index] = value
    values[index] = np.asarray(value)[0, 0] if np.ndim(value) == 3 else value
    np.testing.assert_array_equal(as_numpy(array), values)


def test_assignment_of_symbols_into_zeros():
    import symnum.numpy as snp

    x = named_array("x", 3)
    a = snp.zeros((2, 3))
    a[0, :] = x
    a[1, 1:] = x[:2] * 2
    a[1, 0] = x[2] ** 2
    assert a.tolist() == [[x[0], x[1], x[2]], [x[2] ** 2, 2 * x[0], 2 * x[1]]]


def test_assignment_with_wrong_shape_raises():
    a = numeric_array(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"could not broadcast .* \(2,\) into .* \(3,\)"):
        a[0] = [1.0, 2.0]
    with pytest.raises(TypeError, match="cannot assign"):
        a[0] = "x"


def test_assignment_through_views_like_numpy():
    values = np.arange(6.0).reshape(2, 3)
    array = numeric_array(values)
    array[0][1] = -1.0  # chained basic indexing writes through, as in NumPy
    row = array[1]
    row[::2] = [-2.0, -3.0]
    array.T[2, 0] = -4.0
    array.reshape(3, 2)[0, 0] = -5.0
    array.ravel()[4] = -6.0
    array[[0, 1], [0, 0]][0] = 99.0  # advanced indexing gives a copy, as in NumPy
    array.flatten()[0] = 99.0  # flatten copies, as in NumPy
    expected = values.copy()
    expected[0][1] = -1.0
    expected[1][::2] = [-2.0, -3.0]
    expected.T[2, 0] = -4.0
    expected.reshape(3, 2)[0, 0] = -5.0
    expected.ravel()[4] = -6.0
    np.testing.assert_array_equal(as_numpy(array), expected)
    array.flat[5] = 8.0
    expected.flat[5] = 8.0
    np.testing.assert_array_equal(as_numpy(array), expected)


def test_named_arrays_are_read_only():
    x = named_array("x", (2, 2))
    for assign in (
        lambda: x.__setitem__((0, 0), 1.0),
        lambda: x[0].__setitem__(1, 1.0),
        lambda: x.T.__setitem__((0, 0), 1.0),
        lambda: x.flat.__setitem__(0, 1.0),
    ):
        with pytest.raises(ValueError, match="read-only"):
            assign()
    assert str(x[0, 0]) == "x[0, 0]"
    y = x.copy()
    y[0, 0] = 1.0
    assert y[0, 0] == 1.0
    assert x.at[0, 0].set(2.0)[0, 0] == 2.0


def test_functional_at_updates():
    values = np.arange(6.0).reshape(2, 3)
    array = numeric_array(values)
    updated = array.at[:, 1].set(-1.0)
    expected = values.copy()
    expected[:, 1] = -1.0
    np.testing.assert_array_equal(as_numpy(updated), expected)
    np.testing.assert_array_equal(as_numpy(array), values)  # unchanged
    added = array.at[0, [0, 0, 2]].add(1.0)  # repeated indices accumulate, as in JAX
    expected = values.copy()
    np.add.at(expected, (0, [0, 0, 2]), 1.0)
    np.testing.assert_array_equal(as_numpy(added), expected)
    np.testing.assert_array_equal(as_numpy(array.at[1].multiply(2.0)), values * [[1], [2]])
    assert array.at[1, 2].get() == array[1, 2]


def test_iteration_unpacking_and_len():
    x = named_array("x", 3)
    a, b, c = x
    assert (a, b, c) == tuple(x.flat)
    m = named_array("m", (2, 3))
    rows = list(m)
    assert len(rows) == 2
    assert rows[1].tolist() == m[1].tolist()
    assert len(m) == 2
    s = named_array("s", ())
    with pytest.raises(TypeError, match="unsized"):
        len(s)
    with pytest.raises(TypeError, match="0-d"):
        iter(s)


@pytest.mark.parametrize("shape", SHAPES)
def test_shape_attributes(shape):
    values = np.arange(float(np.prod(shape))).reshape(shape)
    array = numeric_array(values)
    assert array.shape == values.shape
    assert array.ndim == values.ndim
    assert array.size == values.size
    assert list(array.flat) == values.ravel().tolist()
    np.testing.assert_array_equal(as_numpy(array.flatten()), values.flatten())
    np.testing.assert_array_equal(as_numpy(array.T), values.T)
    np.testing.assert_array_equal(as_numpy(array.transpose()), values.transpose())
    np.testing.assert_array_equal(as_numpy(array.reshape(-1)), values.reshape(-1))
    assert array.tolist() == values.tolist()


def test_transpose_and_reshape_with_axes():
    values = np.arange(24.0).reshape(2, 3, 4)
    array = numeric_array(values)
    for axes in [(0, 1, 2), (2, 0, 1), (1, 0, 2), (-1, 0, 1)]:
        np.testing.assert_array_equal(as_numpy(array.transpose(axes)), values.transpose(axes))
        np.testing.assert_array_equal(as_numpy(array.transpose(*axes)), values.transpose(axes))
    for shape in [(4, 6), (4, -1), 24, (2, 3, 2, 2)]:
        np.testing.assert_array_equal(as_numpy(array.reshape(shape)), values.reshape(shape))
    np.testing.assert_array_equal(as_numpy(array.reshape(6, 4)), values.reshape(6, 4))
    with pytest.raises(ValueError, match="cannot reshape array of size 24 into shape"):
        array.reshape(5, 5)
    with pytest.raises(ValueError, match="don't match"):
        array.transpose((0, 1))
    with pytest.raises(ValueError, match="out of bounds"):
        array.transpose((0, 1, 3))


AXES = [None, 0, -1, 1, (0, 1), (-1, 0), (), (0, 1, 2)]


@pytest.mark.parametrize("method", ["sum", "prod", "mean", "var", "std", "max", "min"])
@pytest.mark.parametrize("axis", AXES, ids=repr)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(method, axis, keepdims):
    values = np.arange(1.0, 25.0).reshape(2, 3, 4) / 10
    array = numeric_array(values)
    expected = getattr(values, method)(axis=axis, keepdims=keepdims)
    result = getattr(array, method)(axis=axis, keepdims=keepdims)
    if np.ndim(expected) == 0:
        assert not isinstance(result, SymbolicArray)
        assert float(result) == pytest.approx(expected)
    else:
        np.testing.assert_allclose(as_numpy(result), expected)
    # the NumPy functions dispatch to the methods
    np.testing.assert_allclose(
        np.asarray(getattr(np, method)(array, axis=axis, keepdims=keepdims), dtype=float),
        expected,
    )


def test_numpy_reductions_of_symbols_are_symnums():
    """numpy.max / min / mean / var / std call the methods: symbolic results, where
    NumPy's object loops could not compare symbols."""
    x = named_array("x", (3, 2))
    values = np.array([[0.5, -1.0], [2.0, 0.25], [-3.0, 1.5]])
    for reduction in (
        np.max,
        lambda a: np.min(a, axis=0),
        lambda a: np.mean(a, axis=1),
        lambda a: np.var(a, ddof=1),
        lambda a: np.std(a, keepdims=True),
    ):
        result = reduction(x)
        assert not isinstance(result, np.ndarray)
        np.testing.assert_allclose(
            np.asarray(substitute(result, (x, values)), dtype=float), reduction(values)
        )
    with pytest.raises(NotImplementedError, match="out="):
        np.mean(x, out=np.empty(()))


@pytest.mark.parametrize("shape", SHAPES)
def test_symbolic_sum_over_all_axes(shape):
    x = named_array("x", shape)
    x_val = values_for(x)
    assert substitute(x.sum(), (x, x_val)) == pytest.approx(x_val.sum())
    assert substitute(x.prod(), (x, x_val)) == pytest.approx(x_val.prod())


@pytest.mark.parametrize("axis", [3, -4, (0, 3), (0, 0)])
def test_reduction_over_bad_axes_raises(axis):
    x = named_array("x", (2, 3, 4))
    with pytest.raises(ValueError, match=r"out of bounds|duplicate"):
        x.sum(axis)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((5, 2, 3), (3,)),
    ((3,), (5, 3, 2)),
    ((1, 2, 3), (4, 3, 2)),
    ((2, 1, 2, 3), (3, 3, 2)),
]


@pytest.mark.parametrize(("shape_1", "shape_2"), MATMUL_SHAPES)
def test_matmul_matches_numpy(shape_1, shape_2):
    x, y = named_array("x", shape_1), named_array("y", shape_2)
    x_val, y_val = values_for(x), values_for(y)
    expected = x_val @ y_val
    for result in (x @ y, x @ y_val, x_val @ y):
        assert np.shape(result) == np.shape(expected) if isinstance(result, SymbolicArray) else 1
        np.testing.assert_allclose(substitute(result, (x, x_val), (y, y_val)), expected, rtol=1e-12)


def test_matmul_chain_with_numpy_matrices():
    x = named_array("x", (2, 2))
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    x_val = values_for(x)
    np.testing.assert_allclose(substitute(a @ x @ a, (x, x_val)), a @ x_val @ a)


@pytest.mark.parametrize(
    ("shape_1", "shape_2"),
    [
        ((0, 0), (0, 0)),
        ((2, 0), (0, 3)),
        ((0,), (0,)),
        ((3, 0), (0,)),
        ((0,), (0, 2)),
        ((0, 2, 0), (0, 4)),
        ((2, 0), (0, 0)),
        ((0, 2, 3), (3, 1)),
    ],
)
def test_matmul_of_empty_operands_is_numpys(shape_1, shape_2):
    # an empty sum is 0; an empty batch or side gives an empty result of NumPy's shape
    x, y = named_array("x", shape_1), named_array("y", shape_2)
    expected = np.ones(shape_1) @ np.ones(shape_2)
    for result in (x @ y, x @ np.ones(shape_2), np.ones(shape_1) @ y):
        assert np.shape(result) == expected.shape
        assert all(element == 0 for element in np.ravel(np.asarray(result, dtype=object)))


@pytest.mark.parametrize(
    ("shape_1", "shape_2", "message"),
    [
        ((2, 3), (2,), "not aligned"),
        ((3,), (2, 3), "not aligned"),
        ((2, 2, 3), (3, 3, 2), "batch dimensions"),
        ((), (3,), "at least one dimension"),
    ],
)
def test_matmul_errors(shape_1, shape_2, message):
    x, y = named_array("x", shape_1), named_array("y", shape_2)
    with pytest.raises(ValueError, match=message):
        x @ y


# --------------------------------------------------------------------------------------
# Symbolic operations


def test_diff_shape_convention_is_wrt_shape_first():
    x, y = named_array("x", (2, 3)), named_array("y", 4)
    assert x.diff(y).shape == (4, 2, 3)
    assert y.diff(x).shape == (2, 3, 4)
    assert x.diff(x[0, 0]).shape == (2, 3)
    assert (x * 0).diff(y).shape == (4, 2, 3)
    d = (y**2).diff(y)
    assert d.tolist() == [[2 * y[i] if i == j else 0 for j in range(4)] for i in range(4)]
    assert y.diff(y, x).shape == (2, 3, 4, 4)


def test_diff_agrees_with_sympy():
    import symnum.numpy as snp

    x = named_array("x", 3)
    exprs = SymbolicArray(
        [
            sympy.exp(x[0] * x[1]) / (1 + sympy.log(x[2] ** 2 + 1)),
            snp.expm1(x[0]) * snp.log1p(x[1] ** 2) + snp.hypot(x[0], x[2]),
            snp.maximum(x[0], x[1]) ** 2 + abs(x[2]) + snp.sqrt(x[1] ** 2 + 1),
            snp.where(x[1] > 0, x[0] ** 3, x[2]) + snp.tanh(x[0] * x[2]),
            x[0] ** x[1] + snp.arctan2(x[0], x[2]) + snp.sin(x[1]) * snp.cos(x[2]),
            snp.exp2(x[0]) + snp.log2(x[1] + 3) + snp.log10(x[2] + 3),
        ]
    )
    ours = exprs.diff(x)
    x_val = np.array([0.3, -0.7, 1.3])
    rule = dict(zip(x.flat, x_val.tolist(), strict=True))
    for i in range(3):
        for j, expr in enumerate(exprs.flat):
            reference = float(expr.diff(x[i]).xreplace(rule).doit().evalf())
            assert float(ours[i, j].xreplace(rule)) == pytest.approx(reference, rel=1e-12)


def test_diff_of_max_and_min_at_ties_is_the_mean():
    import symnum.numpy as snp

    x = named_array("x", 2)
    for func in (snp.maximum, snp.minimum):
        for a, b in ((x[0], 0), (0, x[0]), (x[0], x[1])):
            d = SymbolicArray(func(a, b)).diff(x[0])[()]
            rule = {x[0]: 0, x[1]: 0}
            assert d.xreplace(rule) == sympy.Rational(1, 2)
    d = SymbolicArray(snp.maximum(x[0], x[1])).diff(x)
    assert [el.xreplace({x[0]: 2, x[1]: 1}) for el in d.flat] == [1, 0]


def test_diff_of_deep_compositions():
    """Deep chains neither overflow the stack nor take time quadratic in the depth."""
    import symnum.numpy as snp
    from symnum.diffops.symbolic import gradient

    def deep(x):
        y = x[0]
        for k in range(3000):
            y = snp.sin(y) + x[1] * 0.5 if k % 2 else snp.cos(y) * x[1]
        return y

    x = named_array("x", 2)
    g = gradient(deep)(x)
    assert g.shape == (2,)
    assert hash(g[0]) == hash(g[0])


def test_diff_never_simplifies(monkeypatch):
    x = named_array("x", 3)
    expr = (sympy.exp(x @ x) / (1 + sympy.exp(x.sum()))) * x
    for name in ("simplify", "is_constant"):
        monkeypatch.setattr(sympy.Expr, name, _forbidden, raising=True)
    monkeypatch.setattr(sympy, "simplify", _forbidden)
    assert expr.diff(x).diff(x).shape == (3, 3, 3)


def _forbidden(*args, **kwargs):
    raise AssertionError


def test_logistic_regression_hessian_builds_quickly():
    """Issue 2, item 5: SymNum 0.2.1 could not build this in minutes (or at all)."""
    import symnum.numpy as snp
    from symnum.data import data_threshold
    from symnum.diffops.symbolic import hessian

    rng = np.random.default_rng(0)
    features = rng.standard_normal((100, 10))
    labels = (rng.random(100) < 0.5).astype(float)

    def log_likelihood(beta):
        eta = features @ beta
        return snp.sum(labels * eta - snp.log1p(snp.exp(eta)))

    beta = named_array("beta", 10)
    # the unrolled form (with the data loops of symnum.data, 100 rows stay one template;
    # tests/test_data_loops.py checks that form)
    with data_threshold(0):
        hess, grad, _ = hessian(log_likelihood, return_aux=True)(beta)
    assert hess.shape == (10, 10)
    beta_val = rng.standard_normal(10) * 0.1
    p = 1 / (1 + np.exp(-features @ beta_val))
    rule = dict(zip(beta.flat, beta_val.tolist(), strict=True))
    memo = {}
    grad_val = np.array([_evaluate(el, rule, memo) for el in grad.flat])
    np.testing.assert_allclose(grad_val, features.T @ (labels - p), rtol=1e-9)
    hess_val = np.array([_evaluate(el, rule, memo) for el in hess.flat]).reshape(10, 10)
    np.testing.assert_allclose(hess_val, -(features.T * (p * (1 - p))) @ features, rtol=1e-9)


_MATH = {
    sympy.exp: math.exp,
    sympy.log: math.log,
    cfunctions.log1p: math.log1p,
    cfunctions.expm1: math.expm1,
}


def _evaluate(expr, rule, memo):
    """Float value of a (large) expression of +, *, ** and a few functions, memoised.

    SymPy's xreplace/lambdify spend minutes evaluating or printing the 100-term sums of
    the logistic-regression Hessian; this walks the DAG once.
    """
    if expr in memo:
        return memo[expr]
    if expr in rule:
        value = rule[expr]
    elif expr.is_Number:
        value = float(expr)
    else:
        args = [_evaluate(a, rule, memo) for a in expr.args]
        if isinstance(expr, sympy.Add):
            value = math.fsum(args)
        elif isinstance(expr, sympy.Mul):
            value = math.prod(args)
        elif isinstance(expr, sympy.Pow):
            value = args[0] ** args[1]
        else:
            value = _MATH[type(expr)](*args)
    memo[expr] = value
    return value


def test_subs_simplify_free_symbols():
    x = named_array("x", 2)
    y = named_array("y", 2)
    expr = x * y + x
    assert expr.free_symbols == set(x.flat) | set(y.flat)
    assert expr.subs(x[0], 2).tolist() == [2 * y[0] + 2, x[1] * y[1] + x[1]]
    assert expr.subs({x[0]: 1, x[1]: 1}).tolist() == [y[0] + 1, y[1] + 1]
    assert expr.subs(x, y).tolist() == [y[0] ** 2 + y[0], y[1] ** 2 + y[1]]
    trig = SymbolicArray([sympy.sin(x[0]) ** 2 + sympy.cos(x[0]) ** 2, x[1] * 2 / x[1]])
    assert trig.simplify().tolist() == [1, 2]


def test_real_imag_conjugate():
    x = named_array("x", 2)
    assert x.real.tolist() == list(x.flat)
    assert x.imag.tolist() == [0, 0]
    z = named_array("z", 2, dtype=complex)
    assert z.real.tolist() == [sympy.re(z[0]), sympy.re(z[1])]
    assert z.imag.tolist() == [sympy.im(z[0]), sympy.im(z[1])]
    assert z.conj().tolist() == [sympy.conjugate(z[0]), sympy.conjugate(z[1])]


# --------------------------------------------------------------------------------------
# Conversion, dtypes and display


def test_construction_from_nested_sequences_and_arrays():
    x = named_array("x", 2)
    a = SymbolicArray([[x[0], 1], [2.5, x[1]]])
    assert a.shape == (2, 2)
    b = SymbolicArray([x, x * 2])
    assert b.shape == (2, 2)
    assert b[1, 1] == 2 * x[1]
    c = SymbolicArray([1, 2, 3, 4], shape=(2, 2))
    assert c.tolist() == [[1, 2], [3, 4]]
    assert SymbolicArray(np.float64(2.0)).shape == ()
    assert SymbolicArray(np.array(3.0)).shape == ()
    assert SymbolicArray(sympy.Matrix([[1, 2]])).shape == (1, 2)
    assert SymbolicArray(sympy.Array([[1], [2]])).shape == (2, 1)
    with pytest.raises(ValueError, match="ragged"):
        SymbolicArray([[1, 2], [3]])
    with pytest.raises(ValueError, match="expected 6 elements"):
        SymbolicArray([1, 2, 3], shape=(2, 3))


def test_dtype_inference():
    x = named_array("x", 2)
    assert SymbolicArray([1, 2]).dtype == np.int64
    assert SymbolicArray([1.5, 2]).dtype == np.float64
    assert (x * 2).dtype == np.float64
    assert SymbolicArray([sympy.I, 1]).dtype == np.complex128
    assert (x < 1).dtype == np.bool_
    assert SymbolicArray([sympy.Symbol("free")]).dtype == np.dtype(object)
    assert infer_array_dtype(SymbolicArray([1, 2])) == np.int64
    assert infer_scalar_dtype(1.5) == np.float64
    assert infer_scalar_dtype(np.int32(1)) == np.int32
    assert infer_scalar_dtype(x[0]) == np.float64
    assert infer_scalar_dtype(sympy.I) == np.complex128
    assert infer_scalar_dtype(x[0] > 1) == np.bool_
    with pytest.raises(TypeError, match="expected a numeric or SymPy scalar"):
        infer_scalar_dtype("a")


def test_numpy_conversion():
    x = named_array("x", (2, 2))
    converted = np.array(x)
    assert converted.dtype == object
    assert converted.shape == (2, 2)
    assert converted[1, 0] == x[1, 0]
    with pytest.raises(ValueError, match="free symbols"):
        np.array(x, dtype=float)
    numeric = SymbolicArray([[1, 2], [3, 4]]) / 2
    np.testing.assert_array_equal(np.asarray(numeric), [[0.5, 1.0], [1.5, 2.0]])
    assert np.asarray(SymbolicArray(2.5)).shape == ()
    np.testing.assert_array_equal(np.asarray(x < 1, dtype=object).shape, (2, 2))


def test_str_repr_latex_tolist():
    x = named_array("x", (2, 2))
    assert str(x) == "SymbolicArray([[x[0, 0], x[0, 1]], [x[1, 0], x[1, 1]]], dtype=float64)"
    assert repr(x * 2).endswith("dtype=None)")
    assert x._repr_latex_().startswith("$")
    assert named_array("s", ())._repr_latex_() == "$\\displaystyle s$"
    assert named_array("s", ()).tolist() == sympy.Symbol("s", real=True)


def test_predicates():
    x = named_array("x", 2)
    assert is_array(x)
    assert is_array(np.ones(2))
    assert is_array(sympy.Matrix([1]))
    assert not is_array(1.0)
    assert is_sympy_array(sympy.Array([1]))
    assert not is_sympy_array(x)
    for scalar in (1, 1.0, 1j, np.float32(1), x[0], x[0] > 1, True):
        assert is_scalar(scalar)
    assert not is_scalar(x)
    assert not is_scalar(np.ones(2))
    for shape in ((), 2, (2, 3), sympy.Tuple(1, 2)):
        assert is_valid_shape(shape)
    assert not is_scalar("a")
    for shape in (None, "2", (2, -1), -1, (2.0,), [2]):
        assert not is_valid_shape(shape)
    assert as_symbolic_array(x) is x
    assert as_symbolic_array(np.ones((2, 1))).shape == (2, 1)


def test_function_wrappers():
    add = binary_broadcasting_func(lambda a, b: a + 2 * b, "add_twice")
    assert add.__name__ == "add_twice"
    assert add(1, 2) == 5
    x = named_array("x", (2, 1))
    assert add(x, np.ones(3)).shape == (2, 3)
    with pytest.raises(TypeError, match="add_twice expected scalars or arrays"):
        add(x, "a")
    square = unary_elementwise_func(lambda a: a**2, "square", "Square it.")
    assert square.__doc__ == "Square it."
    assert square(3) == 9
    assert square(x).tolist() == [[x[0, 0] ** 2], [x[1, 0] ** 2]]
    with pytest.raises(TypeError, match="square expected a scalar or an array"):
        square("a")


def test_function_expression_substitutes_simultaneously():
    v = named_array("v", 2)
    w = sympy.Symbol("w")
    fe = FunctionExpression((v, w), v * w + v[::-1])
    result = fe(v[::-1], 3)  # values that mention the arguments' own symbols
    assert result.tolist() == [3 * v[1] + v[0], 3 * v[0] + v[1]]
    np.testing.assert_allclose(as_numpy(fe(np.array([1.0, 2.0]), 2.0)), [4.0, 5.0])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        fe(np.ones(3), 1.0)
    with pytest.raises(TypeError, match="expected 2 argument"):
        fe(np.ones(2))


# --------------------------------------------------------------------------------------
# Properties


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


@settings(max_examples=40, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
def test_broadcast_shape_property(broadcast):
    shape_1, shape_2 = broadcast.input_shapes
    x = named_array("x", shape_1)
    values = np.arange(float(np.prod(shape_2))).reshape(shape_2)
    result = x + values
    assert result.shape == broadcast.result_shape
    x_val = np.full(shape_1, 0.5)
    np.testing.assert_array_equal(substitute(result, (x, x_val)), x_val + values)


@settings(max_examples=40, deadline=None)
@given(shapes.flatmap(lambda s: st.tuples(st.just(s), st.permutations(range(len(s))))))
def test_transpose_property(shape_and_axes):
    shape, axes = shape_and_axes
    values = np.arange(float(np.prod(shape))).reshape(shape)
    array = numeric_array(values)
    np.testing.assert_array_equal(as_numpy(array.transpose(axes)), values.transpose(axes))
    if shape:
        np.testing.assert_array_equal(
            np.asarray(array.transpose(axes).sum(axis=0), dtype=float),
            values.transpose(axes).sum(axis=0),
        )


@settings(max_examples=40, deadline=None)
@given(
    shapes.flatmap(
        lambda s: st.tuples(
            st.just(s),
            st.lists(st.integers(-len(s), len(s) - 1), unique_by=lambda a: a % len(s))
            if s
            else st.just([]),
        )
    )
)
def test_sum_over_axis_tuples_property(shape_and_axes):
    shape, axes = shape_and_axes
    values = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    array = numeric_array(values)
    expected = values.sum(axis=tuple(axes))
    result = array.sum(axis=tuple(axes))
    np.testing.assert_allclose(np.asarray(result, dtype=float), expected)
