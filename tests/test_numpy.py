"""Tests of symnum.numpy against NumPy, on numeric and symbolic input."""

import ast
import inspect
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sympy.codegen import cfunctions

import symnum.numpy as snp
from symnum.array import SymbolicArray, named_array

SHAPES = [(), (1,), (2, 3), (3, 2, 1)]
RNG = np.random.default_rng(7)


def substitute(result, *pairs):
    """Numeric value of a symbolic result given (symbolic array, values) pairs."""
    rule = {}
    for array, values in pairs:
        numbers = [sympy.Float(v) for v in np.asarray(values, dtype=float).ravel().tolist()]
        rule.update(zip(array.flat, numbers, strict=True))
    if isinstance(result, SymbolicArray):
        return np.array([_number(el.xreplace(rule)) for el in result.flat]).reshape(result.shape)
    return _number(sympy.sympify(result).xreplace(rule))


def _number(value):
    if isinstance(value, (bool, sympy.logic.boolalg.BooleanAtom)):
        return bool(value)
    value = value.doit() if hasattr(value, "doit") else value
    return float(value) if value.is_extended_real else complex(value)


# function name -> (NumPy reference, low, high) for inputs drawn from [low, high]
UNARY = {
    "exp": (np.exp, -2, 2),
    "expm1": (np.expm1, -2, 2),
    "exp2": (np.exp2, -2, 2),
    "log": (np.log, 0.1, 3),
    "log2": (np.log2, 0.1, 3),
    "log10": (np.log10, 0.1, 3),
    "log1p": (np.log1p, -0.5, 3),
    "sin": (np.sin, -3, 3),
    "cos": (np.cos, -3, 3),
    "tan": (np.tan, -1, 1),
    "arcsin": (np.arcsin, -0.9, 0.9),
    "arccos": (np.arccos, -0.9, 0.9),
    "arctan": (np.arctan, -3, 3),
    "sinh": (np.sinh, -2, 2),
    "cosh": (np.cosh, -2, 2),
    "tanh": (np.tanh, -2, 2),
    "arcsinh": (np.arcsinh, -2, 2),
    "arccosh": (np.arccosh, 1.1, 3),
    "arctanh": (np.arctanh, -0.9, 0.9),
    "ceil": (np.ceil, -3, 3),
    "floor": (np.floor, -3, 3),
    "sqrt": (np.sqrt, 0.1, 3),
    "abs": (np.abs, -3, 3),
    "absolute": (np.absolute, -3, 3),
    "sign": (np.sign, -3, 3),
    "angle": (np.angle, -3, 3),
    "conj": (np.conj, -3, 3),
    "conjugate": (np.conjugate, -3, 3),
    "real": (np.real, -3, 3),
    "imag": (np.imag, -3, 3),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_function_on_numeric_scalars(name):
    reference, low, high = UNARY[name]
    func = getattr(snp, name)
    assert func.__name__ == name
    for value in RNG.uniform(low, high, size=3):
        result = func(float(value))
        assert float(result) == pytest.approx(float(reference(value)), rel=1e-13, abs=1e-15)
        assert float(func(np.float64(value))) == pytest.approx(float(reference(value)), rel=1e-13)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_function_on_numeric_and_symbolic_arrays(name, shape):
    reference, low, high = UNARY[name]
    func = getattr(snp, name)
    values = RNG.uniform(low, high, size=shape)
    numeric = func(values)
    assert isinstance(numeric, SymbolicArray)
    assert numeric.shape == shape
    np.testing.assert_allclose(np.asarray(numeric, dtype=float), reference(values), rtol=1e-13)
    x = named_array("x", shape)
    symbolic = func(x)
    assert symbolic.shape == shape
    np.testing.assert_allclose(substitute(symbolic, (x, values)), reference(values), rtol=1e-13)


def test_extra_arguments_are_rejected():
    with pytest.raises(NotImplementedError, match="only the first argument of exp"):
        snp.exp(1.0, out=None)
    with pytest.raises(NotImplementedError, match="only the first two arguments of maximum"):
        snp.maximum(1.0, 2.0, None)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("expm1", cfunctions.expm1),
        ("log1p", cfunctions.log1p),
        ("log2", cfunctions.log2),
        ("log10", cfunctions.log10),
        ("exp2", cfunctions.exp2),
    ],
)
def test_accurate_functions_stay_accurate_functions(name, cls):
    x = named_array("x", 2)
    result = getattr(snp, name)(x * 2)
    assert all(isinstance(el, cls) for el in result.flat)
    assert isinstance(snp.hypot(x[0], x[1]), cfunctions.hypot)
    # and their derivatives are exact expressions of the same quality
    assert all(el.diff(x[0]).free_symbols <= {x[0]} for el in result.flat)


