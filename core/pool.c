/* core/pool.c — max, average and global-average pooling (no padding, floor mode). */
#include <string.h>

#include "layers.h"

/* 2x2 windows with stride 2, the shape nearly every audio CNN uses: two
 * input rows per output row, no index arithmetic per element. */
static void maxpool_2x2(float *restrict y, int32_t *restrict am, const float *restrict x,
                        const es__win2d *g) {
    for (int oy = 0; oy < g->Ho; oy++) {
        const float *r0 = x + (size_t)(2 * oy) * g->W, *r1 = r0 + g->W;
        float *yr = y + (size_t)oy * g->Wo;
        if (!am) {
            for (int ox = 0; ox < g->Wo; ox++) {
                float a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
                float b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
                yr[ox] = a >= b ? a : b;
            }
            continue;
        }
        for (int ox = 0; ox < g->Wo; ox++) {
            /* ties keep the first in scan order, as PyTorch */
            int i = 2 * oy * g->W + 2 * ox, best = i;
            float m = r0[2 * ox];
            if (r0[2 * ox + 1] > m) m = r0[2 * ox + 1], best = i + 1;
            if (r1[2 * ox] > m) m = r1[2 * ox], best = i + g->W;
            if (r1[2 * ox + 1] > m) m = r1[2 * ox + 1], best = i + g->W + 1;
            yr[ox] = m;
            am[(size_t)oy * g->Wo + ox] = best;
        }
    }
}

void es__maxpool2d_forward(float *out, int32_t *argmax, const float *inp, const es__win2d *g,
                           int B) {
    size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->Ho * g->Wo;
    int fast = g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2;
    for (size_t bc = 0; bc < (size_t)B * g->C; bc++) {
        const float *x = inp + bc * plane;
        float *y = out + bc * oplane;
        int32_t *am = argmax ? argmax + bc * oplane : NULL;
        if (fast) {
            maxpool_2x2(y, am, x, g);
            continue;
        }
        for (int oy = 0; oy < g->Ho; oy++) {
            for (int ox = 0; ox < g->Wo; ox++) {
                int y0 = oy * g->sh, x0 = ox * g->sw;
                int best = y0 * g->W + x0;
                float m = x[best];
                for (int i = 0; i < g->kh; i++) {
                    const float *row = x + (size_t)(y0 + i) * g->W + x0;
                    for (int j = 0; j < g->kw; j++) {
                        /* strictly greater keeps the first maximum */
                        if (row[j] > m) {
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

void es__add_channel_bias(float *out, const float *bias, int B, int C, int HW) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            float *y = out + ((size_t)b * C + c) * HW, v = bias[c];
            for (int i = 0; i < HW; i++) y[i] += v;
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
