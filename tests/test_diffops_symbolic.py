"""Tests of the symbolic differential operators (symnum.diffops.symbolic)."""

import functools
import sys

import numpy as np
import pytest
import sympy

import symnum.numpy as snp
from symnum.array import FunctionExpression, SymbolicArray, named_array
from symnum.diffops.symbolic import (
    _get_func_arg_names,
    grad,
    gradient,
    hessian,
    hessian_vector_product,
    jacobian,
    jacobian_vector_product,
    matrix_hessian_product,
    matrix_tressian_product,
    vector_jacobian_product,
)

RNG = np.random.default_rng(3)


def scalar_func(x, y):
    """A scalar function of x (2, 2) and y (3,)."""
    return snp.sum(snp.exp(x) * y[0]) + snp.sum(x**2) * y[1] + snp.log1p(x[0, 1] ** 2) * y[2]


def array_func(x, y):
    """An array function (shape (3,)) of x (2, 2) and y (3,)."""
    return snp.sin(x[0]).sum() * y + x[1, 1] * y**2 + snp.tanh(x.sum() * y[::-1])


X_SHAPE, Y_SHAPE = (2, 2), (3,)


@pytest.fixture
def args():
    return named_array("x", X_SHAPE), named_array("y", Y_SHAPE)


@pytest.fixture
def values():
    return RNG.uniform(-1, 1, size=X_SHAPE), RNG.uniform(-1, 1, size=Y_SHAPE)


def numeric(result, args, values):
    """Substitute values for the symbols of args in a result (array, scalar or tuple)."""
    rule = {}
    for array, vals in zip(args, values, strict=True):
        rule.update(zip(array.flat, [sympy.Float(v) for v in vals.ravel().tolist()], strict=True))
    if isinstance(result, tuple):
        return tuple(numeric(r, args, values) for r in result)
    if isinstance(result, SymbolicArray):
        return np.array([float(el.xreplace(rule)) for el in result.flat]).reshape(result.shape)
    return float(sympy.sympify(result).xreplace(rule))


def reference_derivative(val, wrt):
    """d val / d wrt with plain SymPy, shape val.shape + wrt.shape (Jacobian layout)."""
    val = val if isinstance(val, SymbolicArray) else SymbolicArray(val)
    data = [sympy.diff(v, w) for v in val.flat for w in wrt.flat]
    return SymbolicArray(data, shape=val.shape + wrt.shape)


def operand(shape):
    return RNG.standard_normal(shape)


# --------------------------------------------------------------------------------------
# Results and aux outputs against SymPy, for each argument


@pytest.mark.parametrize("wrt", [0, 1, -1])
def test_gradient(args, values, wrt):
    val = scalar_func(*args)
    x = args[wrt]
    g = gradient(scalar_func, wrt=wrt)(*args)
    assert g.shape == x.shape
    np.testing.assert_allclose(
        numeric(g, args, values), numeric(reference_derivative(val, x), args, values)
    )
    g_aux, v_aux = gradient(scalar_func, wrt=wrt, return_aux=True)(*args)
    assert g_aux.tolist() == g.tolist()
    assert numeric(v_aux, args, values) == pytest.approx(numeric(val, args, values))
    assert grad is gradient


