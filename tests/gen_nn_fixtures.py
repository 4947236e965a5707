#!/usr/bin/python3
"""Makes the reference fixtures the network tests compare against.

Run with Debian's python3-torch and python3-torchaudio:

    /usr/bin/python3 tests/gen_nn_fixtures.py tests/fixtures/nn

Three small networks, defined here as PyTorch modules, are written as earshot
model files (safetensors, tensors named as state_dict() names them, the
layer list in "earshot.arch" derived from the module itself by arch_of(), so
the two can never disagree; see DESIGN.md, "Model files"):

  seed  the cat/dog seed network: spectrogram [1,301,267], four conv/relu/
        maxpool blocks, a two-layer MLP with dropout.
  mel   a log-mel CNN [1,64,101]: conv/batchnorm/relu/maxpool, global
        average pooling, dropout, linear. Its batchnorm layers carry
        non-trivial running statistics and affine parameters.
  mix   the remaining layer options [1,40,101]: non-square kernels, strides
        and padding, average pooling, a conv without bias, maxpool with
        kernel != stride, a linear without bias.

For each net N it writes N.safetensors, an input batch N_input.npy, the
eval-mode logits N_logits.npy, class indices N_labels.npy, and the model after
one or two optimizer steps on that batch (N_adam / N_sgd / N_adamw
.safetensors) with the losses (N_loss.npy) and, for mel, the gradient norm
before clipping (mel_gradnorm.npy). Every reference is computed in float64 on
a double copy of the float32 model (exact: float32 widens to float64 without
rounding) and stored as float32, like gen_fixtures.py does for features.

Finally it classifies whole WAV clips the way earshot's classify does
(windows of clip_seconds every stride_seconds while they fit,
a short clip zero-padded; features of each window alone; softmax; mean over
windows) and writes the posteriors as N_CLIP_posteriors.npy.

Everything is seeded and single-threaded, so a rerun gives identical bytes.
"""
import copy
import json
import os
import sys
import wave

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from gen_fixtures import transform, write_wav  # noqa: E402
import safetensors_io  # noqa: E402


# ---------------------------------------------------------------- the networks

class SeedNet(nn.Module):
    """The cat/dog seed network: input [B,1,301,267] (5 s spectrogram at 16 kHz)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.mlp = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 18 * 16, 32), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(32, 2))

    def forward(self, x):
        return self.mlp(self.conv(x))


class MelNet(nn.Module):
    """A small log-mel CNN: input [B,1,64,101] (1 s of 64 log-mels at 16 kHz)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, 11))

    def forward(self, x):
        return self.net(x)


class MixNet(nn.Module):
    """The other layer options: input [B,1,40,101] (1 s of 40 dB-mels at 8 kHz)."""

    IN_SHAPE = (1, 40, 101)

    def __init__(self):
        super().__init__()
        features = nn.Sequential(
            nn.Conv2d(1, 6, (3, 5), stride=(1, 2), padding=(1, 2)), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(6, 10, (5, 3), stride=(2, 1), padding=(0, 1), bias=False),
            nn.BatchNorm2d(10), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten())
        with torch.no_grad():  # in eval mode, so batchnorm's running stats stay untouched
            n_flat = features.eval()(torch.zeros(1, *self.IN_SHAPE)).shape[1]
        features.train()
        self.net = nn.Sequential(*features, nn.Linear(n_flat, 16), nn.ReLU(),
                                 nn.Linear(16, 3, bias=False))

    def forward(self, x):
        return self.net(x)


# ------------------------------------------------------------ module -> arch

def _hw(v):
    """An int, or [h, w] when the two differ (the arch's spelling)."""
    if isinstance(v, int):
        return v
    h, w = v
    return h if h == w else [h, w]


def _leaves(module, prefix=""):
    """Leaf modules in registration order (= forward order for Sequential nets)."""
    for name, child in module.named_children():
        full = prefix + name
        if isinstance(child, nn.Sequential):
            yield from _leaves(child, full + ".")
        elif len(list(child.children())) == 0:
            yield full, child
        else:
            raise ValueError(f"{full}: only Sequential containers can be walked")


