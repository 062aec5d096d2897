"""Special functions: one implementation (symnum.ir.specfun) held to SciPy and mpmath over
the whole real line, on every backend.

* Conformance: every special op on every backend (the interpreter, numpy, C, numba) at
  extreme arguments (|x| up to 1e300, negative non-integers down to -1e15, next to the
  poles, subnormals, infinities, NaN) against mpmath, within a few ulp of the exact value
  or, where a reflection formula cancels, a few ulp of its terms (SciPy's behaviour there
  too); the NaN/inf pattern is SciPy's.
* The C mirror agrees with the Python implementation bit for bit for digamma,
  polygamma and the inverses (ndtri, erfinv, erfcinv); numba compiles every function
  unchanged and agrees bit for bit.
* The inverses are held within 3 ulp of mpmath over their whole domains (tiny and
  subnormal arguments, the last ulps before 1, -1 and 2), with SciPy's values at and
  beyond the ends.
* Work per call does not grow with |x| (counted in executed lines, not timed).
"""

from __future__ import annotations

import math
import struct
import sys

import mpmath
import numpy as np
import pytest
from conftest import require_backend
from hypothesis import given, settings
from hypothesis import strategies as st

from symnum.ir import Assign, Const, Elem, Function, Op, Output, Param, Var, interpret, specfun

special = pytest.importorskip("scipy.special")

EPS = 2.0**-52
TINY = 5e-324
#: polygamma orders tested (order 0 is digamma)
ORDERS = (1, 2, 3, 4, 6)
#: (op, order) of every case: each special op, polygamma at each order
CASES = [
    (Op.ERF, None),
    (Op.ERFC, None),
    (Op.LGAMMA, None),
    (Op.GAMMA, None),
    (Op.DIGAMMA, None),
    *((Op.POLYGAMMA, n) for n in ORDERS),
]
CASE_IDS = [op.name if n is None else f"{op.name}{n}" for op, n in CASES]
#: allowed error in ulp of the exact value (or of the reflection terms, see `bound`);
#: gamma and lgamma are CPython's (math), within 8 and ~20 ulp of exact
ULPS = {Op.ERF: 2, Op.ERFC: 4, Op.LGAMMA: 32, Op.GAMMA: 16, Op.DIGAMMA: 4, Op.POLYGAMMA: 4}


def _grid() -> np.ndarray:
    """Arguments over the whole real line, shape (n,)."""
    rng = np.random.default_rng(13)
    fixed = [
        0.0, -0.0, np.inf, -np.inf, np.nan, TINY, -TINY, 1e-310, -1e-310, 2.2250738585072014e-308,
        -2.2250738585072014e-308, 1e-300, -1e-300, 1e-20, -1e-20, 1e-9, -1e-9,
        -1.0, -2.0, -3.0, -1e7, -1e15, -(2.0**52), -(2.0**53), -1e300,
        1.0, 2.0, 3.0, 10.0, 12.0, 0.5, 1.5, 2.5, 9.999999999999998, 10.000000000000002,
        -0.5, -1.5, -2.5, -40.5, -2499999.5, -999999999.5, -1e15 + 0.5, -(2.0**51) - 0.5,
        -3.0 + 1e-8, -3.0 - 1e-8, -1e6 + 1e-9, -1.0 + 2.0**-40, -(2.0**-40),
        specfun._POS_ROOT, specfun._NEG_ROOT, -0.6040830082644554, -0.4040830082644554,
        -0.25, -0.2499999999999999, -0.2500000000000001, 0.7499999999999999, 1.25, 2.75,
        -2.4570247382208006, 171.6243769563027, 171.62437695630274, 1e15, 1e300, 1.7e308,
    ]  # fmt: skip
    positive = np.exp(rng.uniform(np.log(1e-300), np.log(1e300), 150))
    middle = rng.uniform(-30.0, 30.0, 150)
    negative = -np.exp(rng.uniform(np.log(1e-300), np.log(1e15), 150))
    halves = -np.floor(np.exp(rng.uniform(0.0, np.log(1e15), 30))) - 0.5
    return np.concatenate([fixed, positive, middle, negative, halves])


GRID = _grid()


def python_function(op: Op, order):
    """The specfun function of a case, as a function of x."""
    if op is Op.POLYGAMMA:
        return lambda x: specfun.polygamma(order, x)
    return getattr(specfun, op.value)


