/* earshot/nn.h — the CNN engine: layers, networks, loss and optimizers.
 *
 *   es_net *net;                                   // from a model file:
 *   es_model_instantiate(model, 16, ES_NET_TRAIN, &net);   // see earshot/model.h
 *
 *   es_optimizer *opt;
 *   es_opt_config oc = es_opt_defaults(ES_OPT_ADAM);  oc.lr = 1e-3f;
 *   es_optimizer_create(&opt, net, &oc);
 *   for (...) {
 *       es_net_zero_grad(net);
 *       es_net_forward(net, x, B, ES_MODE_TRAIN);          // x: [B, C, H, W]
 *       es_net_backward(net, labels, NULL, &loss);         // softmax cross-entropy
 *       es_net_clip_grad_norm(net, 1.0f, NULL);
 *       es_optimizer_step(opt);
 *   }
 *   es_net_forward(net, x, 1, ES_MODE_INFER);
 *   const float *logits = es_net_output(net);              // [B, n_outputs]
 *
 * A network is built once for a largest batch: parameters, gradients,
 * activations and scratch each live in one allocation carved by a size
 * table, so forward and backward allocate nothing. Layers and their tensors
 * are named as PyTorch's state_dict() names them; semantics (pooling floor
 * mode, batch-norm statistics, dropout scaling, optimizer formulas) are
 * PyTorch's, checked against fixtures it made (tests/gen_nn_fixtures.py).
 * A network belongs to one thread at a time.
 */
#ifndef EARSHOT_NN_H
#define EARSHOT_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ES_LAYER_CONV2D,
    ES_LAYER_RELU,
    ES_LAYER_MAXPOOL2D,
    ES_LAYER_AVGPOOL2D,
    ES_LAYER_GLOBAL_AVGPOOL,
    ES_LAYER_BATCHNORM2D,
    ES_LAYER_DROPOUT,
    ES_LAYER_FLATTEN,
    ES_LAYER_LINEAR,
} es_layer_type;

/* Longest state_dict name a layer may give a tensor. */
#define ES_TENSOR_NAME_MAX 128

/* One layer of an `earshot.arch` array. Unused fields are zero/empty. */
typedef struct {
    es_layer_type type;
    int in, out;          /* conv2d: channels; linear: features; batchnorm2d: in = num_features */
    int kh, kw;           /* conv2d, pools: kernel */
    int sh, sw;           /* conv2d, pools: stride */
    int ph, pw;           /* conv2d: zero padding */
    double eps, momentum; /* batchnorm2d */
    double p;             /* dropout: probability of zeroing */
    char weight[ES_TENSOR_NAME_MAX], bias[ES_TENSOR_NAME_MAX];   /* bias "" = none */
    char running_mean[ES_TENSOR_NAME_MAX], running_var[ES_TENSOR_NAME_MAX];
    char num_batches_tracked[ES_TENSOR_NAME_MAX];                /* "" = none */
} es_layer_spec;

/* Parses an `earshot.arch` JSON array into *layers (es_free it). Unknown
 * types or keys, missing or mistyped fields and out-of-range values fail
 * with ES_ECONFIG naming the layer index and key. */
int es_arch_parse(const char *json, const char *origin, es_layer_spec **layers, int *n_layers);

/* Writes the arch as compact JSON into a string allocated for the caller
 * (es_free it). */
int es_arch_to_json(const es_layer_spec *layers, int n_layers, char **json);

/* Per-sample tensor shape: channels, height, width. Vectors are [n, 1, 1]. */
typedef struct {
    int c, h, w;
} es_shape;

typedef struct es_net es_net;

enum {
    ES_NET_TRAIN = 1,  /* allocate gradients and what backward needs */
};

typedef enum { ES_MODE_INFER = 0, ES_MODE_TRAIN = 1 } es_mode;

/* Builds a network for input shape `in` and batches up to max_batch (0: a
 * weight store only, no activations). Shapes are propagated and checked
 * layer by layer (ES_ECONFIG naming the layer). Parameters start at zero:
 * load them by name, or es_net_init_params. */
