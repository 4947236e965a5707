#!/bin/bash
# PortAudio capture from ALSA's `file` plugin (DESIGN.md, "Testing without a
# microphone"): a raw recording served as a capture device, found by name
# among PortAudio's devices. The plugin delivers as fast as it is asked, far
# faster than real time, so the workers fall behind: the test checks that
# the callback keeps filling the ring, that each worker counts what it lost
# and carries on with new windows, and that the daemon keeps answering.
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
sed -e "s#^  path = \"/run/earshot/control.sock\";#  path = \"$T/s.sock\";#" \
    -e "s#\"\\.\\./models/#\"$SRC/models/#" "$SRC/conf/earshotd.conf" >"$T/earshotd.conf"
"$ESD" --config "$T/earshotd.conf" --input portaudio:estest 2>"$T/log" &
pid=$!
for _ in $(seq 100); do "$ES" status --socket "$T/s.sock" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 3
"$ES" status --json --socket "$T/s.sock" >"$T/s1" || { echo "FAIL: no status"; grep -v 'ALSA\|Jack\|jack' "$T/log" | tail -5; exit 1; }
sleep 1
"$ES" status --json --socket "$T/s.sock" >"$T/s2" || { echo "FAIL: no status after overruns"; exit 1; }
grep -q '"input":"portaudio:estest"' "$T/s1" || { echo "FAIL: input: $(head -c 200 "$T/s1")"; fails=1; }
lost=$(grep -o '"lost_samples":[0-9]*' "$T/s2" | awk -F: '{ s += $2 } END { print s + 0 }')
over=$(grep -o '"overruns":[0-9]*' "$T/s2" | awk -F: '{ s += $2 } END { print s + 0 }')
w1=$(grep -o '"windows":[0-9]*' "$T/s1" | awk -F: '{ s += $2 } END { print s + 0 }')
w2=$(grep -o '"windows":[0-9]*' "$T/s2" | awk -F: '{ s += $2 } END { print s + 0 }')
echo "daemon_alsa: $lost samples lost in $over overruns; windows $w1 -> $w2"
[ "$lost" -gt 0 ] && [ "$over" -gt 0 ] || { echo "FAIL: a flat-out device lost nothing?"; fails=1; }
[ "$w2" -gt "$w1" ] || { echo "FAIL: the workers stopped after overruns"; fails=1; }
grep -q "fell behind, lost" "$T/log" || { echo "FAIL: overruns were not logged"; fails=1; }
kill $pid; wait $pid; rc=$?
[ $rc -eq 0 ] || { echo "FAIL: exit status $rc after SIGTERM"; fails=1; }
pid=
exit $fails