def case_function(name: str = "special") -> Function:
    """``name(x: ()) -> (len(CASES),)``: every case at x."""
    x = Elem("x", 0)
    body = tuple(
        Assign(k, op, (Const(float(n)), x) if op is Op.POLYGAMMA else (x,))
        for k, (op, n) in enumerate(CASES)
    )
    out = Output((len(body),), tuple(Var(k) for k in range(len(body))))
    return Function(name, (Param("x", ()),), body, out)


def _is_pole(x: float) -> bool:
    return x <= 0 and x == math.floor(x)


_MP_FUNCTIONS = {
    Op.ERF: mpmath.erf,
    Op.ERFC: mpmath.erfc,
    Op.GAMMA: mpmath.gamma,
    Op.LGAMMA: lambda x: mpmath.log(abs(mpmath.gamma(x))),
    Op.DIGAMMA: mpmath.digamma,
}


def _mp(op: Op, order, x):
    """The exact value at the finite non-pole ``x`` (an mpf), by mpmath."""
    if op in (Op.ERF, Op.ERFC) and abs(x) > 30:  # 1 - erf(|x|) < 1e-393: no rounding
        return mpmath.mpf(math.copysign(1.0, x) if op is Op.ERF else 1.0 - math.copysign(1.0, x))
    x = mpmath.mpf(x)
    function = _MP_FUNCTIONS.get(op)
    if function is not None:
        return function(x)
    return _mp_polygamma(order, x)


def _mp_polygamma(order, x):
    """psi_order(x) for an mpf ``x``."""
    if x > -100:
        return mpmath.polygamma(order, x)
    # mpmath's polygamma does not finish far left; the reflection formula
    # psi_n(1 - x) + (-1)**(n+1) psi_n(x) = (-1)**n pi d^n/dx^n cot(pi x), in 60 digits
    with mpmath.workdps(60):
        # cot(pi t) has period 1: differentiate at the exact x - round(x)
        near = x - mpmath.nint(x)
        cot = mpmath.diff(lambda t: mpmath.cot(mpmath.pi * t), near, order)
        sign = (-1) ** (order + 1)
        return sign * ((-1) ** order * mpmath.pi * cot - mpmath.polygamma(order, 1 - x))


def bound(op: Op, order, x: float, exact) -> float:
    """The largest error allowed at ``x``: ULPS[op] ulp of the exact value, and where the
    implementation reflects (x < 0) or recurs from a negative x, ULPS[op] (order + 2) ulp
    of the terms it adds, since these cancel next to the zeros (for SciPy too)."""
    k = ULPS[op]
    allowed = k * max(math.ulp(float(abs(exact))), TINY)
    if x < 0 and op in (Op.DIGAMMA, Op.POLYGAMMA):
        n = order or 0
        terms = abs(mpmath.polygamma(n, 1 - mpmath.mpf(x)))
        if x > -1:  # the recurrence from x + 1
            terms += abs(mpmath.polygamma(n, 1 + mpmath.mpf(x)))
        allowed = max(allowed, k * (n + 2) * EPS * float(2 * terms + abs(exact)))
    if x < 0 and op is Op.LGAMMA:  # reflection: log(pi / |sin(pi x)|) - lgamma(1 - x)
        terms = abs(mpmath.log(abs(mpmath.sinpi(x)))) + abs(mpmath.loggamma(1 - mpmath.mpf(x)))
        allowed = max(allowed, k * EPS * float(terms + 2))
    if x > 0 and op is Op.LGAMMA:  # near the zeros at 1 and 2 math.lgamma is absolute
        allowed = max(allowed, k * EPS) if not (0.5 <= x <= 2.75) else allowed
    return allowed


@pytest.fixture(scope="module")
def exact():
    """``{(op, order): (values, bounds)}`` over GRID (NaN where x is not finite or a pole)."""
    mpmath.mp.dps = 40
    table = {}
    for op, order in CASES:
        values, bounds = [], []
        for point in GRID:
            x = float(point)
            if not math.isfinite(x) or _is_pole(x) or (op is Op.GAMMA and x < -200):
                values.append(math.nan)
                bounds.append(math.nan)
                continue
            value = _mp(op, order, x)
            values.append(float(value))
            finite = math.isfinite(float(value))
            bounds.append(bound(op, order, x, value) if finite else math.nan)
        table[op, order] = (np.array(values), np.array(bounds))
    return table


