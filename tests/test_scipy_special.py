"""Tests of symnum.scipy.special against SciPy, on every backend, with derivatives.

Also issue 7 item 7: an op a backend cannot emit fails when the function is built, with
an error naming the op and the backend.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as ss
import sympy
from _assert import as_float

import symnum
import symnum.numpy as snp
import symnum.scipy.special as sss
from symnum import backends, ir, named_array

# points covering both tails and the switch points of the branchwise definitions
X = np.array([-60.0, -35.0, -20.5, -20.0, -19.5, -5.0, -1e-3, 0.0, 1e-9, 0.5, 3.0, 10.0, 40.0])
POSITIVE = np.array([1e-3, 0.2, 0.5, 1.0, 2.5, 7.0, 30.0, 150.0])
PROBABILITIES = np.array([1e-12, 1e-3, 0.2, 0.5, 0.7, 1 - 1e-9])
# fewer points for derivatives (each point adds code), still both tails and the switches
XD = np.array([-35.0, -20.5, -19.5, -1.0, 0.0, 0.5, 10.0])

UNARY = {
    "ndtr": X,
    "log_ndtr": X,
    "expit": X,
    "log_expit": X,
    "softplus": X,
    "erf": X,
    "erfc": X,
    "expm1": X,
    "gammaln": POSITIVE,
    "gamma": POSITIVE[:-1],
    "digamma": POSITIVE,
    "psi": POSITIVE,
    "logit": PROBABILITIES,
    "log1p": POSITIVE - 1e-3,
    "exp2": X[2:-1],
    "ndtri": np.array([1e-300, 1e-12, 1e-3, 0.2, 0.5, 0.7, 1 - 1e-9, 1 - 2.0**-53]),
    "erfinv": np.array([-1 + 1e-12, -0.5, -1e-300, 0.0, 1e-20, 0.3, 0.85, 0.999999]),
    "erfcinv": np.array([1e-300, 1e-12, 0.1, 0.7, 1.0, 1.3, 1.9, 2 - 1e-12]),
}


_num = as_float


def _reference(name, x):
    return getattr(ss, name)(x)


# --------------------------------------------------------------------------------------
# Numeric input


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_numeric(name):
    x = UNARY[name]
    np.testing.assert_allclose(_num(getattr(sss, name)(x)), _reference(name, x), rtol=2e-13)
    # scalars give scalars
    value = getattr(sss, name)(float(x[1]))
    assert isinstance(value, sympy.Expr)
    np.testing.assert_allclose(float(value), _reference(name, x[1]), rtol=2e-13)


def test_binary_numeric():
    x = np.array([0.0, 0.0, 0.0, 2.0, 0.5, -1.5])
    y = np.array([0.0, -1.0, 3.0, 3.0, 1e-300, 0.25])
    np.testing.assert_allclose(_num(sss.xlogy(x, y)), ss.xlogy(x, y), rtol=1e-14)
    y1 = np.array([-1.0, -2.0, 3.0, 3.0, 1e-20, -0.5])
    np.testing.assert_allclose(_num(sss.xlog1py(x, y1)), ss.xlog1py(x, y1), rtol=1e-14)
    a, b = POSITIVE[:, None], POSITIVE[None, :4]
    np.testing.assert_allclose(_num(sss.betaln(a, b)), ss.betaln(a, b), rtol=1e-12)
    for n in (0, 1, 3):
        np.testing.assert_allclose(
            _num(sss.polygamma(n, POSITIVE)), ss.polygamma(n, POSITIVE), rtol=1e-12
        )
    np.testing.assert_allclose(
        _num(sss.multigammaln(POSITIVE + 2, 3)), ss.multigammaln(POSITIVE + 2, 3), rtol=1e-12
    )


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_numeric(axis, keepdims):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 4)) * 300  # would overflow without the shift
    b = rng.uniform(0.5, 2.0, size=(4,))
    np.testing.assert_allclose(
        _num(sss.logsumexp(a, axis=axis, keepdims=keepdims)),
        ss.logsumexp(a, axis=axis, keepdims=keepdims),
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        _num(sss.logsumexp(a, axis=axis, b=b, keepdims=keepdims)),
        ss.logsumexp(a, axis=axis, b=b, keepdims=keepdims),
        rtol=1e-13,
    )
    if axis is None or isinstance(axis, int):
        np.testing.assert_allclose(_num(sss.softmax(a, axis=axis)), ss.softmax(a, axis=axis))
        np.testing.assert_allclose(
            _num(sss.log_softmax(a, axis=axis)),
            ss.log_softmax(a, axis=axis),
            rtol=1e-13,
            atol=1e-15,
        )


def test_edge_values():
    assert sss.xlogy(0, 0) == 0
    assert sss.logsumexp(np.zeros((0,))) == -sympy.oo
    assert sss.logsumexp(2.5) == 2.5
    x, y = sympy.symbols("x y", real=True)
    # xlogy's derivative in x is log(y), also at x == 0
    assert sss.xlogy(x, y).diff(x).subs({x: 0, y: 2}) == sympy.log(2)


#: points of the inverses' domains, their ends and beyond (the ends and beyond give
#: SciPy's infinities and NaN)
INVERSE_POINTS = {
    "ndtri": np.array([0.0, 5e-324, 1e-300, 1e-12, 0.02, 0.5, 0.9, 1 - 2.0**-53, 1.0, -0.5,
                       1.5, np.nan, np.inf]),
    "erfinv": np.array([-1.0, -1 + 2.0**-53, -0.3, -1e-300, 0.0, 5e-324, 0.7, 0.9,
                        1 - 2.0**-53, 1.0, 1.5, -np.inf, np.nan]),
    "erfcinv": np.array([0.0, 5e-324, 1e-300, 1e-12, 0.1, 0.7, 1.0, 1.5, 1.95, 2 - 2.0**-52,
                         2.0, -0.5, np.nan]),
}  # fmt: skip
#: erfcinv(5e-324) by mpmath: SciPy's is inf (it halves y, which underflows)
ERFCINV_TINY = 27.21329321081295


def _inverse_reference(name, x):
    with np.errstate(all="ignore"):
        expected = getattr(ss, name)(x)
    if name == "erfcinv":
        expected = np.where(x == 5e-324, ERFCINV_TINY, expected)
    return expected


def test_inverse_functions_on_numbers_are_the_compiled_values():
    """On numbers, ndtri, erfinv and erfcinv give (as SymPy Floats, like the other
    functions here) exactly what compiled code computes: symnum.ir.specfun's values."""
    from symnum.ir import specfun

    for name, points in INVERSE_POINTS.items():
        f = getattr(sss, name)
        compiled = symnum.numpify(f, (points.size,), backend="numpy")(points)
        np.testing.assert_array_equal(_num(f(points)), compiled, err_msg=name)
        np.testing.assert_allclose(compiled, _inverse_reference(name, points), rtol=1e-15)
        for point in points:
            value = f(float(point))
            assert isinstance(value, sympy.Expr)
            want = getattr(specfun, name)(float(point))
            assert float(value) == want or (math.isnan(float(value)) and math.isnan(want))
    # exact numbers stay exact, evaluated at the ends and at the centre
    assert sss.ndtri(0) == -sympy.oo
    assert sss.ndtri(1) == sympy.oo
    assert sss.ndtri(sympy.Rational(1, 2)) == 0
    assert sss.erfinv(-1) == -sympy.oo
    assert sss.erfcinv(0) == sympy.oo
    assert sss.erfcinv(2) == -sympy.oo
    assert float(sss.erfinv(1e-300)) == pytest.approx(1e-300 * math.sqrt(math.pi) / 2, rel=1e-15)


