"""Models with data: constant arrays with a long leading axis stay one row template
(symnum.data), reductions over the rows become loops, and every backend runs them.

Structured results are checked against the unrolled ones (``data_threshold(0)``) for
every operator, against NumPy references and finite differences; new data of another
length reuse the compiled kernel; data travel with pickles; bad data get the errors
bad arguments get.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.special as sps
import sympy
from _profile import python_frames
from conftest import require_backend

import symnum
import symnum.diffops.symbolic as sd
import symnum.numpy as snp
from symnum import data as sdata
from symnum import ir, named_array, numpify
from symnum.array import SymbolicArray
from symnum.ir.interpret import evaluate
from symnum.scipy import special
from symnum.sym.data import DataMax, DataProd, DataSum

RNG = np.random.default_rng(20261201)
N, D = 40, 3
X = RNG.standard_normal((N, D))
Y = (RNG.random(N) < 0.5).astype(float)
COUNTS = RNG.poisson(2.0, N).astype(float)
POINTS = np.concatenate([RNG.normal(-2, 0.5, N // 2), RNG.normal(1.5, 0.7, N - N // 2)])
BETA = np.array([0.3, -0.2, 0.5])


def logistic(beta):
    z = X @ beta
    return snp.sum(snp.log1p(snp.exp(z)) - Y * z)


def logistic_ref(beta):
    z = X @ beta
    return np.sum(np.log1p(np.exp(z)) - Y * z)


def poisson(beta):
    eta = X @ beta
    return snp.sum(COUNTS * eta - snp.exp(eta) - special.gammaln(COUNTS + 1))


def poisson_ref(beta):
    eta = X @ beta
    return np.sum(COUNTS * eta - np.exp(eta) - sps.gammaln(COUNTS + 1))


def mixture(theta):
    # a 3-component 1-D Gaussian mixture: means theta[0:3], log-sds theta[3:6]
    means, log_sds = theta[:3], theta[3:]
    diffs = (POINTS[:, None] - means) / snp.exp(log_sds)
    log_dens = -0.5 * diffs**2 - log_sds - 0.5 * math.log(2 * math.pi) - math.log(3)
    return snp.sum(special.logsumexp(log_dens, axis=1))


def mixture_ref(theta):
    means, log_sds = theta[:3], theta[3:]
    diffs = (POINTS[:, None] - means) / np.exp(log_sds)
    log_dens = -0.5 * diffs**2 - log_sds - 0.5 * math.log(2 * math.pi) - math.log(3)
    return np.sum(sps.logsumexp(log_dens, axis=1))


THETA = np.array([-1.5, 0.0, 1.0, -0.3, 0.1, -0.2])


def _negative_binomial(np_, gammaln):
    """The model in a NumPy-like namespace: log-means X @ theta[:D], dispersion
    exp(theta[D]). With symnum the data meet symbolic scalars through NumPy's operators
    (COUNTS + r is ndarray.__add__), as users write it."""

    def log_lik(theta):
        r = np_.exp(theta[D])
        mu = np_.exp(X @ theta[:D])
        return np_.sum(
            gammaln(COUNTS + r)
            - gammaln(r)
            + r * np_.log(r / (r + mu))
            + COUNTS * np_.log(mu / (r + mu))
        )

    return log_lik


negative_binomial = _negative_binomial(snp, special.gammaln)
negative_binomial_ref = _negative_binomial(np, sps.gammaln)


def normal(theta):
    # unknown mean and log-scale of the points: (POINTS - theta[0]) / sigma
    sigma = snp.exp(theta[1])
    return snp.sum(-0.5 * ((POINTS - theta[0]) / sigma) ** 2 - theta[1])


def normal_ref(theta):
    return np.sum(-0.5 * ((POINTS - theta[0]) / np.exp(theta[1])) ** 2 - theta[1])


MODELS = {
    "logistic": (logistic, logistic_ref, BETA),
    "poisson": (poisson, poisson_ref, BETA),
    "mixture": (mixture, mixture_ref, THETA),
    "negative_binomial": (negative_binomial, negative_binomial_ref, np.append(BETA, 0.4)),
    "normal": (normal, normal_ref, np.array([0.2, 0.3])),
}


def _fd_gradient(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


# --------------------------------------------------------------------------------------
# The front end


def test_long_constant_becomes_a_data_array_and_short_one_does_not():
    beta = named_array("beta", D)
    z = X @ beta
    assert sdata.is_lazy(z)
    assert z.shape == (N,)
    assert z.template.shape == ()
    assert not sdata.is_lazy(X[:5] @ beta)  # 5 rows: below the threshold, unrolled
    total = snp.sum(snp.log1p(snp.exp(z)) - Y * z)
    assert isinstance(total, DataSum)


def test_constant_data_are_copied_and_the_callers_arrays_left_writeable():
    """Tracing binds a private copy: the caller may change (or reuse) its arrays
    afterwards, and the function keeps the values it was traced with."""
    features, labels = X.copy(), Y.copy()

    def model(beta):
        z = features @ beta
        return snp.sum(snp.log1p(snp.exp(z)) - labels * z)

    grad = symnum.gradient(model, (D,))
    beta = np.linspace(-0.2, 0.3, D)
    before = grad(beta)
    assert features.flags.writeable
    assert labels.flags.writeable
    features[:] = 0.0
    labels[:] = 1.0
    np.testing.assert_array_equal(grad(beta), before)


def test_read_only_constant_data_are_bound_without_a_copy():
    """An array read-only down to the memory it views is bound as it is; a read-only
    view of a writeable array, or a non-contiguous or non-float64 one, is copied."""
    frozen = X.copy()
    frozen.setflags(write=False)
    view_of_writeable = X.copy()[:]
    view_of_writeable.setflags(write=False)
    frozen_base = X.copy()
    frozen_base.setflags(write=False)
    view_of_frozen = frozen_base[:]
    from_bytes = np.frombuffer(X.tobytes(), dtype=np.float64).reshape(X.shape)
    strided = np.repeat(X, 2, axis=1)[:, ::2]
    strided.setflags(write=False)
    as_float32 = X.astype(np.float32)
    as_float32.setflags(write=False)
    for values, aliased in [
        (frozen, True),
        (view_of_frozen, True),
        (from_bytes, True),
        (view_of_writeable, False),
        (strided, False),
        (as_float32, False),
        (X.copy(), False),
    ]:
        source = sdata._constant_source(values)
        assert (source.values is values) == aliased
        assert not source.values.flags.writeable
        assert source.values.flags.c_contiguous
        assert source.values.dtype == np.float64
        np.testing.assert_array_equal(source.values, values.astype(np.float64))
    # bound to a function: same results as with a copy, and the array stays read-only
    beta = np.linspace(-0.2, 0.3, D)

    def softplus_sum(data):
        return lambda b: snp.sum(snp.log1p(snp.exp(data @ b)))

    grads = [symnum.gradient(softplus_sum(data), (D,))(beta) for data in (frozen, X.copy())]
    np.testing.assert_array_equal(grads[0], grads[1])
    assert not frozen.flags.writeable


def test_threshold_is_settable():
    beta = named_array("beta", D)
    with sdata.data_threshold(0):
        assert not sdata.is_lazy(X @ beta)
    with sdata.data_threshold(N + 1):
        assert not sdata.is_lazy(X @ beta)
    with sdata.data_threshold(N):
        assert sdata.is_lazy(X @ beta)
    with pytest.raises(ValueError, match="non-negative int"):
        sdata.set_data_threshold(-1)
    with pytest.raises(ValueError, match="non-negative int"), sdata.data_threshold(1.5):
        pass


def test_threshold_from_the_environment():
    code = (
        "import numpy as np, symnum, symnum.data as d;"
        "b = symnum.named_array('b', 2); print(d.is_lazy(np.ones((10, 2)) @ b))"
    )
    for value, expected in (("5", "True"), ("11", "False"), ("0", "False")):
        env = {"SYMNUM_DATA_THRESHOLD": value, "PATH": ""}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert out.stdout.strip() == expected


def _numeric(value, beta_symbols, beta_values):
    """Float values of symbolic elements (small expressions) by substitution."""
    rule = dict(zip(beta_symbols, beta_values.tolist(), strict=True))
    return np.array([float(e.xreplace(rule)) for e in value.flat])


def test_operations_that_need_rows_materialise_with_the_unrolled_values():
    beta = named_array("beta", D)
    lazy = snp.exp(X @ beta) * Y
    with sdata.data_threshold(0):
        unrolled = snp.exp(X @ beta) * Y
    assert sdata.is_lazy(lazy)
    expected = _numeric(unrolled, beta.flat, BETA)
    # a row, a slice of rows, a cumulative sum, a reshape and printing
    assert float(lazy[3].xreplace(dict(zip(beta.flat, BETA, strict=True)))) == pytest.approx(
        expected[3]
    )
    np.testing.assert_allclose(_numeric(lazy[5:9], beta.flat, BETA), expected[5:9])
    np.testing.assert_allclose(
        _numeric(snp.cumsum(lazy), beta.flat, BETA), np.cumsum(expected), rtol=1e-12
    )
    np.testing.assert_allclose(_numeric(lazy.reshape(N // 2, 2), beta.flat, BETA), expected)
    assert "exp" in str(lazy)
    assert not sdata.is_lazy(lazy)  # materialised for good


def test_columns_broadcasting_where_and_reductions_keep_the_template():
    beta = named_array("beta", D)
    data = sdata._from_constant(X)
    assert sdata.is_lazy(data[:, 1])
    assert sdata.is_lazy(data[:, 1:])
    scaled = data * beta  # (N, D) * (D,)
    assert sdata.is_lazy(scaled)
    assert scaled.shape == (N, D)
    chosen = snp.where(scaled > 0, scaled, 0.5 * scaled)
    assert sdata.is_lazy(chosen)
    per_row = snp.sum(chosen, axis=1)
    assert sdata.is_lazy(per_row)
    assert per_row.shape == (N,)
    per_column = snp.max(chosen, axis=0)
    assert per_column.shape == (D,)
    assert all(isinstance(e, DataMax) for e in per_column.flat)
    mean = snp.mean(per_row)
    assert mean.has(DataSum)  # a data sum over its count: DataSum(t) / DataSum(1)
    kept = snp.sum(chosen, axis=0, keepdims=True)
    assert kept.shape == (1, D)


SCALAR_FORMS = {
    "y + r": lambda y, r, s: y + r,
    "r + y": lambda y, r, s: r + y,
    "y * s": lambda y, r, s: y * s,
    "(y - s) / r": lambda y, r, s: (y - s) / r,
    "y ** r": lambda y, r, s: y**r,
    "r - y": lambda y, r, s: r - y,
    "where(y < s)": lambda y, r, s: snp.where(y < s, r, y),
    "np.logaddexp": lambda y, r, s: np.logaddexp(y, s),
    "snp.logaddexp": lambda y, r, s: snp.logaddexp(y, s),
    "np.add": lambda y, r, s: np.add(s, y),
}


@pytest.mark.parametrize("form", sorted(SCALAR_FORMS))
def test_data_meeting_symbolic_scalars_keep_the_template(form):
    """``y + r`` with ``r`` a SymPy scalar (an element of a symbolic array or a function
    of one) is ``ndarray.__add__``: the data must stay a template there too, with the
    values of the written-out form (0-d SymbolicArrays in their place)."""
    theta = named_array("theta", 2)
    r, s = snp.exp(theta[0]), theta[1]
    func = SCALAR_FORMS[form]
    lazy = func(COUNTS, r, s)
    assert sdata.is_lazy(lazy)
    assert lazy.shape == (N,)
    with sdata.data_threshold(0):
        unrolled = func(COUNTS, snp.array(r), snp.array(s))
    assert not sdata.is_lazy(unrolled)
    values = np.array([0.3, -0.4])
    np.testing.assert_allclose(
        _numeric(lazy, theta.flat, values), _numeric(unrolled, theta.flat, values), rtol=1e-14
    )


def test_numpys_own_results_with_symbolic_scalars_are_unchanged():
    """Where no data array forms, NumPy's ufuncs treat SymPy operands as before the
    hook: 0-d object arrays, elementwise on the objects."""
    x, z = sympy.symbols("x z")
    small = np.array([1.0, 2.0])
    assert np.float64(2.0) * x == 2.0 * x
    assert np.int64(3) + x == x + 3
    assert np.add(x, z) == x + z
    for result in (small + x, x + small, np.add(small, x, out=np.empty(2, dtype=object))):
        assert type(result) is np.ndarray
        assert result.dtype == object
        assert list(result) == [x + 1.0, x + 2.0]
    assert np.add.reduce(np.array([x, z])) == x + z
    with pytest.raises(TypeError, match="no callable exp method"):
        np.exp(x)
    with pytest.raises(TypeError, match="truth value"):
        np.maximum(small, x)
    # 40 rows with the feature off: NumPy's written-out object array
    with sdata.data_threshold(0):
        written = np.arange(40.0) * x
    assert type(written) is np.ndarray
    assert written[3] == 3.0 * x
    # a long array of objects is not data, nor are numbers without symbols
    assert type(np.array([x] * 40, dtype=object) + z) is np.ndarray
    assert type(np.arange(40.0) * sympy.pi) is np.ndarray
    assert not sdata.is_lazy(snp.add(np.arange(40.0), sympy.Float(2.0)))


def test_sum_and_prod_methods_of_data_arrays_are_loops():
    beta = named_array("beta", D)
    z = X @ beta
    assert isinstance(z.sum(), DataSum)
    assert isinstance(np.sum(z), DataSum)  # NumPy calls the method
    assert isinstance(np.prod(snp.exp(z)), DataProd)
    assert isinstance(np.max(z), DataMax)  # and the other reductions NumPy delegates
    assert np.mean(z).has(DataSum)
    assert np.std(z, ddof=1).has(DataSum)
    assert sdata.is_lazy(z)
    per_column = (X * beta).sum(axis=0)
    assert per_column.shape == (D,)
    assert all(isinstance(e, DataSum) for e in per_column.flat)
    assert sdata.is_lazy((X * beta).sum(axis=1))
    assert z.sum(keepdims=True).shape == (1,)
    structured = numpify(lambda b: (X @ b).sum(), (D,))
    assert structured._data_params
    with sdata.data_threshold(0):
        written = numpify(lambda b: (X @ b).sum(), (D,))
    np.testing.assert_allclose(structured(BETA), written(BETA), rtol=1e-13)


GROUPS = RNG.integers(-4, 4, N)  # negative group numbers too, as NumPy allows


def random_intercepts(theta):
    # four group intercepts theta[:4] (picked per row by GROUPS), slopes theta[4:4 + D]
    fitted = theta[:4][GROUPS] + X @ theta[4:]
    return snp.sum((POINTS - fitted) ** 2) + snp.sum(theta[:4] ** 2)


def test_index_arrays_of_data_pick_parameters_per_row():
    alpha = named_array("alpha", 4)
    picked = alpha[GROUPS]
    assert sdata.is_lazy(picked)
    assert picked.shape == (N,)
    values = np.array([0.5, -1.0, 2.0, 3.5])
    np.testing.assert_array_equal(_numeric(picked, alpha.flat, values), values[GROUPS])
    rows = named_array("rows", (4, 2))[GROUPS]  # a row of parameters per data row
    assert sdata.is_lazy(rows)
    assert rows.shape == (N, 2)
    table = np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(
        _numeric(rows, named_array("rows", (4, 2)).flat, table.ravel()),
        table[GROUPS].ravel(),
    )
    # written out: short, float or 2-D index arrays, too many choices
    assert not sdata.is_lazy(alpha[GROUPS[:5]])
    assert not sdata.is_lazy(alpha[np.stack([GROUPS, GROUPS])])
    with pytest.raises(IndexError):
        alpha[GROUPS.astype(float)]
    many = named_array("many", sdata.GATHER_MAX_CHOICES + 1)
    assert not sdata.is_lazy(many[np.arange(N)])
    # out of bounds: NumPy's IndexError, naming the index
    with pytest.raises(IndexError, match="invalid index"):
        alpha[np.where(GROUPS == 0, 4, GROUPS)]


def test_picked_parameters_keep_non_finite_values_in_their_own_rows(backend):
    picked = numpify(lambda a: a[GROUPS] * 2.0, (4,), backend=backend)
    assert picked._data_params
    values = np.array([np.inf, 1.0, np.nan, -2.5])
    np.testing.assert_array_equal(picked(values), values[GROUPS] * 2.0)


CLASSES = RNG.integers(-3, 3, N)  # the observed class of each row, 3 classes


def _softmax_regression(np_, logsumexp, pick):
    def neg_log_lik(w):
        logits = X @ w.reshape(D, 3)
        log_probs = logits - logsumexp(logits, axis=1, keepdims=True)
        return -np_.sum(pick(np_, log_probs))

    return neg_log_lik


def test_multinomial_rows_pick_their_observed_class():
    weights = named_array("w", (D, 3))
    logits = X @ weights
    picked = logits[np.arange(N), CLASSES]
    assert sdata.is_lazy(picked)
    assert picked.shape == (N,)
    taken = snp.take_along_axis(logits, CLASSES[:, None], axis=1)
    assert sdata.is_lazy(taken)
    assert taken.shape == (N, 1)
    values = np.linspace(-1, 1, 3 * D)
    expected = (X @ values.reshape(D, 3))[np.arange(N), CLASSES]
    np.testing.assert_allclose(_numeric(picked, weights.flat, values), expected, rtol=1e-14)
    np.testing.assert_allclose(_numeric(taken, weights.flat, values), expected, rtol=1e-14)
    # other indices write the rows out, as before: rows not in order, a second axis
    assert not sdata.is_lazy(logits[np.arange(N)[::-1], CLASSES])
    assert not sdata.is_lazy(snp.take_along_axis(logits, np.zeros((N, 2), int), axis=1))
    with pytest.raises(IndexError):
        logits[np.arange(N), np.where(CLASSES == 0, 3, CLASSES)]


@pytest.mark.parametrize("form", ["index", "take_along_axis"])
def test_softmax_regression_matches_the_written_out_model(backend, form):
    def pick(np_, log_probs):
        if form == "index":
            return log_probs[np.arange(N), CLASSES]
        return np_.take_along_axis(log_probs, CLASSES[:, None], axis=1)

    model = _softmax_regression(snp, special.logsumexp, pick)
    hess = numpify(sd.hessian(model, return_aux=True), (3 * D,), backend=backend)
    assert hess._data_params
    with sdata.data_threshold(0):
        unrolled = numpify(sd.hessian(model, return_aux=True), (3 * D,))
    point = np.linspace(-0.5, 0.7, 3 * D)
    _assert_tree_close(hess(point), unrolled(point), 1e-12)
    reference = _softmax_regression(np, sps.logsumexp, pick)
    np.testing.assert_allclose(hess(point)[2], reference(point), rtol=1e-13)


def test_random_intercepts_match_the_written_out_model(backend):
    hess = numpify(sd.hessian(random_intercepts, return_aux=True), (4 + D,), backend=backend)
    assert hess._data_params
    with sdata.data_threshold(0):
        unrolled = numpify(sd.hessian(random_intercepts, return_aux=True), (4 + D,))
    point = np.array([0.3, -0.5, 1.2, 0.1, *BETA])
    _assert_tree_close(hess(point), unrolled(point), 1e-12)

    # the gradient against NumPy's model and finite differences
    def reference(theta):
        fitted = theta[:4][GROUPS] + X @ theta[4:]
        return np.sum((POINTS - fitted) ** 2) + np.sum(theta[:4] ** 2)

    np.testing.assert_allclose(hess(point)[2], reference(point), rtol=1e-13)
    np.testing.assert_allclose(hess(point)[1], _fd_gradient(reference, point), rtol=1e-6, atol=1e-6)


def test_random_effects_of_two_groups_have_no_second_derivative_term():
    """A row picks one group's effect, so the second derivative with respect to two
    groups' effects is zero in every row: exactly zero, not a loop reduction each (the
    square of the number of groups per row)."""
    theta = named_array("theta", 4 + D)
    hess = sd.hessian(random_intercepts)(theta)
    for j in range(4):
        for k in range(4):
            assert (hess[j, k] == 0) == (j != k), (j, k)
    assert all(isinstance(hess[j, j], sympy.Add) or hess[j, j].has(DataSum) for j in range(4))
    compiled = numpify(sd.hessian(random_intercepts), (4 + D,))
    (loop,) = [s for s in compiled.ir.body if isinstance(s, ir.Loop)]
    pairs = (4 + D) * (5 + D) // 2  # the distinct entries of the symmetric Hessian
    assert len(loop.reductions) == pairs - 4 * 3 // 2


def _cut_points(np_, theta):
    # ordinal regression: class k of a row lies between cut points k - 1 and k, the
    # outer ones -inf and inf (constants picked per row alongside parameters)
    lower = np_.concatenate([np_.array([-np.inf]), theta[:2]])[CLASSES % 3]
    upper = np_.concatenate([theta[:2], np_.array([np.inf])])[CLASSES % 3]
    return lower, upper


def _ordinal_logit(np_, expit):
    def neg_log_lik(theta):
        lower, upper = _cut_points(np_, theta)
        eta = X @ theta[2:]
        return -np_.sum(np_.log(expit(upper - eta) - expit(lower - eta)))

    return neg_log_lik


def test_gathered_infinite_cut_points_match_the_written_out_model(backend):
    """An ordinal regression whose outer cut points are -inf and inf: finite derivatives,
    those of the written-out model."""
    model = _ordinal_logit(snp, special.expit)
    hess = numpify(sd.hessian(model, return_aux=True), (2 + D,), backend=backend)
    assert hess._data_params
    with sdata.data_threshold(0):
        unrolled = numpify(sd.hessian(model, return_aux=True), (2 + D,))
    point = np.array([-0.5, 0.8, *BETA])
    _assert_tree_close(hess(point), unrolled(point), 1e-12)
    assert all(np.isfinite(part).all() for part in hess(point))
    reference = _ordinal_logit(np, sps.expit)
    np.testing.assert_allclose(hess(point)[2], reference(point), rtol=1e-13)
    np.testing.assert_allclose(hess(point)[1], _fd_gradient(reference, point), rtol=1e-6, atol=1e-6)


def _picked_roots(np_, theta):
    # rows of class 0 pick the constant 0, where sqrt's derivative is infinite
    return np_.sum(np_.sqrt(np_.concatenate([np_.array([0.0]), theta])[CLASSES % 3]))


def test_rows_picking_a_constant_do_not_depend_on_the_parameters(backend):
    """The derivative of a row that picks a constant is zero, as written out, even where
    the chain rule's other factor is not finite there (not 0 * inf = NaN)."""
    model = functools.partial(_picked_roots, snp)
    grad = numpify(sd.gradient(model, return_aux=True), (2,), backend=backend)
    assert grad._data_params
    with sdata.data_threshold(0):
        unrolled = numpify(sd.gradient(model, return_aux=True), (2,))
    point = np.array([0.7, 2.5])
    _assert_tree_close(grad(point), unrolled(point), 1e-13)
    counts = np.bincount(CLASSES % 3, minlength=3)[1:]
    np.testing.assert_allclose(grad(point)[0], counts * 0.5 / np.sqrt(point), rtol=1e-13)