def test_tiny_arguments_keep_full_precision():
    assert float(snp.log1p(1e-12)) == math.log1p(1e-12)
    assert float(snp.expm1(1e-12)) == math.expm1(1e-12)
    x = named_array("x", ())
    expr = snp.log1p(x) + snp.expm1(x)
    value = expr[()].xreplace({x[()]: sympy.Float(1e-12)})
    assert float(value) == pytest.approx(math.log1p(1e-12) + math.expm1(1e-12), rel=1e-15)


def test_angle_of_complex_and_in_degrees():
    z = named_array("z", 2, dtype=complex)
    assert snp.angle(z)[0] == sympy.atan2(sympy.im(z[0]), sympy.re(z[0]))
    assert float(snp.angle(1j)) == pytest.approx(np.pi / 2)
    assert float(snp.angle(-1.0, deg=True)) == pytest.approx(180.0)
    assert float(snp.angle(0.0)) == 0.0
    x = named_array("x", 2)
    np.testing.assert_allclose(
        substitute(snp.angle(x, deg=True), (x, [-1.0, 2.0])), np.angle([-1.0, 2.0], deg=True)
    )


def test_predicates():
    assert snp.isnan(snp.nan)
    assert not snp.isnan(1.0)
    assert snp.isinf(snp.inf)
    assert snp.isinf(snp.NINF)
    assert snp.isposinf(snp.inf)
    assert not snp.isposinf(snp.NINF)
    assert snp.isneginf(snp.NINF)
    assert snp.isfinite(2.0)
    assert not snp.isfinite(snp.nan)
    assert snp.isreal(1.0)
    assert not snp.iscomplex(1.0)
    assert snp.iscomplex(1j)
    x = named_array("x", 2)
    assert snp.isreal(x).tolist() == [True, True]
    assert snp.isfinite(np.array([1.0, np.inf])).tolist() == [True, False]
    assert snp.isnan(np.array([np.nan, 1.0])).tolist() == [True, False]


def test_constants():
    assert float(snp.pi) == np.pi
    assert float(snp.e) == np.e
    assert float(snp.euler_gamma) == np.euler_gamma
    for name in ("inf", "infty", "Inf", "Infinity", "PINF"):
        assert getattr(snp, name) is sympy.oo
    for name in ("nan", "NaN", "NAN"):
        assert getattr(snp, name) is sympy.nan
    assert snp.NINF is -sympy.oo
    assert snp.newaxis is None
    x = named_array("x", 3)
    assert x[:, snp.newaxis].shape == (3, 1)


BINARY = {
    "arctan2": np.arctan2,
    "hypot": np.hypot,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": np.divide,
    "power": np.power,
}