def arch_of(model):
    """The earshot.arch layer list of a Sequential-based module.

    Tensor names are the module's own state_dict names, and every option the
    arch cannot express is rejected, so the arch describes exactly what the
    module computes (main() checks it too, by running the arch alone)."""
    arch = []
    for name, m in _leaves(model):
        def t(attr):
            return f"{name}.{attr}" if getattr(m, attr, None) is not None else None
        if isinstance(m, nn.Conv2d):
            assert m.groups == 1 and _hw(m.dilation) == 1 and m.padding_mode == "zeros", name
            assert not isinstance(m.padding, str), name
            arch.append({"type": "conv2d", "in": m.in_channels, "out": m.out_channels,
                         "kernel": _hw(m.kernel_size), "stride": _hw(m.stride),
                         "padding": _hw(m.padding), "weight": t("weight"), "bias": t("bias")})
        elif isinstance(m, nn.ReLU):
            arch.append({"type": "relu"})
        elif isinstance(m, nn.MaxPool2d):
            assert _hw(m.padding) == 0 and _hw(m.dilation) == 1 and not m.ceil_mode, name
            assert not m.return_indices, name
            arch.append({"type": "maxpool2d", "kernel": _hw(m.kernel_size),
                         "stride": _hw(m.stride if m.stride is not None else m.kernel_size)})
        elif isinstance(m, nn.AvgPool2d):
            assert _hw(m.padding) == 0 and not m.ceil_mode and m.divisor_override is None, name
            arch.append({"type": "avgpool2d", "kernel": _hw(m.kernel_size),
                         "stride": _hw(m.stride if m.stride is not None else m.kernel_size)})
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            assert _hw(m.output_size) == 1, name
            arch.append({"type": "global_avgpool"})
        elif isinstance(m, nn.BatchNorm2d):
            assert m.affine and m.track_running_stats and m.momentum is not None, name
            arch.append({"type": "batchnorm2d", "num_features": m.num_features, "eps": m.eps,
                         "momentum": m.momentum, "weight": t("weight"), "bias": t("bias"),
                         "running_mean": t("running_mean"), "running_var": t("running_var"),
                         "num_batches_tracked": t("num_batches_tracked")})
        elif isinstance(m, nn.Dropout):
            arch.append({"type": "dropout", "p": m.p})
        elif isinstance(m, nn.Flatten):
            assert m.start_dim == 1 and m.end_dim == -1, name
            arch.append({"type": "flatten"})
        elif isinstance(m, nn.Linear):
            arch.append({"type": "linear", "in": m.in_features, "out": m.out_features,
                         "weight": t("weight"), "bias": t("bias")})
        else:
            raise ValueError(f"{name}: {type(m).__name__} has no earshot arch type")
    named = {v for layer in arch for k, v in layer.items()
             if k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
             and v is not None}
    assert named == set(model.state_dict()), "arch and state_dict disagree"
    return arch


def run_arch(arch, tensors, x):
    """Evaluates an arch from its JSON and tensors alone, as earshot does (eval mode)."""
    def p(name):
        return None if name is None else tensors[name]

    def pair(v):
        return tuple(v) if isinstance(v, list) else (v, v)
    for L in arch:
        ty = L["type"]
        if ty == "conv2d":
            x = F.conv2d(x, p(L["weight"]), p(L["bias"]), pair(L["stride"]), pair(L["padding"]))
        elif ty == "relu":
            x = F.relu(x)
        elif ty == "maxpool2d":
            x = F.max_pool2d(x, pair(L["kernel"]), pair(L["stride"]))
        elif ty == "avgpool2d":
            x = F.avg_pool2d(x, pair(L["kernel"]), pair(L["stride"]))
        elif ty == "global_avgpool":
            x = x.mean(dim=(2, 3), keepdim=True)
        elif ty == "batchnorm2d":
            x = F.batch_norm(x, p(L["running_mean"]), p(L["running_var"]), p(L["weight"]),
                             p(L["bias"]), training=False, eps=L["eps"])
        elif ty == "dropout":
            pass
        elif ty == "flatten":
            x = x.flatten(1)
        elif ty == "linear":
            x = F.linear(x, p(L["weight"]), p(L["bias"]))
        else:
            raise ValueError(ty)
    return x


# ------------------------------------------------------------------ writing

def metadata(model, labels, features):
    return {"earshot.format": "1",
            "earshot.labels": json.dumps(labels),
            "earshot.features": json.dumps(features),
            "earshot.arch": json.dumps(arch_of(model))}


def state_arrays(model):
    """state_dict as numpy: floating tensors as float32, num_batches_tracked as int64."""
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        v = v.to(torch.float32) if v.is_floating_point() else v.to(torch.int64)
        out[k] = v.numpy().copy()  # (np.ascontiguousarray would make 0-d arrays 1-d)
    return out


