"""Special functions: the one implementation the interpreter, the NumPy backend's point
functions and the numba backend run. ``backends/c/_c_helpers.h`` mirrors it line by line,
and ``backends/numpy/specfun.py`` branch for branch over arrays (masks for the ``if``
statements, this module's arithmetic helpers called on arrays): the NumPy backend's
batch functions, equal to these bit for bit where NumPy's ``log`` is libm's.

Every function takes and returns floats (``n``, the order of :func:`polygamma`, may be an
int or an integral float), never raises, and takes a time bounded independently of its
argument. The code is plain scalar Python over :mod:`math` so that numba compiles it
unchanged in nopython mode: :func:`compile_all` does that with the helpers resolved to
their compiled versions.

Values, held to SciPy by ``tests/ir/test_specfun.py`` over the whole real line:

* :func:`erf`, :func:`erfc`: :func:`math.erf`, :func:`math.erfc` (C's ``erf``/``erfc``).
* :func:`lgamma`: log|Gamma(x)| as C's ``lgamma``: ``+inf`` at the poles (non-positive
  integers) and at ``±inf`` (SciPy's ``gammaln(-inf)`` is ``-inf``; C's ``+inf`` is kept
  so that the C backend can call libm). :func:`math.lgamma` where it does not raise
  (within 8 ulp), and Taylor series about 1 and 2, where its relative accuracy fails next
  to the zeros; next to the negative zeros (-2.457..., ...) only the absolute error is
  small, as in SciPy. The C backend calls libm's ``lgamma``, accurate there too.
* :func:`gamma`: Gamma(x) as C's ``tgamma`` and SciPy: ``±inf`` at ``±0``, NaN at the
  negative integers and ``-inf``, ``+inf`` past 171.62.
* :func:`digamma`: psi(x) = d/dx log Gamma(x), as SciPy at the poles: ``-inf`` at ``+0``,
  ``+inf`` at ``-0``, NaN at the negative integers and ``-inf``; ``+inf`` at ``+inf``.
* :func:`polygamma`: psi_n(x), the n-th derivative of digamma, for integers
  ``0 <= n <= 170`` (NaN for any other ``n``); as SciPy, ``(-1)**(n+1) * inf`` at the poles
  (every non-positive integer, ``±0`` and ``-inf``), ``(-1)**(n+1) * 0.0`` at ``+inf``.
* :func:`ndtri`: the inverse of the standard normal CDF on [0, 1]: ``-inf`` at 0, ``+inf``
  at 1, NaN outside [0, 1] and for NaN.
* :func:`erfinv`, :func:`erfcinv`: the inverses of erf on [-1, 1] (``±inf`` at ``±1``)
  and of erfc on [0, 2] (``+inf`` at 0, ``-inf`` at 2); NaN outside and for NaN.
* :func:`fmod`: C's ``fmod``, the exact remainder ``x - trunc(x / y) y`` with the sign
  of ``x``; NaN for an infinite ``x``, a zero ``y`` or NaN, ``x`` for an infinite ``y``
  (:func:`math.fmod` raises there). Only the interpreter and the NumPy backend's scalar
  code call it: numba and NumPy have ``np.fmod``, C has ``fmod``, all exact.

Algorithms (accuracy: a few ulp, except where a reflection formula's two terms cancel,
which SciPy shares):

* arguments of ``cot(pi x)`` are reduced exactly to ``r = x - round(x)`` in [-1/2, 1/2],
  and ``cot(pi r)`` is ``tan(pi (1/2 - |r|))`` past ``|r| = 1/4``, so large ``|x|`` and
  half-integers keep full accuracy;
* digamma: a Taylor series about its positive zero on [1, 2] and about its zero near
  -0.504, recurrences into [1, 2] from (0, 10) (at most 9 steps), the asymptotic series
  from 10 on, reflection ``psi(x) = psi(1 - x) - pi cot(pi x)`` below 0;
* polygamma: ``n! zeta(n + 1, x)`` summed directly up to ``10 + 2n`` and by its
  Euler-Maclaurin tail beyond (at most ``11 + 2n`` steps), powers scaled through
  ``frexp`` so that nothing overflows before the result does, and reflection
  ``psi_n(x) = -(pi^(n+1) P_n(cot(pi x)) + n! zeta(n + 1, 1 - x))`` below -1/4, with
  ``P_n`` the polynomial ``d^n/dy^n cot(y) = P_n(cot y)``.
* ndtri, erfinv, erfcinv (within 3 ulp): Wichura's algorithm AS241 (PPND16, Applied
  Statistics 37, 1988), rational functions of relative accuracy about 1e-16 in
  ``q = p - 1/2`` for ``|q| <= 0.425`` and in ``r = sqrt(-log(min(p, 1 - p)))``
  beyond, evaluated with compensated Horner sums and a double-double quotient
  (error-free transformations, no fused multiply-add needed) so that the result is
  rounded about once. ``erfinv(x) = ndtri((1 + x)/2) / sqrt(2)`` is computed from
  ``q = x/2`` in the centre and ``1 - |x|`` in the tails (both exact), never through
  ``(1 + x)/2``, so small arguments keep full relative accuracy (``erfinv(1e-300)`` is
  ``1e-300 sqrt(pi)/2``, subnormal ones too); ``erfcinv(y) = -ndtri(y/2) / sqrt(2)``
  from ``1 - y`` in the centre and ``y/2`` (``log(y) - log(2)`` where ``y/2`` would be
  subnormal) or ``1 - y/2`` in the tails.
"""