PAIRS = [((), ()), ((2, 3), ()), ((1,), (2, 3)), ((3, 2, 1), (2, 3))]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize(("shape_1", "shape_2"), PAIRS)
def test_binary_functions(name, shape_1, shape_2):
    func, reference = getattr(snp, name), BINARY[name]
    assert func.__name__ == name
    v1, v2 = RNG.uniform(0.5, 2, size=shape_1), RNG.uniform(0.5, 2, size=shape_2)
    x, y = named_array("x", shape_1), named_array("y", shape_2)
    expected = reference(v1, v2)
    np.testing.assert_allclose(substitute(func(x, y), (x, v1), (y, v2)), expected, rtol=1e-13)
    np.testing.assert_allclose(substitute(func(x, v2), (x, v1)), expected, rtol=1e-13)
    np.testing.assert_allclose(substitute(func(v1, y), (y, v2)), expected, rtol=1e-13)
    numeric = func(v1, v2)
    np.testing.assert_allclose(np.asarray(numeric, dtype=float), expected, rtol=1e-13)


def test_binary_functions_on_python_scalars():
    assert snp.add(1, 2) == 3
    assert float(snp.arctan2(1.0, -1.0)) == pytest.approx(np.arctan2(1.0, -1.0))
    assert float(snp.maximum(1.0, 2.0)) == 2.0
    assert float(snp.hypot(3.0, 4.0)) == 5.0


def test_matmul_function():
    x, y = named_array("x", (2, 3)), named_array("y", 3)
    assert snp.matmul(x, y).tolist() == (x @ y).tolist()
    np.testing.assert_array_equal(snp.matmul(np.eye(2), np.ones(2)), np.ones(2))


def test_logical_functions():
    x = named_array("x", 2)
    inside = snp.logical_and(x > 0, x < 1)
    assert inside[0] == sympy.And(x[0] > 0, x[0] < 1)
    assert snp.logical_or(x > 1, x < -1)[1] == sympy.Or(x[1] > 1, x[1] < -1)
    assert snp.logical_xor(x > 1, x < 3)[0] == sympy.Xor(x[0] > 1, x[0] < 3)
    assert snp.logical_not(x > 0)[0] == sympy.Le(x[0], 0)
    # NumPy semantics for numbers: non-zero is true
    assert snp.logical_not(x)[0] == sympy.Eq(x[0], 0)
    assert snp.logical_and(1.0, 0.0) is sympy.false
    assert snp.logical_or(np.array([0.0, 2.0]), 0.0).tolist() == [False, True]
    assert snp.logical_not(True) is sympy.false


def test_comparison_functions():
    x = named_array("x", 2)
    assert snp.less(x, 1)[0] == (x[0] < 1)
    assert snp.greater_equal(x, 1)[1] == (x[1] >= 1)
    assert snp.equal(x, 1)[0] == sympy.Eq(x[0], 1)
    assert snp.not_equal(x, 1)[0] == sympy.Ne(x[0], 1)


# --------------------------------------------------------------------------------------
# where / select / piecewise


@pytest.mark.parametrize("shape", SHAPES)
def test_where_matches_numpy_and_differentiates_the_taken_branch(shape):
    x = named_array("x", shape)
    values = RNG.uniform(-1, 1, size=shape)
    result = snp.where(x > 0, x**2, -x)
    assert result.shape == shape
    np.testing.assert_allclose(
        substitute(result, (x, values)), np.where(values > 0, values**2, -values)
    )
    derivative = result.sum().diff(x[(0,) * len(shape)]) if shape else result[()].diff(x[()])
    first = values[(0,) * len(shape)]
    assert substitute(derivative, (x, values)) == pytest.approx(2 * first if first > 0 else -1)


def test_where_broadcasts_and_accepts_numbers():
    x = named_array("x", (2, 1))
    result = snp.where(np.array([True, False, True]), x, 0.0)
    assert result.shape == (2, 3)
    assert float(result[0, 1]) == 0.0
    assert result[1, 2] == x[1, 0]
    assert float(snp.where(True, 1.0, 2.0)) == 1.0
    # elements are SymPy scalars, whose == is structural: use snp.equal for a condition
    expected = sympy.Piecewise((1, sympy.Eq(x[0, 0], 1)), (2, True))
    assert snp.where(snp.equal(x[0, 0], 1), 1, 2) == expected
    assert snp.where(snp.equal(x, 1), 1, 2)[0, 0] == expected
    # == is structural (SymNum 0.2.1): x == 1 is false, so where takes the second branch
    assert snp.where(x == 1, 1, 2)[0, 0] == 2
    with pytest.raises(ValueError, match="broadcast"):
        snp.where(x > 0, np.ones(3), np.ones(4))
    with pytest.raises(NotImplementedError, match="three arguments"):
        snp.where(x > 0)