INTEGER_COUNTS = RNG.poisson(3.0, N)  # integers, as count data come


def _poisson_counts(np_, gammaln):
    def neg_log_lik(beta):
        eta = X @ beta
        return -np_.sum(INTEGER_COUNTS * eta - np_.exp(eta) - gammaln(INTEGER_COUNTS + 1))

    return neg_log_lik


def test_functions_of_constant_data_alone_are_data(backend):
    """In a traced function, gammaln(y + 1) of integer counts is a row template (a
    function of the data), not one exact SymPy value per row that every later operation
    writes out; outside one, the values it always had."""
    with sdata.tracing():
        constant = special.gammaln(INTEGER_COUNTS + 1)
        assert sdata.is_lazy(constant)
        assert sdata.is_lazy(snp.log(INTEGER_COUNTS + 1.0) * named_array("s", ()))
        assert not sdata.is_lazy(special.gammaln(INTEGER_COUNTS[:5] + 1))  # short
    written = special.gammaln(INTEGER_COUNTS + 1)
    assert not sdata.is_lazy(written)
    assert written.flat[0] == sympy.loggamma(int(INTEGER_COUNTS[0]) + 1)  # exact, as before
    # read in a trace: the values of the written-out array
    np.testing.assert_array_equal(np.array(constant.flat), np.array(written.flat))
    model = _poisson_counts(snp, special.gammaln)
    hess = numpify(sd.hessian(model, return_aux=True), (D,), backend=backend)
    assert hess._data_params
    reference = _poisson_counts(np, sps.gammaln)
    np.testing.assert_allclose(hess(BETA)[2], reference(BETA), rtol=1e-13)
    np.testing.assert_allclose(hess(BETA)[1], _fd_gradient(reference, BETA), rtol=1e-6, atol=1e-6)


