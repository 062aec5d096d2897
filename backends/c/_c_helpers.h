/* symnum C helpers: special functions libm does not have (C99, math.h only).
 *
 * Each helper is a section starting with a line "@@ name: dependencies" and is copied
 * into the generated C only when an emitted statement needs it.
 *
 * These functions mirror symnum/ir/specfun.py line by line (same operations in the same
 * order, so results agree to the last bit wherever libm's pow, tan and log agree with
 * Python's math); see that module for the algorithms and the values at the poles and
 * infinities, which are SciPy's. tests/ir/test_specfun.py holds them together.
 */
@@ specfun:
#define SYMNUM_PI 3.141592653589793
#define SYMNUM_TWO52 4503599627370496.0
#define SYMNUM_TINY 1e-8
#define SYMNUM_POS_ROOT 1.4616321449683622
#define SYMNUM_POS_ROOT_LO 9.549995429965697e-17
#define SYMNUM_NEG_ROOT -0.5040830082644554
#define SYMNUM_NEG_ROOT_LO -8.15428206243813e-18
#define SYMNUM_NEG_WINDOW 0.1
#define SYMNUM_MAX_ORDER 170
static const double symnum_pos_taylor[44] = {
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
    5.586299683532171e-08, -3.821960061917494e-08};
static const double symnum_neg_taylor[30] = {
    8.939798558792134, -0.8093454625306507, 32.258572064915505, -2.761011648790828,
    128.27342343090902, -14.70672173553036, 513.2704629562862, -75.37700066344631,
    2055.5357119463315, -368.5783503832191, 8234.667099203069, -1743.364608867363,
    32997.785655255044, -8051.818155363498, 132262.95480834588, -36529.94596948565,
    530280.3912420176, -163451.79342700253, 2126602.3725968753, -723318.8861804305,
    8530604.878543982, -3172131.3155744765, 34228316.69580112, -13807481.997263888,
    137373435.87411496, -59721085.411294304, 551481251.858545, -256915093.79875362,
    2214464568.013911, -1100067148.941634};
static const double symnum_digamma_asymptotic[8] = {
    0.08333333333333333, -0.008333333333333333, 0.003968253968253968, -0.004166666666666667,
    0.007575757575757576, -0.021092796092796094, 0.08333333333333333, -0.4432598039215686};

/* _is_pole: x a non-positive integer (-0.0 and -inf included) */
static int symnum_is_pole(double x)
{
    return x <= 0.0 && (x <= -SYMNUM_TWO52 || x == floor(x));
}

/* _cot_pi: cot(pi x), x reduced exactly to r in [-1/2, 1/2] first */
static double symnum_cot_pi(double x)
{
    double r = x;
    if (r < -0.5 || r > 0.5) {
        r = x - floor(x);
        if (r > 0.5) {
            r -= 1.0;
        }
    }
    if (r > 0.25) {
        return tan(SYMNUM_PI * (0.5 - r));
    }
    if (r < -0.25) {
        return -tan(SYMNUM_PI * (0.5 + r));
    }
    return 1.0 / tan(SYMNUM_PI * r);
}

/* _taylor: sum_k coefficients[k-1] t^k, by Horner's rule */
static double symnum_taylor(const double *coefficients, int count, double t)
{
    double total = 0.0;
    int k;
    for (k = count - 1; k >= 0; k--) {
        total = total * t + coefficients[k];
    }
    return total * t;
}

@@ zeta: specfun
static const double symnum_zeta_tail[10] = {
    0.08333333333333333, -0.001388888888888889, 3.306878306878307e-05,
    -8.267195767195768e-07, 2.08767569878681e-08, -5.284190138687493e-10,
    1.3382536530684679e-11, -3.3896802963225827e-13, 8.586062056277845e-15,
    -2.174868698558062e-16};

/* _scaled_power: c a^-s through frexp, so nothing overflows before the result */
static double symnum_scaled_power(double c, double a, int s)
{
    int ce, ae, pe, exponent;
    double cm, am, pm;
    if (a >= 1.0) {
        return c * pow(a, -(double)s);
    }
    cm = frexp(c, &ce);
    am = frexp(a, &ae);
    pm = frexp(cm * pow(am, -(double)s), &pe);
    exponent = ce + pe - ae * s;
    if (exponent > 1024) {
        return INFINITY;
    }
    return ldexp(pm, exponent);
}