def test_select_matches_numpy():
    x = named_array("x", 5)
    values = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    result = snp.select([x < -1, x < 1], [x**2, 2 * x], default=-1.0)
    expected = np.select([values < -1, values < 1], [values**2, 2 * values], default=-1.0)
    np.testing.assert_allclose(substitute(result, (x, values)), expected)
    with pytest.raises(ValueError, match="same length"):
        snp.select([x < 0], [x, x])


def test_piecewise_matches_numpy():
    x = named_array("x", 5)
    values = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    funcs = [lambda t: -t, lambda t: t**2, 7.0]
    result = snp.piecewise(x, [x < 0, x > -1], funcs)
    expected = np.piecewise(values, [values < 0, values > -1], funcs)
    np.testing.assert_allclose(substitute(result, (x, values)), expected)
    with pytest.raises(ValueError, match="functions for 2 conditions"):
        snp.piecewise(x, [x < 0, x > 0], [1.0])


# --------------------------------------------------------------------------------------
# Creation, reductions, joining


def test_array_creation():
    x = named_array("x", 2)
    numeric = snp.array([1.0, 2.0])
    assert isinstance(numeric, np.ndarray)
    symbolic = snp.array([x[0], 2.0])
    assert isinstance(symbolic, SymbolicArray)
    assert symbolic.shape == (2,)
    stacked = snp.array([x, x * 2])
    assert stacked.shape == (2, 2)
    assert snp.array(x) is x
    assert snp.array(sympy.Matrix([[1, 2]])).shape == (1, 2)
    np.testing.assert_array_equal(np.asarray(snp.eye(3, 4, 1), dtype=float), np.eye(3, 4, 1))
    np.testing.assert_array_equal(np.asarray(snp.eye(3, k=-1), dtype=float), np.eye(3, k=-1))
    np.testing.assert_array_equal(np.asarray(snp.identity(2), dtype=float), np.identity(2))
    np.testing.assert_array_equal(np.asarray(snp.ones((2, 3)), dtype=float), np.ones((2, 3)))
    np.testing.assert_array_equal(np.asarray(snp.zeros(4), dtype=float), np.zeros(4))
    np.testing.assert_array_equal(np.asarray(snp.full((2,), 3.5), dtype=float), [3.5, 3.5])
    assert snp.full((2,), x[0]).tolist() == [x[0], x[0]]
    assert snp.zeros((2, 2), dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
def test_sum_prod_functions(axis):
    values = RNG.uniform(0.5, 2, size=(2, 3, 4))
    x = named_array("x", values.shape)
    for func, reference in ((snp.sum, np.sum), (snp.prod, np.prod)):
        np.testing.assert_allclose(
            substitute(func(x, axis), (x, values)), reference(values, axis), rtol=1e-13
        )
        np.testing.assert_allclose(func(values, axis), reference(values, axis))


@pytest.mark.parametrize(
    ("shapes", "axis"),
    [
        ([(2, 3), (2, 3)], 0),
        ([(2, 3), (2, 1)], 1),
        ([(2, 3), (2, 2), (2, 1)], -1),
        ([(3,), (2,)], 0),
        ([(2, 3), (4,)], None),
        ([(2, 1, 3), (2, 2, 3)], 1),
    ],
)
def test_concatenate_matches_numpy(shapes, axis):
    arrays = [np.arange(float(np.prod(s))).reshape(s) + 10 * i for i, s in enumerate(shapes)]
    symbolic = [named_array(f"a{i}", s) for i, s in enumerate(shapes)]
    result = snp.concatenate(symbolic, axis)
    expected = np.concatenate(arrays, axis)
    assert result.shape == expected.shape
    np.testing.assert_array_equal(substitute(result, *zip(symbolic, arrays, strict=True)), expected)


def test_concatenate_errors():
    a, b = named_array("a", (2, 3)), named_array("b", (3, 3))
    with pytest.raises(ValueError, match="along dimension 0"):
        snp.concatenate([a, b], 1)
    with pytest.raises(ValueError, match="out of bounds"):
        snp.concatenate([a, a], 2)
    with pytest.raises(ValueError, match="same number of dimensions"):
        snp.concatenate([a, named_array("c", 3)])
    with pytest.raises(ValueError, match="zero-dimensional"):
        snp.concatenate([named_array("s", ())])


def test_linalg_is_a_lazily_imported_submodule():
    pytest.importorskip("symnum.numpy.linalg", reason="symnum/numpy/linalg.py is not written yet")
    import symnum.numpy.linalg

    assert snp.linalg is symnum.numpy.linalg
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        snp.no_such_thing  # noqa: B018


# --------------------------------------------------------------------------------------
# Property: random compositions agree with NumPy (values and first derivatives)

_MATRIX = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, -0.5], [-0.25, 0.5, 1.0]])
_STEPS = {
    "add": (lambda m, a: a + 0.75, lambda a: a + 0.75),
    "mul": (lambda m, a: a * m.array([1.5, -0.5, 2.0]), lambda a: a * np.array([1.5, -0.5, 2.0])),
    "sub_rev": (lambda m, a: a - a[::-1], lambda a: a - a[::-1]),
    "div": (lambda m, a: a / (a * a + 1.0), lambda a: a / (a * a + 1.0)),
    "square": (lambda m, a: a**2 - 1, lambda a: a**2 - 1),
    "tanh": (lambda m, a: m.tanh(a), np.tanh),
    "sin": (lambda m, a: m.sin(a) * 2, lambda a: np.sin(a) * 2),
    "softplus": (lambda m, a: m.log1p(m.exp(-abs(a))) + m.maximum(a, 0), None),
    "where": (lambda m, a: m.where(a > 0, a, 0.5 * a), lambda a: np.where(a > 0, a, 0.5 * a)),
    "matmul": (lambda m, a: _MATRIX @ a, lambda a: _MATRIX @ a),
    "neg_sqrt": (lambda m, a: -m.sqrt(a * a + 0.1), lambda a: -np.sqrt(a * a + 0.1)),
}