from __future__ import annotations

import math
import types

__all__ = [
    "NAMES",
    "compile_all",
    "digamma",
    "erf",
    "erfc",
    "erfcinv",
    "erfinv",
    "fmod",
    "gamma",
    "lgamma",
    "ndtri",
    "polygamma",
]

#: The public functions; :func:`compile_all` compiles these and :data:`_HELPERS`.
NAMES = ("erf", "erfc", "lgamma", "gamma", "digamma", "polygamma", "ndtri", "erfinv", "erfcinv")

_PI = math.pi
#: Every double of at least this magnitude is an integer.
_TWO52 = 4503599627370496.0
#: math.lgamma overflows (raises) above this; gamma above _GAMMA_MAX.
_LGAMMA_MAX = 2.5599833278516383e305
_GAMMA_MAX = 171.6243769563027
#: Highest order polygamma computes; n! overflows beyond.
_MAX_ORDER = 170
#: Below this magnitude digamma and polygamma use the recurrence instead of reflection.
_TINY = 1e-8

#: The positive zero of digamma, as a sum of two doubles, and psi's Taylor coefficients
#: psi^(k)(root) / k! for k = 1, 2, ... about it (used on [1, 2]).
_POS_ROOT = 1.4616321449683622
_POS_ROOT_LO = 9.549995429965697e-17
_POS_TAYLOR = (
    0.9676722454476212, -0.4427631689835921, 0.258499760955651, -0.16394270544240652,
    0.10782405069126237, -0.07219956125645471, 0.04880428816414311, -0.03316112647484736,
    0.022597648232218104, -0.01542476590494896, 0.010538791616612175, -0.007204534386356869,
    0.004926781395729853, -0.003369801655439328, 0.002305126326734928,
    -0.0015769367714301972, 0.0010788252019162967, -0.0007380709389960052,
    0.000504953265834602, -0.0003454680251063077, 0.00023635601564027053,
    -0.00016170622091974803, 0.0001106337276874741, -7.569179582195066e-05,
    5.178575795222081e-05, -3.5430070947659604e-05, 2.424006611860132e-05,
    -1.6584242271854135e-05, 1.134638458466385e-05, -7.762817668462094e-06,
    5.3110609208898636e-06, -3.6336507898010456e-06, 2.486022733129538e-06,
    -1.7008538854332607e-06, 1.1636675363548843e-06, -7.96142543124197e-07,
    5.446941930669446e-07, -3.7266161283438227e-07, 2.549626552021554e-07,
    -1.7443695117727745e-07, 1.1934394829830244e-07, -8.165115189488409e-08,
    5.586299683532171e-08, -3.821960061917494e-08,
)  # fmt: skip
#: The zero of digamma in (-1, 0) and the Taylor coefficients about it (used within
#: _NEG_WINDOW of it, where reflection's two terms cancel).
_NEG_ROOT = -0.5040830082644554
_NEG_ROOT_LO = -8.15428206243813e-18
_NEG_WINDOW = 0.1
_NEG_TAYLOR = (
    8.939798558792134, -0.8093454625306507, 32.258572064915505, -2.761011648790828,
    128.27342343090902, -14.70672173553036, 513.2704629562862, -75.37700066344631,
    2055.5357119463315, -368.5783503832191, 8234.667099203069, -1743.364608867363,
    32997.785655255044, -8051.818155363498, 132262.95480834588, -36529.94596948565,
    530280.3912420176, -163451.79342700253, 2126602.3725968753, -723318.8861804305,
    8530604.878543982, -3172131.3155744765, 34228316.69580112, -13807481.997263888,
    137373435.87411496, -59721085.411294304, 551481251.858545, -256915093.79875362,
    2214464568.013911, -1100067148.941634,
)  # fmt: skip
#: Taylor coefficients of lgamma about 1 (-gamma, (-1)^k zeta(k)/k) and about 2
#: (1 - gamma, (-1)^k (zeta(k) - 1)/k), used on [1/2, 5/4) and [5/4, 11/4], where
#: math.lgamma loses its relative accuracy next to the zeros.
_LGAMMA_AT_1 = (
    -0.5772156649015329, 0.8224670334241132, -0.40068563438653143, 0.27058080842778454,
    -0.20738555102867398, 0.1695571769974082, -0.1440498967688461, 0.12550966952474304,
    -0.11133426586956469, 0.1000994575127818, -0.09095401714582904, 0.083353840546109,
    -0.0769325164113522, 0.07143294629536133, -0.06666870588242046, 0.06250095514121304,
    -0.058823978658684585, 0.055555767627403614, -0.05263167937961666, 0.05000004769810169,
    -0.047619070330142226, 0.04545455629320467, -0.04347826605304026, 0.04166666915034121,
    -0.04000000119214014, 0.03846153903467518, -0.037037037312989324, 0.035714285847333355,
    -0.034482758684919304, 0.03333333336437758, -0.03225806453115042, 0.03125000000727597,
    -0.030303030306558044, 0.029411764707594344, -0.02857142857226011, 0.027777777778181998,
    -0.027027027027223673, 0.02631578947377995, -0.025641025641072283, 0.025000000000022737,
    -0.024390243902450117, 0.023809523809529224, -0.023255813953491015, 0.02272727272727402,
    -0.022222222222222855, 0.021739130434782917, -0.021276595744681003, 0.02083333333333341,
    -0.02040816326530616, 0.020000000000000018, -0.019607843137254912, 0.019230769230769235,
    -0.01886792452830189, 0.01851851851851852, -0.01818181818181818, 0.017857142857142856,
)  # fmt: skip
_LGAMMA_AT_2 = (
    0.42278433509846713, 0.3224670334241132, -0.0673523010531981, 0.020580808427784546,
    -0.007385551028673986, 0.0028905103307415234, -0.001192753911703261,
    0.0005096695247430425, -0.00022315475845357939, 9.945751278180853e-05,
    -4.492623673813314e-05, 2.050721277567069e-05, -9.439488275268397e-06,
    4.374866789907488e-06, -2.039215753801366e-06, 9.55141213040742e-07,
    -4.492469198764566e-07, 2.1207184805554665e-07, -1.0043224823968099e-07,
    4.7698101693639804e-08, -2.2711094608943164e-08, 1.0838659214896955e-08,
    -5.183475041970047e-09, 2.4836745438024785e-09, -1.1921401405860912e-09,
    5.731367241678862e-10, -2.7595228851242334e-10, 1.330476437424449e-10,
    -6.4229645638381e-11, 3.1044247747322276e-11, -1.5021384080754142e-11,
    7.275974480239079e-12, -3.527742476575915e-12, 1.711991790559618e-12,
    -8.315385841420285e-13, 4.04220052528944e-13, -1.9664756310966165e-13,
    9.573630387838556e-14, -4.6640760264283744e-14, 2.2737369600659724e-14,
    -1.1091399470834522e-14, 5.413659156725363e-15, -2.643880017860995e-15,
    1.2918959062789966e-15,
)  # fmt: skip
#: B_2j / (2j) for j = 1..8: digamma's asymptotic series (x >= 10).
_DIGAMMA_ASYMPTOTIC = (
    1.0 / 12.0, -1.0 / 120.0, 1.0 / 252.0, -1.0 / 240.0, 1.0 / 132.0, -691.0 / 32760.0,
    1.0 / 12.0, -3617.0 / 8160.0,
)  # fmt: skip
#: B_2j / (2j)! for j = 1..10: the Euler-Maclaurin tail of Hurwitz zeta.
_ZETA_TAIL = (
    1.0 / 12.0, -1.0 / 720.0, 1.0 / 30240.0, -1.0 / 1209600.0, 1.0 / 47900160.0,
    -691.0 / 1307674368000.0, 1.0 / 74724249600.0, -3617.0 / 10670622842880000.0,
    43867.0 / 5109094217170944000.0, -174611.0 / 802857662698291200000.0,
)  # fmt: skip

