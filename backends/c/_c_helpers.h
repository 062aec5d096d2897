/* symnum C helpers: special functions libm does not have (C99, math.h only).
 *
 * Each helper is a section starting with a line "@@ name: dependencies" and is copied
 * into the generated C only when an emitted statement needs it. Values at poles and
 * infinities follow symnum.ir.interpret: NaN at the poles (non-positive integers).
 */
@@ digamma:
static double symnum_digamma(double x)
{
    const double pi = 3.141592653589793;
    double result = 0.0, inv2;
    if (isnan(x) || x == -INFINITY) {
        return NAN;
    }
    if (x == INFINITY) {
        return INFINITY;
    }
    if (x <= 0.0 && floor(x) == x) {
        return NAN;
    }
    if (x < 0.0) {
        /* reflection: psi(1 - x) - psi(x) = pi cot(pi x) */
        return symnum_digamma(1.0 - x) - pi / tan(pi * x);
    }
    while (x < 10.0) {
        result -= 1.0 / x;
        x += 1.0;
    }
    inv2 = 1.0 / (x * x);
    /* asymptotic series; the next term is below 1e-17 relative for x >= 10 */
    return result + log(x) - 0.5 / x -
           inv2 * (1.0 / 12.0 -
                   inv2 * (1.0 / 120.0 -
                           inv2 * (1.0 / 252.0 -
                                   inv2 * (1.0 / 240.0 -
                                           inv2 * (1.0 / 132.0 -
                                                   inv2 * (691.0 / 32760.0 -
                                                           inv2 / 12.0))))));
}
@@ polygamma: digamma
/* Hurwitz zeta(s, x) for s > 1, x >= 20 + s: Euler-Maclaurin tail */
static double symnum_zeta_tail(double s, double x)
{
    static const double coef[10] = {
        0.08333333333333333, -0.001388888888888889, 3.306878306878307e-05,
        -8.267195767195768e-07, 2.08767569878681e-08, -5.284190138687493e-10,
        1.3382536530684679e-11, -3.3896802963225827e-13, 8.586062056277845e-15,
        -2.174868698558062e-16};
    double xs = pow(x, -s), sum = x * xs / (s - 1.0) + 0.5 * xs, p = s * xs / x;
    int j;
    for (j = 0; j < 10; j++) {
        sum += coef[j] * p;
        p *= (s + 2.0 * j + 1.0) * (s + 2.0 * j + 2.0) / (x * x);
    }
    return sum;
}

/* polygamma(n, x): the n-th derivative of digamma */
static double symnum_polygamma(int n, double x)
{
    const double pi = 3.141592653589793;
    double sign = (n % 2) ? 1.0 : -1.0, fact = 1.0, acc = 0.0, s = n + 1.0, big;
    int k;
    if (n == 0) {
        return symnum_digamma(x);
    }
    if (n < 0 || isnan(x) || x == -INFINITY || (x <= 0.0 && floor(x) == x)) {
        return NAN;
    }
    if (x == INFINITY) {
        return 0.0;
    }
    for (k = 2; k <= n; k++) {
        fact *= k;
    }
    if (x < 0.0 && n <= 40) {
        /* reflection: psi_n(x) = (-1)^(n+1) ((-1)^n pi^(n+1) P_n(cot(pi x)) - psi_n(1-x)),
           with d^n/dy^n cot(y) = P_n(cot y), P_0(c) = c, P_(k+1)(c) = -(1 + c^2) P_k'(c) */
        double poly[44] = {0.0}, next[44], c = 1.0 / tan(pi * x), value = 0.0, pin = pi;
        int deg = 1, i;
        poly[1] = 1.0;
        for (k = 0; k < n; k++) {
            for (i = 0; i <= deg + 1; i++) {
                next[i] = 0.0;
            }
            for (i = 1; i <= deg; i++) {
                double d = i * poly[i]; /* derivative: d c^(i-1) */
                next[i - 1] -= d;
                next[i + 1] -= d;
            }
            deg += 1;
            for (i = 0; i <= deg; i++) {
                poly[i] = next[i];
            }
            pin *= pi;
        }
        for (i = deg; i >= 0; i--) {
            value = value * c + poly[i];
        }
        return sign * (((n % 2) ? -1.0 : 1.0) * pin * value - symnum_polygamma(n, 1.0 - x));
    }
    big = 20.0 + s;
    if (x < -1e7) {
        return NAN;
    }
    while (x < big) {
        acc += pow(x, -s);
        x += 1.0;
    }
    return sign * fact * (acc + symnum_zeta_tail(s, x));
}
