#!/bin/bash
# Spoken digits from voices no model has heard, in AudioMNIST's format:
# 48 kHz mono 16-bit WAV named {digit}_{speaker}_{rep}.wav. espeak-ng speaks
# each English digit with several accents and voice variants, at a few
# speeds and pitches; sox resamples to 48 kHz. Used to check that a digits
# model reads AudioMNIST-style files (resampling 48 kHz to its rate) and how
# it fares on voices unlike FSDD's.
#
#   scripts/make-synthetic-digits.sh OUTDIR
#
# Needs Debian's espeak-ng and sox (scripts/install-deps.sh test).
set -euo pipefail
OUT="$1"; mkdir -p "$OUT"
words=(zero one two three four five six seven eight nine)
voices=(en-us en-gb en-gb-scotland en-029 en-us-nyc en-gb-x-rp)
variants=(m3 f2 m7 f4)
spk=0
for v in "${voices[@]}"; do
  for var in "${variants[@]}"; do
    spk=$((spk + 1)); rep=0
    for sp in 130 175; do
      for pitch in 35 65; do
        for d in 0 1 2 3 4 5 6 7 8 9; do
          f="$OUT/${d}_$(printf 's%02d' $spk)_${rep}.wav"
          espeak-ng -v "$v+$var" -s "$sp" -p "$pitch" -w "$OUT/raw.wav" "${words[$d]}"
          sox -q "$OUT/raw.wav" -r 48000 -c 1 -b 16 "$f"
        done
        rep=$((rep + 1))
      done
    done
  done
done
rm -f "$OUT/raw.wav"
echo "wrote $(ls "$OUT" | wc -l) clips of $spk voices to $OUT"
