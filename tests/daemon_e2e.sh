#!/bin/bash
# End to end, no sound hardware: a recording of spoken digits (voices no
# model has heard), cat and dog sounds, silence, noise and other sounds goes
# through earshotd (--input file:… --input-pace fast) with the shipped
# models, and the detections are scored against the truth (event-level F1).
#
# Issue 5's goal is F1 ≥ 0.95 with nothing firing on the silence, noise and
# other sounds; this test holds the shipped models to F1 ≥ 0.95 on its scene
# (seed 1). Measured over scene seeds 1-3: 1.000, 0.982, 0.982 (every digit
# right, nothing on the noise or the other sounds; seed 2 misses a 0.3 s cat,
# seed 3 reports one 3 s cat clip twice).
#
# It also holds the digits to their latency: the median of (event offset -
# the word's end) in stream time, which the default config's lookback
# windows and 0.2 s stride keep near 0.15 s (seeds 1-3: 0.167, 0.187,
# 0.122 s; whole windows gave 0.46). Stream time, so the figure does not
# depend on the machine's speed; bench/daemon_bench.py measures the
# real-time latency.
#
# A detection matches a truth event of the same model and label whose span
# it overlaps; each truth event matches once. Extra detections are false
# positives, unmatched truth events misses.
# Usage: daemon_e2e.sh EARSHOT EARSHOTD SOURCE_DIR [SEED]
set -u
ES="$1"; ESD="$2"; SRC="$3"; SEED="${4:-1}"
CD="$SRC/../shared/data/catdog"
if [ ! -d "$CD" ]; then echo "daemon_e2e: SKIPPED: $CD is absent"; exit 77; fi
for t in espeak-ng sox; do
  command -v $t >/dev/null || { echo "daemon_e2e: FAIL: $t is missing (scripts/install-deps.sh test)"; exit 1; }
done
T="$(mktemp -d)"; trap 'kill $pid 2>/dev/null; rm -rf "$T"' EXIT
pid=
"$SRC/tests/make_scene.sh" "$T" "$CD" "$SEED" >/dev/null 2>&1 || { echo "FAIL: make_scene"; exit 1; }
sed -e "s#^  source = .*#  source = \"file:$T/scene.wav\";#" \
    -e "s#^  pace = .*#  pace = \"fast\";#" \
    -e "s#^  path = \"/run/earshot/control.sock\";#  path = \"$T/s.sock\";#" \
    -e "s#^  dir = \"\";#  dir = \"$T/clips\";#" \
    -e "s#\"\\.\\./models/#\"$SRC/models/#" "$SRC/conf/earshotd.conf" >"$T/earshotd.conf"
"$ESD" --config "$T/earshotd.conf" 2>"$T/log" &
pid=$!
# a liveness bound (seconds since the start) within ctest's 300 s, not a race
deadline=240
st() { "$ES" status --json --socket "$T/s.sock" 2>/dev/null; }
sum() { grep -o "\"$1\":[0-9]*" | awk -F: '{ s += $2 } END { print s + 0 }'; }
ended=0
while [ $SECONDS -lt $deadline ]; do
  st | grep -q '"input_ended":true' && { ended=1; break; }
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
[ $ended -eq 1 ] || { echo "FAIL: earshotd did not report input_ended: $(st) $(tail -5 "$T/log")"; exit 1; }
# the workers count a detection before the main loop puts it in the history
while :; do
  s=$(st); fired=$(sum detections <<<"$s"); dropped=$(sum events_dropped <<<"$s")
  "$ES" history --json --socket "$T/s.sock" >"$T/events" || { echo "FAIL: history"; cat "$T/log"; exit 1; }
  ndet=$(grep -c '"event":"detection"' "$T/events")
  [ $((ndet + dropped)) -ge "$fired" ] && break
  [ $SECONDS -lt $deadline ] || { echo "FAIL: $fired detections but $ndet in the history"; exit 1; }
  sleep 0.1
done
# clips are written on the main loop's 250 ms tick once their post-roll is in
while nclips=$(ls "$T/clips" 2>/dev/null | wc -l); [ "$nclips" -lt "$ndet" ] && [ $SECONDS -lt $deadline ]; do
  sleep 0.1
done
kill $pid; wait $pid
# every detection's clip: pre-roll 1 s, post-roll 0.5 s
nclips=$(ls "$T/clips" 2>/dev/null | wc -l)
if [ "$nclips" -ne "$ndet" ]; then echo "FAIL: $ndet detections but $nclips clips"; exit 1; fi
sed -n 's/.*"model":"\([a-z]*\)","label":"\([^"]*\)","score":\([0-9.e-]*\),"onset":\([0-9.e-]*\),"offset":\([0-9.e-]*\).*/\1\t\2\t\4\t\5\t\3/p' \
  "$T/events" >"$T/det.tsv"
"$SRC/tests/score_events.sh" "$T/truth.tsv" "$T/det.tsv" 0 0.95 daemon_e2e || {
  [ -s "$T/det.tsv" ] || { echo "FAIL: no detections"; tail -5 "$T/log"; }
  exit 1; }
# digits: stream seconds from a word's end to its event
awk -F'\t' 'NR == FNR { if ($1 == "digits") { n++; tl[n] = $2; t0[n] = $3; t1[n] = $4 } next }
  $1 == "digits" { for (i = 1; i <= n; i++) if (!u[i] && tl[i] == $2 && $3 < t1[i] && $4 > t0[i]) { u[i] = 1; print $4 - t1[i]; break } }' \
  "$T/truth.tsv" "$T/det.tsv" | sort -g >"$T/lat"
med=$(awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "none" }' "$T/lat")
echo "daemon_e2e: digits, word end to event offset (stream time): median $med s over $(wc -l <"$T/lat") words"
awk -v m="$med" 'BEGIN { exit !(m != "none" && m + 0 < 0.30) }' || {
  echo "FAIL: digits events come a median $med s after the word (goal < 0.30 s)"; exit 1; }
