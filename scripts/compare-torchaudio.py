#!/usr/bin/python3
"""Compares `earshot features` with torchaudio on real audio files.

    /usr/bin/python3 scripts/compare-torchaudio.py [--earshot build/bin/earshot] \
        [--conf conf/features/logmel64-16k.json ...] FILE...

For each description and file at the description's rate, it runs the CLI and
torchaudio (float32, as users run it, and float64) on the same samples and
prints the largest difference as a fraction of the matrix's largest magnitude.
Exits non-zero when any file exceeds --tol (default 2e-4, the foundation
issue's criterion). Needs Debian's python3-torchaudio.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from gen_fixtures import transform  # noqa: E402


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"{path}: only 16-bit WAV is compared")
        rate, ch = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return x.reshape(-1, ch).mean(axis=1).astype(np.float32), rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--earshot", default=os.path.join(ROOT, "build", "bin", "earshot"))
    ap.add_argument("--conf", action="append")
    ap.add_argument("--tol", type=float, default=2e-4)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    confs = args.conf or [os.path.join(ROOT, "conf", "features", n) for n in
                          ("spec-seed-16k.json", "logmel64-16k.json", "dbmel40-8k.json")]
    worst = {}
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for conf in confs:
            desc = json.load(open(conf))
            name = os.path.basename(conf)
            f32 = transform(desc, torch.float32)
            f64 = transform(desc, torch.float64)
            n = 0
            for path in args.files:
                x, rate = read_wav(path)
                if rate != desc["sample_rate"]:
                    continue
                out = os.path.join(tmp, "o.npy")
                subprocess.run([args.earshot, "features", "--config", conf, path, "--out", out],
                               check=True, capture_output=True)
                got = np.load(out)
                t = torch.from_numpy(x)
                r32 = f32(t).numpy()
                r64 = f64(t.double()).numpy()
                e32 = np.abs(got - r32).max() / np.abs(r32).max()
                e64 = np.abs(got - r64).max() / np.abs(r64).max()
                ta = np.abs(r32 - r64).max() / np.abs(r64).max()
                w = worst.setdefault(name, [0, 0, 0])
                w[0], w[1], w[2] = max(w[0], e32), max(w[1], e64), max(w[2], ta)
                n += 1
                if e32 > args.tol:
                    bad += 1
                    print(f"OVER {name} {path}: {e32:.2e} vs float32 torchaudio")
            if name in worst:
                w = worst[name]
                print(f"{name:<20} {n:4d} files  worst |earshot - torchaudio f32| {w[0]:.2e}, "
                      f"vs f64 {w[1]:.2e}, torchaudio f32 vs f64 {w[2]:.2e} (of max magnitude)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
