#!/bin/bash
# PortAudio capture from ALSA's `file` plugin (DESIGN.md, "Testing without a
# microphone"): a raw recording served as a capture device, found by name
# among PortAudio's devices. The plugin delivers as fast as it is asked, far
# faster than real time, and here each model classifies a window at every
# hop (0.01 s), 20 and 50 times its usual rate, so no worker can keep up
# with it on any machine: the ring is certain to be overrun. The test checks
# that the callback keeps filling the ring, that each worker counts what it
# lost and carries on with new windows, and that the daemon keeps answering.
# Usage: daemon_alsa.sh EARSHOT EARSHOTD SOURCE_DIR
set -u
ES="$1"; ESD="$2"; SRC="$3"
command -v sox >/dev/null || { echo "daemon_alsa: FAIL: sox is missing (scripts/install-deps.sh test)"; exit 1; }
[ -f /usr/share/alsa/alsa.conf ] || { echo "daemon_alsa: SKIPPED: no /usr/share/alsa/alsa.conf"; exit 77; }
T="$(mktemp -d)"; pid=
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
sox -q "$SRC/demo/digits.wav" -r 16000 -c 1 -b 16 -e signed -t raw "$T/in.raw"
cat >"$T/asound.conf" <<EOF
</usr/share/alsa/alsa.conf>
pcm.estest_raw {
  type file
  slave.pcm "null"
  file "/dev/null"
  infile "$T/in.raw"
  format "raw"
}
pcm.estest {
  type plug
  slave { pcm "estest_raw"; format S16_LE; rate 16000; channels 1; }
  hint { show on description "earshot test input" }
}
EOF
export ALSA_CONFIG_PATH="$T/asound.conf"
fails=0
"$ES" devices 2>/dev/null | grep -q ' estest (' || { echo "FAIL: estest is not among the devices: $("$ES" devices 2>&1 | tail -3)"; exit 1; }
# one-hop strides (0.01 s); a 2 s history (the smallest ring); normal
# scheduling, so a worker that is always busy cannot starve the capture thread
cat >"$T/earshotd.conf" <<EOF
input = { history_seconds = 2.0; };
socket = { path = "$T/s.sock"; };
realtime_priority = 0;
models = (
  { name = "digits"; file = "$SRC/models/digits.safetensors"; stride_seconds = 0.01; },
  { name = "catdog"; file = "$SRC/models/catdog.safetensors"; stride_seconds = 0.01; }
);
EOF
"$ESD" --config "$T/earshotd.conf" --input portaudio:estest 2>"$T/log" &
pid=$!
status() { "$ES" status --json --socket "$T/s.sock" 2>/dev/null; }
sum() { grep -o "\"$2\":[0-9]*" <<<"$1" | awk -F: '{ s += $2 } END { print s + 0 }'; }
each_positive() { grep -o "\"$2\":[0-9]*" <<<"$1" | awk -F: '$2 <= 0 { bad = 1 } END { exit bad || NR == 0 }'; }
# until every worker has lost samples and said so (a liveness bound: at
# these strides it takes well under a second)
s1=
for _ in $(seq 600); do
  s1=$(status)
  each_positive "$s1" lost_samples && grep -q "fell behind, lost" "$T/log" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
[ -n "$s1" ] || { echo "FAIL: no status"; grep -v 'ALSA\|Jack\|jack' "$T/log" | tail -5; exit 1; }
grep -q '"input":"portaudio:estest"' <<<"$s1" || { echo "FAIL: input: $(head -c 200 <<<"$s1")"; fails=1; }
each_positive "$s1" lost_samples && each_positive "$s1" overruns ||
  { echo "FAIL: a worker ~50x slower than the device lost nothing: $(grep -o '"lost_samples":[0-9]*' <<<"$s1" | tr '\n' ' ')"; fails=1; }
grep -q "fell behind, lost" "$T/log" || { echo "FAIL: overruns were not logged"; fails=1; }
# the workers carry on after their losses: each classifies more windows
w1=$(grep -o '"windows":[0-9]*' <<<"$s1" | cut -d: -f2 | tr '\n' ' ')
for _ in $(seq 600); do
  s2=$(status)
  w2=$(grep -o '"windows":[0-9]*' <<<"$s2" | cut -d: -f2 | tr '\n' ' ')
  awk -v a="$w1" -v b="$w2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); for (i = 1; i <= n; i++) if (y[i] <= x[i]) exit 1 }' && break
  sleep 0.1
done
awk -v a="$w1" -v b="$w2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); for (i = 1; i <= n; i++) if (y[i] <= x[i]) exit 1 }' ||
  { echo "FAIL: the workers stopped after overruns: windows $w1-> $w2"; fails=1; }
echo "daemon_alsa: $(sum "$s2" lost_samples) samples lost in $(sum "$s2" overruns) overruns; windows $w1-> $w2"
kill $pid; wait $pid; rc=$?
[ $rc -eq 0 ] || { echo "FAIL: exit status $rc after SIGTERM"; fails=1; }
pid=
exit $fails