def save_model(path, model, meta):
    safetensors_io.save(path, state_arrays(model), meta)


def save_npy(path, a):
    np.save(path, np.ascontiguousarray(np.asarray(a, dtype=np.float32)))


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()
    return rate, samples


def load_conf(name):
    with open(os.path.join(ROOT, "conf", "features", name + ".json")) as f:
        return json.load(f)


# ------------------------------------------------------------ references

def logits64(model, x):
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        return m(torch.from_numpy(x).double())


def warm_batchnorm(model, rng, shape, mean, std, steps=3):
    """Non-trivial batchnorm state: random affine parameters, and running
    statistics from a few train-mode forwards on input-like random data."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, n).astype(np.float32)))
                m.bias.copy_(torch.from_numpy(rng.normal(0.0, 0.3, n).astype(np.float32)))
        model.train()
        for _ in range(steps):
            model(torch.from_numpy(rng.normal(mean, std, shape).astype(np.float32)))
    model.eval()


def windows(samples, rate, clip_seconds, stride_seconds):
    """The windows earshot's classify scores, as float32 sample arrays."""
    x = samples.astype(np.float32) / np.float32(32768.0)
    n = len(x)
    clip = int(round(clip_seconds * rate))
    stride = int(round(stride_seconds * rate))
    if n <= clip:
        return [np.concatenate([x, np.zeros(clip - n, np.float32)])]
    # windows every stride while they fit, as the issue words it
    return [x[s:s + clip] for s in range(0, n - clip + 1, stride)]


def classify(model, features, samples, rate):
    assert rate == features["sample_rate"]
    m = copy.deepcopy(model).double().eval()
    feat = transform(features, torch.float64)
    posts = []
    for w in windows(samples, rate, features["clip_seconds"], features["stride_seconds"]):
        y = feat(torch.from_numpy(w).double())
        with torch.no_grad():
            logits = m(y.reshape(1, 1, *y.shape))
        posts.append(torch.softmax(logits, dim=1)[0])
    return torch.stack(posts).mean(dim=0).numpy(), len(posts)


def check_model_file(path, model, x, logits, name):
    """The file loads back into the module and into the arch alone, giving the logits."""
    tensors, meta = safetensors_io.load(path)
    sd = model.state_dict()
    assert list(sorted(tensors)) == list(sorted(sd)), f"{path}: tensor names"
    for k, v in sd.items():
        a = tensors[k]
        assert tuple(a.shape) == tuple(v.shape), f"{path}: {k} shape {a.shape} != {tuple(v.shape)}"
        want = np.float32 if v.is_floating_point() else np.int64
        assert a.dtype == want, f"{path}: {k} dtype {a.dtype}"
        assert np.array_equal(a, v.detach().to(torch.float32 if want is np.float32
                                                else torch.int64).numpy()), f"{path}: {k} data"
    arch = json.loads(meta["earshot.arch"])
    assert arch == json.loads(json.dumps(arch_of(model))), f"{path}: arch"
    if logits is None:
        return
    fresh = type(model)()
    fresh.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()}, strict=True)
    got = logits64(fresh, x).numpy()
    assert np.array_equal(got.astype(np.float32), logits), f"{path}: logits from the reloaded module differ"
    t64 = {k: torch.from_numpy(np.array(v)).double() if v.dtype == np.float32
           else torch.from_numpy(np.array(v)) for k, v in tensors.items()}
    with torch.no_grad():
        via_arch = run_arch(arch, t64, torch.from_numpy(x).double()).numpy()
    diff = np.abs(via_arch - got).max() / np.abs(got).max()
    assert diff < 1e-6, f"{path}: arch-only logits differ by {diff:.2e}"
    print(f"  {name}: reloaded module reproduces logits exactly; arch alone within {diff:.1e}")


# ------------------------------------------------------------------ main

