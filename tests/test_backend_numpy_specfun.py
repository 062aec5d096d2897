"""The numpy backend's special functions over arrays (symnum.backends.numpy.specfun)
against the scalar implementation they vectorise (symnum.ir.specfun), element by element.

* Values: over the whole real line (dense grids, random points with |x| up to 1e300,
  next to the poles, negative half-integers, both sides of every branch boundary of the
  scalar code, subnormals, ±0, ±inf, NaN) every function, and polygamma at orders 0..6,
  30, 170 and invalid ones, has the scalar function's NaN positions, infinities and signs
  of zeros, and is within 4 ulp elsewhere.
* Bit for bit: with libm's log swapped in for NumPy's (the one elementary function the
  array code takes from NumPy that may differ from libm), every value is the scalar
  function's exactly, so the array code follows the scalar algorithms branch for branch.
* Shapes (0-d, empty, 2-D, strided, polygamma's broadcasting), no warnings, inputs left
  alone, and the backend's ``batch_*`` names.
* A negative binomial regression compiled by the numpy backend (gammaln of data plus a
  parameter; its gradient needs digamma, its Hessian polygamma) agrees with the
  interpreter and with the C backend.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import require_backend

import symnum
import symnum.numpy as snp
from symnum.backends import numpy as nb
from symnum.backends.numpy import specfun as array_specfun
from symnum.ir import interpret, specfun
from symnum.scipy import special as ss

#: the functions of one argument
UNARY = ("erf", "erfc", "lgamma", "gamma", "digamma", "ndtri", "erfinv", "erfcinv")
#: polygamma orders checked over the whole grid, and (slower in the scalar code) on a
#: sample of it
ORDERS = (0, 1, 2, 3, 4, 5, 6)
HIGH_ORDERS = (30, 170)
INVALID_ORDERS = (-1.0, 1.5, 171.0, np.nan, np.inf, -np.inf)
ULPS = 4


def _around(points, steps: int = 2) -> list[float]:
    """Each point, its ``steps`` neighbouring doubles on either side, and the points
    1e-12 and 1e-9 of it away on either side (beyond a branch whose test rounds)."""
    out = []
    for point in points:
        below = above = float(point)
        out.append(below)
        for _ in range(steps):
            below = math.nextafter(below, -math.inf)
            above = math.nextafter(above, math.inf)
            out += [below, above]
        out += [point + s * o * abs(point) for o in (1e-12, 1e-9) for s in (-1, 1)]
    return out


def _boundaries() -> list[float]:
    """Both sides of every branch boundary of the scalar code, for every function."""
    tail = math.exp(-25.0)  # where AS241's r = sqrt(-log p) crosses 5
    edges = [
        # lgamma, gamma, digamma, polygamma
        0.5, 1.25, 2.75, 1.0, 2.0, 3.0, 9.0, 10.0, 11.0, -9.0, -8.5, 12.0, 14.0, 16.0, 22.0,
        -11.0, -13.0, -21.0, 70.0, 350.0, -349.0, specfun._LGAMMA_MAX, specfun._GAMMA_MAX,
        1e-300, -1e-300, specfun._NEG_ROOT, specfun._NEG_ROOT - specfun._NEG_WINDOW,
        specfun._NEG_ROOT + specfun._NEG_WINDOW, -specfun._TINY, -0.25, 0.25, -0.5, -0.75,
        -1.25, specfun._POS_ROOT, -specfun._TWO52, specfun._TWO52, -(2.0**53),
        # ndtri, erfinv, erfcinv
        0.075, 0.925, 0.5, tail, 1.0 - tail, 0.85, -0.85, 1.0 - 2.0 * tail,
        -1.0 + 2.0 * tail, 0.15, 1.85, 2.0 * tail, 2.0 - 2.0 * tail,
        specfun._HALVES_EXACTLY, -1.0, 2.0,
    ]  # fmt: skip
    return _around(edges)


def _near_poles() -> np.ndarray:
    """Next to the non-positive integers: a few ulp, 1e-12 and 1e-8 away."""
    poles = -np.concatenate([np.arange(0.0, 21.0), [100.0, 1e3, 1e6, 1e9, 1e12, 2.0**51]])
    offsets = [1e-12, 1e-8, 1e-4]
    points = _around(poles, 3)
    points += [p + s * o * max(1.0, -p) for p in poles for o in offsets for s in (-1, 1)]
    return np.array(points)


def _grid() -> np.ndarray:
    """Arguments over the whole real line, shape (n,)."""
    rng = np.random.default_rng(2026)
    special_values = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-310, -1e-310]
    special_values += [2.2250738585072014e-308, -2.2250738585072014e-308, 1e-20, -1e-20]
    special_values += [1e15, -1e15, 1e300, -1e300, 1.7976931348623157e308, -1e15 + 0.5]
    halves = -np.floor(np.exp(rng.uniform(0.0, np.log(1e15), 200))) - 0.5
    magnitudes = np.exp(rng.uniform(np.log(1e-320), np.log(1e300), 1500))
    return np.concatenate(
        [
            special_values,
            _boundaries(),
            _near_poles(),
            -np.arange(0.5, 60.0),  # negative half-integers
            halves,
            np.linspace(-30.0, 30.0, 12001),
            np.linspace(-1.0, 2.0, 3001),
            rng.uniform(-30.0, 30.0, 2000),
            rng.uniform(0.0, 1.0, 1000),
            rng.uniform(1.0, 2.0, 1000),
            magnitudes,
            -magnitudes,
            -np.exp(rng.uniform(np.log(1e-8), np.log(1e15), 1000)),  # negative non-integers
            np.exp(rng.uniform(np.log(1e-300), 0.0, 500)),  # tails of the inverses
            1.0 - np.exp(rng.uniform(np.log(1e-16), 0.0, 300)),
            2.0 - np.exp(rng.uniform(np.log(1e-16), 0.0, 300)),
            -1.0 + np.exp(rng.uniform(np.log(1e-16), 0.0, 300)),
        ]
    )


GRID = _grid()
#: the sample of GRID the high orders of polygamma are checked on
SAMPLE = GRID[::25]


def _scalar(fn, *args) -> np.ndarray:
    """``fn`` of the scalar code at every element (of broadcast ``args``), as floats."""
    columns = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
    flat = [c.ravel().tolist() for c in columns]
    values = [fn(*point) for point in zip(*flat, strict=True)]
    return np.array(values, dtype=np.float64).reshape(columns[0].shape)


@pytest.fixture(scope="module")
def expected():
    """``{case: the scalar function's values}``: cases are names and ("polygamma", n)."""
    table = {name: _scalar(getattr(specfun, name), GRID) for name in UNARY}
    for n in ORDERS:
        table["polygamma", n] = _scalar(specfun.polygamma, n, GRID)
    for n in HIGH_ORDERS:
        table["polygamma", n] = _scalar(specfun.polygamma, n, SAMPLE)
    return table


def _array_function(case):
    """The array function of a case, as a function of x."""
    if isinstance(case, tuple):
        return lambda x: array_specfun.polygamma(float(case[1]), x)
    return getattr(array_specfun, case)


CASES = [*UNARY, *(("polygamma", n) for n in ORDERS + HIGH_ORDERS)]
CASE_IDS = [c if isinstance(c, str) else f"polygamma{c[1]}" for c in CASES]


def _argument(case) -> np.ndarray:
    return SAMPLE if isinstance(case, tuple) and case[1] in HIGH_ORDERS else GRID


def assert_like_scalar(got: np.ndarray, want: np.ndarray, x: np.ndarray, ulps: int) -> None:
    """``got`` has ``want``'s NaN positions, infinities and signed zeros, and is within
    ``ulps`` ulp of it elsewhere (``ulps=0``: the same double)."""
    assert got.shape == want.shape
    assert got.dtype == np.float64
    nan = np.isnan(want)
    wrong = np.flatnonzero(np.isnan(got) != nan)
    assert wrong.size == 0, f"NaN differs at x = {x[wrong[:5]]}: {got[wrong[:5]]}"
    exact = ~nan & (np.isinf(want) | (want == 0.0))  # compared with their signs
    wrong = np.flatnonzero(exact & ((got != want) | (np.signbit(got) != np.signbit(want))))
    assert wrong.size == 0, f"at x = {x[wrong[:5]]}: {got[wrong[:5]]} != {want[wrong[:5]]}"
    with np.errstate(all="ignore"):
        close = (got == want) | (np.abs(got - want) <= ulps * np.spacing(np.abs(want)))
    wrong = np.flatnonzero(np.isfinite(want) & ~close)
    assert wrong.size == 0, (
        f"{wrong.size} beyond {ulps} ulp, at x = {x[wrong[:5]]}: "
        f"{got[wrong[:5]]} != {want[wrong[:5]]}"
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_values_are_the_scalar_functions(case, expected):
    x = _argument(case)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _array_function(case)(x)
    assert_like_scalar(got, expected[case], x, ULPS)


@pytest.fixture
def libm_log(monkeypatch):
    """The array functions with libm's log (math.log) instead of NumPy's."""

    def log(x: np.ndarray) -> np.ndarray:
        out = np.log(x)  # where math.log raises: 0, negatives (branches np.where drops)
        positive = x > 0.0
        out[positive] = [math.log(v) for v in x[positive].tolist()]
        return out

    monkeypatch.setattr(array_specfun, "_log", log)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bit_for_bit_with_libm_elementary_functions(case, expected, libm_log):
    """The same IEEE operations in the same order as the scalar code: only elementary
    functions may differ, and with libm's everywhere nothing does."""
    x = _argument(case)
    assert_like_scalar(_array_function(case)(x), expected[case], x, 0)


@pytest.mark.parametrize("n", INVALID_ORDERS)
def test_polygamma_of_invalid_orders_is_nan(n):
    assert np.isnan(specfun.polygamma(n, 1.5))
    assert np.isnan(array_specfun.polygamma(n, SAMPLE)).all()


def test_polygamma_broadcasts_orders_and_arguments():
    """Orders of every kind (valid, invalid, repeated, -0.0) against arguments, one call."""
    orders = np.array([0.0, -0.0, 1.0, 2.0, 6.0, 2.0, -1.0, 1.5, np.nan, 171.0, 30.0])
    x = GRID[::40]
    got = array_specfun.polygamma(orders[:, None], x[None, :])
    assert got.shape == (orders.size, x.size)
    want = _scalar(specfun.polygamma, orders[:, None], x[None, :])
    assert_like_scalar(got.ravel(), want.ravel(), np.broadcast_to(x, got.shape).ravel(), ULPS)
    # an array of orders against one argument, and a 0-d order against a 2-D argument
    want = _scalar(specfun.polygamma, orders, 0.3)
    assert_like_scalar(array_specfun.polygamma(orders, 0.3), want, orders, ULPS)
    grid = x[: 12 * (x.size // 12)].reshape(12, -1)
    got = array_specfun.polygamma(np.float64(3.0), grid)
    assert got.shape == grid.shape
    want = _scalar(specfun.polygamma, 3, grid)
    assert_like_scalar(got.ravel(), want.ravel(), grid.ravel(), ULPS)


@pytest.mark.parametrize("name", [*UNARY, "polygamma"])
def test_shapes(name):
    """0-d, empty, 2-D and strided arguments; results are new float64 arrays."""
    fn = getattr(array_specfun, name)
    call = (lambda x: fn(2.0, x)) if name == "polygamma" else fn
    scalar = getattr(specfun, name)
    one = (lambda v: scalar(2.0, v)) if name == "polygamma" else scalar
    for shape in ((0,), (2, 0), (0, 3)):
        got = call(np.empty(shape))
        assert got.shape == shape
        assert got.dtype == np.float64
    for value in (0.3, -1.75, 1.5):
        got = call(value)  # a Python float: a 0-d array, as np.frompyfunc gave
        assert isinstance(got, np.ndarray)
        assert got.shape == ()
        np.testing.assert_array_equal(got, one(value))
        assert call(np.float64(value)).shape == ()
    block = np.linspace(-3.3, 1.9, 24).reshape(4, 6)
    for x in (block, block.T, block[:, ::2], block.astype(np.float32), [[0.3, 0.6]]):
        got = call(x)
        assert got.shape == np.shape(x)
        want = _scalar(one, np.asarray(x, dtype=np.float64))
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", [*UNARY, "polygamma"])
def test_no_warnings_and_arguments_left_alone(name):
    fn = getattr(array_specfun, name)
    x = GRID.copy()
    x.flags.writeable = False  # writing into it raises
    before = x.tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if name == "polygamma":
            orders = np.resize(np.array([0.0, 1.0, 2.0, 5.0, -1.0, np.nan]), x.size)
            orders.flags.writeable = False
            orders_before = orders.tobytes()
            fn(orders, x)
            fn(3.0, x)
            assert orders.tobytes() == orders_before
        else:
            fn(x)
        old = np.geterr()
    assert x.tobytes() == before
    assert old == np.geterr()


def test_the_backend_calls_these():
    for name in (*UNARY, "polygamma"):
        assert getattr(nb, f"batch_{name}") is getattr(array_specfun, name)


# -- a compiled model of data: a negative binomial regression ---------------------------

ROWS, COLUMNS = 300, 5


def _negative_binomial():
    """The log-likelihood of a negative binomial regression (log link, dispersion
    exp(theta[-1])) of generated data, and a parameter point."""
    rng = np.random.default_rng(7)
    features = rng.normal(size=(ROWS, COLUMNS))
    counts = rng.poisson(3, size=ROWS).astype(float)

    def log_likelihood(theta):
        r = snp.exp(theta[COLUMNS])
        mu = snp.exp(features @ theta[:COLUMNS])
        return snp.sum(
            ss.gammaln(counts + r)
            - ss.gammaln(r)
            + r * snp.log(r / (r + mu))
            + counts * snp.log(mu / (r + mu))
        )

    return log_likelihood, rng.normal(size=COLUMNS + 1) * 0.3


@pytest.mark.parametrize("operator", ["gradient", "hessian"])
def test_negative_binomial_model_matches_interpreter_and_c(operator):
    log_likelihood, theta = _negative_binomial()
    derivative = getattr(symnum, operator)
    func = derivative(log_likelihood, (COLUMNS + 1,), backend="numpy")
    got = func(theta)
    assert got.shape == (COLUMNS + 1,) * (1 if operator == "gradient" else 2)
    reference = interpret.evaluate(func.ir, theta, *func._data)
    np.testing.assert_allclose(got, reference, rtol=1e-12, atol=0)
    require_backend("c")
    compiled = derivative(log_likelihood, (COLUMNS + 1,), backend="c")
    np.testing.assert_allclose(got, compiled(theta), rtol=1e-12, atol=0)