#: AS241 (PPND16): numerator and denominator coefficients, lowest order first, of
#: ndtri(1/2 + q) / q as a function of 0.180625 - q**2 (|q| <= 0.425), and of
#: -ndtri(p) as a function of r - 1.6 (r <= 5) and of r - 5 (r > 5), where
#: r = sqrt(-log(p)) and p <= 0.075.
_PPND_CENTRAL_NUM = (
    3.3871328727963666080, 133.14166789178437745, 1971.5909503065514427,
    13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
    33430.575583588128105, 2509.0809287301226727,
)  # fmt: skip
_PPND_CENTRAL_DEN = (
    1.0, 42.313330701600911252, 687.18700749205790830, 5394.1960214247511077,
    21213.794301586595867, 39307.895800092710610, 28729.085735721942674,
    5226.4952788528545610,
)  # fmt: skip
_PPND_NEAR_NUM = (
    1.42343711074968357734, 4.63033784615654529590, 5.76949722146069140550,
    3.64784832476320460504, 1.27045825245236838258, 0.241780725177450611770,
    0.0227238449892691845833, 7.74545014278341407640e-4,
)  # fmt: skip
_PPND_NEAR_DEN = (
    1.0, 2.05319162663775882187, 1.67638483018380384940, 0.689767334985100004550,
    0.148103976427480074590, 0.0151986665636164571966, 5.47593808499534494600e-4,
    1.05075007164441684324e-9,
)  # fmt: skip
_PPND_FAR_NUM = (
    6.65790464350110377720, 5.46378491116411436990, 1.78482653991729133580,
    0.296560571828504891230, 0.0265321895265761230930, 0.00124266094738807843860,
    2.71155556874348757815e-5, 2.01033439929228813265e-7,
)  # fmt: skip
_PPND_FAR_DEN = (
    1.0, 0.599832206555887937690, 0.136929880922735805310, 0.0148753612908506148525,
    7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
    2.04426310338993978564e-15,
)  # fmt: skip
#: Veltkamp's splitting constant 2**27 + 1: a * it splits a double into two halves.
_SPLIT = 134217729.0
#: sqrt(2)/4 and 1/sqrt(2) as double-doubles (hi + lo, |lo| <= ulp(hi)/2).
_SQRT2_4_HI = 0.3535533905932738
_SQRT2_4_LO = -2.4168233283632284e-17
_SQRT1_2_HI = 0.7071067811865476
_SQRT1_2_LO = -4.833646656726457e-17
_LN2 = 0.6931471805599453
#: The smallest y for which y/2 is exact (a normal double).
_HALVES_EXACTLY = 4.450147717014403e-308


