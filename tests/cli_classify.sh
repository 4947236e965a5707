#!/bin/bash
# `earshot classify`: plain and JSON output; clear one-line errors.
# Usage: cli_classify.sh EARSHOT FIXTURES_DIR
set -u
ES="$1"; FIX="$2"; NN="$FIX/nn"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fails=0; passes=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { if eval "$1"; then passes=$((passes + 1)); else fail "$2"; fi; }

"$ES" classify --model "$NN/mel.safetensors" --json "$FIX/synth1-16000.wav" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 0 ]' "classify --json exit: $(cat "$T/err")"
ok '[ "$(wc -l <"$T/out")" -eq 1 ]' "one JSON line per file"
ok 'grep -q "^{\"file\":\"$FIX/synth1-16000.wav\",\"label\":\"[0-9a-z]*\",\"score\":[0-9.e-]*,\"posteriors\":{\"0\":" "$T/out"' \
   "JSON fields in order: $(cat "$T/out")"
ok '[ "$(grep -o "\"[0-9a-z]*\":[0-9][0-9.e-]*" "$T/out" | wc -l)" -eq 12 ]' "11 posteriors + score"
"$ES" classify -m "$NN/mix.safetensors" "$FIX/synth1-8000.wav" "$FIX/synth1-16000.wav" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 0 ]' "two files (one resampled 16k->8k): $(cat "$T/err")"
ok '[ "$(awk -F"\t" "NF==3" "$T/out" | wc -l)" -eq 2 ]' "plain output: path, label, score: $(cat "$T/out")"
"$ES" classify -m "$NN/mel.safetensors" "$NN/short-16000.wav" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 0 ]' "a clip shorter than the window: $(cat "$T/err")"

# errors: one line, naming the problem; good files still classified
"$ES" classify "$FIX/synth1-16000.wav" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "--model" "$T/err"' "missing --model"
"$ES" classify -m "$NN/mel.safetensors" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 2 ] && grep -q "FILE" "$T/err"' "no files"
"$ES" classify -m "$T/none.safetensors" "$FIX/synth1-16000.wav" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "$T/none.safetensors" "$T/err"' "missing model"
echo "not a model" >"$T/text.safetensors"
"$ES" classify -m "$T/text.safetensors" "$FIX/synth1-16000.wav" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "text.safetensors" "$T/err"' "text file as model: $(cat "$T/err")"
"$ES" classify -m "$NN/mel.safetensors" "$FIX/synth1-16000.wav" "$T/missing.wav" "$FIX/synth2-16000.wav" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && [ "$(wc -l <"$T/out")" -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q missing.wav "$T/err"' \
   "a bad file among good ones: the rest still classified"
"$ES" classify --modle x "$FIX/synth1-16000.wav" >"$T/out" 2>"$T/err"; st=$?
ok '[ $st -eq 2 ] && grep -q -- "--modle" "$T/err"' "misspelt flag named"

echo "cli_classify: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
