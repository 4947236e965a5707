/* core/batchnorm.c — 2-D batch normalisation with PyTorch's statistics. */
#include <math.h>

#include "internal.h"
#include "layers.h"

/* Σx of a plane in float lanes (vectorized); planes are summed in double
 * across the batch. A plane holds at most some thousands of values. */
ES__HOT static double plane_sum(const float *restrict x, int n) {
    float a = 0.0f;
#pragma omp simd reduction(+ : a)
    for (int i = 0; i < n; i++) a += x[i];
    return a;
}

/* Σ(x - m)² of a plane: the second pass of a two-pass variance, which stays
 * exact when the mean is large next to the spread. */
ES__HOT static double plane_sqdev(const float *restrict x, int n, float m) {
    float a = 0.0f;
#pragma omp simd reduction(+ : a)
    for (int i = 0; i < n; i++) a += (x[i] - m) * (x[i] - m);
    return a;
}

/* Σdy and Σdy·(x - m) of a plane. */
ES__HOT static void plane_grad_sums(const float *restrict dy, const float *restrict x, int n,
                                    float m, double *sdy, double *sdyx) {
    float a = 0.0f, b = 0.0f;
#pragma omp simd reduction(+ : a, b)
    for (int i = 0; i < n; i++) {
        a += dy[i];
        b += dy[i] * (x[i] - m);
    }
    *sdy += a;
    *sdyx += b;
}

ES__HOT static void plane_affine(float *restrict y, const float *restrict x, int n, float a,
                                 float c) {
    for (int i = 0; i < n; i++) y[i] = x[i] * a + c;
}

void es__batchnorm2d_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *weight, const float *bias, float *running_mean,
                             float *running_var, int training, float momentum, float eps, int B,
                             int C, int HW, int c_begin, int c_end) {
    size_t n = (size_t)B * HW;
    for (int c = c_begin; c < c_end; c++) {
        float m, r;
        if (training) {
            double s1 = 0.0, s2 = 0.0, mu, var;
            for (int b = 0; b < B; b++) s1 += plane_sum(inp + ((size_t)b * C + c) * HW, HW);
            mu = s1 / (double)n;
            m = (float)mu;
            for (int b = 0; b < B; b++) s2 += plane_sqdev(inp + ((size_t)b * C + c) * HW, HW, m);
            var = s2 / (double)n;
            r = (float)(1.0 / sqrt(var + eps));
            /* the running variance takes the unbiased estimate, as PyTorch's */
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * m;
            running_var[c] = (float)((1.0 - momentum) * running_var[c] +
                                     momentum * (n > 1 ? var * (double)n / (double)(n - 1) : var));
        } else {
            m = running_mean[c];
            r = (float)(1.0 / sqrt((double)running_var[c] + eps));
        }
        mean[c] = m;
        rstd[c] = r;
        {
            float a = weight[c] * r, sh = bias[c] - m * a;
            for (int b = 0; b < B; b++)
                plane_affine(out + ((size_t)b * C + c) * HW, inp + ((size_t)b * C + c) * HW, HW,
                             a, sh);
        }
    }
}

ES__HOT static void plane_bn_dx(float *restrict dx, const float *restrict dy,
                                const float *restrict x, int n, float k, float mdy, float m,
                                float r, float mdyx) {
    for (int i = 0; i < n; i++) dx[i] = k * (dy[i] - mdy - (x[i] - m) * r * mdyx);
}

void es__batchnorm2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const float *mean,
                              const float *rstd, int training, int B, int C, int HW, int c_begin,
                              int c_end) {
    size_t n = (size_t)B * HW;
    for (int c = c_begin; c < c_end; c++) {
        double sum_dy = 0.0, sum_dyx = 0.0, sum_dy_xhat;
        float m = mean[c], r = rstd[c];
        for (int b = 0; b < B; b++)
            plane_grad_sums(dout + ((size_t)b * C + c) * HW, inp + ((size_t)b * C + c) * HW, HW,
                            m, &sum_dy, &sum_dyx);
        sum_dy_xhat = (double)r * sum_dyx; /* Σdy·x̂ */
        dweight[c] += (float)sum_dy_xhat;
        dbias[c] += (float)sum_dy;
        if (!dinp) continue;
        if (training) {
            /* dx = γ·rstd/n · (n·dy - Σdy - x̂·Σ(dy·x̂)): the batch statistics
             * depend on every input, hence the two correction terms. */
            float k = weight[c] * r;
            float mdy = (float)(sum_dy / (double)n), mdyx = (float)(sum_dy_xhat / (double)n);
            for (int b = 0; b < B; b++)
                plane_bn_dx(dinp + ((size_t)b * C + c) * HW, dout + ((size_t)b * C + c) * HW,
                            inp + ((size_t)b * C + c) * HW, HW, k, mdy, m, r, mdyx);
        } else {
            /* running statistics are constants: an affine map */
            float k = weight[c] * r;
            for (int b = 0; b < B; b++)
                plane_affine(dinp + ((size_t)b * C + c) * HW, dout + ((size_t)b * C + c) * HW,
                             HW, k, 0.0f);
        }
    }
}