ROWS3 = RNG.standard_normal((N, 2, D))

#: einsum / tensordot with data, in a NumPy-like namespace, of (t (D,), w (D, 2))
DATA_CONTRACTIONS = {
    "nd,d->n": lambda np_, t, w: np_.einsum("nd,d->n", X, t),
    "nd,d (implicit)": lambda np_, t, w: np_.einsum("nd, d", X, t),
    "n,nd->d": lambda np_, t, w: np_.einsum("n,nd->d", X @ t, X),
    "nd,dk->nk": lambda np_, t, w: np_.einsum("nd,dk->nk", X, w),
    "nd,nd->n": lambda np_, t, w: np_.einsum("nd,nd->n", X, X * t),
    "nd,nd->": lambda np_, t, w: np_.einsum("nd,nd->", X, X * t),
    "njd,d->nj": lambda np_, t, w: np_.einsum("njd,d->nj", ROWS3, t),
    "tensordot 1": lambda np_, t, w: np_.tensordot(X, t, axes=1),
    "tensordot rows": lambda np_, t, w: np_.tensordot(X @ t, X, axes=([0], [0])),
    "tensordot (1, 0)": lambda np_, t, w: np_.tensordot(X, w, axes=([1], [0])),
    # the data axis of a constant elsewhere than first, and broadcast axes
    "dn,d->n (X.T)": lambda np_, t, w: np_.einsum("dn,d->n", X.T, t),
    "t @ X.T": lambda np_, t, w: t @ X.T,
    "dot(t, X.T)": lambda np_, t, w: np_.dot(t, X.T),
    "d,nd->n": lambda np_, t, w: np_.einsum("d,nd->n", t, X),
    "...d,d->...": lambda np_, t, w: np_.einsum("...d,d->...", X, t),
    "...d,dk (implicit)": lambda np_, t, w: np_.einsum("...d,dk", X, w),
    "n...,n...->...": lambda np_, t, w: np_.einsum("n...,n...->...", X @ t, X),
    # NumPy's other names for the same contractions
    "matmul(X, w)": lambda np_, t, w: np_.matmul(X, w),
    "inner(X, t)": lambda np_, t, w: np_.inner(X, t),
    "inner(t, X)": lambda np_, t, w: np_.inner(t, X),
    "vdot(Y, X @ t)": lambda np_, t, w: np_.vdot(Y, X @ t),
    "vdot(X @ t, Y)": lambda np_, t, w: np_.vdot(X @ t, Y),
}