def test_inverse_functions_are_one_node_whose_derivative_reuses_it():
    x = named_array("x", 2)
    for name, derivative in (
        ("ndtri", lambda v: sympy.sqrt(2 * sympy.pi) * sympy.exp(v**2 / 2)),
        ("erfinv", lambda v: sympy.sqrt(sympy.pi) / 2 * sympy.exp(v**2)),
        ("erfcinv", lambda v: -sympy.sqrt(sympy.pi) / 2 * sympy.exp(v**2)),
    ):
        f = getattr(sss, name)
        value = f(x)
        gradient = symnum.diffops.symbolic.gradient(lambda v, f=f: snp.sum(f(v)))(x)
        for k in range(2):
            assert sympy.simplify(gradient[k] - derivative(value[k])) == 0, name


# --------------------------------------------------------------------------------------
# Compiled on every backend


UNARY_COMPILED = ("ndtr", "log_ndtr", "expit", "log_expit", "softplus", "erf", "erfc", "expm1")


def _all_special(x, p, q, y):
    """Every special function at once (one compilation per backend)."""
    return (
        *(getattr(sss, name)(x) for name in UNARY_COMPILED),
        sss.gammaln(p),
        sss.gamma(p[:-1]),
        sss.digamma(p),
        sss.polygamma(1, p),
        sss.polygamma(2, p),
        sss.betaln(p, p[::-1]),
        sss.multigammaln(p + 2, 2),
        sss.logit(q),
        sss.xlogy(q, y),
        sss.xlog1py(q, y),
    )


