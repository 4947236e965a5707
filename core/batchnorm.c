/* core/batchnorm.c — 2-D batch normalisation with PyTorch's statistics. */
#include <math.h>

#include "layers.h"

void es__batchnorm2d_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *weight, const float *bias, float *running_mean,
                             float *running_var, int training, float momentum, float eps, int B,
                             int C, int HW) {
    size_t n = (size_t)B * HW;
    for (int c = 0; c < C; c++) {
        float m, r;
        if (training) {
            /* Two passes in double: a channel sums up to ~10^6 values. */
            double s = 0.0, ss = 0.0, mu, var;
            for (int b = 0; b < B; b++) {
                const float *x = inp + ((size_t)b * C + c) * HW;
                for (int i = 0; i < HW; i++) s += x[i];
            }
            mu = s / (double)n;
            for (int b = 0; b < B; b++) {
                const float *x = inp + ((size_t)b * C + c) * HW;
                for (int i = 0; i < HW; i++) ss += ((double)x[i] - mu) * ((double)x[i] - mu);
            }
            var = ss / (double)n; /* biased: what normalises the batch */
            m = (float)mu;
            r = (float)(1.0 / sqrt(var + eps));
            /* the running variance takes the unbiased estimate, as PyTorch's */
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * m;
            running_var[c] = (float)((1.0 - momentum) * running_var[c] +
                                     momentum * (n > 1 ? ss / (double)(n - 1) : var));
        } else {
            m = running_mean[c];
            r = (float)(1.0 / sqrt((double)running_var[c] + eps));
        }
        mean[c] = m;
        rstd[c] = r;
        {
            float a = weight[c] * r, sh = bias[c] - m * a;
            for (int b = 0; b < B; b++) {
                const float *x = inp + ((size_t)b * C + c) * HW;
                float *y = out + ((size_t)b * C + c) * HW;
                for (int i = 0; i < HW; i++) y[i] = x[i] * a + sh;
            }
        }
    }
}

void es__batchnorm2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const float *mean,
                              const float *rstd, int training, int B, int C, int HW) {
    size_t n = (size_t)B * HW;
    for (int c = 0; c < C; c++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        float m = mean[c], r = rstd[c];
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * HW;
            const float *dy = dout + ((size_t)b * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sum_dy += dy[i];
                sum_dy_xhat += (double)dy[i] * (double)((x[i] - m) * r);
            }
        }
        dweight[c] += (float)sum_dy_xhat;
        dbias[c] += (float)sum_dy;
        if (!dinp) continue;
        if (training) {
            /* dx = γ·rstd/n · (n·dy - Σdy - x̂·Σ(dy·x̂)): the batch statistics
             * depend on every input, hence the two correction terms. */
            float k = weight[c] * r;
            float mdy = (float)(sum_dy / (double)n), mdyx = (float)(sum_dy_xhat / (double)n);
            for (int b = 0; b < B; b++) {
                const float *x = inp + ((size_t)b * C + c) * HW;
                const float *dy = dout + ((size_t)b * C + c) * HW;
                float *dx = dinp + ((size_t)b * C + c) * HW;
                for (int i = 0; i < HW; i++) dx[i] = k * (dy[i] - mdy - (x[i] - m) * r * mdyx);
            }
        } else {
            /* running statistics are constants: an affine map */
            float k = weight[c] * r;
            for (int b = 0; b < B; b++) {
                const float *dy = dout + ((size_t)b * C + c) * HW;
                float *dx = dinp + ((size_t)b * C + c) * HW;
                for (int i = 0; i < HW; i++) dx[i] = k * dy[i];
            }
        }
    }
}