def _softplus(a):
    return np.log1p(np.exp(-np.abs(a))) + np.maximum(a, 0)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(sorted(_STEPS)), min_size=1, max_size=6))
# the canonical form once raised "Invalid NaN comparison" on a power of a where()
@example(steps=["square", "sub_rev", "where", "div"])
@example(steps=["softplus", "sub_rev", "square", "sub_rev"])  # an exact zero
def test_random_compositions_agree_with_numpy(steps):
    from symnum.diffops.symbolic import jacobian

    values = np.array([0.3, -0.8, 1.1])

    def symbolic(a):
        for step in steps:
            a = _STEPS[step][0](snp, a)
        return a

    def reference(a):
        for step in steps:
            a = (_STEPS[step][1] or _softplus)(a)
        return a

    x = named_array("x", 3)
    # atol: exact cancellations (a - a) come out as rounding-sized residues
    np.testing.assert_allclose(
        substitute(symbolic(x), (x, values)), reference(values), rtol=1e-7, atol=1e-12
    )
    jac = substitute(jacobian(symbolic)(x), (x, values))
    h = 1e-6
    numeric = np.stack(
        [(reference(values + h * e) - reference(values - h * e)) / (2 * h) for e in np.eye(3)],
        axis=-1,
    )
    np.testing.assert_allclose(jac, numeric, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------
# The public surface: SymNum 0.2.1's names and signatures, an explicit list, no backends

_UNARY_021 = [
    "abs",
    "absolute",
    "angle",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctanh",
    "ceil",
    "conj",
    "conjugate",
    "cos",
    "cosh",
    "exp",
    "expm1",
    "floor",
    "imag",
    "iscomplex",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "isreal",
    "log",
    "log10",
    "log1p",
    "log2",
    "logical_not",
    "real",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
]
_BINARY_021 = [
    "add",
    "arctan2",
    "divide",
    "logical_and",
    "logical_or",
    "logical_xor",
    "matmul",
    "maximum",
    "minimum",
    "multiply",
    "power",
    "subtract",
]
#: SymNum 0.2.1's other functions: their parameters, with defaults
_OTHER_021 = {
    "array": {"object_": ..., "dtype": None},
    "concatenate": {"arrays": ..., "axis": 0},
    "eye": {"N": ..., "M": None, "k": 0},
    "full": {"shape": ..., "fill_value": ...},
    "identity": {"n": ...},
    "ones": {"shape": ...},
    "zeros": {"shape": ...},
    "sum": {"a": ..., "axis": None},
    "prod": {"a": ..., "axis": None},
}
_CONSTANTS_021 = [
    "Inf",
    "Infinity",
    "NAN",
    "NINF",
    "NaN",
    "PINF",
    "e",
    "euler_gamma",
    "inf",
    "infty",
    "nan",
    "newaxis",
    "pi",
]


def _leading_parameters(func, count: int) -> dict:
    parameters = list(inspect.signature(func).parameters.values())[:count]
    return {
        p.name: (... if p.default is inspect.Parameter.empty else p.default) for p in parameters
    }


def test_symnum_021_names_and_signatures_are_kept():
    for name in _UNARY_021:
        assert name in snp.__all__
        assert _leading_parameters(getattr(snp, name), 1) == {"x": ...}, name
    for name in _BINARY_021:
        assert name in snp.__all__
        assert _leading_parameters(getattr(snp, name), 2) == {"x1": ..., "x2": ...}, name
    for name, parameters in _OTHER_021.items():
        assert name in snp.__all__
        assert _leading_parameters(getattr(snp, name), len(parameters)) == parameters, name
    for name in _CONSTANTS_021:
        assert name in snp.__all__
        assert hasattr(snp, name)
    # 0.2.1's elementwise functions refuse NumPy's further arguments the same way
    with pytest.raises(NotImplementedError):
        snp.matmul(np.eye(2), np.eye(2), out=None)


def test_public_names_are_an_explicit_list():
    assert len(set(snp.__all__)) == len(snp.__all__)
    public = {n for n in dir(snp) if not n.startswith("_")}
    submodules = {
        "creation",
        "ufuncs",
        "derived",
        "shape",
        "contract",
        "reduce",
        "order",
        "nanfunctions",
        "numerical",
        "stats",
        "functional",
        "_base",
    }
    assert public - submodules == set(snp.__all__)
    for name in snp.__all__:
        value = getattr(snp, name)
        if callable(value) and name != "linalg":
            assert value.__doc__, name
    # __init__ only names things: a docstring, explicit imports and __all__
    tree = ast.parse(pathlib.Path(snp.__file__).read_text())
    for node in tree.body[1:]:
        if isinstance(node, ast.ImportFrom):
            assert all(alias.name != "*" for alias in node.names)
        else:
            assert isinstance(node, ast.Assign), ast.dump(node)
            assert [t.id for t in node.targets] == ["__all__"]


def test_symnum_numpy_imports_no_code_generation():
    code = (
        "import sys, symnum.numpy, symnum.numpy.linalg, symnum.scipy.special\n"
        "print(sorted(m for m in sys.modules if m.startswith('symnum')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = ast.literal_eval(result.stdout.strip())
    for module in ("symnum.codegen", "symnum.numeric", "symnum.backends"):
        assert not any(m == module or m.startswith(module + ".") for m in loaded), loaded
