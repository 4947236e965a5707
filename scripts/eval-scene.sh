#!/bin/bash
# Judges earshotd as a user meets it: builds a scene from held-out clips
# (scripts/make-manifests.sh's test halves: speakers, animals and
# recordings no shipped model trained on, with more other sounds than
# targets), plays it through earshotd with a config (file input, as fast as
# the models go) and scores every model's detections as events.
#
#   scripts/eval-scene.sh OUT [MINUTES [SEED [CONFIG [SCORE_ARGS...]]]]
#
# OUT holds the manifests, scene.wav, truth.tsv, events.jsonl, the daemon's
# log, and score.json (one object per model). CONFIG defaults to
# conf/earshotd.conf (its socket and input are replaced). SCORE_ARGS go to
# `earshot score` (e.g. --require catdog:recall>=0.9); its exit status is
# the script's. BIN (default build/bin) holds earshot and earshotd.
set -euo pipefail
OUT="$1"; MINUTES="${2:-30}"; SEED="${3:-1}"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
CONFIG="$(realpath "${4:-$SRC/conf/earshotd.conf}")"
shift $(($# < 4 ? $# : 4))
BIN="$(realpath "${BIN:-$SRC/build/bin}")"
mkdir -p "$OUT"
OUT="$(realpath "$OUT")"
[ -s "$OUT/manifests/digits-test.csv" ] || "$SRC/scripts/make-manifests.sh" "$OUT/manifests" >/dev/null
M="$OUT/manifests"
"$BIN/earshot" scene --target "digits=$M/digits-test.csv:speech" --target "catdog=$M/catdog-test.csv:animal" \
  --other "$M/others-test.csv" --minutes "$MINUTES" --seed "$SEED" --out "$OUT/scene.wav" --truth "$OUT/truth.tsv"
# the config, with its model paths made absolute, on the scene
cdir="$(dirname "$CONFIG")"
sed -e "s#^\( *file = \"\)\([^/\"][^\"]*\"\)#\1$cdir/\2#" \
    -e "s#^\( *path = \)\"/run/earshot/control.sock\";#\1\"$OUT/s.sock\";#" \
    -e "s#^history_events = .*#history_events = 100000;#" "$CONFIG" >"$OUT/earshotd.conf"
"$BIN/earshotd" --config "$OUT/earshotd.conf" --socket "$OUT/s.sock" --input "file:$OUT/scene.wav" \
  --input-pace fast --log-level info 2>"$OUT/daemon.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 36000); do
  "$BIN/earshot" status --json --socket "$OUT/s.sock" 2>/dev/null | grep -q '"input_ended":true' && break
  kill -0 $pid 2>/dev/null || { echo "eval-scene.sh: earshotd stopped: $(tail -3 "$OUT/daemon.log")" >&2; exit 1; }
  sleep 0.1
done
"$BIN/earshot" history --max 100000 --json --socket "$OUT/s.sock" >"$OUT/events.jsonl"
"$BIN/earshot" status --json --socket "$OUT/s.sock" >"$OUT/status.json"
kill $pid; wait $pid || true
trap - EXIT
"$BIN/earshot" score --truth "$OUT/truth.tsv" --events "$OUT/events.jsonl" --json >"$OUT/score.json"
"$BIN/earshot" score --truth "$OUT/truth.tsv" --events "$OUT/events.jsonl" "$@"
