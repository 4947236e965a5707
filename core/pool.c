/* core/pool.c — max, average and global-average pooling (no padding, floor mode). */
#include <math.h>
#include <string.h>

#include "layers.h"

void es__maxpool2d_forward(float *out, int32_t *argmax, const float *inp, const es__win2d *g,
                           int B) {
    size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->Ho * g->Wo;
    for (size_t bc = 0; bc < (size_t)B * g->C; bc++) {
        const float *x = inp + bc * plane;
        float *y = out + bc * oplane;
        int32_t *am = argmax ? argmax + bc * oplane : NULL;
        for (int oy = 0; oy < g->Ho; oy++) {
            for (int ox = 0; ox < g->Wo; ox++) {
                int y0 = oy * g->sh, x0 = ox * g->sw;
                int best = y0 * g->W + x0;
                float m = x[best];
                for (int i = 0; i < g->kh; i++) {
                    const float *row = x + (size_t)(y0 + i) * g->W + x0;
                    for (int j = 0; j < g->kw; j++) {
                        /* strictly greater keeps the first maximum; NaN propagates */
                        if (row[j] > m || isnan(row[j])) {
                            m = row[j];
                            best = (y0 + i) * g->W + x0 + j;
                        }
                    }
                }
                y[oy * g->Wo + ox] = m;
                if (am) am[oy * g->Wo + ox] = best;
            }
        }
    }
}

void es__maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax,
                            const es__win2d *g, int B) {
    size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->Ho * g->Wo;
    memset(dinp, 0, (size_t)B * g->C * plane * sizeof *dinp);
    for (size_t bc = 0; bc < (size_t)B * g->C; bc++) {
        float *dx = dinp + bc * plane;
        const float *dy = dout + bc * oplane;
        const int32_t *am = argmax + bc * oplane;
        for (size_t o = 0; o < oplane; o++) dx[am[o]] += dy[o];
    }
}

void es__avgpool2d_forward(float *out, const float *inp, const es__win2d *g, int B) {
    size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->Ho * g->Wo;
    float inv = 1.0f / (float)(g->kh * g->kw);
    for (size_t bc = 0; bc < (size_t)B * g->C; bc++) {
        const float *x = inp + bc * plane;
        float *y = out + bc * oplane;
        for (int oy = 0; oy < g->Ho; oy++) {
            for (int ox = 0; ox < g->Wo; ox++) {
                float s = 0.0f;
                for (int i = 0; i < g->kh; i++) {
                    const float *row = x + (size_t)(oy * g->sh + i) * g->W + ox * g->sw;
                    for (int j = 0; j < g->kw; j++) s += row[j];
                }
                y[oy * g->Wo + ox] = s * inv;
            }
        }
    }
}

void es__avgpool2d_backward(float *dinp, const float *dout, const es__win2d *g, int B) {
    size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->Ho * g->Wo;
    float inv = 1.0f / (float)(g->kh * g->kw);
    memset(dinp, 0, (size_t)B * g->C * plane * sizeof *dinp);
    for (size_t bc = 0; bc < (size_t)B * g->C; bc++) {
        float *dx = dinp + bc * plane;
        const float *dy = dout + bc * oplane;
        for (int oy = 0; oy < g->Ho; oy++) {
            for (int ox = 0; ox < g->Wo; ox++) {
                float d = dy[oy * g->Wo + ox] * inv;
                for (int i = 0; i < g->kh; i++) {
                    float *row = dx + (size_t)(oy * g->sh + i) * g->W + ox * g->sw;
                    for (int j = 0; j < g->kw; j++) row[j] += d;
                }
            }
        }
    }
}

void es__global_avgpool_forward(float *out, const float *inp, int B, int C, int HW) {
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        const float *x = inp + bc * (size_t)HW;
        double s = 0.0; /* a plane may hold thousands of values */
        for (int i = 0; i < HW; i++) s += x[i];
        out[bc] = (float)(s / HW);
    }
}

void es__global_avgpool_backward(float *dinp, const float *dout, int B, int C, int HW) {
    for (size_t bc = 0; bc < (size_t)B * C; bc++) {
        float d = dout[bc] / (float)HW;
        float *dx = dinp + bc * (size_t)HW;
        for (int i = 0; i < HW; i++) dx[i] = d;
    }
}