@pytest.mark.parametrize("form", sorted(DATA_CONTRACTIONS))
def test_einsum_and_tensordot_keep_the_data_axis(form):
    contraction = DATA_CONTRACTIONS[form]
    t, w = named_array("t", D), named_array("w", (D, 2))
    result = contraction(snp, t, w)
    if isinstance(result, SymbolicArray) and not sdata.is_lazy(result):
        assert all(e.has(DataSum) for e in result.flat)  # a data sum per element
    else:
        assert sdata.is_lazy(result) or isinstance(result, DataSum)
    compiled = numpify(lambda t, w: contraction(snp, t, w), (D,), (D, 2))
    assert compiled._data_params
    t_value, w_value = np.array([0.3, -1.1, 0.7]), np.arange(6.0).reshape(D, 2) / 5
    np.testing.assert_allclose(
        compiled(t_value, w_value), contraction(np, t_value, w_value), rtol=1e-13, atol=1e-13
    )


#: elementwise operations with long constants whose rows are not their first axis, of
#: t (D,) and s (D, N), in a NumPy-like namespace: written out, with NumPy's values
ROWS_ELSEWHERE = {
    "X.T * t[:, None]": lambda np_, t, s: X.T * t[:, None],
    "exp(X.T * t[0])": lambda np_, t, s: np_.exp(X.T * t[0]),
    "where(X.T > 0, t[:, None], 0)": lambda np_, t, s: np_.where(X.T > 0, t[:, None], 0.0),
    "Y * s": lambda np_, t, s: Y * s,
    "maximum(X.T, s)": lambda np_, t, s: np_.maximum(X.T, s),
}