@pytest.mark.slow  # numba takes ~10 s to compile this
def test_special_functions_on_backend(backend):
    p = POSITIVE
    q, y = np.array([0.0, 0.0, 0.3, 1e-12]), np.array([0.0, 2.0, 0.5, 1e-300])
    x = X[[0, 1, 2, 4, 5, 7, 9, 11, 12]]  # both tails and every branch switch
    f = symnum.numpify(_all_special, (x.size,), (p.size,), (4,), (4,), backend=backend)
    expected = (
        *(_reference(name, x) for name in UNARY_COMPILED),
        ss.gammaln(p),
        ss.gamma(p[:-1]),
        ss.digamma(p),
        ss.polygamma(1, p),
        ss.polygamma(2, p),
        ss.betaln(p, p[::-1]),
        ss.multigammaln(p + 2, 2),
        ss.logit(q),
        ss.xlogy(q, y),
        ss.xlog1py(q, y),
    )
    names = (*UNARY_COMPILED, "gammaln", "gamma", "digamma", "polygamma1", "polygamma2",
             "betaln", "multigammaln", "logit", "xlogy", "xlog1py")  # fmt: skip
    for name, got, want in zip(names, f(x, p, q, y), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, err_msg=name)


def test_logsumexp_softmax_on_backend(backend):
    a = np.array([[1.0, 2.0, 3.0, 1000.0], [-1000.0, 0.0, 0.5, -3.0], [0.0, 0.0, 0.0, 0.0]])
    f = symnum.numpify(
        lambda x: (sss.logsumexp(x, axis=1), sss.logsumexp(x), sss.softmax(x, axis=0)),
        (3, 4),
        backend=backend,
    )
    lse_rows, lse_all, soft = f(a)
    np.testing.assert_allclose(lse_rows, ss.logsumexp(a, axis=1), rtol=1e-14)
    np.testing.assert_allclose(lse_all, ss.logsumexp(a), rtol=1e-14)
    np.testing.assert_allclose(soft, ss.softmax(a, axis=0), rtol=1e-14, atol=1e-300)


