/* core/loss.c — softmax cross-entropy, PyTorch's CrossEntropyLoss. */
#include <math.h>

#include "layers.h"

float es__xent_forward(float *probs, const float *logits, const int *labels,
                       const float *weights, int B, int K) {
    double loss = 0.0, wsum = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        float *p = probs + (size_t)b * K;
        float mx = z[0];
        double sum = 0.0, w = weights ? weights[labels[b]] : 1.0;
        for (int k = 1; k < K; k++)
            if (z[k] > mx) mx = z[k];
        for (int k = 0; k < K; k++) sum += exp((double)z[k] - mx);
        for (int k = 0; k < K; k++) p[k] = (float)(exp((double)z[k] - mx) / sum);
        /* -log softmax from the log-sum-exp, exact even when p underflows */
        loss += w * (log(sum) + mx - z[labels[b]]);
        wsum += w;
    }
    return wsum > 0.0 ? (float)(loss / wsum) : 0.0f;
}

void es__xent_backward(float *dlogits, const float *probs, const int *labels,
                       const float *weights, int B, int K) {
    double wsum = 0.0;
    for (int b = 0; b < B; b++) wsum += weights ? weights[labels[b]] : 1.0;
    for (int b = 0; b < B; b++) {
        float s = (float)((weights ? weights[labels[b]] : 1.0) / (wsum > 0.0 ? wsum : 1.0));
        for (int k = 0; k < K; k++) {
            float t = k == labels[b] ? 1.0f : 0.0f;
            dlogits[(size_t)b * K + k] = s * (probs[(size_t)b * K + k] - t);
        }
    }
}