def _is_pole(x: float) -> bool:
    """Whether ``x`` is a non-positive integer (``-0.0`` and ``-inf`` included)."""
    # every |x| >= 2**52 is an integer; below, floor is exact (and fits numba's int64)
    return x <= 0.0 and (x <= -_TWO52 or x == math.floor(x))


def _cot_pi(x: float) -> float:
    """cot(pi x) for a finite non-integer ``x`` with ``|x| >= 1e-300``.

    ``x`` is reduced exactly to ``r`` in [-1/2, 1/2] first; past ``|r| = 1/4`` the
    complement ``tan(pi (1/2 - |r|))`` is used, which is exactly zero at half-integers.
    """
    r = x
    if r < -0.5 or r > 0.5:
        r = x - math.floor(x)  # in [0, 1); exact when |x| >= 1/2 (not below)
        if r > 0.5:
            r -= 1.0  # exact
    if r > 0.25:
        return math.tan(_PI * (0.5 - r))
    if r < -0.25:
        return -math.tan(_PI * (0.5 + r))
    return 1.0 / math.tan(_PI * r)


def _taylor(coefficients, t: float) -> float:
    """sum_k coefficients[k-1] * t**k (k >= 1), by Horner's rule."""
    total = 0.0
    for k in range(len(coefficients) - 1, -1, -1):
        total = total * t + coefficients[k]
    return total * t