/* _factorial: n! as a double */
static double symnum_factorial(int n)
{
    double result = 1.0;
    int k;
    for (k = 2; k <= n; k++) {
        result *= k;
    }
    return result;
}

/* _zeta_scaled: n! zeta(n + 1, a) for 1 <= n <= 170 and finite a > 0 */
static double symnum_zeta_scaled(int n, double a)
{
    double threshold = 10.0 + 2.0 * n, b, inv2, rising = 1.0, power = 1.0, series = 0.0;
    double bracket, total, factorial;
    int steps = 0, j, k;
    if (a < threshold) {
        steps = (int)(threshold - a) + 1;
    }
    b = a + steps;
    inv2 = 1.0 / (b * b);
    for (j = 0; j < 10; j++) {
        rising *= (n + 2 * j) * (n + 2 * j + 1.0);
        power *= inv2;
        series += symnum_zeta_tail[j] * rising * power;
    }
    bracket = 1.0 + 0.5 * n / b + series;
    total = symnum_scaled_power(symnum_factorial(n - 1) * bracket, b, n);
    factorial = symnum_factorial(n);
    for (k = steps - 1; k >= 0; k--) {
        total += symnum_scaled_power(factorial, a + k, n + 1);
    }
    return total;
}

/* _cot_derivative: P_n(c) with d^n/dy^n cot(y) = P_n(cot y) */
static double symnum_cot_derivative(int n, double c)
{
    double coefficients[SYMNUM_MAX_ORDER + 2] = {0.0}, scratch[SYMNUM_MAX_ORDER + 2] = {0.0};
    double d, total = 0.0;
    int degree, i;
    coefficients[1] = 1.0;
    for (degree = 1; degree <= n; degree++) {
        for (i = 0; i < degree + 2; i++) {
            scratch[i] = 0.0;
        }
        for (i = 1; i <= degree; i++) {
            d = i * coefficients[i];
            scratch[i - 1] -= d;
            scratch[i + 1] -= d;
        }
        for (i = 0; i < degree + 2; i++) {
            coefficients[i] = scratch[i];
        }
    }
    for (i = n + 1; i >= 0; i--) {
        total = total * c + coefficients[i];
    }
    return total;
}

@@ digamma: specfun
/* digamma: psi(x); -inf at +0, +inf at -0, NaN at the negative integers and -inf */
static double symnum_digamma(double x)
{
    double result = 0.0, inv2, series;
    int k;
    if (isnan(x) || x == INFINITY) {
        return x;
    }
    if (x == 0.0) {
        return copysign(INFINITY, -x);
    }
    if (symnum_is_pole(x)) {
        return NAN;
    }
    if (x < 0.0) {
        if (fabs(x - SYMNUM_NEG_ROOT) < SYMNUM_NEG_WINDOW) {
            return symnum_taylor(symnum_neg_taylor, 30, (x - SYMNUM_NEG_ROOT) - SYMNUM_NEG_ROOT_LO);
        }
        if (x > -SYMNUM_TINY) {
            result = -1.0 / x;
            x += 1.0;
        } else {
            result = -SYMNUM_PI * symnum_cot_pi(x);
            x = 1.0 - x;
        }
    }
    if (x >= 10.0) {
        inv2 = 1.0 / (x * x);
        series = 0.0;
        for (k = 7; k >= 0; k--) {
            series = series * inv2 + symnum_digamma_asymptotic[k];
        }
        return result + (log(x) - 0.5 / x - series * inv2);
    }
    if (x < 1.0) {
        result -= 1.0 / x;
        x += 1.0;
    }
    while (x > 2.0) {
        x -= 1.0;
        result += 1.0 / x;
    }
    return result + symnum_taylor(symnum_pos_taylor, 44, (x - SYMNUM_POS_ROOT) - SYMNUM_POS_ROOT_LO);
}
@@ polygamma: digamma zeta
/* polygamma: psi_n(x) for 0 <= n <= 170 (NaN otherwise); (-1)^(n+1) inf at the poles */
static double symnum_polygamma(int n, double x)
{
    double magnitude, head;
    int odd;
    if (n < 0 || n > SYMNUM_MAX_ORDER) {
        return NAN;
    }
    if (n == 0) {
        return symnum_digamma(x);
    }
    if (isnan(x)) {
        return x;
    }
    odd = n % 2 == 1;
    if (x == INFINITY) {
        return odd ? 0.0 : -0.0;
    }
    if (symnum_is_pole(x)) {
        return odd ? INFINITY : -INFINITY;
    }
    if (x <= -0.25) {
        head = pow(SYMNUM_PI, n + 1.0) * symnum_cot_derivative(n, symnum_cot_pi(x));
        return -(head + symnum_zeta_scaled(n, 1.0 - x));
    }
    if (x < 0.0) {
        magnitude = symnum_scaled_power(symnum_factorial(n), -x, n + 1);
        x += 1.0;
        if (odd) {
            return magnitude + symnum_zeta_scaled(n, x);
        }
        return magnitude - symnum_zeta_scaled(n, x);
    }
    magnitude = symnum_zeta_scaled(n, x);
    return odd ? magnitude : -magnitude;
}
@@ ppnd:
#define SYMNUM_SPLIT 134217729.0
#define SYMNUM_SQRT2_4_HI 0.3535533905932738
#define SYMNUM_SQRT2_4_LO -2.4168233283632284e-17
#define SYMNUM_SQRT1_2_HI 0.7071067811865476
#define SYMNUM_SQRT1_2_LO -4.833646656726457e-17
#define SYMNUM_LN2 0.6931471805599453
#define SYMNUM_HALVES_EXACTLY 4.450147717014403e-308
static const double symnum_ppnd_central_num[8] = {
    3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946,
    45921.95393154987, 67265.7709270087, 33430.57558358813, 2509.0809287301227};
