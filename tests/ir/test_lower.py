"""Lowering SymPy to the IR: every supported construct against SymPy's own numbers, the
cheap forms chosen (CSE, powers, constant folding), deep trees, closures and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from sympy.codegen import cfunctions as cf

from symnum import ir
from symnum.ir import Const, Elem, Function, Op, Output, Param, interpret, specfun
from symnum.ir.lower import Lowerer, LoweringError
from symnum.sym.differentiate import _diff
from symnum.sym.nodes import Ndtri

x, y = sympy.symbols("x y", real=True)
z = sympy.Symbol("z")  # complex
SYMBOLS = {x: Elem("p", 0), y: Elem("p", 1)}


def lower(*exprs, symbols=None):
    lowerer = Lowerer(SYMBOLS if symbols is None else symbols)
    atoms = tuple(lowerer.lower(e) for e in exprs)
    return lowerer, atoms


def as_function(*exprs, dtype="float64"):
    lowerer, atoms = lower(*exprs)
    fn = Function(
        "f", (Param("p", (2,), dtype),), tuple(lowerer.body), Output((len(atoms),), atoms, dtype)
    )
    return ir.check(fn)


def run(expr, point=(0.7, 1.9)):
    return interpret.evaluate(as_function(expr), np.array(point))[0]


def sympy_value(expr, point=(0.7, 1.9)):
    try:
        return complex(expr.subs({x: point[0], y: point[1]}).evalf(30))
    except TypeError:  # SymPy cannot evalf some C functions (Sqrt, Cbrt): use NumPy
        modules = [NUMPY_NAMES, "scipy", "numpy"]
        return complex(sympy.lambdify((x, y), expr, modules=modules)(*point))


NUMPY_NAMES = {"Cbrt": np.cbrt, "Sqrt": np.sqrt, "fma": lambda a, b, c: a * b + c}
#: what SymPy cannot evalf (erfcinv) goes through SciPy
special = pytest.importorskip("scipy.special")


CASES = [
    x + y,
    x - y,
    2 * x - 3 * y + 1,
    -x,
    -x * y,
    x * y / 3,
    x / y,
    -2 * x / (3 * y),
    x**2,
    x**3 * y**-2,
    x**-1,
    x**0.5,
    x**-0.5,
    x**1.5,
    x ** sympy.Rational(7, 2),
    x**25,
    x**-7,
    x**0.3,
    x**y,
    2**x,
    sympy.E**x,
    sympy.exp(x),
    sympy.log(x),
    sympy.log(x, 2),
    sympy.log(x, 10),
    sympy.log(x, 3),
    cf.expm1(x),
    cf.log1p(x),
    cf.log2(x),
    cf.log10(x),
    cf.exp2(x),
    cf.hypot(x, y),
    cf.Sqrt(x),
    cf.Cbrt(x),
    x ** sympy.Rational(2, 3),
    cf.fma(x, y, 2),
    sympy.sin(x) + sympy.cos(y) + sympy.tan(x),
    sympy.asin(x) + sympy.acos(x) + sympy.atan(y),
    sympy.sinh(x) + sympy.cosh(y) + sympy.tanh(x),
    sympy.asinh(x) + sympy.acosh(y) + sympy.atanh(x),
    sympy.cot(x) + sympy.sec(y) + sympy.csc(x) + sympy.acot(y),
    sympy.coth(x) + sympy.sech(y) + sympy.csch(x) + sympy.acoth(y),
    sympy.atan2(y, x),
    sympy.Abs(x - y),
    sympy.sign(x - y),
    sympy.floor(y) + sympy.ceiling(x),
    sympy.Mod(y, x),
    sympy.Max(x, y, 1),
    sympy.Min(x, y, 1),
    sympy.Heaviside(x - 1),
    sympy.Heaviside(x - 0.7),
    sympy.erf(x) + sympy.erfc(y),
    sympy.loggamma(y) + sympy.gamma(x),
    sympy.polygamma(0, x) + sympy.polygamma(2, y) + sympy.digamma(y) + sympy.trigamma(x),
    sympy.erfinv(x / 2) + Ndtri(x / 3),
    sympy.erfcinv(y / 2) * x,
    sympy.pi * x + sympy.E + sympy.EulerGamma * y + sympy.GoldenRatio,
    sympy.Rational(1, 3) * x,
    sympy.Float(0.1) * x + sympy.Integer(3),
    sympy.re(x) + sympy.im(x) + sympy.conjugate(y),
    sympy.Piecewise((x, x > y), (y, True)),
    sympy.Piecewise((x, x < y), (y, True)),
    sympy.Piecewise((1, sympy.And(x < y, y > 1)), (2, sympy.Or(x > 5, y < 0)), (3, True)),
    sympy.Piecewise((1, sympy.Not(x < y)), (0, True)),
    sympy.Piecewise((1, sympy.Xor(x < y, y < 1)), (0, True)),
    sympy.Piecewise((1, sympy.Eq(x, 0.7)), (2, sympy.Ne(y, 1.9)), (3, True)),
    sympy.Piecewise((1, x <= 0.7), (2, y >= 3), (3, True)),
    sympy.sin(x) ** 2 + sympy.cos(x) ** 2,
    sympy.exp(-((x - y) ** 2) / 2) / sympy.sqrt(2 * sympy.pi),
]


@pytest.mark.parametrize("expr", CASES, ids=[str(c)[:40] for c in CASES])
def test_lowered_value_matches_sympy(expr):
    expected = sympy_value(expr)
    got = run(expr)
    assert math.isclose(got, expected.real, rel_tol=1e-13, abs_tol=1e-15)


@pytest.mark.parametrize("expr", CASES, ids=[str(c)[:40] for c in CASES])
def test_derivatives_lower_and_match_sympy(expr):
    for variable in (x, y):
        derivative = sympy.diff(expr, variable)
        # steps' derivatives are zero almost everywhere (and SymPy cannot evaluate them);
        # d/dx Mod(a, b) is that of a - b*floor(a/b)
        reference = derivative.replace(
            lambda e: isinstance(e, sympy.Derivative) and isinstance(e.expr, sympy.Mod),
            lambda e: sympy.diff(
                e.expr.args[0] - e.expr.args[1] * sympy.floor(e.expr.args[0] / e.expr.args[1]),
                *e.variable_count,
            ),
        )
        reference = reference.replace(
            lambda e: isinstance(e, (sympy.Derivative, sympy.DiracDelta)), lambda e: sympy.S.Zero
        )
        expected = sympy_value(reference)
        got = run(derivative)
        assert math.isclose(got, expected.real, rel_tol=1e-12, abs_tol=1e-14), derivative


def ops_of(expr):
    lowerer, _ = lower(expr)
    return [s.op for s in lowerer.body]


def test_integer_powers_are_multiplications():
    assert ops_of(x**2) == [Op.MUL]
    assert ops_of(x**3) == [Op.MUL]
    assert ops_of(x**-2) == [Op.MUL, Op.DIV]
    assert Op.POW not in ops_of(x**20)
    assert len(ops_of(x**16)) == 3  # by squaring: x^4, x^8, x^16 (x^2 * x^2 as MUL of 4)


def test_half_powers_are_square_roots():
    assert ops_of(x**0.5) == [Op.SQRT]
    assert ops_of(sympy.sqrt(x)) == [Op.SQRT]
    assert ops_of(1 / sympy.sqrt(x)) == [Op.SQRT, Op.DIV]
    assert ops_of(x**-0.5) == [Op.SQRT, Op.DIV]
    assert Op.POW not in ops_of(x ** sympy.Rational(5, 2))
    assert ops_of(x**0.3) == [Op.POW]


def test_negative_terms_become_subtraction_and_negation():
    assert ops_of(x - y) == [Op.SUB]
    assert ops_of(-x) == [Op.NEG]
    assert ops_of(x / y) == [Op.DIV]
    assert Op.ADD not in ops_of(x - 1)


def test_cube_roots_stay_real_for_negative_arguments():
    derivative = sympy.diff(cf.Cbrt(x), x)  # 1/(3*x**(2/3))
    assert Op.POW not in ops_of(derivative)
    assert math.isclose(run(derivative, (-0.7, 0.0)), 1 / (3 * 0.7 ** (2 / 3)), rel_tol=1e-14)
    assert math.isclose(run(cf.Cbrt(x), (-8.0, 0.0)), -2.0, rel_tol=1e-15)


def test_log_base_forms():
    assert ops_of(sympy.log(x, 2)) == [Op.LOG2]
    assert ops_of(sympy.log(x, 10)) == [Op.LOG10]
    assert ops_of(sympy.log(x) / sympy.log(2)) == [Op.LOG2]


def test_shared_subexpressions_are_computed_once():
    shared = sympy.exp(sympy.sin(x) * y)
    lowerer, atoms = lower(shared + x, shared * y, shared)
    assert [s.op for s in lowerer.body].count(Op.EXP) == 1
    assert [s.op for s in lowerer.body].count(Op.SIN) == 1
    assert atoms[2] == next(ir.Var(s.target) for s in lowerer.body if s.op is Op.EXP)


@pytest.mark.parametrize(
    ("function", "op"),
    [(Ndtri, Op.NDTRI), (sympy.erfinv, Op.ERFINV), (sympy.erfcinv, Op.ERFCINV)],
)
def test_inverse_functions_and_their_derivatives_share_one_value(function, op):
    """symnum's derivatives of ndtri, erfinv and erfcinv reuse the function's value:
    value, first and second derivative compute it (and one exp) once."""
    expr = function(x * y / 4)
    first = _diff(expr, x, {})
    second = _diff(first, x, {})
    lowerer, _ = lower(expr, first, second)
    ops = [s.op for s in lowerer.body]
    assert ops.count(op) == 1
    assert ops.count(Op.EXP) == 1
    point = (0.7, 1.9)
    value, d1, d2 = (run(e, point) for e in (expr, first, second))
    # the closed forms, from SciPy's values
    t = point[0] * point[1] / 4
    scale = point[1] / 4
    if op is Op.NDTRI:
        want, slope = special.ndtri(t), math.sqrt(2 * math.pi)
        curve = 1.0  # d/dv of v**2 / 2
    else:
        want = special.erfinv(t) if op is Op.ERFINV else special.erfcinv(t)
        slope = math.sqrt(math.pi) / 2 * (1 if op is Op.ERFINV else -1)
        curve = 2.0  # d/dv of v**2
    dv = slope * math.exp(want * want * curve / 2) * scale
    assert math.isclose(value, want, rel_tol=1e-15)
    assert math.isclose(d1, dv, rel_tol=1e-14)
    assert math.isclose(d2, dv * curve * want * dv, rel_tol=1e-13)


def test_inverse_functions_of_constants_fold_to_specfun_values():
    # a symbol standing for a number (as symnum.scipy.special evaluates numbers)
    for value in (1e-300, 0.3, 1 - 2.0**-53):
        lowerer, (atom,) = lower(
            Ndtri(x) + sympy.erfinv(x) + sympy.erfcinv(x), symbols={x: Const(value)}
        )
        assert lowerer.body == []
        want = specfun.ndtri(value) + specfun.erfinv(value) + specfun.erfcinv(value)
        assert atom == Const(want)
    _, (atom,) = lower(sympy.erfcinv(sympy.Integer(3)))  # outside [0, 2]
    assert math.isnan(atom.value)


def test_constants_are_folded():
    lowerer, (atom,) = lower(sympy.sqrt(2) * sympy.pi + sympy.log(3) - 1)
    assert lowerer.body == []
    assert atom == Const(math.sqrt(2) * math.pi + math.log(3) - 1)
    _, (atom,) = lower(sympy.Rational(1, 3))
    assert atom == Const(1 / 3)


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        (sympy.oo, math.inf),
        (-sympy.oo, -math.inf),
        (sympy.zoo, math.inf),
        (sympy.true, 1.0),
        (sympy.false, 0.0),
        (sympy.Integer(7), 7.0),
        (sympy.S.Half, 0.5),
    ],
)
def test_special_numbers(expr, value):
    _, (atom,) = lower(expr)
    assert atom == Const(value)
    assert isinstance(atom.value, float)


def test_nan_and_complex_numbers():
    _, (nan,) = lower(sympy.nan)
    assert math.isnan(nan.value)
    _, (i,) = lower(sympy.I)
    assert i == Const(1j)
    _, (c,) = lower(2 + 3 * sympy.I)
    assert c == Const(2 + 3j)


def test_nan_factor_of_an_unevaluated_product_stays_real():
    # a NaN in constant data meets a symbol in an unevaluated product (the front end
    # builds them so): complex(nan) has a NaN imaginary part, which made the whole
    # function complex
    product = sympy.Mul(sympy.nan, x, evaluate=False)
    fn = as_function(sympy.Add(product, y, evaluate=False))
    assert all(
        not isinstance(a.value, complex) for s in fn.body for a in s.args if isinstance(a, Const)
    )
    value = interpret.evaluate(fn, np.array([0.7, 1.9]))[0]
    assert math.isnan(value)
    assert not np.iscomplexobj(value)


def test_complex_symbols_propagate():
    symbols = {z: Elem("p", 0)}
    lowerer, atoms = lower(
        z * sympy.I + sympy.conjugate(z) + sympy.re(z) + sympy.arg(z), symbols=symbols
    )
    fn = ir.check(
        Function(
            "c",
            (Param("p", (1,), "complex128"),),
            tuple(lowerer.body),
            Output((1,), atoms, "complex128"),
        )
    )
    value = 0.3 - 0.4j
    expected = value * 1j + value.conjugate() + value.real + np.angle(value)
    assert np.isclose(interpret.evaluate(fn, [value])[0], expected, rtol=1e-15)


def test_dirac_delta_and_step_derivatives_are_zero():
    _, (atom,) = lower(sympy.DiracDelta(x) * y)
    assert atom == Const(0.0)
    _, (atom,) = lower(sympy.diff(sympy.floor(x), x))
    assert atom == Const(0.0)


def test_piecewise_without_default_is_nan_outside():
    expr = sympy.Piecewise((x, x > 5))
    assert math.isnan(run(expr))


@pytest.mark.parametrize(
    ("default", "selects"),
    [(sympy.Float(0.0), 0), (sympy.Integer(0), 0), (sympy.Float(2), 1), (y, 1)],
)
def test_where_of_a_comparison_one_or_zero_is_the_comparison(default, selects):
    """``where(c, 1, 0)`` of a comparison reads the comparison (already 1.0 or 0.0), not a
    SELECT of it; any other default keeps the SELECT."""
    for cond in (x > y, sympy.Eq(x, 1), sympy.And(x > 0, y < 3), sympy.Not(x > y)):
        expr = sympy.Piecewise((1.0, cond), (default, True))
        fn = as_function(expr)
        assert sum(s.op is Op.SELECT for s in fn.body) == selects
        for point in ((0.7, 1.9), (1.0, 0.5), (2.5, 4.0)):
            got = interpret.evaluate(fn, np.array(point))[0]
            want = float(expr.subs({x: point[0], y: point[1]}))
            assert got == want
            assert math.copysign(1, got) == math.copysign(1, want)


def test_deep_expressions_do_not_recurse():
    expr = x
    for k in range(3000):  # unevaluated: SymPy's own evaluation of such trees is slow
        if k % 2:
            expr = sympy.Add(sympy.sin(expr, evaluate=False), k, evaluate=False)
        else:
            expr = sympy.Mul(sympy.exp(expr, evaluate=False), y, evaluate=False)
    lowerer, (atom,) = lower(expr)
    assert len(lowerer.body) >= 6000
    ir.check(Function("deep", (Param("p", (2,)),), tuple(lowerer.body), Output((), (atom,))))


def test_long_sums_lower_flat():
    symbols = {sympy.Symbol(f"a{k}"): Elem("a", k) for k in range(5000)}
    expr = sympy.Add(*[s**2 for s in symbols])
    lowerer, _ = lower(expr, symbols=symbols)
    assert sum(s.op is Op.ADD for s in lowerer.body) == 1


def test_unsupported_node_names_its_class():
    with pytest.raises(LoweringError, match="besselj"):
        lower(sympy.besselj(0, x))
    with pytest.raises(LoweringError, match="Derivative"):
        lower(sympy.Derivative(sympy.Function("f")(x), x))


def test_free_symbol_outside_arguments():
    with pytest.raises(LoweringError, match="free symbol w"):
        lower(sympy.Symbol("w") + x)


def test_polygamma_order_must_be_a_constant():
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    with pytest.raises(LoweringError, match="polygamma order"):
        lower(sympy.polygamma(n, x))


def test_python_and_numpy_numbers():
    lowerer = Lowerer({})
    assert lowerer.lower(3) == Const(3.0)
    assert lowerer.lower(True) == Const(1.0)
    assert lowerer.lower(np.float32(0.5)) == Const(0.5)
    assert lowerer.lower(2j) == Const(2j)


def test_closure_hoists_outer_work():
    v0, v1 = sympy.symbols("v0 v1", real=True)
    lowerer = Lowerer(dict(SYMBOLS))
    (outer,) = [lowerer.lower(sympy.exp(x) * y)]
    body, atoms = lowerer.closure(
        {v0: Elem("v", 0), v1: Elem("v", 1)}, [sympy.exp(x) * y * v0 + sympy.sin(x) * v1]
    )
    # sin(x) and exp(x)*y do not depend on v: computed in the outer body
    assert any(s.op is Op.SIN for s in lowerer.body)
    assert not any(s.op in (Op.SIN, Op.EXP) for s in body)
    assert all(s.target not in {t.target for t in lowerer.body} for s in body)
    assert outer in {a for s in body for a in s.args}
    assert len(atoms) == 1


def test_deep_trees_with_uncached_hashes():
    # built the way differentiation builds them: no evaluation, no hash computed yet
    expr, value, point = x, 0.7, 0.7
    for k in range(5000):
        if k % 2:
            expr = sympy.Add._from_args((expr, sympy.Integer(k % 5)))
            value = value + (k % 5)
        else:
            expr = sympy.Mul._from_args((expr, sympy.Float(0.5)))
            value = value * 0.5
    assert expr._mhash is None
    lowerer, (atom,) = lower(expr)
    fn = ir.check(Function("deep", (Param("p", (2,)),), tuple(lowerer.body), Output((), (atom,))))
    assert interpret.evaluate(fn, [point, 0.0]) == value