def _scaled_power(c: float, a: float, s: int) -> float:
    """``c * a**-s`` for finite ``c >= 0``, finite ``a > 0`` and ``1 <= s <= 1000``.

    Mantissas and exponents are kept apart (``frexp``), so nothing overflows or raises
    before the result does: an overflowing result is ``inf``, an underflowing one 0.
    """
    if a >= 1.0:  # a**-s <= 1: nothing to overflow
        return c * math.pow(a, -float(s))
    cm, ce = math.frexp(c)
    am, ae = math.frexp(a)  # a = am * 2**ae, am in [1/2, 1)
    pm, pe = math.frexp(cm * math.pow(am, -float(s)))  # am**-s <= 2**s: no overflow
    exponent = ce + pe - ae * s
    if exponent > 1024:
        return math.inf
    return math.ldexp(pm, exponent)


def _factorial(n: int) -> float:
    """n! as a float (exact up to 22!)."""
    result = 1.0
    for k in range(2, n + 1):
        result *= k
    return result


def _zeta_scaled(n: int, a: float) -> float:
    """``n! zeta(n + 1, a)`` = ``|psi_n(a)|`` for ``1 <= n <= 170`` and finite ``a > 0``.

    Terms up to ``10 + 2n`` are summed directly (at most ``11 + 2n`` of them, smallest
    first); the rest is the Euler-Maclaurin tail ``(n-1)! b**-n (1 + n/(2b) +
    sum_j B_2j/(2j)! n (n+1) ... (n+2j-1) b**-2j)``, whose first omitted term is below
    1e-17 relative for ``b >= 10 + 2n``.
    """
    threshold = 10.0 + 2.0 * n
    steps = 0
    if a < threshold:
        steps = int(threshold - a) + 1
    b = a + steps
    inv2 = 1.0 / (b * b)  # 0 when b * b overflows
    rising = 1.0  # n (n+1) ... (n+2j-1)
    power = 1.0  # b**-2j
    series = 0.0
    for j in range(len(_ZETA_TAIL)):
        rising *= (n + 2 * j) * (n + 2 * j + 1.0)
        power *= inv2
        series += _ZETA_TAIL[j] * rising * power
    bracket = 1.0 + 0.5 * n / b + series
    total = _scaled_power(_factorial(n - 1) * bracket, b, n)
    factorial = _factorial(n)
    for k in range(steps - 1, -1, -1):
        total += _scaled_power(factorial, a + k, n + 1)
    return total