@pytest.mark.parametrize("form", sorted(ROWS_ELSEWHERE))
def test_constants_with_their_rows_on_another_axis_are_written_out(form):
    operation = ROWS_ELSEWHERE[form]
    result = operation(snp, named_array("t", D), named_array("s", (D, N)))
    assert not sdata.is_lazy(result)
    assert result.shape == (D, N)
    t_value, s_value = np.array([0.3, -1.1, 0.7]), RNG.standard_normal((D, N))
    compiled = numpify(lambda t, s: operation(snp, t, s), (D,), (D, N))
    np.testing.assert_allclose(
        compiled(t_value, s_value), operation(np, t_value, s_value), rtol=1e-15
    )


@pytest.mark.parametrize(
    ("contraction", "error"),
    [
        (lambda t: snp.einsum("dn,d->n", X.T, t[:2]), "size"),
        (lambda t: snp.einsum("...d,d->...", X, t[:2]), "size"),
        (lambda t: snp.einsum("....d,d", X, t), "ellipsis"),
        (lambda t: snp.inner(X, t[:2]), "not aligned"),
        (lambda t: t[:2] @ X.T, "not aligned"),
        (lambda t: snp.vdot(Y[:-1], X @ t), "different lengths"),
    ],
)
def test_contractions_with_data_report_mismatched_shapes(contraction, error):
    """Operands that do not fit get the written-out contraction's ValueError."""
    with pytest.raises(ValueError, match=error):
        contraction(named_array("t", D))


#: moments and norms over data, in a NumPy-like namespace, of a (N, D) data array
DATA_MOMENTS = {
    "var": lambda np_, z: np_.var(z),
    "var axis 0 ddof 1": lambda np_, z: np_.var(z, axis=0, ddof=1),
    "std keepdims": lambda np_, z: np_.std(z, axis=0, keepdims=True),
    "std axis 1": lambda np_, z: np_.std(z, axis=1),
    "norm": lambda np_, z: np_.linalg.norm(z),
    "norm axis 0": lambda np_, z: np_.linalg.norm(z, axis=0),
    "norm fro": lambda np_, z: np_.linalg.norm(z, "fro"),
    "norm 1 axis 0": lambda np_, z: np_.linalg.norm(z, 1, axis=0),
    "norm inf axis 0": lambda np_, z: np_.linalg.norm(z, np.inf, axis=0, keepdims=True),
    "norm 0 axis 0": lambda np_, z: np_.linalg.norm(z, 0, axis=0),
    "norm 3 of a column": lambda np_, z: np_.linalg.norm(z[:, 1], 3),
}


@pytest.mark.parametrize("form", sorted(DATA_MOMENTS))
def test_moments_and_norms_of_data_are_loops(form):
    moment = DATA_MOMENTS[form]
    data = X * named_array("t", D)
    moment(snp, data)
    assert sdata.is_lazy(data)  # nothing needed the rows
    compiled = numpify(lambda t: moment(snp, X * t), (D,))
    t_value = np.array([0.3, -1.1, 0.7])
    np.testing.assert_allclose(compiled(t_value), moment(np, X * t_value), rtol=1e-13)


def test_standard_deviation_of_data_arguments():
    def spread(t, rows):
        return snp.std(rows @ t, ddof=1) + snp.var(rows * t, axis=0)[1]

    compiled = numpify(spread, (D,), (None, D))
    t_value = np.array([0.3, -1.1, 0.7])
    for rows in (X, X[:7]):
        expected = np.std(rows @ t_value, ddof=1) + np.var(rows * t_value, axis=0)[1]
        np.testing.assert_allclose(compiled(t_value, rows), expected, rtol=1e-13)


#: operations on each row of data (shape changes, joins, running sums along a row) in a
#: NumPy-like namespace, of m = X * t (N, D) and v = X @ t (N,)
PER_ROW = {
    "v[:, None]": lambda np_, m, v: v[:, None] - np.array([1.0, 2.0]),
    "v[..., None]": lambda np_, m, v: v[..., None],
    "m[:, None, 1:]": lambda np_, m, v: m[:, None, 1:],
    "reshape(-1, 1)": lambda np_, m, v: v.reshape(-1, 1),
    "reshape(N, D, 1)": lambda np_, m, v: np_.reshape(m, (N, D, 1)),
    "expand_dims": lambda np_, m, v: np_.expand_dims(m, -1),
    "stack axis 1": lambda np_, m, v: np_.stack([v, X[:, 0]], axis=1),
    "column_stack": lambda np_, m, v: np_.column_stack([v, v * v]),
    "concatenate axis 1": lambda np_, m, v: np_.concatenate([m, m], axis=1),
    "swapaxes": lambda np_, m, v: np_.swapaxes(m[:, None, :], 1, 2),
    "flip axis 1": lambda np_, m, v: np_.flip(m, axis=1),
    "repeat axis 1": lambda np_, m, v: np_.repeat(m, 2, axis=1),
    "cumsum axis 1": lambda np_, m, v: np_.cumsum(m, axis=1),
    "diff axis -1": lambda np_, m, v: np_.diff(m, 2),
    "ravel (N, 1)": lambda np_, m, v: np_.ravel(v[:, None]),
    "flatten (N, 1)": lambda np_, m, v: v[:, None].flatten(),
}
#: ... and operations that mix rows: written out, with the same values
ROWS_MIXED = {
    "reshape(-1)": lambda np_, m, v: m.reshape(-1),
    "transpose": lambda np_, m, v: m.T,
    "concatenate axis 0": lambda np_, m, v: np_.concatenate([v, v]),
    "cumsum axis 0": lambda np_, m, v: np_.cumsum(m, axis=0),
    "flip axis 0": lambda np_, m, v: np_.flip(m, axis=0),  # N rows, but reversed
    "v[None]": lambda np_, m, v: v[None],
    "ravel (N, D)": lambda np_, m, v: np_.ravel(m),
}


@pytest.mark.parametrize("form", sorted(PER_ROW) + sorted(ROWS_MIXED))
def test_operations_on_each_row_keep_the_data_axis(form):
    operation = PER_ROW.get(form) or ROWS_MIXED[form]
    t = named_array("t", D)
    data = X * t
    assert data.size == N * D  # the size of a data array leaves it one template
    result = operation(snp, data, X @ t)
    assert sdata.is_lazy(result) == (form in PER_ROW)
    compiled = numpify(lambda t: operation(snp, X * t, X @ t), (D,))
    assert bool(compiled._data_params) == (form in PER_ROW)
    t_value = np.array([0.3, -1.1, 0.7])
    expected = operation(np, X * t_value, X @ t_value)
    np.testing.assert_allclose(compiled(t_value), expected, rtol=1e-13, atol=1e-15)


