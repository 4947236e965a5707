#!/bin/bash
# Live detection of a real speaker the model never heard: a scene of 30 of
# the speaker's FSDD clips (digits 0-9, takes 5, 17 and 33 of each), 16 kHz,
# separated by 1.6 s of a faint room, goes through earshotd (file input,
# fast pace) with MODEL at each THRESHOLD; the detections are scored against
# the truth (event-level F1, tests/score_events.sh).
#
# Use it with a leave-one-speaker-out model, so the speaker is unheard:
#   KEEP=/tmp/loso scripts/loso.sh conf/recipes/digits.cfg george
#   scripts/live-holdout.sh /tmp/loso/george.safetensors george 0.6 0.7
# The synthetic scenes of tests/daemon_e2e.sh flatter the digits model (its
# training voices are espeak-ng's too); this is the honest live figure.
#
#   scripts/live-holdout.sh MODEL SPEAKER [THRESHOLD...]   (default 0.6)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ES="${ES:-$ROOT/build/bin/earshot}"; ESD="${ESD:-$ROOT/build/bin/earshotd}"
MODEL="$(realpath "$1")"; SP="$2"; shift 2
[ $# -gt 0 ] || set -- 0.6
FSDD="$ROOT/../shared/data/fsdd"
[ -f "$FSDD/0_${SP}_5.wav" ] || { echo "live-holdout: no FSDD clips of '$SP' in $FSDD" >&2; exit 2; }
T="$(mktemp -d)"; pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT
R=16000; t=1.6; n=0; list=("$T/gap.wav")
sox -q -n -r $R -b 16 -c 1 "$T/gap.wav" synth 1.6 whitenoise vol 0.0005
: >"$T/truth.tsv"
for k in 5 17 33; do
  for d in 0 1 2 3 4 5 6 7 8 9; do
    n=$((n + 1))
    sox -q "$FSDD/${d}_${SP}_$k.wav" -r $R -b 16 -c 1 "$T/$n.wav"
    len=$(soxi -D "$T/$n.wav")
    printf 'digits\t%s\t%.3f\t%.3f\n' "$d" "$t" "$(awk -v a="$t" -v b="$len" 'BEGIN { print a + b }')" >>"$T/truth.tsv"
    list+=("$T/$n.wav" "$T/gap.wav")
    t=$(awk -v a="$t" -v b="$len" 'BEGIN { printf "%.6f", a + b + 1.6 }')
  done
done
sox -q "${list[@]}" "$T/scene.wav"
for th in "$@"; do
  cat >"$T/c.conf" <<EOF
input = { source = "file:$T/scene.wav"; pace = "fast"; };
socket = { path = "$T/s"; };
models = ( { name = "digits"; file = "$MODEL"; threshold = $th; min_count = 1;
             average_seconds = 0.5; refractory_seconds = 0.75; energy_gate_db = -55.0; } );
EOF
  "$ESD" --config "$T/c.conf" 2>"$T/log" & pid=$!
  for _ in $(seq 600); do
    "$ES" status --json --socket "$T/s" 2>/dev/null | grep -q '"input_ended":true' && break
    kill -0 "$pid" 2>/dev/null || { echo "live-holdout: earshotd stopped: $(tail -3 "$T/log")" >&2; exit 1; }
    sleep 0.1
  done
  "$ES" history --json --socket "$T/s" >"$T/events"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  sed -n 's/.*"model":"\([a-z]*\)","label":"\([^"]*\)","score":\([0-9.e-]*\),"onset":\([0-9.e-]*\),"offset":\([0-9.e-]*\).*/\1\t\2\t\4\t\5\t\3/p' \
    "$T/events" >"$T/det.tsv"
  "$ROOT/tests/score_events.sh" "$T/truth.tsv" "$T/det.tsv" 0 0 "live-holdout $SP threshold $th" || true
done