static const double symnum_ppnd_central_den[8] = {
    1.0, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597,
    39307.89580009271, 28729.085735721943, 5226.495278852854};
static const double symnum_ppnd_near_num[8] = {
    1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045,
    1.2704582524523684, 0.2417807251774506, 0.022723844989269184, 0.0007745450142783414};
static const double symnum_ppnd_near_den[8] = {
    1.0, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008,
    0.015198666563616457, 0.0005475938084995345, 1.0507500716444169e-09};
static const double symnum_ppnd_far_num[8] = {
    6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487,
    0.026532189526576124, 0.0012426609473880784, 2.7115555687434876e-05,
    2.0103343992922881e-07};
static const double symnum_ppnd_far_den[8] = {
    1.0, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
    1.8463183175100548e-05, 1.421511758316446e-07, 2.0442631033899397e-15};

/* _two_product: a b rounded, and *e with that + *e = a b exactly (Dekker) */
static double symnum_two_product(double a, double b, double *e)
{
    double p = a * b, c, a_hi, a_lo, b_hi, b_lo;
    c = SYMNUM_SPLIT * a;
    a_hi = c - (c - a);
    a_lo = a - a_hi;
    c = SYMNUM_SPLIT * b;
    b_hi = c - (c - b);
    b_lo = b - b_hi;
    *e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
    return p;
}

/* _compensated_horner: sum_k coefficients[k] t^k as the double-double hi + *lo */
static double symnum_compensated_horner(const double *coefficients, int n, double t, double *lo)
{
    double total = coefficients[n - 1], error = 0.0, product, product_error, z, sum_error, hi;
    int k;
    for (k = n - 2; k >= 0; k--) {
        product = symnum_two_product(total, t, &product_error);
        total = product + coefficients[k];
        z = total - product;
        sum_error = (product - (total - z)) + (coefficients[k] - z);
        error = error * t + (product_error + sum_error);
    }
    hi = total + error;
    *lo = error - (hi - total);
    return hi;
}

/* _scaled_ratio: f numerator(t) / denominator(t) as hi + *lo, f = f_hi + f_lo */
static double symnum_scaled_ratio(const double *numerator, const double *denominator, double t,
                                  double f_hi, double f_lo, double *lo)
{
    double n_hi, n_lo, d_hi, d_lo, ratio, p, p_error, ratio_lo, hi, hi_error;
    n_hi = symnum_compensated_horner(numerator, 8, t, &n_lo);
    d_hi = symnum_compensated_horner(denominator, 8, t, &d_lo);
    ratio = n_hi / d_hi;
    p = symnum_two_product(ratio, d_hi, &p_error);
    ratio_lo = (((n_hi - p) - p_error) + n_lo - ratio * d_lo) / d_hi;
    hi = symnum_two_product(ratio, f_hi, &hi_error);
    *lo = hi_error + (ratio_lo * f_hi + ratio * f_lo);
    return hi;
}