def test_rearranged_rows_must_all_take_the_same_elements_of_their_own_row():
    data = X * named_array("t", D)
    rows = np.arange(N)[:, None] * D
    picks = rows + np.array([2, 0])
    assert sdata.is_lazy(sdata.rearranged(data, picks))  # every row: (t2, t0)
    swapped = picks.copy()
    swapped[5] = swapped[5, ::-1]  # row 5 alone takes (t0, t2)
    assert sdata.rearranged(data, swapped) is None
    assert sdata.rearranged(data, picks[::-1]) is None  # rows reversed
    assert sdata.rearranged(data, picks[:-1]) is None  # a row fewer


def test_per_row_broadcasting_of_data_arguments():
    def mixture_like(t, rows):
        diffs = (rows @ t)[:, None] - np.array([-1.0, 0.5, 2.0])
        return snp.sum(special.logsumexp(-0.5 * diffs**2, axis=1))

    compiled = numpify(mixture_like, (D,), (None, D))
    t_value = np.array([0.3, -1.1, 0.7])
    for rows in (X, X[:9]):
        diffs = (rows @ t_value)[:, None] - np.array([-1.0, 0.5, 2.0])
        expected = np.sum(sps.logsumexp(-0.5 * diffs**2, axis=1))
        np.testing.assert_allclose(compiled(t_value, rows), expected, rtol=1e-13)


def test_einsum_model_matches_the_written_out_one(backend):
    def model(beta):
        z = snp.einsum("nd,d->n", X, beta)
        return snp.sum(snp.log1p(snp.exp(z)) - Y * z) + snp.einsum("n,n->", Y, z)

    grad = numpify(sd.value_and_grad(model), (D,), backend=backend)
    assert grad._data_params
    with sdata.data_threshold(0):
        unrolled = numpify(sd.value_and_grad(model), (D,))
    _assert_tree_close(grad(BETA), unrolled(BETA), 1e-12)


def test_contractions_over_the_data_axis():
    beta = named_array("beta", D)
    r = Y - special.expit(X @ beta)  # a data vector
    grad_by_hand = X.T @ r
    assert grad_by_hand.shape == (D,)
    assert all(isinstance(e, DataSum) for e in grad_by_hand.flat)
    assert all(isinstance(e, DataSum) for e in (r @ X).flat)
    assert isinstance(snp.dot(r, Y), DataSum)


# --------------------------------------------------------------------------------------
# The IR: loops, fusion, the interpreter


def _ir_of(func, *shapes):
    from symnum import codegen

    names = codegen._get_func_arg_names(func)
    args = tuple(codegen._symbolic_argument(n, s) for n, s in zip(names, shapes, strict=True))
    raw = getattr(func, "_symnum_raw", func)
    with sdata.tracing():
        traced = raw(*args)
    infos = codegen._input_info(args)
    return codegen._build_ir(infos, codegen._output_spec(traced), "f", False)


def test_hessian_is_one_fused_loop_and_matches_the_reference():
    fn, data = _ir_of(sd.hessian(logistic, return_aux=True), (D,))
    loops = [s for s in fn.body if isinstance(s, ir.Loop)]
    assert len(loops) == 1  # value, gradient and Hessian sums in one pass
    assert len(data) == 2
    assert data[0].shape == (N, D)
    assert data[1].shape == (N,)
    hess, grad, val = evaluate(fn, BETA, *data)
    z = X @ BETA
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(val, logistic_ref(BETA), rtol=1e-12)
    np.testing.assert_allclose(grad, X.T @ (p - Y), rtol=1e-12)
    np.testing.assert_allclose(hess, (X.T * (p * (1 - p))) @ X, rtol=1e-12)
    # the IR does not depend on the data's values or length
    assert repr(float(X[0, 0])) not in repr(fn)
    other = RNG.standard_normal((3 * N, D))

    def same_model(beta):
        z = other @ beta
        return snp.sum(snp.log1p(snp.exp(z)) - np.ones(3 * N) * z)

    fn_other, _ = _ir_of(sd.hessian(same_model, return_aux=True), (D,))
    assert fn_other == fn


def test_mixture_is_one_pass():
    # logsumexp over the components is per row: one loop for value and gradient
    fn, data = _ir_of(sd.gradient(mixture, return_aux=True), (6,))
    assert sum(isinstance(s, ir.Loop) for s in fn.body) == 1
    grad, val = evaluate(fn, THETA, *data)
    np.testing.assert_allclose(val, mixture_ref(THETA), rtol=1e-12)
    np.testing.assert_allclose(grad, _fd_gradient(mixture_ref, THETA), rtol=1e-6, atol=1e-8)


def _mixture_posterior(theta):
    # -sum(...) + prior: each derivative entry holds its sum over the rows below its top
    return -mixture(theta) + snp.sum(theta**2) / 2


@pytest.mark.parametrize(
    ("operator", "distinct"),
    [("hessian", 21), ("matrix_tressian_product", 56)],  # n(n+1)/2, n(n+1)(n+2)/6; n = 6
)
def test_symmetric_derivatives_sum_each_distinct_entry_once(operator, distinct):
    # entries that differ in the order of their indices are one sum over the rows, also
    # when the sum is inside the entry (-sum + prior), not the entry itself (there were
    # 24 and 80 sums)
    fn, _ = _ir_of(getattr(sd, operator)(_mixture_posterior), (6,))
    loops = [s for s in fn.body if isinstance(s, ir.Loop)]
    assert sum(len(loop.reductions) for loop in loops) == distinct


def test_mixture_hessian_is_exactly_symmetric_and_matches_finite_differences():
    fn, data = _ir_of(sd.hessian(_mixture_posterior), (6,))
    hess = evaluate(fn, THETA, *data)
    np.testing.assert_array_equal(hess, hess.T)

    def grad(theta):
        return _fd_gradient(lambda t: -mixture_ref(t) + t @ t / 2, theta, h=1e-5)

    fd = np.array([(grad(THETA + 1e-4 * e) - grad(THETA - 1e-4 * e)) / 2e-4 for e in np.eye(6)])
    np.testing.assert_allclose(hess, fd, rtol=1e-4, atol=1e-4)


def test_tressian_product_adds_the_equal_entries_of_m_first():
    # mtp(m)[k] = sum_ij T[i, j, k] m[i, j] with T[i, j, k] == T[j, i, k]: one product
    # per distinct entry, T[i, j, k] * (m[i, j] + m[j, i]): 21 terms, not 36
    theta = named_array("theta", 6)
    with sdata.tracing():
        mtp = sd.matrix_tressian_product(_mixture_posterior)(theta)
    m = set(mtp.args[0].flat)
    for entry in mtp.return_val.flat:
        reads = sorted(len(term.free_symbols & m) for term in sympy.Add.make_args(entry))
        assert reads == [1] * 6 + [2] * 15


def _log_mean_exp(beta):
    z = X @ beta
    return special.logsumexp(z) - snp.log(snp.sum(0 * z + 1))  # log of the count


def _log_mean_exp_ref(beta):
    return sps.logsumexp(X @ beta) - math.log(N)


def test_logsumexp_over_the_rows_takes_more_passes():
    # the maximum first, then the sum of exp(z - max); the derivative of the maximum
    # needs a pass of its own
    fn, data = _ir_of(sd.gradient(_log_mean_exp, return_aux=True), (D,))
    assert sum(isinstance(s, ir.Loop) for s in fn.body) == 3
    grad, val = evaluate(fn, BETA, *data)
    np.testing.assert_allclose(val, _log_mean_exp_ref(BETA), rtol=1e-12)
    weights = np.exp(X @ BETA - sps.logsumexp(X @ BETA))
    np.testing.assert_allclose(grad, X.T @ weights, rtol=1e-12)


