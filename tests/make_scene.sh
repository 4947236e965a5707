#!/bin/bash
# Builds a test recording for end-to-end detection: spoken digits in voices
# no model has heard (espeak-ng, several accents, speeds and pitches), cat
# and dog sounds, separated by silence, noise and other sounds (a
# thunder-like rumble, a car-horn-like chord, a whistle), 16 kHz mono.
# Writes OUT/scene.wav and OUT/truth.tsv (model, label, onset, offset in s).
#
#   tests/make_scene.sh OUT CATDOG_DIR [SEED [ROUNDS]]
#
# Each round is ten digits, five other sounds and four cat/dog clips (about
# 53 s); two rounds by default.
#
# Needs espeak-ng and sox (scripts/install-deps.sh test).
set -euo pipefail
OUT="$1"; CD="$2"; SEED="${3:-1}"; ROUNDS="${4:-2}"
mkdir -p "$OUT/parts"
RANDOM=$SEED
words=(zero one two three four five six seven eight nine)
voices=(en-us+m3 en-gb+f2 en-gb-scotland+m7 en-029+f4 en-us-nyc+m1 en-gb-x-rp+f3)
R=16000
t=0
n=0
: >"$OUT/truth.tsv"
list=()
part() { # file [model label] — appends a part and its truth line
  local f="$1" len
  len=$(soxi -D "$f")
  if [ $# -ge 3 ]; then
    # the sound itself, without its leading/trailing silence
    printf '%s\t%s\t%.3f\t%.3f\n' "$2" "$3" "$t" "$(awk -v a="$t" -v b="$len" 'BEGIN { print a + b }')" >>"$OUT/truth.tsv"
  fi
  list+=("$f")
  t=$(awk -v a="$t" -v b="$len" 'BEGIN { printf "%.6f", a + b }')
}
gap() { # seconds of a faint room
  n=$((n + 1)); sox -q -n -r $R -b 16 -c 1 "$OUT/parts/$n.wav" synth "$1" whitenoise vol 0.0005
  part "$OUT/parts/$n.wav"
}
gap 1.5
for _ in $(seq "$ROUNDS"); do
  for d in 0 1 2 3 4 5 6 7 8 9; do
    v=${voices[$((RANDOM % ${#voices[@]}))]}
    n=$((n + 1))
    espeak-ng -v "$v" -s $((120 + RANDOM % 60)) -p $((30 + RANDOM % 40)) -w "$OUT/parts/raw.wav" "${words[$d]}"
    sox -q "$OUT/parts/raw.wav" -r $R -c 1 -b 16 "$OUT/parts/$n.wav" silence 1 0.01 -45d reverse silence 1 0.01 -45d reverse
    part "$OUT/parts/$n.wav" digits "$d"
    gap 1.6
  done
  # noise and other sounds: nothing should fire
  n=$((n + 1)); sox -q -n -r $R -b 16 -c 1 "$OUT/parts/$n.wav" synth 2 whitenoise vol 0.02; part "$OUT/parts/$n.wav"; gap 1
  n=$((n + 1)); sox -q -n -r $R -b 16 -c 1 "$OUT/parts/$n.wav" synth 2 pinknoise vol 0.05; part "$OUT/parts/$n.wav"; gap 1
  n=$((n + 1)); sox -q -n -r $R -b 16 -c 1 "$OUT/parts/$n.wav" synth 2.5 brownnoise vol 0.5 fade q 0.05 2.5 1.5; part "$OUT/parts/$n.wav"; gap 1
  n=$((n + 1)); sox -q -n -r $R -b 16 -c 1 "$OUT/parts/$n.wav" synth 0.8 square 415 square 520 vol 0.1 remix 1; part "$OUT/parts/$n.wav"; gap 1
  n=$((n + 1)); sox -q -n -r $R -b 16 -c 1 "$OUT/parts/$n.wav" synth 1 sine 1800-2600 vol 0.1; part "$OUT/parts/$n.wav"; gap 1.5
  # cats and dogs: a 2-3 s stretch of a clip, trimmed to the sound
  for kind in cat dog cat dog; do
    files=("$CD"/${kind}*.wav)
    f=${files[$((RANDOM % ${#files[@]}))]}
    n=$((n + 1))
    sox -q "$f" -r $R -c 1 -b 16 "$OUT/parts/$n.wav" silence 1 0.05 -35d reverse silence 1 0.05 -35d reverse trim 0 3
    part "$OUT/parts/$n.wav" catdog "$kind"
    gap 2
  done
done
sox -q "${list[@]}" "$OUT/scene.wav"
echo "scene: $(soxi -D "$OUT/scene.wav") s, $(wc -l <"$OUT/truth.tsv") events"