/* _times: x (hi + lo), rounded about once */
static double symnum_times(double x, double hi, double lo)
{
    double p_error, p = symnum_two_product(x, hi, &p_error);
    return p + (p_error + x * lo);
}

/* _ppnd_central: f ndtri(1/2 + q) / q for |q| <= 0.425, as hi + *lo */
static double symnum_ppnd_central(double q, double f_hi, double f_lo, double *lo)
{
    return symnum_scaled_ratio(symnum_ppnd_central_num, symnum_ppnd_central_den,
                               0.180625 - q * q, f_hi, f_lo, lo);
}

/* _ppnd_tail: f (-ndtri(p)) for p = exp(-s) < 0.075 */
static double symnum_ppnd_tail(double s, double f_hi, double f_lo)
{
    double r = sqrt(s), hi, lo;
    if (r <= 5.0) {
        hi = symnum_scaled_ratio(symnum_ppnd_near_num, symnum_ppnd_near_den, r - 1.6, f_hi,
                                 f_lo, &lo);
    } else {
        hi = symnum_scaled_ratio(symnum_ppnd_far_num, symnum_ppnd_far_den, r - 5.0, f_hi, f_lo,
                                 &lo);
    }
    return hi + lo;
}

@@ ndtri: ppnd
/* ndtri: the inverse of the standard normal CDF; -inf at 0, inf at 1, NaN outside [0, 1] */
static double symnum_ndtri(double p)
{
    double q, hi, lo;
    if (!(p >= 0.0 && p <= 1.0)) {
        return NAN;
    }
    if (p == 0.0) {
        return -INFINITY;
    }
    if (p == 1.0) {
        return INFINITY;
    }
    q = p - 0.5;
    if (fabs(q) <= 0.425) {
        hi = symnum_ppnd_central(q, 1.0, 0.0, &lo);
        return symnum_times(q, hi, lo);
    }
    if (q < 0.0) {
        return -symnum_ppnd_tail(-log(p), 1.0, 0.0);
    }
    return symnum_ppnd_tail(-log(1.0 - p), 1.0, 0.0);
}

@@ erfinv: ppnd
/* erfinv: the inverse of erf; +-inf at +-1, NaN outside [-1, 1]; odd (-0.0 too) */
static double symnum_erfinv(double x)
{
    double a, hi, lo, value;
    if (!(x >= -1.0 && x <= 1.0)) {
        return NAN;
    }
    if (x == 0.0) {
        return x;
    }
    a = fabs(x);
    if (a == 1.0) {
        return copysign(INFINITY, x);
    }
    if (a <= 0.85) {
        hi = symnum_ppnd_central(0.5 * x, SYMNUM_SQRT2_4_HI, SYMNUM_SQRT2_4_LO, &lo);
        return symnum_times(x, hi, lo);
    }
    value = symnum_ppnd_tail(-log(0.5 * (1.0 - a)), SYMNUM_SQRT1_2_HI, SYMNUM_SQRT1_2_LO);
    return copysign(value, x);
}

@@ erfcinv: ppnd
/* erfcinv: the inverse of erfc; inf at 0, -inf at 2, NaN outside [0, 2] */
static double symnum_erfcinv(double y)
{
    double d, hi, lo, s;
    if (!(y >= 0.0 && y <= 2.0)) {
        return NAN;
    }
    if (y == 0.0) {
        return INFINITY;
    }
    if (y == 2.0) {
        return -INFINITY;
    }
    d = 1.0 - y;
    if (fabs(d) <= 0.85) {
        hi = symnum_ppnd_central(0.5 * d, SYMNUM_SQRT2_4_HI, SYMNUM_SQRT2_4_LO, &lo);
        return symnum_times(d, hi, lo);
    }
    if (d > 0.0) {
        s = y >= SYMNUM_HALVES_EXACTLY ? -log(0.5 * y) : SYMNUM_LN2 - log(y);
        return symnum_ppnd_tail(s, SYMNUM_SQRT1_2_HI, SYMNUM_SQRT1_2_LO);
    }
    return -symnum_ppnd_tail(-log(0.5 * (2.0 - y)), SYMNUM_SQRT1_2_HI, SYMNUM_SQRT1_2_LO);
}