def test_inverse_functions_on_backend(backend):
    """ndtri, erfinv and erfcinv compiled: SciPy's values over their domains (tiny
    arguments included), SciPy's infinities at their ends and NaN beyond."""
    names = tuple(INVERSE_POINTS)
    sizes = [INVERSE_POINTS[name].size for name in names]
    f = symnum.numpify(
        lambda p, x, y: (sss.ndtri(p), sss.erfinv(x), sss.erfcinv(y)),
        *((size,) for size in sizes),
        backend=backend,
    )
    for name, got in zip(names, f(*(INVERSE_POINTS[name] for name in names)), strict=True):
        points = INVERSE_POINTS[name]
        np.testing.assert_allclose(
            got, _inverse_reference(name, points), rtol=1e-15, atol=0, err_msg=name
        )
    # complex arguments are refused when the function is built, naming the op (the C
    # backend refuses every complex function)
    z = named_array("z", 2, dtype=complex)
    match = "complex" if backend == "c" else "NDTRI"
    with pytest.raises(backends.UnsupportedOpError, match=match):
        symnum.generate_func((z,), sss.ndtri(z), "complex_ndtri", backend=backend)


# a Gaussian copula's log density (a probit transform of uniforms): z = ndtri(u),
# log c(u) = -z^T B z / 2 with B = R^-1 - I, plus terms in erfinv(2u - 1) and erfcinv(2u)
# (each +-z / sqrt(2), but separate nodes with derivatives of their own)
COPULA_B = np.array([[0.5, -0.2, 0.1], [-0.2, 0.3, 0.05], [0.1, 0.05, 0.4]])
COPULA_A = np.array([0.3, -0.7, 1.1])
COPULA_C = np.array([-0.4, 0.25, 0.6])


def _copula_log_density(u):
    z = sss.ndtri(u)
    return (
        -(z @ (COPULA_B @ z)) / 2 + COPULA_A @ sss.erfinv(2 * u - 1) + COPULA_C @ sss.erfcinv(2 * u)
    )


def _copula_reference(u):
    """Value, gradient and Hessian of _copula_log_density from SciPy's values and the
    closed forms ndtri' = sqrt(2 pi) exp(z**2 / 2) (so ndtri'' = z ndtri'**2),
    erfinv' = sqrt(pi)/2 exp(w**2), erfcinv' = -sqrt(pi)/2 exp(c**2)."""
    z, w, c = ss.ndtri(u), ss.erfinv(2 * u - 1), ss.erfcinv(2 * u)
    g = math.sqrt(2 * math.pi) * np.exp(z * z / 2)
    bz = COPULA_B @ z
    value = -z @ bz / 2 + COPULA_A @ w + COPULA_C @ c
    dw = math.sqrt(math.pi) * np.exp(w * w)  # d erfinv(2u - 1) / du
    dc = -math.sqrt(math.pi) * np.exp(c * c)  # d erfcinv(2u) / du
    gradient = -bz * g + COPULA_A * dw + COPULA_C * dc
    hessian = -COPULA_B * np.outer(g, g) + np.diag(
        -bz * z * g * g + COPULA_A * 2 * w * dw * dw + COPULA_C * 2 * c * dc * dc
    )
    return value, gradient, hessian


@pytest.mark.slow  # numba compiles two kernels
def test_copula_gradient_and_hessian(backend):
    grad = symnum.gradient(_copula_log_density, (3,), return_aux=True, backend=backend)
    hess = symnum.hessian(_copula_log_density, (3,), backend=backend)
    for u in (np.array([0.03, 0.5, 0.9]), np.array([1e-8, 0.3, 1 - 1e-6])):
        value, gradient, hessian = _copula_reference(u)
        got_gradient, got_value = grad(u)
        np.testing.assert_allclose(got_value, value, rtol=1e-13)
        np.testing.assert_allclose(got_gradient, gradient, rtol=1e-11)
        np.testing.assert_allclose(hess(u), hessian, rtol=1e-11, atol=1e-12 * abs(hessian).max())
    # central finite differences at a moderate point
    u, h = np.array([0.03, 0.5, 0.9]), 1e-6
    steps = h * np.eye(3)
    value_of = symnum.numpify(_copula_log_density, (3,), backend=backend)
    fd_gradient = [(value_of(u + e) - value_of(u - e)) / (2 * h) for e in steps]
    np.testing.assert_allclose(grad(u)[0], fd_gradient, rtol=1e-7)
    fd_hessian = np.array([(grad(u + e)[0] - grad(u - e)[0]) / (2 * h) for e in steps])
    np.testing.assert_allclose(hess(u), fd_hessian, rtol=1e-6, atol=1e-6)


