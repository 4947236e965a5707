#!/usr/bin/python3
"""One epoch of the cat/dog seed recipe, earshot against PyTorch (`make bench`).

Both sides do the whole epoch as the seed project did: every training clip
(the catdog folder minus the held-out folds 0 and 1, as the recipe's
val_groups say) padded or cut to 5 s at 16 kHz, its power spectrogram (n_fft
600, hop 300: 1x301x267), time masking with p = 0.25, the seed network, Adam
at batch 16 — and then classify the held-out clips, as `earshot train`
validates after each epoch. earshot's side is
`earshot train --config conf/recipes/catdog-seed.cfg --epochs 1`, timed from
outside (so loading and decoding count too). PyTorch's side loads with
torchaudio, computes the spectrogram with torchaudio.transforms.Spectrogram,
masks with TimeMasking, and trains SeedNet (tests/gen_nn_fixtures.py), the
same layers. Same thread count on both sides; rounds alternate the sides
because the machine's speed drifts, and the median ratio is reported.
"""
import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from gen_nn_fixtures import SeedNet  # noqa: E402

DATA = os.path.join(ROOT, "..", "shared", "data", "catdog")
RATE, N = 16000, 80000


def fold_of(path):
    return re.search(r"_[0-9]*([0-9])\.wav$", path).group(1)


def torch_epoch(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    t0 = time.perf_counter()
    spec = torchaudio.transforms.Spectrogram(n_fft=600, hop_length=300, power=2.0)
    mask = torchaudio.transforms.TimeMasking(time_mask_param=267, p=0.25)
    train, val = [], []
    for f in sorted(glob.glob(os.path.join(DATA, "*.wav"))):
        x, sr = torchaudio.load(f)
        x = x.mean(0)
        if sr != RATE:
            x = torchaudio.functional.resample(x, sr, RATE)
        x = torch.nn.functional.pad(x, (0, max(0, N - x.numel())))[:N]
        label = 0 if os.path.basename(f).startswith("cat") else 1
        (val if fold_of(f) in "01" else train).append((x, label))
    m = SeedNet()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(train))
    m.train()
    for i in range(0, len(train), 16):
        idx = order[i:i + 16]
        xb = torch.stack([mask(spec(train[j][0]).unsqueeze(0)) for j in idx])
        yb = torch.tensor([train[j][1] for j in idx])
        opt.zero_grad()
        loss_fn(m(xb), yb).backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        for x, _ in val:
            m(spec(x).unsqueeze(0).unsqueeze(0))
    return time.perf_counter() - t0


def earshot_epoch(es, threads):
    t0 = time.perf_counter()
    subprocess.run([es, "train", "--config", os.path.join(ROOT, "conf/recipes/catdog-seed.cfg"),
                    "--epochs", "1", "--threads", str(threads), "--quiet",
                    "--out", "/tmp/es-bench-seed.safetensors"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--earshot", default=os.path.join(ROOT, "build", "bin", "earshot"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    if not os.path.isdir(DATA):
        print("seed epoch: skipped, %s is absent" % DATA)
        return
    es_t, th_t, ratios = [], [], []
    for r in range(a.rounds):
        e = earshot_epoch(a.earshot, a.threads)
        t = torch_epoch(a.threads)
        es_t.append(e)
        th_t.append(t)
        ratios.append(t / e)
        print("round %d: earshot %.2f s, PyTorch %.2f s, ratio %.2f" % (r + 1, e, t, t / e))
    print("one epoch of the seed recipe (%d threads): earshot %.2f s, PyTorch %.2f s (medians); "
          "PyTorch/earshot %.2fx (%.2f-%.2f)" % (a.threads, statistics.median(es_t),
                                                  statistics.median(th_t), statistics.median(ratios),
                                                  min(ratios), max(ratios)))


if __name__ == "__main__":
    main()