def _cot_derivative(n: int, c: float) -> float:
    """P_n(c), where d^n/dy^n cot(y) = P_n(cot y): P_0(c) = c, P_(k+1) = -(1 + c^2) P_k'.

    The coefficients of each P_n share one sign, so the evaluation does not cancel.
    """
    coefficients = [0.0] * (n + 2)
    scratch = [0.0] * (n + 2)
    coefficients[1] = 1.0
    for degree in range(1, n + 1):  # P_(degree-1) has degree `degree`
        for i in range(degree + 2):
            scratch[i] = 0.0
        for i in range(1, degree + 1):
            d = i * coefficients[i]
            scratch[i - 1] -= d
            scratch[i + 1] -= d
        for i in range(degree + 2):
            coefficients[i] = scratch[i]
    total = 0.0
    for i in range(n + 1, -1, -1):
        total = total * c + coefficients[i]
    return total


def erf(x: float) -> float:
    """The error function (C's ``erf``)."""
    return math.erf(x)


def erfc(x: float) -> float:
    """The complementary error function 1 - erf(x) (C's ``erfc``)."""
    return math.erfc(x)


def lgamma(x: float) -> float:
    """log|Gamma(x)| as C's ``lgamma``: ``+inf`` at the poles and at ``±inf``."""
    if math.isnan(x):
        return x
    if math.isinf(x) or _is_pole(x) or x > _LGAMMA_MAX:
        return math.inf
    if x >= 0.5 and x < 1.25:
        return _taylor(_LGAMMA_AT_1, x - 1.0)
    if abs(x - 2.0) <= 0.75:
        return _taylor(_LGAMMA_AT_2, x - 2.0)
    return math.lgamma(x)


def gamma(x: float) -> float:
    """Gamma(x) as C's ``tgamma``: ``±inf`` at ``±0``, NaN at negative integers and -inf."""
    if math.isnan(x):
        return x
    if x == 0.0:
        return math.copysign(math.inf, x)
    if _is_pole(x):
        return math.nan
    if x > _GAMMA_MAX:
        return math.inf
    if abs(x) < 1e-300:  # Gamma(x) = 1/x to double precision; 1/x may overflow
        return 1.0 / x
    return math.gamma(x)


def digamma(x: float) -> float:
    """psi(x) = d/dx log Gamma(x); at the poles as SciPy (``∓inf`` at ``±0``, else NaN)."""
    if math.isnan(x) or x == math.inf:
        return x
    if x == 0.0:
        return math.copysign(math.inf, -x)
    if _is_pole(x):
        return math.nan
    result = 0.0
    if x < 0.0:
        if abs(x - _NEG_ROOT) < _NEG_WINDOW:
            return _taylor(_NEG_TAYLOR, (x - _NEG_ROOT) - _NEG_ROOT_LO)
        if x > -_TINY:  # psi(x) = psi(x + 1) - 1/x; 1/x dominates
            result = -1.0 / x
            x += 1.0
        else:  # reflection: psi(x) = psi(1 - x) - pi cot(pi x)
            result = -_PI * _cot_pi(x)
            x = 1.0 - x
    if x >= 10.0:
        inv2 = 1.0 / (x * x)  # 0 when x * x overflows
        series = 0.0
        for k in range(len(_DIGAMMA_ASYMPTOTIC) - 1, -1, -1):
            series = series * inv2 + _DIGAMMA_ASYMPTOTIC[k]
        return result + (math.log(x) - 0.5 / x - series * inv2)
    if x < 1.0:  # psi(x) = psi(x + 1) - 1/x, into [1, 2)
        result -= 1.0 / x
        x += 1.0
    while x > 2.0:  # psi(x) = psi(x - 1) + 1/(x - 1), into (1, 2]; at most 8 steps
        x -= 1.0
        result += 1.0 / x
    return result + _taylor(_POS_TAYLOR, (x - _POS_ROOT) - _POS_ROOT_LO)


def polygamma(n: float, x: float) -> float:
    """psi_n(x), the n-th derivative of digamma, for an integer ``0 <= n <= 170``.

    NaN for any other ``n``; ``(-1)**(n+1) * inf`` at the poles (as SciPy).
    """
    if not (n >= 0 and n <= _MAX_ORDER and n == math.floor(n)):
        return math.nan
    k = int(n)
    if k == 0:
        return digamma(x)
    if math.isnan(x):
        return x
    odd = k % 2 == 1
    if x == math.inf:
        return 0.0 if odd else -0.0
    if _is_pole(x):
        return math.inf if odd else -math.inf
    return _polygamma_finite(k, x, odd)


