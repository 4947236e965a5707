#!/usr/bin/python3
"""earshot's CNN engine against PyTorch, in one run on one machine (`make bench`).

For the cat/dog seed network (input 1x301x267) and the mel CNN (1x64x101),
both from tests/fixtures/nn, it measures with the same thread count on both
sides:
  - batch-1 inference latency (1 thread: what the daemon does per window),
  - training throughput at batch 16 (forward, backward, Adam step; every core),
and prints the ratio PyTorch time / earshot time, plus the GFLOP/s each
reaches as a fraction of OpenBLAS sgemm's peak measured here.

The machine is shared and its speed drifts over minutes, so the two sides
are measured alternately in --rounds rounds (earshot, PyTorch, earshot, ...)
and the table gives the median of each side and the median of the per-round
ratios, with their range.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from gen_nn_fixtures import MelNet, SeedNet  # noqa: E402
from safetensors_io import load  # noqa: E402

NETS = {"seed": (SeedNet, (1, 301, 267)), "mel": (MelNet, (1, 64, 101))}


def torch_model(name):
    cls, shape = NETS[name]
    m = cls()
    tensors, _ = load(os.path.join(ROOT, "tests", "fixtures", "nn", name + ".safetensors"))
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    return m, shape


def time_torch(name, train, batch, threads, reps):
    torch.set_num_threads(threads)
    m, shape = torch_model(name)
    x = torch.from_numpy(np.random.default_rng(7).random((batch,) + shape, dtype=np.float32) - 0.5)
    y = torch.arange(batch) % 2
    times = []
    if train:
        m.train()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        for r in range(reps + 2):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss_fn(m(x), y).backward()
            opt.step()
            if r >= 2:
                times.append((time.perf_counter() - t0) * 1e3)
    else:
        m.eval()
        with torch.inference_mode():
            for r in range(reps + 2):
                t0 = time.perf_counter()
                m(x)
                if r >= 2:
                    times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_earshot(binary, name, train, batch, threads, reps):
    path = os.path.join(ROOT, "tests", "fixtures", "nn", name + ".safetensors")
    out = subprocess.run([binary, path, "train" if train else "infer", str(batch), str(threads),
                          str(reps)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--earshot-bench", default=os.path.join(ROOT, "build", "bin", "bench_nn"))
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    cores = os.cpu_count()
    print(f"torch {torch.__version__}, {cores} CPUs, mkldnn {torch.backends.mkldnn.is_available()}\n")
    print("| network | task | threads | earshot | PyTorch | ratio, median (range) | "
          "earshot % of sgemm peak | PyTorch % of sgemm peak |")
    print("|---|---|---|---|---|---|---|---|")
    for name in NETS:
        for train, batch, threads in ((False, 1, 1), (True, 16, cores)):
            reps = args.reps if not train else max(5, args.reps // 3)
            es_ms, pt_ms, ratios, peaks = [], [], [], []
            for _ in range(args.rounds):
                es = time_earshot(args.earshot_bench, name, train, batch, threads, reps)
                pt = time_torch(name, train, batch, threads, reps)
                es_ms.append(es["ms"])
                pt_ms.append(pt)
                ratios.append(pt / es["ms"])
                peaks.append(es["sgemm_peak_gflops"])
            e, p = statistics.median(es_ms), statistics.median(pt_ms)
            peak = statistics.median(peaks)
            flops = es["flops_per_sample"] * batch * (3 if train else 1)  # backward ≈ 2× forward
            if train:
                e_s, p_s = f"{batch * 1e3 / e:.0f} samples/s", f"{batch * 1e3 / p:.0f} samples/s"
            else:
                e_s, p_s = f"{e:.2f} ms", f"{p:.2f} ms"
            print(f"| {name} | {'train, batch 16' if train else 'inference, batch 1'} | {threads} | "
                  f"{e_s} | {p_s} | {statistics.median(ratios):.2f}× "
                  f"({min(ratios):.2f}–{max(ratios):.2f}) | "
                  f"{100 * flops / (e * 1e6) / peak:.0f}% | {100 * flops / (p * 1e6) / peak:.0f}% |")
    print(f"\n{args.rounds} alternating rounds per row; sgemm peak measured by bench_nn "
          f"with the row's thread count (last: {peak:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