int es_net_create(es_net **net, const es_layer_spec *layers, int n_layers, es_shape in,
                  int max_batch, unsigned flags);
void es_net_free(es_net *net);

/* Layers in execution order: the arch's, except that a ReLU directly before
 * a max pooling runs after it (the same function and gradient, on a quarter
 * of the values). */
int es_net_num_layers(const es_net *net);
const es_layer_spec *es_net_layer(const es_net *net, int i);
es_shape es_net_input_shape(const es_net *net);
es_shape es_net_layer_output_shape(const es_net *net, int i);
int es_net_num_outputs(const es_net *net);
int es_net_max_batch(const es_net *net);
/* Trainable parameter count (weights and biases, not running statistics). */
size_t es_net_num_params(const es_net *net);

/* Named tensors: parameters (trainable), running statistics (buffers) and
 * batch-norm counters (int64), in layer order. */
typedef enum { ES_TENSOR_PARAM, ES_TENSOR_BUFFER, ES_TENSOR_COUNTER } es_tensor_kind;
typedef struct {
    const char *name;
    es_tensor_kind kind;
    int ndim;
    int64_t shape[4];
    size_t numel;
    float *data;          /* PARAM, BUFFER: [numel] */
    float *grad;          /* PARAM with ES_NET_TRAIN: [numel]; else NULL */
    int64_t *counter;     /* COUNTER: the one value */
    int layer;
} es_tensor;

int es_net_num_tensors(const es_net *net);
const es_tensor *es_net_tensor_at(const es_net *net, int i);
const es_tensor *es_net_tensor(const es_net *net, const char *name);

/* Copies every tensor's values from src (same arch) into dst. */
int es_net_copy_weights(es_net *dst, const es_net *src);

/* Folds src into a running mean of n networks held by avg (same arch):
 * avg += (src - avg) / (n + 1) over every weight and running statistic, so
 * avg then holds the mean of n + 1; n = 0 copies. Counters are src's. */
int es_net_average_weights(es_net *avg, const es_net *src, int n);

/* PyTorch's default initialisation (kaiming-uniform a=√5 weights, uniform
 * ±1/√fan_in biases, batch-norm 1/0/0/1), from a seed. */
void es_net_init_params(es_net *net, uint64_t seed);

/* Threads for training batches (1 by default): convolutions and pools split
 * the batch's samples, batch norm its channels, each thread with its own
 * scratch allocated here. Inference at batch 1 always runs on the caller.
 * Keep OpenBLAS at one thread (es_blas_set_threads) when using this: the
 * threads call it concurrently. */
int es_net_set_threads(es_net *net, int n);

/* Seeds the dropout masks. */
void es_net_seed(es_net *net, uint64_t seed);
/* The dropout generator's state, for checkpoints that resume bit for bit. */
uint64_t es_net_rng_state(const es_net *net);
void es_net_set_rng_state(es_net *net, uint64_t state);

/* Layers before `first` are frozen: no gradients, no optimizer updates,
 * backward stops at `first`, and in ES_MODE_TRAIN they run as at inference
 * (running batch-norm statistics, no dropout). 0 trains everything. */
int es_net_freeze_before(es_net *net, int first);
int es_net_first_trainable(const es_net *net);
/* Where the head starts: the first of the trailing linear layers (with the
 * ReLUs, dropouts and flatten among them), for fine-tuning only the head. */
int es_net_head_start(const es_net *net);
/* Where the top starts: the last convolution (with its batch norm, ReLU and
 * pooling and the head after it); the head's start when there is none. */
int es_net_top_start(const es_net *net);

/* x: [B, C, H, W] contiguous, finite (ES_EINVAL names a NaN or infinity),
 * 1 ≤ B ≤ max_batch. ES_MODE_TRAIN uses batch
 * statistics (and updates the running ones) and dropout; ES_MODE_INFER the
 * running statistics and no dropout. Allocates nothing. */