@pytest.mark.parametrize("wrt", [0, 1])
def test_gradient_against_finite_differences(args, values, wrt):
    g = gradient(scalar_func, wrt=wrt)(*args)
    h = 1e-6
    expected = np.empty(args[wrt].shape)
    for index in np.ndindex(args[wrt].shape):
        plus = [v.copy() for v in values]
        minus = [v.copy() for v in values]
        plus[wrt][index] += h
        minus[wrt][index] -= h
        val = scalar_func(*args)
        expected[index] = (numeric(val, args, plus) - numeric(val, args, minus)) / (2 * h)
    np.testing.assert_allclose(numeric(g, args, values), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("wrt", [0, 1])
def test_jacobian(args, values, wrt):
    val = array_func(*args)
    x = args[wrt]
    jac, v_aux = jacobian(array_func, wrt=wrt, return_aux=True)(*args)
    assert jac.shape == val.shape + x.shape
    np.testing.assert_allclose(
        numeric(jac, args, values), numeric(reference_derivative(val, x), args, values)
    )
    np.testing.assert_allclose(numeric(v_aux, args, values), numeric(val, args, values))
    assert jacobian(array_func, wrt=wrt)(*args).tolist() == jac.tolist()


def test_jacobian_of_scalar_function_is_gradient(args):
    assert jacobian(scalar_func)(*args).tolist() == gradient(scalar_func)(*args).tolist()


@pytest.mark.parametrize("wrt", [0, 1])
def test_hessian(args, values, wrt):
    val = scalar_func(*args)
    x = args[wrt]
    hess, g, v_aux = hessian(scalar_func, wrt=wrt, return_aux=True)(*args)
    assert hess.shape == x.shape + x.shape
    assert g.shape == x.shape
    reference = reference_derivative(reference_derivative(val, x), x)
    np.testing.assert_allclose(numeric(hess, args, values), numeric(reference, args, values))
    np.testing.assert_allclose(
        numeric(g, args, values), numeric(reference_derivative(val, x), args, values)
    )
    assert numeric(v_aux, args, values) == pytest.approx(numeric(val, args, values))
    assert hessian(scalar_func, wrt=wrt)(*args).tolist() == hess.tolist()


@pytest.mark.parametrize("wrt", [0, 1])
def test_jacobian_vector_product(args, values, wrt):
    x = args[wrt]
    jvp, v_aux = jacobian_vector_product(array_func, wrt=wrt, return_aux=True)(*args)
    assert isinstance(jvp, FunctionExpression)
    v = operand(x.shape)
    result = jvp(v)
    jac = numeric(jacobian(array_func, wrt=wrt)(*args), args, values)
    assert result.shape == (3,)
    np.testing.assert_allclose(numeric(result, args, values), np.tensordot(jac, v, x.ndim))
    np.testing.assert_allclose(
        numeric(v_aux, args, values), numeric(array_func(*args), args, values)
    )


@pytest.mark.parametrize("wrt", [0, 1])
def test_vector_jacobian_product(args, values, wrt):
    x = args[wrt]
    vjp, v_aux = vector_jacobian_product(array_func, wrt=wrt, return_aux=True)(*args)
    v = operand((3,))
    result = vjp(v)
    jac = numeric(jacobian(array_func, wrt=wrt)(*args), args, values)
    assert result.shape == x.shape
    np.testing.assert_allclose(numeric(result, args, values), np.tensordot(v, jac, 1))
    assert v_aux.shape == (3,)


@pytest.mark.parametrize("wrt", [0, 1])
def test_hessian_vector_product(args, values, wrt):
    x = args[wrt]
    hvp, g, v_aux = hessian_vector_product(scalar_func, wrt=wrt, return_aux=True)(*args)
    v = operand(x.shape)
    result = hvp(v)
    hess = numeric(hessian(scalar_func, wrt=wrt)(*args), args, values)
    assert result.shape == x.shape
    np.testing.assert_allclose(numeric(result, args, values), np.tensordot(hess, v, x.ndim))
    assert g.tolist() == gradient(scalar_func, wrt=wrt)(*args).tolist()
    assert numeric(v_aux, args, values) == pytest.approx(numeric(scalar_func(*args), args, values))


@pytest.mark.parametrize("wrt", [0, 1])
def test_matrix_hessian_product(args, values, wrt):
    x = args[wrt]
    mhp, jac, v_aux = matrix_hessian_product(array_func, wrt=wrt, return_aux=True)(*args)
    assert jac.shape == (3, *x.shape)
    m = operand(jac.shape)
    result = mhp(m)
    assert result.shape == x.shape
    # mhp[l] = sum_ij m[i, j] d jac[i, j] / d x[l]
    djac = numeric(reference_derivative(jac, x), args, values)  # jac.shape + x.shape
    expected = np.tensordot(m, djac, jac.ndim)
    np.testing.assert_allclose(numeric(result, args, values), expected, rtol=1e-10)
    assert v_aux.shape == (3,)


@pytest.mark.parametrize("wrt", [0, 1])
def test_matrix_tressian_product(args, values, wrt):
    x = args[wrt]
    mtp, hess, g, v_aux = matrix_tressian_product(scalar_func, wrt=wrt, return_aux=True)(*args)
    assert hess.shape == x.shape * 2
    assert g.shape == x.shape
    m = operand(hess.shape)
    result = mtp(m)
    assert result.shape == x.shape
    dhess = numeric(reference_derivative(hess, x), args, values)
    expected = np.tensordot(m, dhess, hess.ndim)
    np.testing.assert_allclose(numeric(result, args, values), expected, rtol=1e-10)
    assert numeric(v_aux, args, values) == pytest.approx(numeric(scalar_func(*args), args, values))


def test_scalar_arguments_and_outputs():
    def f(t):
        return snp.exp(2 * t)

    t = named_array("t", ())
    assert gradient(f)(t).shape == ()
    assert hessian(f)(t)[()] == 4 * sympy.exp(2 * t[()])
    jvp = jacobian_vector_product(f)(t)
    assert jvp(np.array(3))[()] == 6 * sympy.exp(2 * t[()])
    s = sympy.Symbol("s")
    assert gradient(lambda u: u**3)(s)[()] == 3 * s**2


# --------------------------------------------------------------------------------------
# Several arguments at once


def test_tuple_wrt_gives_one_result_per_argument(args, values):
    grads, val = gradient(scalar_func, wrt=(0, 1), return_aux=True)(*args)
    assert isinstance(grads, tuple)
    assert [g.shape for g in grads] == [X_SHAPE, Y_SHAPE]
    for g, i in zip(grads, (0, 1), strict=True):
        assert g.tolist() == gradient(scalar_func, wrt=i)(*args).tolist()
    assert val == scalar_func(*args)
    reversed_grads = gradient(scalar_func, wrt=(1, 0))(*args)
    assert [g.shape for g in reversed_grads] == [Y_SHAPE, X_SHAPE]
    jacs = jacobian(array_func, wrt=(0, 1))(*args)
    assert [j.shape for j in jacs] == [(3, *X_SHAPE), (3, *Y_SHAPE)]


def test_tuple_wrt_hessian_gives_blocks(args, values):
    hess, grads, _ = hessian(scalar_func, wrt=(0, 1), return_aux=True)(*args)
    assert len(hess) == 2
    assert all(len(row) == 2 for row in hess)
    shapes = (X_SHAPE, Y_SHAPE)
    for a in range(2):
        for b in range(2):
            assert hess[a][b].shape == shapes[a] + shapes[b]
    assert hess[0][0].tolist() == hessian(scalar_func, wrt=0)(*args).tolist()
    # the cross blocks are transposes of each other
    np.testing.assert_allclose(
        numeric(hess[0][1], args, values),
        np.moveaxis(numeric(hess[1][0], args, values), 0, -1),
    )
    assert [g.shape for g in grads] == list(shapes)
    mtps, hess_aux, grads_aux, _ = matrix_tressian_product(
        scalar_func, wrt=(0, 1), return_aux=True
    )(*args)
    assert len(mtps) == 2
    assert hess_aux[1][0].shape == Y_SHAPE + X_SHAPE
    assert [g.shape for g in grads_aux] == list(shapes)


def test_tuple_wrt_operators(args, values):
    jvps, val = jacobian_vector_product(array_func, wrt=(0, 1), return_aux=True)(*args)
    assert val.shape == (3,)
    assert len(jvps) == 2
    v_x, v_y = operand(X_SHAPE), operand(Y_SHAPE)
    np.testing.assert_allclose(
        numeric(jvps[1](v_y), args, values),
        numeric(jacobian_vector_product(array_func, wrt=1)(*args)(v_y), args, values),
    )
    assert jvps[0](v_x).shape == (3,)
    # each operator has its own, distinct argument
    assert {str(fe.args[0].flat[0]) for fe in jvps} == {"v_x[0, 0]", "v_y[0]"}
    vjps = vector_jacobian_product(array_func, wrt=(0, 1))(*args)
    assert [fe(np.ones(3)).shape for fe in vjps] == [X_SHAPE, Y_SHAPE]
    hvps, grads, _ = hessian_vector_product(scalar_func, wrt=(0, 1), return_aux=True)(*args)
    assert [g.shape for g in grads] == [X_SHAPE, Y_SHAPE]
    assert [fe(operand(s)).shape for fe, s in zip(hvps, (X_SHAPE, Y_SHAPE), strict=True)] == [
        X_SHAPE,
        Y_SHAPE,
    ]
    mhps, jacs, _ = matrix_hessian_product(array_func, wrt=(0, 1), return_aux=True)(*args)
    assert [j.shape for j in jacs] == [(3, *X_SHAPE), (3, *Y_SHAPE)]
    assert mhps[1](operand((3, 3))).shape == Y_SHAPE


# --------------------------------------------------------------------------------------
# Names, metadata and errors


def test_derived_function_metadata():
    def f(x, y):
        """Docstring of f."""
        return snp.sum(x * y)

    f._arg_shapes = ((2,), (2,))
    for op, prefix in [
        (gradient, "grad"),
        (jacobian, "jacob"),
        (hessian, "hess"),
        (jacobian_vector_product, "jvp"),
        (vector_jacobian_product, "vjp"),
        (hessian_vector_product, "hvp"),
        (matrix_hessian_product, "mhp"),
        (matrix_tressian_product, "mtp"),
    ]:
        derived = op(f)
        assert derived.__name__ == f"{prefix}_f"
        assert derived._arg_names == ("x", "y")
        assert derived._arg_shapes == ((2,), (2,))
        assert "Docstring of f." in derived.__doc__
        # derived functions can be differentiated again
        assert op(derived).__name__ == f"{prefix}_{prefix}_f"


def test_operator_docstrings_state_shapes():
    for op in (
        gradient,
        jacobian,
        hessian,
        jacobian_vector_product,
        vector_jacobian_product,
        hessian_vector_product,
        matrix_hessian_product,
        matrix_tressian_product,
    ):
        assert "shape" in op.__doc__


def test_get_func_arg_names():
    def f(a, b, *args, c=1):
        return a

    assert _get_func_arg_names(f) == ("a", "b")
    assert _get_func_arg_names(lambda u, w: u) == ("u", "w")
    assert _get_func_arg_names(functools.partial(f, 1)) == ("b",)
    f._arg_names = ("p", "q")
    assert _get_func_arg_names(f) == ("p", "q")


def test_operator_argument_does_not_clash_with_function_arguments():
    """SymNum 0.2.1 named it v / m whatever the function's own argument names were."""

    def f(v, m):
        return snp.sum(v**2 * m[0]) + m[1] * v[0]

    v, m = named_array("v", 2), named_array("m", 2)
    for op, wrt in [(jacobian_vector_product, 0), (hessian_vector_product, 1)]:
        fe = op(f, wrt=wrt)(v, m)
        closure_symbols = set(fe.args[0].flat)
        assert not closure_symbols & (set(v.flat) | set(m.flat))
        value = fe(np.array([1.0, 2.0]))
        assert value.free_symbols <= set(v.flat) | set(m.flat)
    fe = matrix_tressian_product(f)(v, m)
    assert str(fe.args[0].flat[0]) == "m_[0, 0]"
    hvp = hessian_vector_product(f)(v, m)(np.array([1, 0]))
    # d2f/dv2 = diag(2 m0): applied to e0 gives (2 m0, 0)
    assert hvp.tolist() == [2 * m[0], 0]


def test_sympy_func_of_numeric_functions_is_used(args):
    def numeric_stand_in(*_):
        raise AssertionError

    numeric_stand_in._sympy_func = scalar_func
    numeric_stand_in._arg_names = ("x", "y")
    assert gradient(numeric_stand_in)(*args).tolist() == gradient(scalar_func)(*args).tolist()


def test_errors(args):
    with pytest.raises(ValueError, match=r"scalar-valued function.*shape \(3,\)"):
        gradient(array_func)(*args)
    with pytest.raises(ValueError, match="scalar-valued"):
        hessian(array_func)(*args)
    with pytest.raises(ValueError, match="scalar-valued"):
        hessian_vector_product(array_func)(*args)
    with pytest.raises(ValueError, match="scalar-valued"):
        matrix_tressian_product(array_func)(*args)
    with pytest.raises(ValueError, match="wrt index 2 is out of range"):
        gradient(scalar_func, wrt=2)(*args)
    with pytest.raises(TypeError, match="wrt must be an int or a tuple of ints"):
        gradient(scalar_func, wrt="x")(*args)
    with pytest.raises(ValueError, match="non-empty"):
        gradient(scalar_func, wrt=())(*args)
    with pytest.raises(TypeError, match="cannot differentiate with respect to argument 1"):
        gradient(lambda x, c: snp.sum(x) * c, wrt=1)(args[0], 2.0)
    with pytest.raises(TypeError, match="cannot differentiate with respect to argument 1"):
        gradient(lambda x, c: snp.sum(x) * c, wrt=(0, 1))(args[0], 2.0)


def test_sparse_hessian_of_rosenbrock():
    """Each derivative only walks the sub-expressions holding its symbol."""

    def rosenbrock(x):
        return snp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    n = 120
    x = named_array("x", n)
    hess = hessian(rosenbrock)(x)
    values = RNG.uniform(-1, 1, size=n)
    rule = dict(zip(x.flat, [sympy.Float(v) for v in values], strict=True))
    got = np.array([float(el.xreplace(rule)) for el in hess.flat]).reshape(n, n)
    expected = np.zeros((n, n))
    i = np.arange(n - 1)
    expected[i, i] += 1200 * values[:-1] ** 2 - 400 * values[1:] + 2
    expected[i + 1, i + 1] += 200
    expected[i, i + 1] = expected[i + 1, i] = -400 * values[:-1]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# Canonical results (issue 12) and derivative builds without assumption queries (issue 14)


def _canonical_models():
    rng = np.random.default_rng(0)
    features, labels = rng.standard_normal((5, 3)), (rng.random(5) < 0.5).astype(float)

    def logistic(q):
        z = features @ q
        return snp.sum(snp.log(1 + snp.exp(z)) - labels * z) + snp.sum(q**2) / 2

    def rosenbrock(q):
        return snp.sum(100 * (q[1:] - q[:-1] ** 2) ** 2 + (1 - q[:-1]) ** 2)

    def mixed(q):
        return (
            snp.log(1 + snp.exp(q[0] * q[1]))
            + snp.sqrt(q[1] ** 2 + 1) / (q[0] + 2)
            - 3 * q[2] ** 3 * q[1]
            + snp.tanh(q @ q) * q[0] / (1 + q[1] ** 2) ** 1.5
            + 0.5 * snp.cos(2 * q[2]) * snp.exp(-snp.sum(q**2) / 2)
        )

    return [logistic, rosenbrock, mixed]


def test_symbolic_derivatives_are_canonical_sympy_expressions():
    q = named_array("q", 2)

    def f(q):
        return q[0] ** 2 + q[0] * q[1]

    g = grad(f)(q)
    assert g[0] == 2 * q[0] + q[1]
    assert {2 * q[0] + q[1]: "found"}.get(g[0]) == "found"
    assert hessian(f)(q).tolist() == [[2, 1], [1, 0]]
    # gradients as SymPy differentiates (what SymNum 0.2.1 returned); with float data the
    # two may sum floats in different orders, so exact models only. SymPy's diff may
    # group the terms of higher derivatives differently (2*(600*x**2 + 1) for
    # 1200*x**2 + 2): those are checked to be the same expression once expanded
    x = named_array("x", 3)
    for model in _canonical_models()[1:]:
        value = model(x)
        hess, grads, _ = hessian(model, return_aux=True)(x)
        for i in range(3):
            assert grads[i] == sympy.diff(value, x[i])
            for j in range(3):
                assert sympy.expand(hess[i, j] - sympy.diff(value, x[i], x[j])) == 0
    assert SymbolicArray(q[0] * q[0]).diff(q)[0] == 2 * q[0]


def test_canonical_form_matches_sympys_evaluation():
    """symnum.sym.canonical rebuilds Add/Mul/Pow by SymPy's rules without SymPy's
    constructors: it must give what they give, node for node."""
    from symnum.sym.canonical import _children, canonical_list
    from symnum.sym.walk import fold

    def sympy_rebuild(node, args):
        if not isinstance(node, sympy.Expr) or not node.args or isinstance(node, sympy.Piecewise):
            return node
        return node.func(*args)

    x = named_array("x", 3)
    for model in _canonical_models():
        raw = hessian(model)._symnum_raw(x)
        grads = gradient(model)._symnum_raw(x)
        for data in (raw._data, grads._data):
            assert canonical_list(data) == fold(data, _children, sympy_rebuild, {})


def test_compiled_functions_skip_the_canonical_form(monkeypatch):
    import symnum
    from symnum.sym import canonical

    def forbidden(*args, **kwargs):
        raise AssertionError

    monkeypatch.setattr(canonical, "canonical_list", forbidden)
    monkeypatch.setattr("symnum.diffops.symbolic.canonical_list", forbidden)
    model = _canonical_models()[0]
    h = symnum.hessian(model, (3,))
    assert h(np.zeros(3)).shape == (3, 3)
    with pytest.raises(AssertionError):
        hessian(model)(named_array("x", 3))


def _logaddexp_model(q, features, labels):
    eta = features @ q
    return snp.sum(labels * eta - snp.logaddexp(0.0, eta))


@pytest.mark.parametrize("kind", ["logaddexp", "logsumexp", "maximum", "minimum", "where"])
def test_derivatives_build_without_assumption_queries(kind, monkeypatch):
    """Issue 14, item 10: derivatives of logaddexp & co build conditions unevaluated; no
    query of SymPy's assumption system (which cost 20-40x the build time) is made."""
    import symnum.scipy.special as sss

    assumptions = sys.modules["sympy.core.assumptions"]
    rng = np.random.default_rng(1)
    features, labels = rng.standard_normal((30, 4)), (rng.random(30) < 0.5).astype(float)
    q = named_array("q", 4)
    value = {
        "logaddexp": lambda: _logaddexp_model(q, features, labels),
        "logsumexp": lambda: sss.logsumexp(features @ q),
        "maximum": lambda: snp.sum(snp.maximum(features @ q, 0.0) ** 2),
        "minimum": lambda: snp.sum(snp.minimum(features @ q, q[0]) ** 2),
        "where": lambda: snp.sum(snp.where(features @ q > 0, (features @ q) ** 2, -(features @ q))),
    }[kind]()
    queries = []
    ask = assumptions._ask

    def counting(fact, obj):
        # whether a new node commutes is bookkeeping, not a query about values
        if fact != "commutative":
            queries.append(fact)
        return ask(fact, obj)

    monkeypatch.setattr(assumptions, "_ask", counting)
    grads = SymbolicArray(value)._derivative(q)
    grads._derivative(q)
    assert queries == []
    # and the derivative is right (compiled: SymPy's evaluation of nested conditions is slow)
    from symnum.codegen import generate_func

    monkeypatch.setattr(assumptions, "_ask", ask)
    f = generate_func((q,), value, func_name="f")
    g = generate_func((q,), grads, func_name="g")
    x, step = rng.standard_normal(4), 1e-6
    numeric = [(f(x + e) - f(x - e)) / (2 * step) for e in np.eye(4) * step]
    np.testing.assert_allclose(g(x), numeric, rtol=1e-5, atol=1e-6)


def _two_choices(g, j, k, left, right):
    return snp.where(snp.equal(g, j), left, 0.0) * snp.where(snp.equal(g, k), right, 0.0)


@pytest.mark.parametrize(("left", "right"), [(2.0, 3.0), (2.0, -0.5), (1, 1)])
def test_products_of_exclusive_choices_are_exact(left, right):
    """``where(g == j, a, 0) * where(g == k, b, 0)`` is built as zero for j != k and as
    one choice for j == k (a random effect's second derivatives); numbers a, b only."""
    from symnum import numpify

    g = named_array("g", ())
    for j, k in ((0, 1), (1, 1), (2, 0)):
        (product,) = (
            snp.where(snp.equal(g, j), left, 0.0) * snp.where(snp.equal(g, k), right, 0.0)
        ).flat
        assert (product == 0) == (j != k)
        assert product.has(sympy.Piecewise) == (j == k)
        f = numpify(functools.partial(_two_choices, j=j, k=k, left=left, right=right), ())
        for value in (0.0, 1.0, 2.0, 0.5, np.inf, np.nan):
            expected = np.where(value == j, left, 0.0) * np.where(value == k, right, 0.0)
            assert f(value) == expected, (j, k, value)
    # a symbolic or non-finite choice value is kept: inf * 0 is NaN where a row picks it
    a = named_array("a", ())
    for value in (a, np.inf):
        kept = snp.where(snp.equal(g, 0), value, 0.0) * snp.where(snp.equal(g, 1), 1.0, 0.0)
        assert kept.flat[0] != 0
