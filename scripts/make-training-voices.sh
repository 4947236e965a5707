#!/bin/bash
# Extra training speakers for the digits model: espeak-ng voices, written as
# FSDD-style clips (8 kHz mono 16-bit, {digit}_{speaker}_{rep}.wav, silence
# trimmed), plus a manifest that lists them with FSDD's own clips, so a
# recipe trains on both (conf/recipes/digits.cfg).
#
# Four recorded speakers are too few voices for a model to generalise to a
# fifth; synthetic voices of many accents, variants, speeds and pitches fill
# in between (leave-one-speaker-out, 40 epochs: george 0.73 -> 0.81). The
# voices here use variants that scripts/make-synthetic-digits.sh (the
# unheard-voices test set) does not, so that set stays unheard.
#
#   scripts/make-training-voices.sh OUTDIR [FSDD_DIR]
#
# Needs Debian's espeak-ng and sox (scripts/install-deps.sh test). The
# output is the same on every run (fixed seed, no dither).
set -euo pipefail
OUT="$1"
FSDD="${2:-../shared/data/fsdd}"
mkdir -p "$OUT"
[ -d "$FSDD" ] || { echo "make-training-voices: no FSDD at $FSDD" >&2; exit 1; }
words=(zero one two three four five six seven eight nine)
voices=(en-gb-x-gbclan en-gb-x-gbcwmd en en-us en-gb-scotland en-029 en-us-nyc en-gb-x-rp)
variants=(m1 m2 m4 m5 m6 f1 f3 f5 klatt klatt2 klatt3 croak adam Andy anika belinda)
RANDOM=7
spk=0
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for v in "${voices[@]}"; do
  for _ in 1 2 3 4 5; do
    var=${variants[$((RANDOM % ${#variants[@]}))]}
    spk=$((spk + 1))
    name=$(printf 'syn%02d' $spk)
    for rep in 0 1 2 3; do
      for d in 0 1 2 3 4 5 6 7 8 9; do
        sp=$((110 + RANDOM % 100)); pitch=$((20 + RANDOM % 60))
        f="$OUT/${d}_${name}_${rep}.wav"
        [ -s "$f" ] && continue
        espeak-ng -v "$v+$var" -s "$sp" -p "$pitch" -w "$tmp/raw.wav" "${words[$d]}"
        sox -q -D "$tmp/raw.wav" -r 8000 -c 1 -b 16 "$f" gain -1 \
          silence 1 0.01 0.3% reverse silence 1 0.01 0.3% reverse
      done
    done
  done
done
fsdd_abs="$(cd "$FSDD" && pwd)"; out_abs="$(cd "$OUT" && pwd)"
{
  echo "path,label"
  for f in "$fsdd_abs"/*.wav "$out_abs"/*_syn*.wav; do
    b="$(basename "$f")"; echo "$f,${b%%_*}"
  done
} >"$OUT/digits.csv"
echo "make-training-voices: $spk voices, $(ls "$OUT" | grep -c '_syn') clips; manifest $OUT/digits.csv"