def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures", "nn")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    fixtures = os.path.join(HERE, "fixtures")

    def path(name):
        return os.path.join(out, name)

    nets = {}

    # --- seed: eval mode (dropout off), cross-entropy, one Adam step
    torch.manual_seed(1)
    rng = np.random.default_rng(101)
    seed = SeedNet().eval()
    feats = dict(load_conf("spec-seed-16k"), clip_seconds=5.0, stride_seconds=1.0)
    x = np.exp(rng.normal(-3.0, 2.0, (2, 1, 301, 267))).astype(np.float32)
    y = np.array([0, 1])
    nets["seed"] = (seed, ["cat", "dog"], feats, x, y)

    # --- mel: batchnorm with warmed-up statistics
    torch.manual_seed(2)
    rng = np.random.default_rng(202)
    mel = MelNet()
    warm_batchnorm(mel, rng, (8, 1, 64, 101), -5.0, 3.0)
    feats = dict(load_conf("logmel64-16k"), clip_seconds=1.0, stride_seconds=0.25)
    x = rng.normal(-5.0, 3.0, (4, 1, 64, 101)).astype(np.float32)
    y = np.array([3, 10, 0, 7])
    nets["mel"] = (mel, [str(i) for i in range(10)] + ["background"], feats, x, y)

    # --- mix: the other layer options
    torch.manual_seed(3)
    rng = np.random.default_rng(303)
    mix = MixNet()
    warm_batchnorm(mix, rng, (8, 1, 40, 101), -40.0, 20.0)
    feats = dict(load_conf("dbmel40-8k"), clip_seconds=1.0, stride_seconds=0.5)
    x = rng.normal(-40.0, 20.0, (3, 1, 40, 101)).astype(np.float32)
    y = np.array([2, 0, 1])
    nets["mix"] = (mix, ["a", "b", "c"], feats, x, y)

    for name, (model, labels, feats, x, y) in nets.items():
        model.eval()
        meta = metadata(model, labels, feats)
        save_model(path(f"{name}.safetensors"), model, meta)
        save_npy(path(f"{name}_input.npy"), x)
        save_npy(path(f"{name}_labels.npy"), y)
        logits = logits64(model, x).numpy().astype(np.float32)
        save_npy(path(f"{name}_logits.npy"), logits)
        print(f"{name}: input {x.shape}, logits {logits.shape}, "
              f"{sum(v.numel() for v in model.state_dict().values())} state values")
        check_model_file(path(f"{name}.safetensors"), model, x, logits, name)

    def double_copy(model):
        return copy.deepcopy(model).double()

    def step(model, x, y, loss_fn, opt, clip=None):
        opt.zero_grad()
        loss = loss_fn(model(torch.from_numpy(x).double()), torch.from_numpy(y).long())
        loss.backward()
        norm = None
        if clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
        opt.step()
        return loss.item(), None if norm is None else norm.item()

    # seed: eval mode, so dropout is off and the step is deterministic.
    model, labels, feats, x, y = nets["seed"]
    m = double_copy(model).eval()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    loss, _ = step(m, x, y, nn.CrossEntropyLoss(), opt)
    save_model(path("seed_adam.safetensors"), m, metadata(model, labels, feats))
    save_npy(path("seed_loss.npy"), [loss])
    check_model_file(path("seed_adam.safetensors"), m, None, None, "seed_adam")
    print(f"seed Adam step: loss {loss:.9g}")

    # mel: train mode, so batchnorm normalises with the batch's statistics and
    # updates its running statistics (and num_batches_tracked). Dropout is set
    # to p=0 for this step only, so the step is deterministic: the C test
    # disables dropout too. Gradients are clipped to norm 1, then Adam with
    # L2-style weight decay (torch.optim.Adam, not AdamW).
    model, labels, feats, x, y = nets["mel"]
    m = double_copy(model).train()
    for mod in m.modules():
        if isinstance(mod, nn.Dropout):
            mod.p = 0.0
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-4)
    loss, norm = step(m, x, y, nn.CrossEntropyLoss(), opt, clip=1.0)
    for mod in m.modules():
        if isinstance(mod, nn.Dropout):
            mod.p = 0.2
    save_model(path("mel_adam.safetensors"), m, metadata(model, labels, feats))
    save_npy(path("mel_loss.npy"), [loss])
    save_npy(path("mel_gradnorm.npy"), [norm])
    check_model_file(path("mel_adam.safetensors"), m, None, None, "mel_adam")
    print(f"mel Adam step (train mode, clipped): loss {loss:.9g}, grad norm before clipping {norm:.9g}")

    # mix: train mode (no dropout in this net), class-weighted cross-entropy,
    # two SGD steps with momentum on the same batch, so the momentum buffer
    # of step 1 enters step 2.
    model, labels, feats, x, y = nets["mix"]
    weight = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    m = double_copy(model).train()
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3, nesterov=False)
    losses = [step(m, x, y, nn.CrossEntropyLoss(weight=weight), opt)[0] for _ in range(2)]
    save_model(path("mix_sgd.safetensors"), m, metadata(model, labels, feats))
    save_npy(path("mix_loss.npy"), losses)
    check_model_file(path("mix_sgd.safetensors"), m, None, None, "mix_sgd")
    print(f"mix SGD two steps (train mode, weighted): losses {losses[0]:.9g}, {losses[1]:.9g}")
    # The original model again, one AdamW step (decoupled weight decay), same
    # mode, loss and batch: its loss is mix_loss[0].
    m = double_copy(model).train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1)
    loss, _ = step(m, x, y, nn.CrossEntropyLoss(weight=weight), opt)
    assert loss == losses[0]
    save_model(path("mix_adamw.safetensors"), m, metadata(model, labels, feats))
    check_model_file(path("mix_adamw.safetensors"), m, None, None, "mix_adamw")
    print(f"mix AdamW step: loss {loss:.9g}")

    # End-to-end classification of whole clips, as earshot's classify does.
    rate, s1 = read_wav(os.path.join(fixtures, "synth1-16000.wav"))
    short = s1[:int(round(0.3 * rate))]
    write_wav(path("short-16000.wav"), short, rate)
    assert np.array_equal(read_wav(path("short-16000.wav"))[1], short)
    cases = [("mel", "synth1-16000", None), ("mel", "synth2-16000", None),
             ("mix", "synth1-8000", None), ("mel", "short", short)]
    for net, clip, samples in cases:
        model, labels, feats, _, _ = nets[net]
        if samples is None:
            rate, samples = read_wav(os.path.join(fixtures, clip + ".wav"))
        else:
            rate = feats["sample_rate"]
        post, nwin = classify(model, feats, samples, rate)
        save_npy(path(f"{net}_{clip}_posteriors.npy"), post)
        print(f"{net} on {clip} ({len(samples)} samples, {nwin} windows): posteriors "
              + " ".join(f"{v:.4f}" for v in post))

    with open(path("README.md"), "w") as f:
        f.write(README)

    total = 0
    for fn in sorted(os.listdir(out)):
        size = os.path.getsize(path(fn))
        total += size
        print(f"  {fn:<34} {size:>9}")
    print(f"  {'total':<34} {total:>9}")