def scipy_reference(op: Op, order, x: np.ndarray) -> np.ndarray:
    """SciPy's values; polygamma only where |x| <= 1e6 (its time grows with -x)."""
    with np.errstate(all="ignore"):
        if op is Op.ERF:
            return special.erf(x)
        if op is Op.ERFC:
            return special.erfc(x)
        if op is Op.LGAMMA:  # C's lgamma(-inf) is +inf where SciPy's gammaln says -inf
            return np.where(x == -np.inf, np.inf, special.gammaln(x))
        if op is Op.GAMMA:
            return special.gamma(x)
        if op is Op.DIGAMMA:
            return special.digamma(x)
        near = np.where(np.abs(x) <= 1e6, x, np.nan)
        return np.where(np.isnan(near) & ~np.isnan(x), np.nan, special.polygamma(order, near))


def _check_case(got: np.ndarray, op: Op, order, exact) -> None:
    values, bounds = exact[op, order]
    name = op.name if order is None else f"{op.name}({order})"
    # NaN / inf pattern: SciPy's (polygamma's only where SciPy is quick)
    expected = scipy_reference(op, order, GRID)
    # where the exact value is finite, accuracy decides (SciPy's gammaln(5e-324) and
    # gamma(171.6243769563027) are inf); polygamma only where SciPy is quick
    quick = (op is not Op.POLYGAMMA) | ~np.isnan(expected) | (np.abs(GRID) <= 1e6)
    known = ~np.isfinite(values) & quick
    for kind, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        mismatch = known & (test(got) != test(expected))
        assert not mismatch.any(), (
            f"{name}: {kind} pattern differs from SciPy at x = {GRID[mismatch][:5].tolist()}: "
            f"got {got[mismatch][:5].tolist()}, SciPy {expected[mismatch][:5].tolist()}"
        )
    finite = np.isfinite(values) & np.isfinite(got)
    error = np.abs(got[finite] - values[finite])
    over = error > bounds[finite]
    assert not over.any(), (
        f"{name}: error above bound at x = {GRID[finite][over][:5].tolist()}: "
        f"got {got[finite][over][:5].tolist()}, exact {values[finite][over][:5].tolist()}, "
        f"error / bound {(error[over] / bounds[finite][over])[:5].tolist()}"
    )
    # where the exact value is finite and representable, so is ours
    representable = np.isfinite(values)
    assert np.isfinite(got[representable]).all(), f"{name}: inf or NaN for a finite value"


def _python_columns() -> np.ndarray:
    return np.array([[python_function(op, n)(float(x)) for op, n in CASES] for x in GRID])


@pytest.mark.parametrize(("op", "order"), CASES, ids=CASE_IDS)
def test_python_implementation_conforms(exact, op, order):
    got = np.array([python_function(op, order)(float(x)) for x in GRID])
    _check_case(got, op, order, exact)


def test_interpreter_runs_specfun():
    fn = case_function()
    got = np.array([interpret.evaluate(fn, x) for x in GRID])
    np.testing.assert_array_equal(got, _python_columns())


@pytest.fixture(scope="module", params=["numpy", "c", "numba"])
def kernel_columns(request, tmp_path_factory):
    """(backend name, kernel output over GRID of shape (len(GRID), len(CASES)))."""
    name = require_backend(request.param)
    from symnum import backends

    backend = backends.get(name)
    fn = case_function()
    source = backend.emit(fn)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMNUM_CACHE_DIR", str(tmp_path_factory.mktemp(f"{name}-cache")))
        kernel = backend.build(source)
        return name, np.asarray(kernel.batch(GRID.copy()))


@pytest.mark.parametrize(("op", "order"), CASES, ids=CASE_IDS)
def test_backend_conforms(kernel_columns, exact, op, order):
    _, columns = kernel_columns
    _check_case(columns[:, CASES.index((op, order))], op, order, exact)


def test_backends_agree_with_the_python_implementation(kernel_columns):
    """numpy runs specfun, numba compiles it and C mirrors it: digamma and polygamma bit
    for bit everywhere (libm's tan, pow and log are Python's); the functions specfun
    takes from ``math`` are CPython's own (lgamma, gamma) on numpy and libm's on numba
    and C, so there numba and C are held within their ulp budget."""
    name, columns = kernel_columns
    python = _python_columns()
    for k, (op, _) in enumerate(CASES):
        got, want = columns[:, k], python[:, k]
        if name == "numpy" or op in (Op.DIGAMMA, Op.POLYGAMMA):
            np.testing.assert_array_equal(got, want, err_msg=f"{name}: {CASE_IDS[k]}")
        else:
            np.testing.assert_allclose(
                got, want, rtol=64 * EPS, atol=64 * EPS, equal_nan=True, err_msg=CASE_IDS[k]
            )