def _polygamma_finite(k: int, x: float, odd: bool) -> float:
    """psi_k(x) for ``k >= 1`` at a finite ``x`` that is not a pole."""
    if x <= -0.25:
        # reflection: psi_n(x) = -(pi^(n+1) P_n(cot(pi x)) + n! zeta(n + 1, 1 - x))
        head = math.pow(_PI, k + 1.0) * _cot_derivative(k, _cot_pi(x))
        return -(head + _zeta_scaled(k, 1.0 - x))
    magnitude = 0.0
    if x < 0.0:  # psi_n(x) = psi_n(x + 1) + n! |x|**-(n+1); that term dominates
        magnitude = _scaled_power(_factorial(k), -x, k + 1)
        x += 1.0
        if odd:
            return magnitude + _zeta_scaled(k, x)
        return magnitude - _zeta_scaled(k, x)
    magnitude = _zeta_scaled(k, x)
    return magnitude if odd else -magnitude


# -- inverses of the normal CDF and of the error functions -----------------------------


def _two_product(a: float, b: float):
    """``(p, e)`` with ``p = a * b`` rounded and ``p + e = a * b`` exactly (Dekker's
    product; no overflow for the moderate ``a`` and ``b`` used here)."""
    p = a * b
    c = _SPLIT * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLIT * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _compensated_horner(coefficients, t: float):
    """sum_k coefficients[k] * t**k as a double-double ``(hi, lo)``.

    Horner's rule with the rounding error of every product and sum (error-free
    transformations) accumulated beside it: as accurate as Horner's rule in twice the
    working precision (Graillat, Langlois and Louvet, 2005).
    """
    n = len(coefficients)
    total = coefficients[n - 1]
    error = 0.0
    for k in range(n - 2, -1, -1):
        product, product_error = _two_product(total, t)
        total = product + coefficients[k]
        z = total - product
        sum_error = (product - (total - z)) + (coefficients[k] - z)
        error = error * t + (product_error + sum_error)
    hi = total + error
    return hi, error - (hi - total)


def _scaled_ratio(numerator, denominator, t: float, f_hi: float, f_lo: float):
    """``f * numerator(t) / denominator(t)`` as a double-double, ``f = f_hi + f_lo``."""
    n_hi, n_lo = _compensated_horner(numerator, t)
    d_hi, d_lo = _compensated_horner(denominator, t)
    ratio = n_hi / d_hi
    p, p_error = _two_product(ratio, d_hi)  # n_hi - p is exact
    ratio_lo = (((n_hi - p) - p_error) + n_lo - ratio * d_lo) / d_hi
    hi, hi_error = _two_product(ratio, f_hi)
    return hi, hi_error + (ratio_lo * f_hi + ratio * f_lo)


def _times(x: float, hi: float, lo: float) -> float:
    """``x * (hi + lo)``, rounded about once."""
    p, p_error = _two_product(x, hi)
    return p + (p_error + x * lo)


def _ppnd_central(q: float, f_hi: float, f_lo: float):
    """``f * ndtri(1/2 + q) / q`` for ``|q| <= 0.425``, as a double-double."""
    return _scaled_ratio(_PPND_CENTRAL_NUM, _PPND_CENTRAL_DEN, 0.180625 - q * q, f_hi, f_lo)


def _ppnd_tail(s: float, f_hi: float, f_lo: float) -> float:
    """``f * -ndtri(p)`` for ``p = exp(-s) < 0.075``: the magnitude of a tail quantile."""
    r = math.sqrt(s)
    if r <= 5.0:
        hi, lo = _scaled_ratio(_PPND_NEAR_NUM, _PPND_NEAR_DEN, r - 1.6, f_hi, f_lo)
    else:
        hi, lo = _scaled_ratio(_PPND_FAR_NUM, _PPND_FAR_DEN, r - 5.0, f_hi, f_lo)
    return hi + lo


