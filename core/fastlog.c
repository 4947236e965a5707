/* core/fastlog.c — a vectorizable logf for the feature extractor's last stage.
 *
 * glibc's logf is accurate but a scalar call (≈ 30 instructions each, 64 per
 * frame for a 64-band log-mel); this loop compiles to SIMD and costs a few
 * instructions per value. The features are float and are compared with
 * torchaudio at 2e-4 of their largest magnitude, so a 2-ulp log is ample. */
#include "fastlog.h"

#include "internal.h"

#include <stdint.h>
#include <string.h>

/* ln 2 split into a part exact in float and a small correction (Cephes). */
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
/* Bit patterns: FLT_MIN, 1.0f, and √2 (the mantissa above which m is halved). */
#define BITS_FLT_MIN 0x00800000
#define BITS_ONE 0x3f800000u
#define BITS_SQRT2 0x3fb504f3u

/* Every select is done on integers so GCC if-converts the loop body and
 * vectorizes it (float compares with selects stay branches under the default
 * -ftrapping-math). */
static inline float log_poly(float x) {
    int32_t b;
    uint32_t u, big;
    float m, f, z, y, ef;
    memcpy(&b, &x, sizeof b);
    b = b < BITS_FLT_MIN ? BITS_FLT_MIN : b;  /* zero, subnormal, negative → FLT_MIN */
    u = (uint32_t)b;
    ef = (float)((int32_t)(u >> 23) - 127);  /* x = m · 2^e, m in [1, 2) */
    u = (u & 0x007fffffu) | BITS_ONE;
    big = u > BITS_SQRT2 ? 1u : 0u;          /* move m into [√½, √2) */
    u -= big << 23;                          /* m · ½ */
    ef += (float)big;
    memcpy(&m, &u, sizeof m);
    f = m - 1.0f;
    z = f * f;
    y = 7.0376836292e-2f;
    y = y * f - 1.1514610310e-1f;
    y = y * f + 1.1676998740e-1f;
    y = y * f - 1.2420140846e-1f;
    y = y * f + 1.4249322787e-1f;
    y = y * f - 1.6668057665e-1f;
    y = y * f + 2.0000714765e-1f;
    y = y * f - 2.4999993993e-1f;
    y = y * f + 3.3333331174e-1f;
    y = y * f * z;
    y += LN2_LO * ef;
    y -= 0.5f * z;
    return f + y + LN2_HI * ef;
}

ES__HOT void es__log_array(float *out, const float *in, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) out[i] = log_poly(in[i]) * scale;
}