README = """\
# Network reference fixtures

Generated by `tests/gen_nn_fixtures.py` (PyTorch in float64, stored as float32);
regenerate with

    /usr/bin/python3 tests/gen_nn_fixtures.py tests/fixtures/nn

Networks: `seed` (cat/dog spectrogram CNN), `mel` (log-mel CNN with batchnorm and
global pooling), `mix` (non-square kernels/strides/padding, avgpool, layers without bias).

- `N.safetensors` — the model: state_dict tensors (float32, num_batches_tracked int64)
  and `earshot.*` metadata (format, labels, features, arch).
- `N_input.npy`, `N_labels.npy` — an input batch and its class indices (float32).
- `N_logits.npy` — eval-mode logits for `N_input.npy`.
- `seed_adam.safetensors`, `seed_loss.npy` — one Adam step (lr 1e-3), eval mode.
- `mel_adam.safetensors`, `mel_loss.npy`, `mel_gradnorm.npy` — one step in train mode
  (dropout set to 0), clip_grad_norm_ 1.0 (norm before clipping saved), Adam lr 1e-3,
  weight_decay 1e-4 (L2); includes the updated running statistics.
- `mix_sgd.safetensors`, `mix_loss.npy` — two SGD steps (lr 0.05, momentum 0.9,
  weight_decay 1e-3) in train mode, cross-entropy with class weights [1, 2, 0.5];
  losses of both steps.
- `mix_adamw.safetensors` — the original mix model after one AdamW step (lr 1e-2,
  weight_decay 0.1), same mode, loss and batch (its loss is `mix_loss.npy[0]`).
- `N_CLIP_posteriors.npy` — posteriors of classifying a whole WAV as earshot does
  (windows of clip_seconds every stride_seconds while they fit, short
  clips zero-padded, softmax averaged over windows): `mel` on `../synth1-16000.wav`,
  `../synth2-16000.wav` and `short-16000.wav` (the first 0.3 s of synth1-16000),
  `mix` on `../synth1-8000.wav`.
"""


if __name__ == "__main__":
    main()