def ndtri(p: float) -> float:
    """The inverse of the standard normal CDF: ``-inf`` at 0, ``+inf`` at 1, NaN outside
    [0, 1]."""
    if not (p >= 0.0 and p <= 1.0):  # NaN too
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    q = p - 0.5  # exact from p = 1/4 on
    if abs(q) <= 0.425:
        hi, lo = _ppnd_central(q, 1.0, 0.0)
        return _times(q, hi, lo)
    if q < 0.0:
        return -_ppnd_tail(-math.log(p), 1.0, 0.0)
    return _ppnd_tail(-math.log(1.0 - p), 1.0, 0.0)  # 1 - p is exact


def erfinv(x: float) -> float:
    """The inverse of erf: ``±inf`` at ``±1``, NaN outside [-1, 1]; odd (``-0.0`` too)."""
    if not (x >= -1.0 and x <= 1.0):  # NaN too
        return math.nan
    if x == 0.0:
        return x
    a = abs(x)
    if a == 1.0:
        return math.copysign(math.inf, x)
    if a <= 0.85:  # ndtri(1/2 + x/2) / sqrt(2) = x * (sqrt(2)/4) ndtri(1/2 + q) / q
        hi, lo = _ppnd_central(0.5 * x, _SQRT2_4_HI, _SQRT2_4_LO)
        return _times(x, hi, lo)
    # 1 - |x| is exact; (1 - |x|)/2 is the tail probability
    value = _ppnd_tail(-math.log(0.5 * (1.0 - a)), _SQRT1_2_HI, _SQRT1_2_LO)
    return math.copysign(value, x)


def erfcinv(y: float) -> float:
    """The inverse of erfc: ``+inf`` at 0, ``-inf`` at 2, NaN outside [0, 2]."""
    if not (y >= 0.0 and y <= 2.0):  # NaN too
        return math.nan
    if y == 0.0:
        return math.inf
    if y == 2.0:
        return -math.inf
    d = 1.0 - y  # exact from y = 1/2 on; erfcinv(y) = erfinv(d)
    if abs(d) <= 0.85:
        hi, lo = _ppnd_central(0.5 * d, _SQRT2_4_HI, _SQRT2_4_LO)
        return _times(d, hi, lo)
    if d > 0.0:  # the tail probability is y/2; log(y/2) without rounding y/2
        s = -math.log(0.5 * y) if y >= _HALVES_EXACTLY else _LN2 - math.log(y)
        return _ppnd_tail(s, _SQRT1_2_HI, _SQRT1_2_LO)
    return -_ppnd_tail(-math.log(0.5 * (2.0 - y)), _SQRT1_2_HI, _SQRT1_2_LO)  # 2 - y exact


def fmod(x: float, y: float) -> float:
    """C's ``fmod(x, y)``: exact, the sign of ``x``; NaN for infinite ``x``, zero ``y``
    or NaN, ``x`` itself for infinite ``y``."""
    if math.isnan(x) or math.isnan(y) or math.isinf(x) or y == 0.0:
        return math.nan
    if math.isinf(y):
        return x
    return math.fmod(x, y)


#: The private helpers the public functions call, compiled before them.
_HELPERS = ("_is_pole", "_cot_pi", "_taylor", "_scaled_power", "_factorial", "_zeta_scaled",
            "_cot_derivative", "_polygamma_finite", "_two_product", "_compensated_horner",
            "_scaled_ratio", "_times", "_ppnd_central", "_ppnd_tail")  # fmt: skip


def compile_all(jit) -> dict:
    """Every function of :data:`NAMES` compiled by ``jit`` (for example ``numba.njit``).

    The functions are copied into one namespace in which each helper is replaced by its
    compiled version, so compiled functions call compiled helpers. Returns
    ``{name: compiled function}`` for the names of :data:`NAMES`.
    """
    namespace = dict(globals())
    for name in (*_HELPERS, *NAMES):
        fn = globals()[name]
        copy = types.FunctionType(fn.__code__, namespace, name, fn.__defaults__)
        copy.__doc__ = fn.__doc__
        copy.__qualname__ = fn.__qualname__
        copy.__module__ = fn.__module__
        namespace[name] = jit(copy)
    return {name: namespace[name] for name in NAMES}
