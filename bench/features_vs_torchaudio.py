#!/usr/bin/python3
"""earshot's features against torchaudio's, in one run on one machine (`make bench`).

For each feature description the foundation issue names and each clip length
(1 s, 5 s), it times torchaudio's transform (Spectrogram/MelSpectrogram plus
log or AmplitudeToDB) on an in-memory tensor, and earshot's es_features_compute
on an in-memory array (bench_features), both as the median of many runs after a
warm-up. It prints a Markdown table of microseconds per clip and the ratio
torchaudio / earshot, once with torch on 1 thread (earshot's extractor is
single-threaded) and once with torch's default thread count.

The last column bounds what any one-thread extractor built on FFTW could
reach: torchaudio's time (1 thread) over the time of FFTW's real transform
alone, the clip's frames one after another with the fastest plan FFTW finds.

The machine's speed drifts over minutes, so the sides are measured
alternately in --rounds rounds and the table gives medians, and the median
and range of the per-round ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from gen_fixtures import transform  # noqa: E402  (the same torchaudio pipeline the fixtures use)

DESCS = ["spec-seed-16k", "logmel64-16k", "dbmel40-8k"]


def time_torch(desc, seconds, reps):
    n = int(seconds * desc["sample_rate"])
    g = torch.Generator().manual_seed(12345)
    x = 0.1 * (torch.rand(n, generator=g) - 0.5)
    run = transform(desc, torch.float32)
    with torch.inference_mode():
        run(x)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            run(x)
            times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def time_earshot(binary, path, seconds, reps):
    out = subprocess.run([binary, path, str(seconds), str(reps)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--earshot-bench", default=os.path.join(ROOT, "build", "bin", "bench_features"))
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    default_threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, torchaudio {torchaudio.__version__}, "
          f"{os.cpu_count()} CPUs, torch default threads {default_threads}\n")
    print("| features | clip | earshot µs | torchaudio µs (1 thr) | ratio, median (range) | "
          f"torchaudio µs ({default_threads} thr) | ratio, median (range) | earshot µs/hop (stream) | "
          "FFTW alone µs | bound: torchaudio (1 thr) / FFTW alone |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in DESCS:
        path = os.path.join(ROOT, "conf", "features", name + ".json")
        with open(path) as f:
            desc = json.load(f)
        for seconds in (1, 5):
            es_us, t1_us, tn_us, r1, rn, hop, fl, rb = [], [], [], [], [], [], [], []
            for _ in range(args.rounds):
                es = time_earshot(args.earshot_bench, path, seconds, args.reps)
                torch.set_num_threads(1)
                t1 = time_torch(desc, seconds, args.reps)
                torch.set_num_threads(default_threads)
                tn = time_torch(desc, seconds, args.reps)
                es_us.append(es["us_per_clip"])
                hop.append(es["us_per_hop"])
                fl.append(es["us_fft_floor"])
                rb.append(t1 / es["us_fft_floor"])
                t1_us.append(t1)
                tn_us.append(tn)
                r1.append(t1 / es["us_per_clip"])
                rn.append(tn / es["us_per_clip"])
            med = statistics.median
            print(f"| {name} | {seconds} s | {med(es_us):.0f} | {med(t1_us):.0f} | "
                  f"{med(r1):.1f}× ({min(r1):.1f}–{max(r1):.1f}) | {med(tn_us):.0f} | "
                  f"{med(rn):.1f}× ({min(rn):.1f}–{max(rn):.1f}) | {med(hop):.2f} | {med(fl):.0f} | "
                  f"{med(rb):.1f}× ({min(rb):.1f}–{max(rb):.1f}) |")


if __name__ == "__main__":
    main()