LIBRARY_CALLS = {
    # numba: erf/erfc from math; lgamma/gamma through symnum.ir.specfun compiled by the
    # runtime (which calls libm's away from the poles and the zeros of lgamma)
    "numba": ("_sn_lgamma(", "math.erf(", "math.erfc(", "_sn_gamma("),
    "c": ("lgamma(", "erf(", "erfc(", "tgamma("),
}


def test_library_calls(backend):
    """gammaln, erf, erfc and gamma become calls of the math library (on numba, of
    symnum.ir.specfun's compiled lgamma and gamma)."""
    f = symnum.numpify(
        lambda x: (sss.gammaln(x), sss.erf(x), sss.erfc(x), sss.gamma(x)), (2,), backend=backend
    )
    for call in LIBRARY_CALLS.get(backend, ()):
        assert call in f.source


# --------------------------------------------------------------------------------------
# Derivatives


def _sqrt2pi():
    return math.sqrt(2 * math.pi)


def _log_ndtr_prime(x):
    # pdf / cdf = sqrt(2 / pi) / erfcx(-x / sqrt(2)), without cancellation in either tail
    with np.errstate(over="ignore"):
        return math.sqrt(2 / math.pi) / ss.erfcx(-x / math.sqrt(2))


DERIVATIVES = {
    "gammaln": (POSITIVE[:5], ss.digamma),
    "digamma": (POSITIVE[:5], lambda x: ss.polygamma(1, x)),
    "erf": (XD, lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x)),
    "erfc": (XD, lambda x: -2 / math.sqrt(math.pi) * np.exp(-x * x)),
    "expit": (XD, lambda x: ss.expit(x) * ss.expit(-x)),
    "softplus": (XD, ss.expit),
    "log_expit": (XD, lambda x: ss.expit(-x)),
    "ndtr": (XD, lambda x: np.exp(-0.5 * x * x) / _sqrt2pi()),
    "log_ndtr": (XD, _log_ndtr_prime),
    "logit": (PROBABILITIES, lambda p: 1 / (p * (1 - p))),
}


@pytest.mark.slow  # numba takes ~10 s to compile this
def test_derivatives_on_backend(backend):
    """The gradient of sum(f(x)) is f'(x) elementwise, in the tails too."""
    names = sorted(DERIVATIVES)
    pieces = [DERIVATIVES[name][0] for name in names]
    bounds = [int(b) for b in np.cumsum([0, *(len(piece) for piece in pieces)])]

    def total(v):
        return sum(
            snp.sum(getattr(sss, name)(v[bounds[i] : bounds[i + 1]]))
            for i, name in enumerate(names)
        )

    grad = symnum.gradient(total, (bounds[-1],), backend=backend)(np.concatenate(pieces))
    for i, name in enumerate(names):
        points, derivative = DERIVATIVES[name]
        np.testing.assert_allclose(
            grad[bounds[i] : bounds[i + 1]], derivative(points), rtol=1e-12, err_msg=name
        )