def test_data_outputs_for_residuals_and_their_jacobian():
    def residuals(beta):
        return Y - X @ beta

    fn, data = _ir_of(sd.jacobian(residuals, return_aux=True), (D,))
    outputs = list(ir.iter_outputs(fn.outputs))
    assert all(out.data for out in outputs)
    jac, res = evaluate(fn, BETA, *data)
    np.testing.assert_allclose(res, Y - X @ BETA, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jac, -X, rtol=0, atol=0)


# --------------------------------------------------------------------------------------
# Every backend, every operator: structured against unrolled


OPERATORS = ["gradient", "hessian", "jvp", "vjp", "hvp", "mhp", "mtp", "value_and_grad"]


def _operator(name, func):
    table = {
        "gradient": lambda: sd.gradient(func, return_aux=True),
        "hessian": lambda: sd.hessian(func, return_aux=True),
        "jvp": lambda: sd.jacobian_vector_product(func, return_aux=True),
        "vjp": lambda: sd.vector_jacobian_product(func, return_aux=True),
        "hvp": lambda: sd.hessian_vector_product(func, return_aux=True),
        "mhp": lambda: sd.matrix_hessian_product(func, return_aux=True),
        "mtp": lambda: sd.matrix_tressian_product(func, return_aux=True),
        "value_and_grad": lambda: sd.value_and_grad(func),
    }
    return table[name]()


def _apply(result, operator, size):
    """Call operator-valued results on a fixed vector / matrix; leave arrays."""
    if isinstance(result, tuple):
        return tuple(_apply(r, operator, size) for r in result)
    if callable(result):
        if operator in ("mhp", "mtp"):
            arg = np.linspace(-1, 1, size * size).reshape(size, size)
        elif operator == "vjp":
            arg = np.float64(0.7)
        else:
            arg = np.linspace(-1, 1, size)
        return np.asarray(result(arg))
    return np.asarray(result)


def _assert_tree_close(a, b, rtol):
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_tree_close(x, y, rtol)
        return
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("operator", OPERATORS)
def test_structured_matches_unrolled(backend, operator):
    func, _, point = MODELS["logistic"]
    structured = numpify(_operator(operator, func), (D,), backend=backend)
    assert any(p.data for p in structured.ir.params)
    with sdata.data_threshold(0):
        unrolled = numpify(_operator(operator, func), (D,), backend=backend)
    assert not any(p.data for p in unrolled.ir.params)
    _assert_tree_close(
        _apply(structured(point), operator, D), _apply(unrolled(point), operator, D), 1e-10
    )


@pytest.mark.parametrize("model", sorted(MODELS))
def test_values_and_gradients_match_references(backend, model):
    func, reference, point = MODELS[model]
    vg = numpify(sd.value_and_grad(func), (point.size,), backend=backend)
    # structured: every constant (gammaln(counts + 1) too) is a data parameter, one loop
    assert vg._data_params
    assert sum(isinstance(s, ir.Loop) for s in vg.ir.body) == 1
    value, grad = vg(point)
    np.testing.assert_allclose(value, reference(point), rtol=1e-11)
    np.testing.assert_allclose(grad, _fd_gradient(reference, point), rtol=1e-6, atol=1e-7)
    # against the interpreter
    ref_value, ref_grad = evaluate(vg.ir, point, *vg._data)
    np.testing.assert_allclose(value, ref_value, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-11, atol=1e-14)


def test_hessian_of_mixture_matches_finite_differences(backend):
    hess = numpify(sd.hessian(mixture), (6,), backend=backend)
    grad = numpify(sd.gradient(mixture), (6,), backend="numpy")
    expected = np.array(
        [(grad(THETA + 1e-6 * e) - grad(THETA - 1e-6 * e)) / 2e-6 for e in np.eye(6)]
    )
    np.testing.assert_allclose(hess(THETA), expected, rtol=1e-5, atol=1e-6)


def test_batches_of_parameters(backend):
    hess = numpify(sd.hessian(logistic, return_aux=True), (D,), backend=backend)
    points = np.stack([BETA, -BETA, 0.5 * BETA])
    h, g, v = hess(points)
    assert h.shape == (3, D, D)
    assert g.shape == (3, D)
    assert v.shape == (3,)
    for k, point in enumerate(points):
        hk, gk, vk = hess(point)
        np.testing.assert_allclose(h[k], hk, rtol=1e-13)
        np.testing.assert_allclose(g[k], gk, rtol=1e-13)
        np.testing.assert_allclose(v[k], vk, rtol=1e-13)