# -- numba compiles every function unchanged --------------------------------------------


def test_numba_compiles_every_function_unchanged(exact):
    """Bit for bit, except lgamma and gamma: numba's math.lgamma / math.gamma are libm's,
    not CPython's, so there both are held to the conformance bounds instead."""
    require_backend("numba")
    import numba

    compiled = specfun.compile_all(numba.njit)
    assert set(compiled) == set(specfun.NAMES)
    for name in specfun.NAMES:
        fn = compiled[name]
        if name in ("lgamma", "gamma"):
            op = Op(name)
            _check_case(np.array([fn(float(x)) for x in GRID]), op, None, exact)
            continue
        inverse = name in ("ndtri", "erfinv", "erfcinv")
        for point in np.concatenate([GRID, INVERSE_GRID]) if inverse else GRID:
            x = float(point)
            if name == "polygamma":
                for n in (0, *ORDERS):
                    want = specfun.polygamma(n, x)
                    for order in (n, float(n)):  # an int or an integral float
                        got = fn(order, x)
                        assert got == want or (math.isnan(got) and math.isnan(want)), (n, x)
                continue
            got, want = fn(x), getattr(specfun, name)(x)
            assert got == want or (math.isnan(got) and math.isnan(want)), (name, x, got, want)
        assert math.isnan(compiled["polygamma"](2.5, 1.0))
        assert math.isnan(compiled["polygamma"](-1, 1.0))


# -- never raises, bounded work ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 200))
def test_never_raises(x, n):
    for name in ("erf", "erfc", "lgamma", "gamma", "digamma", "ndtri", "erfinv", "erfcinv"):
        assert isinstance(getattr(specfun, name)(x), float)
    value = specfun.polygamma(n, x)
    assert isinstance(value, float)
    if n < 0 or n > 170 or math.isnan(x):
        assert math.isnan(value)


