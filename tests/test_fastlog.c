/* The vectorized log against libm's, over every float exponent the features meet. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "fastlog.h"

int main(void) {
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    double worst_ulp = 0.0;
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < N; i++) {
        /* log-uniform from 1e-38 to 1e38, plus exact powers of two and 1 */
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)exp(((double)(s >> 11) / 9007199254740992.0 - 0.5) * 2 * 87.0);
        if (i % 97 == 0) x[i] = ldexpf(1.0f, (int)(i % 250) - 125);
    }
    x[0] = 1.0f;
    x[1] = FLT_MIN;
    x[2] = 1e-10f;
    x[3] = 1e-6f;
    es__log_array(y, x, N, 1.0f);
    for (size_t i = 0; i < N; i++) {
        double ref = log((double)x[i]);
        double ulp = fabs(ref) > 0 ? nextafterf((float)fabs(ref), INFINITY) - (float)fabs(ref)
                                   : FLT_MIN;
        double err = fabs((double)y[i] - ref);
        if (err / ulp > worst_ulp) worst_ulp = err / ulp;
        /* near ln x = 0 ulp shrinks; hold those to an absolute 1e-7 instead */
        CHECK(err <= 2.0 * ulp || err <= 1e-7);
        if (check_failures > 5) break;
    }
    CHECK(y[0] == 0.0f);
    /* subnormal and zero inputs are clamped to FLT_MIN, never -inf or NaN */
    x[0] = 0.0f;
    x[1] = 1e-42f;
    es__log_array(y, x, 2, 1.0f);
    CHECK_NEAR(y[0], log(FLT_MIN), 1e-5);
    CHECK_NEAR(y[1], log(FLT_MIN), 1e-5);
    /* scale: 10·log10 */
    x[0] = 1e-10f;
    es__log_array(y, x, 1, (float)(10.0 / log(10.0)));
    CHECK_NEAR(y[0], -100.0, 2e-5);
    fprintf(stderr, "worst error away from 1: %.2f ulp\n", worst_ulp);
    free(x);
    free(y);
    CHECK_DONE();
}