def test_logsumexp_hessian(backend):
    """Gradient softmax(x); Hessian diag(p) - p p^T, finite also for huge spreads."""
    hess = symnum.hessian(lambda x: sss.logsumexp(x), (4,), backend=backend)  # noqa: PLW0108
    grad = symnum.gradient(lambda x: sss.logsumexp(x), (4,), backend=backend)  # noqa: PLW0108
    for x in (np.array([0.1, -0.4, 2.0, 0.0]), np.array([0.0, 0.0, 0.0, 0.0]),
              np.array([800.0, -800.0, 0.0, 1.0])):  # fmt: skip
        p = ss.softmax(x)
        np.testing.assert_allclose(grad(x), p, rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(hess(x), np.diag(p) - np.outer(p, p), atol=1e-15)


def test_softplus_second_derivative_has_no_overflow(backend):
    hess = symnum.hessian(lambda x: snp.sum(sss.softplus(x)), (4,), backend=backend)
    x = np.array([-1000.0, 0.0, 2.0, 1000.0])
    expected = np.diag(ss.expit(x) * ss.expit(-x))
    np.testing.assert_allclose(hess(x), expected, atol=1e-15)


def test_expit_derivatives_are_finite_in_both_tails(backend):
    """expit' = expit(x) expit(-x): SymPy's derivative of 1 / (1 + exp(-x)) is inf / inf
    where exp(-x) overflows (x < -709) and at -inf."""
    x = np.array([-np.inf, -1000.0, -710.0, -30.0, 0.0, 2.0, 710.0, np.inf])
    f = lambda x: snp.sum(sss.expit(x))  # noqa: E731
    grad = symnum.gradient(f, (8,), backend=backend)
    hess = symnum.hessian(f, (8,), backend=backend)
    s = ss.expit(x)
    np.testing.assert_allclose(grad(x), s * (1 - s), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(np.diag(hess(x)), s * (1 - s) * (1 - 2 * s), rtol=1e-13, atol=1e-300)
    value = symnum.numpify(lambda x: sss.expit(x), (8,), backend=backend)  # noqa: PLW0108
    np.testing.assert_array_equal(value(x), s)


def test_xlogy_derivatives(backend):
    grad_x = symnum.gradient(lambda x, y: snp.sum(sss.xlogy(x, y)), (3,), (3,), backend=backend)
    grad_y = symnum.gradient(
        lambda x, y: snp.sum(sss.xlogy(x, y)), (3,), (3,), wrt=1, backend=backend
    )
    x, y = np.array([0.0, 1.5, 2.0]), np.array([2.0, 0.5, 3.0])
    np.testing.assert_allclose(grad_x(x, y), np.log(y), rtol=1e-14)
    np.testing.assert_allclose(grad_y(x, y), x / y, rtol=1e-14)


# --------------------------------------------------------------------------------------
# Bad input


def test_bad_input():
    x = named_array("x", 3)
    with pytest.raises(ValueError, match="non-negative integer"):
        sss.polygamma(-1, x)
    with pytest.raises(ValueError, match="non-negative integer"):
        sss.polygamma(x[0], x)
    with pytest.raises(ValueError, match="positive int"):
        sss.multigammaln(x, 0)
    with pytest.raises(ValueError, match="broadcast"):
        sss.xlogy(x, named_array("y", 2))
    with pytest.raises(np.exceptions.AxisError):
        sss.logsumexp(x, axis=1)
    with pytest.raises(NotImplementedError, match="return_sign"):
        sss.logsumexp(x, return_sign=True)
    with pytest.raises(TypeError, match="scalar or an array"):
        sss.erf(object())


# --------------------------------------------------------------------------------------
# Issue 7 item 7: unsupported ops fail at build time, naming the op and the backend


def _one_op_function(op):
    """An IR function applying ``op`` to elements of a parameter (valid arity)."""
    x = ir.Param("x", (3,))
    low, _ = ir.ARITY[op]
    if op is ir.Op.POLYGAMMA:
        args = (ir.Const(1.0), ir.Elem("x", 0))
    else:
        args = tuple(ir.Elem("x", i % 3) for i in range(max(low, 1)))
    body = (ir.Assign(0, op, args),)
    return ir.check(ir.Function("one_op", (x,), body, ir.Output((), (ir.Var(0),))))


def test_every_op_emits_or_is_refused_by_name(backend):
    """Each backend either emits each op or refuses it at emit time, by name."""
    module = backends.get(backend)
    refusals = {}
    for op in ir.Op:
        try:
            module.emit(_one_op_function(op))
        except backends.UnsupportedOpError as exc:
            refusals[op.name] = str(exc)
    for name, message in refusals.items():
        assert name in message
        assert repr(backend) in message


def test_c_refuses_complex_at_build_time():
    """The C backend has no complex arithmetic: building fails, naming op and backend."""
    from conftest import require_backend

    require_backend("c")
    z = named_array("z", 2, dtype=complex)
    with pytest.raises(backends.UnsupportedOpError, match=r"'c' backend cannot emit"):
        symnum.generate_func((z,), z[0] * z[1] + 1j, "complex_product", backend="c")


class _NoLgammaBackend:
    """A third-party backend (the numpy backend) that cannot emit LGAMMA."""

    name = "no_lgamma"
    extra = None

    @staticmethod
    def available():
        return True

    @staticmethod
    def requirement_error():
        return backends.BackendUnavailableError("never")

    @staticmethod
    def emit(fn):
        for stmt in fn.body:
            if stmt.op is ir.Op.LGAMMA:
                raise backends.UnsupportedOpError(stmt.op, "no_lgamma", "no lgamma here")
        return backends.get("numpy").emit(fn)

    @staticmethod
    def build(source):
        return backends.get("numpy").build(source)


@pytest.fixture
def no_lgamma_backend(monkeypatch):
    monkeypatch.setitem(backends._registered, "no_lgamma", _NoLgammaBackend)
    return "no_lgamma"


def test_unsupported_op_fails_when_building(no_lgamma_backend):
    # supported ops build and run on the restricted backend ...
    f = symnum.numpify(sss.expit, (3,), backend=no_lgamma_backend)
    np.testing.assert_allclose(f(X[:3]), ss.expit(X[:3]))
    # ... an unsupported one fails when the function is built, not when it is called
    with pytest.raises(backends.UnsupportedOpError) as info:
        symnum.numpify(sss.gammaln, (3,), backend=no_lgamma_backend)
    assert "LGAMMA" in str(info.value)
    assert "no_lgamma" in str(info.value)
    # derivatives too: the Hessian of betaln needs polygamma, its value lgamma
    with pytest.raises(backends.UnsupportedOpError, match="LGAMMA"):
        symnum.gradient(
            lambda a: sss.betaln(a[0], a[1]), (2,), return_aux=True, backend=no_lgamma_backend
        )


def test_logsumexp_is_one_node_with_softmax_derivatives():
    x = named_array("x", 3)
    value = sss.logsumexp(x)
    assert type(value).__name__ == "LogSumExp"  # no max branches to differentiate
    gradient = symnum.diffops.symbolic.gradient(sss.logsumexp)(x)
    assert not any(e.has(sympy.Max, sympy.Piecewise) for e in gradient.flat)


def test_logsumexp_infinities_as_scipy(backend):
    def lse(a):
        return sss.logsumexp(a)

    f = symnum.numpify(lse, (3,), backend=backend)
    for case in ([-np.inf] * 3, [np.inf, 1.0, 2.0], [1e308, 1e308, -1.0], [-1e3, -1e3, -2e3]):
        values = np.array(case)
        np.testing.assert_allclose(f(values), ss.logsumexp(values), rtol=1e-15)
    hess = symnum.hessian(lse, (3,), backend=backend)
    values = np.array([0.3, -1.2, 2.0])
    weights = np.exp(values - ss.logsumexp(values))
    np.testing.assert_allclose(
        hess(values), np.diag(weights) - np.outer(weights, weights), rtol=1e-13, atol=1e-16
    )


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("ndtr", (np.nan,)),
        ("log_ndtr", (np.nan,)),
        ("xlogy", (np.nan, 2.0)),
        ("xlogy", (0.0, np.nan)),
        ("xlog1py", (np.nan, 0.5)),
        ("xlog1py", (0.0, np.nan)),
    ],
)
def test_nan_numbers_give_nan_like_scipy(name, args):
    # comparisons with a NaN number are false (SymPy's raise "Invalid NaN comparison")
    value = getattr(sss, name)(*args)
    assert np.isnan(float(value))
    assert np.isnan(getattr(ss, name)(*args))
