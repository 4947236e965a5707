#!/usr/bin/python3
"""Inference while the daemon fine-tunes (`make bench`).

Starts earshotd with the default config (digits and cat/dog) on the bundled
recording, replayed in real time and looped, lets it listen for --idle
seconds, then teaches the digits model German digits (5 espeak-ng utterances
per digit, sent inline with `earshot example add`) and runs `earshot finetune
--wait`. The daemon's finetune-done event reports, per model, the p99
inference latency of the 200 windows before the job and of the windows during
it, how many of each the kernel preempted, and the samples lost while it ran; this prints them with the job's wall
time, for --rounds rounds (a fresh daemon each), and the share of CPU time
the hypervisor stole from this VM while it listened idle and during the job
(/proc/stat), which is what makes single rounds of a VM's p99 jump.

The ratio p99 during / p99 before is measured in one run on one machine, as
every figure in bench/README.md is.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORDS = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]


def german_examples(d):
    files = []
    for digit, word in enumerate(WORDS):
        for i, speed in enumerate((140, 160, 175, 190, 210)):
            raw, out = os.path.join(d, "raw.wav"), os.path.join(d, f"{digit}_{i}.wav")
            subprocess.run(["espeak-ng", "-v", "de", "-s", str(speed), "-p", str(30 + 8 * i),
                            "-w", raw, word], check=True)
            subprocess.run(["sox", "-q", "-D", raw, "-r", "16000", "-b", "16", out, "silence",
                            "1", "0.01", "0.3%", "reverse", "silence", "1", "0.01", "0.3%",
                            "reverse"], check=True)
            files.append((digit, out))
    return files


def cpu_times():
    """/proc/stat's first line: (steal, total) in ticks, for the share of
    the time the hypervisor took the VM's CPUs away."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[7], sum(v)


def steal_pct(a, b):
    return 100.0 * (b[0] - a[0]) / max(1, b[1] - a[1])


def one_round(args, d, files):
    sock = os.path.join(d, "s.sock")
    state = os.path.join(d, f"state{time.monotonic_ns()}")
    env = dict(os.environ, EARSHOT_SOCKET=sock)
    proc = subprocess.Popen([args.earshotd, "--config", args.config,
                             "--socket", sock, "--state-dir", state, "--input",
                             "file:" + os.path.join(ROOT, "demo", "digits.wav"), "--loop",
                             "--log-level", "warning"], env=env)
    try:
        for _ in range(100):
            if subprocess.run([args.earshot, "status"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        s0 = cpu_times()
        time.sleep(args.idle)
        s1 = cpu_times()
        for digit in range(10):
            subprocess.run([args.earshot, "example", "add", "--model", "digits", "--label",
                            str(digit)] + [f for dg, f in files if dg == digit],
                           env=env, check=True, capture_output=True)
        t0, s2 = time.monotonic(), cpu_times()
        out = subprocess.run([args.earshot, "finetune", "--model", "digits", "--wait", "--json"],
                             env=env, capture_output=True, text=True).stdout
        wall, s3 = time.monotonic() - t0, cpu_times()
        done = [json.loads(l) for l in out.splitlines() if '"finetune-done"' in l][0]
        return wall, done, (steal_pct(s0, s1), steal_pct(s2, s3))
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--earshotd", default=os.path.join(ROOT, "build", "bin", "earshotd"))
    ap.add_argument("--earshot", default=os.path.join(ROOT, "build", "bin", "earshot"))
    ap.add_argument("--config", default=os.path.join(ROOT, "conf", "earshotd.conf"),
                    help="earshotd's config (e.g. a copy with finetune.threads = 1)")
    ap.add_argument("--idle", type=float, default=55.0, help="seconds listened before the job")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        files = german_examples(d)
        rows = []
        for r in range(args.rounds):
            wall, done, steal = one_round(args, d, files)
            for m in done["inference"]:
                rows.append((r + 1, wall, done["seconds"], done["accepted"], steal, m))
        print("| round | job s (wall) | accepted | steal % idle / job | model | p99 before ms | "
              "p99 during ms | ratio | windows during | preempted before / during | lost |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        ratios = []
        for r, wall, secs, acc, steal, m in rows:
            ratio = m["p99_ms_during"] / m["p99_ms_before"] if m["p99_ms_before"] > 0 else float("nan")
            ratios.append(ratio)
            print(f"| {r} | {secs:.1f} ({wall:.1f}) | {acc} | {steal[0]:.1f} / {steal[1]:.1f} | "
                  f"{m['model']} | {m['p99_ms_before']:.2f} | "
                  f"{m['p99_ms_during']:.2f} | {ratio:.2f} | {m['windows_during']} | "
                  f"{m['preempted_before']} / {m['preempted_during']} | "
                  f"{m['lost_samples_during']} |")
        print(f"\nmedian ratio p99 during / before: {statistics.median(ratios):.2f}; "
              f"max {max(ratios):.2f}")


if __name__ == "__main__":
    sys.exit(main())
