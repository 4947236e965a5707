#!/usr/bin/python3
"""Makes the reference fixtures the feature tests compare against.

Run with Debian's python3-torch and python3-torchaudio (`make fixtures`):

    /usr/bin/python3 tests/gen_fixtures.py tests/fixtures

For each synthetic clip (written as 16-bit WAV, so C reads the very same
samples) and each feature description in conf/features plus a few extra
ones, it writes torchaudio's output as CLIP__DESC.npy, and the description
as DESC.json. The output is torchaudio run in float64 (stored as float32):
torchaudio's own float32 rounding reaches 3e-4 of the largest magnitude on
some descriptions, more than the tolerance the tests hold earshot to, while
earshot computes in double and lands within 1e-6 of the float64 result. The clips are generated from a fixed seed: tonal
sweeps with harmonics (meow-like), noise bursts (bark-like), a decaying
click train, exact digital silence and near-silent noise, so every code
path (log floors, top_db clamp, reflect padding at both ends) is exercised.

It also prints how far torchaudio's float32 result is from its own float64
result: the floor any implementation can be held to.
"""
import json
import os
import sys
import wave

import numpy as np
import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The three descriptions the foundation issue names, shipped in conf/features,
# and extra ones that reach other branches (magnitude, f_min/f_max, odd n_fft,
# win_length < n_fft for a spectrogram, mean/std, top_db=None).
EXTRA = {
    "mag-spec-8k": {"kind": "spectrogram", "sample_rate": 8000, "n_fft": 255, "win_length": 200,
                    "hop_length": 64, "power": 1.0, "log": "log", "log_offset": 1e-3},
    "mel-band-22k": {"kind": "melspectrogram", "sample_rate": 22050, "n_fft": 1024,
                     "hop_length": 256, "n_mels": 80, "f_min": 60.0, "f_max": 8000.0,
                     "mel_scale": "slaney", "norm": None, "log": "db", "top_db": None,
                     "mean": -20.0, "std": 15.0},
    "mel-htk-norm-16k": {"kind": "melspectrogram", "sample_rate": 16000, "n_fft": 400,
                         "hop_length": 160, "n_mels": 40, "mel_scale": "htk", "norm": "slaney",
                         "log": "none"},
}


def load_conf():
    descs = {}
    confdir = os.path.join(ROOT, "conf", "features")
    for name in sorted(os.listdir(confdir)):
        if name.endswith(".json"):
            with open(os.path.join(confdir, name)) as f:
                descs[name[:-5]] = json.load(f)
    descs.update(EXTRA)
    return descs


def synth(rate, seconds, seed):
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    x = np.zeros(n)
    # meow-like: a gliding fundamental with harmonics and vibrato
    seg = (t > 0.10) & (t < 0.65)
    f0 = 350 + 400 * (t - 0.10) + 20 * np.sin(2 * np.pi * 6 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    for h in range(1, 6):
        if h * 1000 < rate / 2:
            x[seg] += (0.25 / h) * np.sin(h * phase[seg])
    x[seg] *= np.hanning(seg.sum())
    # bark-like: band-passed noise bursts
    for start in (0.75, 0.95):
        i0, i1 = int(start * rate), int((start + 0.12) * rate)
        burst = rng.standard_normal(i1 - i0)
        burst = np.convolve(burst, np.ones(6) / 6, mode="same")
        x[i0:i1] += 0.5 * burst * np.exp(-np.linspace(0, 5, i1 - i0))
    # click train
    for k in range(6):
        i = int((1.15 + 0.03 * k) * rate)
        x[i:i + 3] += 0.8 * 0.6 ** k
    # near-silent noise, then exact digital silence at the very end
    i_ns = int(1.30 * rate)
    x[i_ns:] += 3e-4 * rng.standard_normal(n - i_ns)
    x[int(1.42 * rate):] = 0.0
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def write_wav(path, samples, rate):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def transform(desc, dtype):
    d = dict(desc)
    common = dict(n_fft=d["n_fft"], win_length=d.get("win_length", d["n_fft"]),
                  hop_length=d["hop_length"], center=d.get("center", True),
                  pad_mode=d.get("pad_mode", "reflect"), power=d.get("power", 2.0))
    if d["kind"] == "spectrogram":
        t = torchaudio.transforms.Spectrogram(**common)
    else:
        t = torchaudio.transforms.MelSpectrogram(
            sample_rate=d["sample_rate"], n_mels=d["n_mels"], f_min=d.get("f_min", 0.0),
            f_max=d.get("f_max"), mel_scale=d.get("mel_scale", "htk"), norm=d.get("norm"),
            **common)
    t = t.to(dtype)
    log = d.get("log", "none")

    def run(x):
        y = t(x)
        if log == "log":
            y = torch.log(y + d.get("log_offset", 1e-6))
        elif log == "db":
            stype = "power" if common["power"] == 2.0 else "magnitude"
            y = torchaudio.transforms.AmplitudeToDB(stype=stype, top_db=d.get("top_db"))(y)
        if "mean" in d:
            y = (y - d["mean"]) / d["std"]
        return y
    return run


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures")
    os.makedirs(out, exist_ok=True)
    descs = load_conf()
    clips = {}
    for rate in sorted({d["sample_rate"] for d in descs.values()}):
        for seed in (1, 2):
            name = f"synth{seed}-{rate}"
            samples = synth(rate, 1.5 + 0.137 * seed, seed * 1000 + rate)
            write_wav(os.path.join(out, name + ".wav"), samples, rate)
            clips[name] = (rate, samples)
    worst = 0.0
    for dname, desc in descs.items():
        with open(os.path.join(out, dname + ".json"), "w") as f:
            json.dump(desc, f, indent=1)
            f.write("\n")
        for cname, (rate, samples) in clips.items():
            if rate != desc["sample_rate"]:
                continue
            x32 = torch.from_numpy(samples.astype(np.float32) / 32768.0)
            y32 = transform(desc, torch.float32)(x32).numpy()
            y64 = transform(desc, torch.float64)(x32.double()).numpy()
            rel = np.abs(y32 - y64).max() / np.abs(y64).max()
            worst = max(worst, rel)
            np.save(os.path.join(out, f"{cname}__{dname}.npy"), np.ascontiguousarray(y64, dtype=np.float32))
            print(f"{cname:>14} {dname:<18} shape {tuple(y32.shape)}  "
                  f"torchaudio f32 vs f64: {rel:.2e} of max")
    print(f"worst float32 rounding of torchaudio itself: {worst:.2e} of the largest magnitude")


if __name__ == "__main__":
    main()