int es_net_forward(es_net *net, const float *x, int B, es_mode mode);

/* Layers [from, to) only: x is layer from's input, [B, its input shape]
 * (es_net_layer_output_shape of layer from-1), and layer to-1's output is
 * then es_net_activation(net, to - 1). A run that stops short of the last
 * layer leaves no output to backpropagate. The frozen layers of a
 * fine-tuning job run so on another thread, into the first trained layer's
 * input (es_train). */
int es_net_forward_layers(es_net *net, const float *x, int B, es_mode mode, int from, int to);

/* Layer i's output in the last forward that ran it: [B, its output shape];
 * valid until the next forward. NULL for a convolution that ran together
 * with the batch norm after it (at inference, or frozen): its own output is
 * never made; the batch norm's is. */
const float *es_net_activation(const es_net *net, int i);

/* Logits of the last forward: [B, n_outputs]. */
const float *es_net_output(const es_net *net);

/* Softmax cross-entropy of the last forward against labels [B] (with
 * optional class weights [n_outputs], PyTorch's weighted mean), then
 * backpropagation: gradients accumulate into each parameter's grad. Needs
 * ES_NET_TRAIN. *loss (may be NULL) gets the loss. */
int es_net_backward(es_net *net, const int *labels, const float *class_weights, float *loss);

/* Softmax cross-entropy alone: loss of logits [B, K] against labels. */
float es_softmax_xent(const float *logits, const int *labels, const float *class_weights, int B,
                      int K);

void es_net_zero_grad(es_net *net);

/* Scales gradients so their global L2 norm is at most max_norm (PyTorch's
 * clip_grad_norm_); *norm (may be NULL) gets the norm before clipping. */
int es_net_clip_grad_norm(es_net *net, float max_norm, float *norm);

typedef enum { ES_OPT_SGD, ES_OPT_ADAM, ES_OPT_ADAMW } es_opt_kind;

typedef struct {
    es_opt_kind kind;
    float lr;
    float momentum;       /* SGD */
    int nesterov;         /* SGD */
    float beta1, beta2;   /* Adam, AdamW */
    float eps;            /* Adam, AdamW */
    float weight_decay;   /* SGD, Adam: L2 added to the gradient; AdamW: decoupled */
} es_opt_config;

/* PyTorch's defaults for the kind (lr 1e-3, betas 0.9/0.999, eps 1e-8,
 * weight_decay 0, or 1e-2 for AdamW; SGD lr 1e-2, momentum 0). */
es_opt_config es_opt_defaults(es_opt_kind kind);

typedef struct es_optimizer es_optimizer;

int es_optimizer_create(es_optimizer **opt, es_net *net, const es_opt_config *cfg);
/* One step over the trainable parameters, from their gradients. */
int es_optimizer_step(es_optimizer *opt);
void es_optimizer_set_lr(es_optimizer *opt, float lr);
/* From now on weight decay pulls each parameter towards its present value
 * instead of towards 0 (L2-SP, Li et al. 2018): fine-tuning moves a trained
 * network only as far as the new data asks. SGD and Adam add
 * weight_decay·(p − anchor) to the gradient; AdamW subtracts
 * lr·weight_decay·(p − anchor). */
int es_optimizer_anchor(es_optimizer *opt);

/* The optimizer's state, for checkpoints: m (momentum or first moment) and
 * v (second moment; NULL for SGD) of n floats each, laid out as the
 * network's gradient block, and the number of steps taken. Read and written
 * in place. */
typedef struct {
    float *m, *v;
    size_t n;
    long step;
} es_opt_state;
es_opt_state *es_optimizer_state(es_optimizer *opt);
void es_optimizer_free(es_optimizer *opt);

/* OpenBLAS threads for every network in the process (it is a global
 * setting of the library). Inference runs best on 1 (predictable latency,
 * no thread wake-ups per window); training may use every core. */
void es_blas_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