def _lines(fn, *args) -> int:
    """Lines of specfun executed by ``fn(*args)``: the work, without timing."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        # only specfun's frames: code that runs meanwhile (a garbage collector's
        # callback) is not the function's work
        if frame.f_code.co_filename != specfun.__file__:
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("order", [0, *ORDERS])
def test_work_per_call_does_not_grow_with_x(order):
    moderate = [x for x in np.linspace(-30.0, 30.0, 241) if not _is_pole(float(x))]
    most = max(_lines(specfun.polygamma, order, float(x)) for x in moderate)
    extreme = [-1e15 + 0.5, -999999999.5, -2499999.5, -(2.0**51) - 0.5, -1e6 + 1e-9, 1e15,
               1e300, TINY, -TINY, 1e-310, -1e-310]  # fmt: skip
    for x in extreme:
        assert _lines(specfun.polygamma, order, x) <= most, x


# -- the tables ---------------------------------------------------------------------------


def _bits(value: float) -> int:
    return struct.unpack("<q", struct.pack("<d", value))[0]


def _close(table, exact_values) -> None:
    assert len(table) == len(exact_values)
    for k, (got, want) in enumerate(zip(table, exact_values, strict=True)):
        assert abs(_bits(got) - _bits(float(want))) <= 1, (k, got, float(want))


def test_tables_are_what_their_comments_say():
    mpmath.mp.dps = 50
    for root, low, coefficients, guess in (
        (specfun._POS_ROOT, specfun._POS_ROOT_LO, specfun._POS_TAYLOR, 1.46),
        (specfun._NEG_ROOT, specfun._NEG_ROOT_LO, specfun._NEG_TAYLOR, -0.504),
    ):
        zero = mpmath.findroot(mpmath.digamma, guess)
        assert root == float(zero)
        assert low == float(zero - mpmath.mpf(root))
        orders = range(1, len(coefficients) + 1)
        _close(coefficients, [mpmath.polygamma(k, zero) / mpmath.factorial(k) for k in orders])
    euler, zeta = mpmath.euler, mpmath.zeta
    at_1 = [-euler] + [(-1) ** k * zeta(k) / k for k in range(2, len(specfun._LGAMMA_AT_1) + 1)]
    at_2 = [1 - euler] + [
        (-1) ** k * (zeta(k) - 1) / k for k in range(2, len(specfun._LGAMMA_AT_2) + 1)
    ]
    _close(specfun._LGAMMA_AT_1, at_1)
    _close(specfun._LGAMMA_AT_2, at_2)
    bernoulli = [mpmath.bernoulli(2 * j) for j in range(1, 11)]
    _close(specfun._DIGAMMA_ASYMPTOTIC, [b / (2 * j) for j, b in enumerate(bernoulli[:8], 1)])
    _close(specfun._ZETA_TAIL, [b / mpmath.factorial(2 * j) for j, b in enumerate(bernoulli, 1)])
    # math.lgamma and math.gamma raise just past these
    assert math.isfinite(math.lgamma(specfun._LGAMMA_MAX))
    with pytest.raises(OverflowError):
        math.lgamma(math.nextafter(specfun._LGAMMA_MAX, math.inf))
    assert math.isfinite(math.gamma(specfun._GAMMA_MAX))
    with pytest.raises(OverflowError):
        math.gamma(math.nextafter(specfun._GAMMA_MAX, math.inf))


def test_c_mirror_has_the_same_tables():
    from pathlib import Path

    import symnum.backends.c as c_backend

    text = (Path(c_backend.__file__).parent / "_c_helpers.h").read_text()
    for name, table in (
        ("symnum_pos_taylor", specfun._POS_TAYLOR),
        ("symnum_neg_taylor", specfun._NEG_TAYLOR),
        ("symnum_digamma_asymptotic", specfun._DIGAMMA_ASYMPTOTIC),
        ("symnum_zeta_tail", specfun._ZETA_TAIL),
    ):
        body = text.split(f"static const double {name}[{len(table)}] = {{", 1)[1]
        values = [float(v) for v in body.split("}", 1)[0].replace("\n", " ").split(",")]
        assert values == list(table), name


# -- against mpmath at random points (moved from tests/ir/test_interpret.py) -------------

anywhere = st.floats(-50.0, 50.0).filter(lambda v: v > 0 or v != math.floor(v))


@settings(max_examples=200, deadline=None)
@given(anywhere)
def test_digamma_matches_mpmath(x):
    # mpmath, not SciPy: SciPy's digamma loses digits next to the poles
    expected = float(mpmath.digamma(mpmath.mpf(x)))
    assert math.isclose(specfun.digamma(x), expected, rel_tol=1e-11, abs_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), anywhere)
def test_polygamma_matches_mpmath(n, x):
    expected = float(mpmath.polygamma(n, mpmath.mpf(x)))
    assert math.isclose(specfun.polygamma(n, x), expected, rel_tol=1e-11, abs_tol=1e-300)


@settings(max_examples=100, deadline=None)
@given(st.floats(-30.0, 170.0).filter(lambda v: abs(v) > 1e-300 and v != math.floor(v)))
def test_gamma_functions_match_scipy(x):
    assert math.isclose(specfun.gamma(x), special.gamma(x), rel_tol=1e-13)
    assert math.isclose(specfun.lgamma(x), special.gammaln(x), rel_tol=1e-13, abs_tol=1e-14)


@pytest.mark.parametrize(
    ("op", "x", "expected"),
    [
        (Op.DIGAMMA, 0.0, -math.inf),
        (Op.DIGAMMA, -0.0, math.inf),
        (Op.DIGAMMA, -2.0, math.nan),
        (Op.DIGAMMA, -math.inf, math.nan),
        (Op.DIGAMMA, math.inf, math.inf),
        (Op.GAMMA, 0.0, math.inf),
        (Op.GAMMA, -0.0, -math.inf),
        (Op.GAMMA, -3.0, math.nan),
        (Op.LGAMMA, -3.0, math.inf),
        (Op.LGAMMA, -math.inf, math.inf),
    ],
)
def test_values_at_poles_and_infinities(op, x, expected):
    got = python_function(op, None)(x)
    assert got == expected or (math.isnan(got) and math.isnan(expected))


@pytest.mark.parametrize("order", ORDERS)
def test_polygamma_at_poles_and_infinities(order):
    sign = 1.0 if order % 2 else -1.0
    for pole in (0.0, -0.0, -1.0, -7.0, -1e15, -math.inf):
        assert specfun.polygamma(order, pole) == sign * math.inf
    at_inf = specfun.polygamma(order, math.inf)
    assert at_inf == 0.0
    assert math.copysign(1.0, at_inf) == sign


# -- the inverses: ndtri, erfinv, erfcinv -------------------------------------------------

INVERSES = (Op.NDTRI, Op.ERFINV, Op.ERFCINV)
INVERSE_IDS = [op.name for op in INVERSES]
#: allowed error in ulp of the exact value (dense sweeps measure at most 2.8 ulp; 2.0 here)
INVERSE_ULPS = 3
MIN_NORMAL = 2.2250738585072014e-308


def _inverse_grid() -> np.ndarray:
    """Arguments over the three domains, [0, 1], [-1, 1] and [0, 2], and outside them:
    tiny and subnormal ones, next to 1/2, 1, -1 and 2 (to the last ulp), the switches
    between the approximations (p = 0.075, r = 5) and the ends, shape (n,)."""
    rng = np.random.default_rng(29)

    def spread(lo, hi, n):
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n))

    ulps = np.arange(1, 6)
    fixed = [
        0.0, -0.0, 0.5, 1.0, -1.0, 1.5, 2.0, np.inf, -np.inf, np.nan, TINY, -TINY, 2 * TINY,
        1e-320, 1e-310, MIN_NORMAL, 2 * MIN_NORMAL, 1e-300, -1e-300, 1e-20, 0.075, 0.925,
        0.15, 0.85, -0.85, 1.85, 0.85 + 2.0**-53, 0.15 - 2.0**-55, math.exp(-25.0),
        2 * math.exp(-25.0), 1 + 2.0**-52, 2 + 2.0**-51, -1 - 2.0**-52, -0.5, 2.5, 1e300,
        -1e300, 0.25, 0.75,
    ]  # fmt: skip
    return np.concatenate(
        [
            fixed,
            spread(1e-300, 0.1, 60),
            -spread(1e-300, 0.1, 15),
            spread(TINY, MIN_NORMAL, 8),
            rng.uniform(-1.0, 2.0, 60),
            0.5 + rng.choice([-1.0, 1.0], 20) * spread(1e-17, 1e-2, 20),
            1 + rng.choice([-1.0, 1.0], 30) * spread(1e-16, 0.15, 30),
            -1 + spread(1e-16, 0.15, 12),
            2 - spread(1e-16, 0.15, 15),
            1 - ulps * 2.0**-53,
            1 + ulps * 2.0**-52,
            -1 + ulps * 2.0**-53,
            2 - ulps * 2.0**-52,
            0.5 + ulps * 2.0**-53,
            0.5 - ulps * 2.0**-54,
        ]
    )


INVERSE_GRID = _inverse_grid()


def _mp_erfc_inverse(y):
    """The t with erfc(t) = y for an mpf ``0 < y < 1`` (relative accuracy in the tail)."""
    tail = -mpmath.log(y)
    guess = mpmath.sqrt(max(tail - mpmath.log(tail) / 2 - 0.57, mpmath.mpf(0.01)))
    return mpmath.findroot(lambda t: mpmath.log(mpmath.erfc(t)) + tail, guess)


def _mp_erfinv(x):
    """erfinv at an mpf ``x`` in (-1, 1): from erf(t) = x for |x| <= 1/2, else from
    erfc(|t|) = 1 - |x| (exact)."""
    if x == 0:
        return x
    if abs(x) <= 0.5:
        return mpmath.findroot(lambda t: mpmath.erf(t) / x - 1, x * mpmath.sqrt(mpmath.pi) / 2)
    return mpmath.sign(x) * _mp_erfc_inverse(1 - abs(x))


def _mp_erfcinv(y):
    """erfcinv at an mpf ``y`` in (0, 2)."""
    if abs(1 - y) <= 0.5:
        return _mp_erfinv(1 - y)
    return _mp_erfc_inverse(y) if y < 1 else -_mp_erfc_inverse(2 - y)


#: op -> (open domain as (low, high), the exact function of an mpf)
_MP_INVERSES = {
    Op.NDTRI: ((0.0, 1.0), lambda p: -mpmath.sqrt(2) * _mp_erfcinv(2 * p)),
    Op.ERFINV: ((-1.0, 1.0), _mp_erfinv),
    Op.ERFCINV: ((0.0, 2.0), _mp_erfcinv),
}


def mp_inverse(op: Op, x: float):
    """The exact value at ``x`` (an mpf), or None outside the open domain."""
    (low, high), function = _MP_INVERSES[op]
    if not low < x < high:
        return None
    with mpmath.workdps(40):
        return function(mpmath.mpf(x))


@pytest.fixture(scope="module")
def inverse_exact():
    """``{op: exact values over INVERSE_GRID}`` (mpf, None outside the open domain)."""
    return {op: [mp_inverse(op, float(x)) for x in INVERSE_GRID] for op in INVERSES}


def _ulps(got: float, exact) -> float:
    """The error of ``got`` in ulp of the mpf ``exact`` (subnormal ulp at least)."""
    with mpmath.workdps(40):
        return float(abs(mpmath.mpf(got) - exact)) / max(math.ulp(abs(float(exact))), TINY)


def _check_inverse(got: np.ndarray, op: Op, exact: list) -> None:
    # outside the open domain (and at its ends) the value is SciPy's: NaN or an infinity
    with np.errstate(all="ignore"):
        expected = getattr(special, op.value)(INVERSE_GRID)
    ends = np.array([e is None for e in exact])
    for kind, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        mismatch = ends & (test(got) != test(expected))
        assert not mismatch.any(), (
            f"{op.name}: {kind} pattern differs from SciPy at x = "
            f"{INVERSE_GRID[mismatch][:5].tolist()}: got {got[mismatch][:5].tolist()}"
        )
    # inside, within INVERSE_ULPS of the exact value, and finite (SciPy's erfcinv is inf
    # at subnormal y, whose y/2 underflows to 0)
    inside = np.flatnonzero(~ends)
    assert np.isfinite(got[inside]).all(), f"{op.name}: inf or NaN inside the domain"
    errors = np.array([_ulps(float(got[i]), exact[i]) for i in inside])
    worst = int(np.argmax(errors))
    assert errors[worst] <= INVERSE_ULPS, (
        f"{op.name}: {errors[worst]:.2f} ulp at x = {INVERSE_GRID[inside[worst]]!r}"
    )


def _inverse_python_columns() -> np.ndarray:
    return np.array(
        [[getattr(specfun, op.value)(float(x)) for op in INVERSES] for x in INVERSE_GRID]
    )


@pytest.mark.parametrize("op", INVERSES, ids=INVERSE_IDS)
def test_inverse_python_implementation_conforms(inverse_exact, op):
    got = np.array([getattr(specfun, op.value)(float(x)) for x in INVERSE_GRID])
    _check_inverse(got, op, inverse_exact[op])


def inverse_function(name: str = "inverses") -> Function:
    """``name(x: ()) -> (3,)``: ndtri, erfinv and erfcinv at x."""
    body = tuple(Assign(k, op, (Elem("x", 0),)) for k, op in enumerate(INVERSES))
    out = Output((len(body),), tuple(Var(k) for k in range(len(body))))
    return Function(name, (Param("x", ()),), body, out)


def test_interpreter_runs_the_inverses():
    fn = inverse_function()
    got = np.array([interpret.evaluate(fn, x) for x in INVERSE_GRID])
    np.testing.assert_array_equal(got, _inverse_python_columns())


@pytest.fixture(scope="module", params=["numpy", "c", "numba"])
def inverse_columns(request, tmp_path_factory):
    """(backend name, kernel output over INVERSE_GRID, shape (len(INVERSE_GRID), 3))."""
    name = require_backend(request.param)
    from symnum import backends

    backend = backends.get(name)
    source = backend.emit(inverse_function())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMNUM_CACHE_DIR", str(tmp_path_factory.mktemp(f"{name}-inverse-cache")))
        kernel = backend.build(source)
        return name, np.asarray(kernel.batch(INVERSE_GRID.copy()))


@pytest.mark.parametrize("op", INVERSES, ids=INVERSE_IDS)
def test_inverse_backend_conforms(inverse_columns, inverse_exact, op):
    _, columns = inverse_columns
    _check_inverse(columns[:, INVERSES.index(op)], op, inverse_exact[op])


def test_inverse_backends_agree_bit_for_bit(inverse_columns):
    """numpy runs specfun, numba compiles it, C mirrors it: the same operations in the
    same order (no fused multiply-adds), and libm's log and sqrt are Python's."""
    name, columns = inverse_columns
    np.testing.assert_array_equal(columns, _inverse_python_columns(), err_msg=name)
    signs = np.signbit(columns[INVERSE_GRID == 0.0])  # erfinv(-0.0) is -0.0 everywhere
    np.testing.assert_array_equal(signs, np.signbit(_inverse_python_columns()[INVERSE_GRID == 0]))


@pytest.mark.parametrize(
    ("op", "x"),
    [
        (Op.ERFINV, 1e-300),  # 1e-300 sqrt(pi)/2, not 0 (no (1 + x)/2)
        (Op.ERFINV, -TINY),
        (Op.ERFINV, 1e-310),
        (Op.ERFINV, 1 - 2.0**-53),
        (Op.NDTRI, 1e-300),
        (Op.NDTRI, TINY),
        (Op.NDTRI, 1 - 2.0**-53),
        (Op.NDTRI, 0.5 + 2.0**-53),
        (Op.ERFCINV, 1e-300),
        (Op.ERFCINV, TINY),  # y/2 underflows: log(y) - log(2) instead
        (Op.ERFCINV, 2 - 2.0**-52),
        (Op.ERFCINV, 1 - 2.0**-53),
    ],
)
def test_inverses_keep_relative_accuracy_at_extreme_arguments(op, x):
    got = getattr(specfun, op.value)(x)
    assert _ulps(got, mp_inverse(op, x)) <= INVERSE_ULPS


def test_erfinv_is_odd_and_keeps_the_sign_of_zero():
    assert math.copysign(1.0, specfun.erfinv(-0.0)) == -1.0
    assert math.copysign(1.0, specfun.erfinv(0.0)) == 1.0
    for x in INVERSE_GRID[np.abs(INVERSE_GRID) < 1]:
        assert specfun.erfinv(-float(x)) == -specfun.erfinv(float(x))


def test_inverses_invert():
    """erfinv(erf(t)) and ndtri(ndtr(t)) give t back where the forward value is exact
    enough; erfcinv(y) = erfinv(1 - y) where 1 - y is exact."""
    t = np.linspace(-5.0, 5.0, 101)
    for value in t:
        p = special.ndtr(value)
        assert math.isclose(specfun.ndtri(p), value, rel_tol=1e-9, abs_tol=1e-12)
    for y in np.linspace(0.5, 1.5, 41):
        assert specfun.erfcinv(y) == specfun.erfinv(1.0 - y)


def test_inverse_work_does_not_grow_with_x():
    moderate = np.linspace(0.01, 0.99, 99)
    for op in INVERSES:
        fn = getattr(specfun, op.value)
        most = max(_lines(fn, float(x)) for x in moderate)
        for x in INVERSE_GRID:
            assert _lines(fn, float(x)) <= most, (op, x)


def test_inverse_constants_are_what_their_comments_say():
    with mpmath.workprec(200):
        for hi, lo, value in (
            (specfun._SQRT2_4_HI, specfun._SQRT2_4_LO, mpmath.sqrt(2) / 4),
            (specfun._SQRT1_2_HI, specfun._SQRT1_2_LO, 1 / mpmath.sqrt(2)),
        ):
            assert hi == float(value)
            assert lo == float(value - mpmath.mpf(hi))
        assert float(mpmath.log(2)) == specfun._LN2
    assert specfun._HALVES_EXACTLY == 2.0**-1021
    assert specfun._SPLIT == 2.0**27 + 1
    for table in (
        specfun._PPND_CENTRAL_NUM, specfun._PPND_CENTRAL_DEN, specfun._PPND_NEAR_NUM,
        specfun._PPND_NEAR_DEN, specfun._PPND_FAR_NUM, specfun._PPND_FAR_DEN,
    ):  # fmt: skip
        assert len(table) == 8
        assert all(c > 0 for c in table)  # no cancellation in the Horner sums


def test_c_mirror_has_the_same_inverse_tables():
    from pathlib import Path

    import symnum.backends.c as c_backend

    text = (Path(c_backend.__file__).parent / "_c_helpers.h").read_text()
    for name in ("central_num", "central_den", "near_num", "near_den", "far_num", "far_den"):
        table = getattr(specfun, f"_PPND_{name.upper()}")
        body = text.split(f"static const double symnum_ppnd_{name}[{len(table)}] = {{", 1)[1]
        values = [float(v) for v in body.split("}", 1)[0].replace("\n", " ").split(",")]
        assert values == list(table), name
    for name in ("SPLIT", "SQRT2_4_HI", "SQRT2_4_LO", "SQRT1_2_HI", "SQRT1_2_LO", "LN2",
                 "HALVES_EXACTLY"):  # fmt: skip
        line = text.split(f"#define SYMNUM_{name} ", 1)[1].split("\n", 1)[0]
        assert float(line) == getattr(specfun, f"_{name}"), name
