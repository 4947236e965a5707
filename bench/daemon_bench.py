#!/usr/bin/python3
"""earshotd's running costs with the default config and models (`make bench`).

Measures, on this machine:
  - time from exec to READY=1 (sd_notify, caught on our own NOTIFY_SOCKET);
  - CPU while listening (user+system time over a stretch of real-time
    input, as a share of one core) and peak RSS (VmHWM);
  - latency from the end of a word to its detection event: a scene
    (tests/make_scene.sh) is replayed in real time as a file input, so
    stream second s is captured at start + s; each detection that matches a
    truth event gives (time the event reached a subscriber) - (start + the
    word's end), split into the part in stream time (the event's offset -
    the word's end: how long the detector waited for its windows) and the
    delivery (arrival - start - the event's offset: resampling, the wait for
    the window's last frame, inference, the socket).
Goals (issue 5): READY under 200 ms, CPU under 5% of one core, RSS under
64 MB, latency under 300 ms.
"""
import argparse
import json
import select
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--earshotd", default=os.path.join(ROOT, "build", "bin", "earshotd"))
    ap.add_argument("--seconds", type=float, default=30.0, help="listening time for CPU")
    ap.add_argument("--config", default=os.path.join(ROOT, "conf", "earshotd.conf"),
                    help="the daemon's config (its input and socket are replaced)")
    ap.add_argument("--scene-seed", default="3")
    ap.add_argument("--rounds", default="1", help="scene rounds (ten digits each)")
    a = ap.parse_args()
    catdog = os.path.join(ROOT, "..", "shared", "data", "catdog")
    tmp = tempfile.mkdtemp(prefix="es-bench-")
    subprocess.run([os.path.join(ROOT, "tests", "make_scene.sh"), tmp, catdog, a.scene_seed, a.rounds],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    truth = [l.rstrip("\n").split("\t") for l in open(os.path.join(tmp, "truth.tsv"))]
    sock = os.path.join(tmp, "s.sock")
    conf = os.path.join(tmp, "earshotd.conf")
    with open(a.config) as f:
        text = f.read().replace('"../models/', '"%s/models/' % ROOT)
    text = text.replace('source = "portaudio";', 'source = "file:%s/scene.wav";' % tmp)
    text = text.replace('loop = false;', 'loop = true;')
    text = text.replace('path = "/run/earshot/control.sock";', 'path = "%s";' % sock)
    open(conf, "w").write(text)
    note = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    note.bind(os.path.join(tmp, "notify"))
    env = dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "notify"))
    t0 = time.monotonic()
    log = open(os.path.join(tmp, "log"), "w")
    p = subprocess.Popen([a.earshotd, "--config", conf, "--log-level", "warning"], env=env,
                         stderr=log)
    note.settimeout(10)
    try:
        while b"READY=1" not in note.recv(4096):
            pass
    except socket.timeout:
        p.kill()
        sys.exit("earshotd did not get ready: " + open(os.path.join(tmp, "log")).read()[-500:])
    ready_ms = (time.monotonic() - t0) * 1e3
    # nobody reads notifications from here on: a full queue would block the
    # daemon's sd_notify, so the socket goes (its sends then just fail)
    note.close()
    os.unlink(os.path.join(tmp, "notify"))
    c = socket.socket(socket.AF_UNIX)
    c.connect(sock)
    f = c.makefile("rw")
    f.write('{"cmd":"status"}\n')
    f.flush()
    st = json.loads(f.readline())
    # stream second s is captured at start + s
    start = time.monotonic() - st["input_seconds"]
    f.write('{"cmd":"subscribe"}\n')
    f.flush()
    f.readline()
    cpu0, w0 = cpu_seconds(p.pid), time.monotonic()
    lat, stream, delivery = {}, {}, {}
    scene_len = float(subprocess.run(["soxi", "-D", os.path.join(tmp, "scene.wav")],
                                     capture_output=True, text=True).stdout)
    end = w0 + max(a.seconds, scene_len - st["input_seconds"] + 1.0)
    used = set()
    buf = b""
    c.setblocking(False)
    while time.monotonic() < end:
        r, _, _ = select.select([c], [], [], 0.5)
        if not r:
            continue
        chunk = c.recv(65536)
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            ev = json.loads(line)
            if ev.get("event") != "detection":
                continue
            for i, (m, lab, on, off) in enumerate(truth):
                if i not in used and m == ev["model"] and lab == ev["label"] and \
                        ev["onset"] < float(off) and ev["offset"] > float(on):
                    used.add(i)
                    lat.setdefault(m, []).append((now - (start + float(off))) * 1e3)
                    stream.setdefault(m, []).append((ev["offset"] - float(off)) * 1e3)
                    delivery.setdefault(m, []).append((now - start - ev["offset"]) * 1e3)
                    break
    cpu = (cpu_seconds(p.pid) - cpu0) / (time.monotonic() - w0) * 100.0
    rss = peak_rss_mb(p.pid)
    p.terminate()
    p.wait()
    subprocess.run(["rm", "-rf", tmp])
    print("earshotd, default config (digits + catdog), real-time file input:")
    print("  start to READY: %.0f ms (goal < 200)" % ready_ms)
    print("  CPU while listening: %.1f%% of one core over %.0f s (goal < 5%%)" %
          (cpu, time.monotonic() - w0))
    print("  peak RSS: %.1f MB (goal < 64)" % rss)
    # a spoken digit's end is sharp; an animal's call has a tail, and its
    # window is twice as long, so the two are reported apart
    for m in sorted(lat):
        v = lat[m]
        print("  %s: sound end to event: median %.0f ms, max %.0f ms over %d detections%s" %
              (m, statistics.median(v), max(v), len(v), " (goal < 300)" if m == "digits" else ""))
        print("    of which in stream time: median %.0f ms; delivery: median %.0f ms, max %.0f ms" %
              (statistics.median(stream[m]), statistics.median(delivery[m]), max(delivery[m])))


if __name__ == "__main__":
    sys.exit(main())
