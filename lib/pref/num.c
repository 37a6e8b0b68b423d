/* num.c - stable scalar numerics for the preference losses and statistics:
 * softplus / log-sigmoid, log1mexp, and the standard normal distribution
 * (quantile by Wichura's AS 241, tails by erfc). */
#include <math.h>

#include "pref.h"

double zoq__softplus(double x)
{
    /* max(x, 0) + log1p(e^-|x|): the exponent is never positive. */
    const double m = x > 0.0 ? x : 0.0;
    return m + log1p(exp(-fabs(x)));
}

double zoq__log_sigmoid(double x)
{
    return -zoq__softplus(-x);
}

double zoq__sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    const double e = exp(x);
    return e / (1.0 + e);
}

double zoq__log1mexp(double x)
{
    /* Mächler (2012), "Accurately computing log(1 - exp(-|a|))". */
    static const double ln2 = 0.693147180559945309417232121458176568;
    if (x > -ln2)
        return log(-expm1(x));
    return log1p(-exp(x));
}

double zoq__expm1mx(double x)
{
    /* For |x| < 1, expm1(x) - x cancels (relative error ~ ulp(x)/x²), so sum
     * the series x²/2! + x³/3! + ... instead: terms shrink by |x|/k. */
    if (fabs(x) < 1.0) {
        double term = 0.5 * x * x, sum = term;
        for (int k = 3; k < 40; k++) {
            term *= x / (double)k;
            const double next = sum + term;
            if (next == sum)
                break;
            sum = next;
        }
        return sum;
    }
    return expm1(x) - x;
}

/* Horner evaluation of c[0] + c[1] r + ... + c[7] r^7. */
static double poly7(const double c[8], double r)
{
    double v = c[7];
    for (int i = 6; i >= 0; i--)
        v = v * r + c[i];
    return v;
}

double zoq__norm_ppf(double p)
{
    /* Wichura, "Algorithm AS 241: The percentage points of the normal
     * distribution", Applied Statistics 37(3), 1988: PPND16, about 1e-16
     * relative accuracy. */
    static const double a[8] = {
        3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
        1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
        3.3430575583588128105e+4, 2.5090809287301226727e+3};
    static const double b[8] = {
        1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
        2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
        5.2264952788528545610e+3};
    static const double c[8] = {
        1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
        3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
        2.27238449892691845833e-2, 7.74545014278341407640e-4};
    static const double d[8] = {
        1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
        1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
        1.05075007164441684324e-9};
    static const double e[8] = {
        6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
        2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
        2.71155556874348757815e-5, 2.01033439929228813265e-7};
    static const double f[8] = {
        1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
        7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
        2.04426310338993978564e-15};

    const double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        const double r = 0.180625 - q * q;
        return q * poly7(a, r) / poly7(b, r);
    }
    double r = q < 0.0 ? p : 1.0 - p;
    r = sqrt(-log(r));
    double v;
    if (r <= 5.0) {
        r -= 1.6;
        v = poly7(c, r) / poly7(d, r);
    } else {
        r -= 5.0;
        v = poly7(e, r) / poly7(f, r);
    }
    return q < 0.0 ? -v : v;
}

double zoq__norm_two_sided_p(double z)
{
    static const double inv_sqrt2 = 0.707106781186547524400844362104849039;
    return erfc(fabs(z) * inv_sqrt2);
}

int zoq__pref_need(const char *name, const double *x, int64_t n, int positive)
{
    if (x == NULL)
        return zoq__pref_bad("%s is NULL", name);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return zoq__pref_bad("%s[%lld] = %g is not finite", name, (long long)i, x[i]);
        if (positive && !(x[i] > 0.0))
            return zoq__pref_bad("%s[%lld] = %g must be > 0", name, (long long)i, x[i]);
    }
    return ZOQ_OK;
}