def test_residual_jacobian_on_every_backend(backend):
    def residuals(beta):
        return Y - snp.tanh(X @ beta)

    jac = numpify(sd.jacobian(residuals, return_aux=True), (D,), backend=backend)
    j, r = jac(BETA)
    assert j.shape == (N, D)
    assert r.shape == (N,)
    t = np.tanh(X @ BETA)
    np.testing.assert_allclose(r, Y - t, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(j, -(1 - t**2)[:, None] * X, rtol=1e-12, atol=1e-15)
    jb, rb = jac(np.stack([BETA, BETA]))
    assert jb.shape == (2, N, D)
    assert rb.shape == (2, N)
    np.testing.assert_allclose(jb[1], j, rtol=1e-13)


# --------------------------------------------------------------------------------------
# Data as arguments: one build serves every data set


def _logistic_of_data(beta, features, labels):
    z = features @ beta
    return snp.sum(snp.log1p(snp.exp(z)) - labels * z)


def test_data_arguments_take_any_number_of_rows(backend):
    grad = numpify(sd.gradient(_logistic_of_data), (D,), (None, D), (None,), backend=backend)
    assert grad.signature == "(3),(n,3),(n)->(3)"
    for n in (0, 1, 7, N, 1000):
        features, labels = RNG.standard_normal((n, D)), (RNG.random(n) < 0.5) * 1.0
        p = 1 / (1 + np.exp(-features @ BETA))
        np.testing.assert_allclose(
            grad(BETA, features, labels), features.T @ (p - labels), rtol=1e-11, atol=1e-13
        )


def test_bad_data_arguments_get_clean_errors(backend):
    grad = numpify(sd.gradient(_logistic_of_data), (D,), (None, D), (None,), backend=backend)
    with pytest.raises(ValueError, match=r"data argument 'features'.*\(n, 3\).*\(5, 2\)"):
        grad(BETA, np.ones((5, 2)), np.ones(5))
    with pytest.raises(ValueError, match="same number of rows"):
        grad(BETA, np.ones((5, D)), np.ones(4))
    with pytest.raises(ValueError, match=r"no batch dimensions"):
        grad(BETA, np.ones((2, 5, D)), np.ones(5))
    with pytest.raises(TypeError, match="'labels' must be a numeric array"):
        grad(BETA, np.ones((5, D)), np.array(["a"] * 5))
    with pytest.raises(TypeError, match="'features' is complex"):
        grad(BETA, np.ones((5, D), complex), np.ones(5))
    with pytest.raises(TypeError, match="takes 3 argument"):
        grad(BETA, np.ones((5, D)))
    # NaN data propagate, as NaN arguments do; byte-swapped and strided data are read right
    assert np.isnan(grad(BETA, np.full((5, D), np.nan), np.ones(5))).all()
    features = RNG.standard_normal((6, 2 * D))[:, ::2]
    labels = np.ones(6).astype(">f8")
    p = 1 / (1 + np.exp(-features @ BETA))
    np.testing.assert_allclose(
        grad(BETA, features, labels), features.T @ (p - 1), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize(
    "operation",
    [
        snp.cumsum,  # over the rows
        lambda z: snp.expand_dims(z, 1),  # per row, but NumPy's positions need the rows
        lambda z: z.reshape(-1, 1),
        lambda z: snp.concatenate([z, z]),
    ],
    ids=["cumsum", "expand_dims", "reshape", "concatenate"],
)
def test_data_argument_operations_needing_rows_say_so(operation):
    with pytest.raises(TypeError, match="individual rows of a data argument"):
        numpify(lambda beta, features: operation(features @ beta), (D,), (None, D))


# --------------------------------------------------------------------------------------
# Kernels and the cache do not depend on the data


_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import symnum, symnum.numpy as snp, symnum.diffops.symbolic as sd
    from symnum import cache
    n, backend = int(sys.argv[1]), sys.argv[2]
    rng = np.random.default_rng(n)
    X, y = rng.standard_normal((n, 3)), (rng.random(n) < 0.5) * 1.0
    def f(beta):
        z = X @ beta
        return snp.sum(snp.log1p(snp.exp(z)) - y * z)
    g = symnum.numpify(sd.hessian(f), (3,), backend=backend)
    p = 1 / (1 + np.exp(-X @ np.ones(3)))
    assert np.allclose(g(np.ones(3)), (X.T * (p * (1 - p))) @ X)
    print(len(list(cache.entries())))
    """
)


@pytest.mark.parametrize("compiled", ["numba", "c"])
def test_new_data_of_another_length_compiles_nothing(compiled, fresh_cache):
    # the numpy backend compiles nothing to disk; test_source_is_independent_of_the_data
    # covers it
    backend = require_backend(compiled)
    counts = []
    for n in (50, 500, 50):
        out = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(n), backend],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        counts.append(int(out.stdout.split()[-1]))
    assert counts[0] >= 1
    assert counts[1] == counts[0] == counts[2], counts


def _logistic_on(x, y):
    def f(b):
        z = x @ b
        return snp.sum(snp.log1p(snp.exp(z)) - y * z)

    return f


@pytest.mark.parametrize("compiled", ["numba", "c"])
def test_data_functions_call_their_entries_with_their_own_data(compiled, monkeypatch):
    """On C (and on numba with the C toolchain) a function with constant data is called
    through its kernel's entry with the data bound after the user's arguments: no
    Python frame runs. Functions of one kernel (the same model, other data) keep their
    own data; batches, lists and bad arguments take the checked path."""
    backend = require_backend(compiled)
    nb_build = sys.modules.get("symnum.backends.numba.build")
    if compiled == "numba" and nb_build.guard_runtime() is None:
        pytest.skip("numba's entries are Python functions without the C toolchain")
    rng = np.random.default_rng(3)
    beta = np.array([0.3, -0.2, 0.1])
    grads, refs = [], []
    for n in (40, 60):  # two data sets: one kernel (the source does not depend on them)
        x, y = rng.standard_normal((n, 3)), (rng.random(n) < 0.5) * 1.0
        grads.append(symnum.gradient(_logistic_on(x, y), (3,), backend=backend))
        refs.append(lambda b, x=x, y=y: x.T @ (1 / (1 + np.exp(-x @ b)) - y))
    assert grads[0].kernel is grads[1].kernel
    assert type(grads[0]) is not type(grads[1])  # a call class per function
    for grad, ref in zip(grads, refs, strict=True):
        assert type(type(grad).__dict__["_fast_entry"]).__name__ in ("Guard", "CFunction")
        np.testing.assert_allclose(grad(beta), ref(beta), rtol=1e-12)
        grad(beta)
        assert python_frames(lambda grad=grad: grad(beta)) == ["<lambda>"]
        batch = np.stack([beta, -beta])
        np.testing.assert_allclose(grad(batch), [ref(beta), ref(-beta)], rtol=1e-12)
        np.testing.assert_allclose(grad(beta.tolist()), ref(beta), rtol=1e-12)
        with pytest.raises(ValueError, match=r"\(3,\)"):
            grad(np.ones(4))
        with pytest.raises(TypeError):
            grad(beta, beta)
        clone = pickle.loads(pickle.dumps(grad))
        np.testing.assert_allclose(clone(beta), ref(beta), rtol=1e-12)
    # data arguments: any number of rows, read-only or not, through the entry too
    grad = numpify(sd.gradient(_logistic_of_data), (D,), (None, D), (None,), backend=backend)
    features, labels = RNG.standard_normal((9, D)), (RNG.random(9) < 0.5) * 1.0
    expected = features.T @ (1 / (1 + np.exp(-features @ BETA)) - labels)
    grad(BETA, features, labels)
    assert python_frames(lambda: grad(BETA, features, labels)) == ["<lambda>"]
    features.setflags(write=False)
    np.testing.assert_allclose(grad(BETA, features, labels), expected, rtol=1e-12)
    np.testing.assert_allclose(grad(BETA, features[:0], labels[:0]), np.zeros(D))


def test_source_is_independent_of_the_data(backend):
    def build(n):
        rows = RNG.standard_normal((n, D))

        def f(beta):  # sums, a variance (a count of rows) and a norm over the rows
            z = rows @ beta
            return snp.sum(snp.exp(z)) + snp.var(z, ddof=1) + snp.linalg.norm(z)

        return numpify(sd.gradient(f), (D,), backend=backend)

    small, large = build(40), build(4000)
    assert small.source == large.source


# --------------------------------------------------------------------------------------
# Pickling: the data travel by value


def _call_pickled(payload):
    function, point = pickle.loads(payload)
    return function(point)


def test_pickled_functions_carry_their_data_to_spawned_workers(backend):
    hess = numpify(sd.hessian(logistic, return_aux=True), (D,), backend=backend)
    payload = pickle.dumps((hess, BETA))
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        h, g, v = pool.apply(_call_pickled, (payload,))
    eh, eg, ev = hess(BETA)
    np.testing.assert_array_equal(h, eh)
    np.testing.assert_array_equal(g, eg)
    assert v == ev


def test_data_sum_flags_walk_shared_subexpressions_once():
    # entries whose sum over the rows sits deep inside a DAG with shared parts: a walk of
    # the tree (SymPy's `has`) would visit 2**30 nodes here; the flags come from one
    # memoised walk
    from symnum.diffops.symbolic import _data_sum_flags

    q = sympy.Symbol("q")
    inner = DataSum(sympy.Symbol("row") * q)
    deep, plain = inner, q
    for _ in range(30):
        deep = sympy.sin(deep) * sympy.cos(deep)
        plain = sympy.sin(plain) * sympy.cos(plain)
    assert _data_sum_flags([deep, plain, -inner + q**2, sympy.Integer(3)]) == [
        True,
        False,
        True,
        False,
    ]
