#!/bin/bash
# The trainer learns: a small model trained on three digits of four FSDD
# speakers must recognise the fifth speaker's digits well above chance (1/3),
# and `earshot eval` must agree with what train reported.
# Usage: train_smoke.sh EARSHOT SOURCE_DIR
set -u
ES="$1"; SRC="$2"
DATA="$SRC/../shared/data/fsdd"
if [ ! -d "$DATA" ]; then
  echo "train_smoke: SKIPPED: $DATA is absent (the datasets live in ../shared/data)"
  exit 77
fi
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
cd "$SRC" || exit 1
start=$(date +%s)
mkdir "$T/report"
if ! "$ES" train --config tests/recipes/tiny-digits.cfg --out "$T/m.safetensors" --report "$T/report" \
     --quiet >"$T/out" 2>"$T/err"; then
  echo "FAIL: train: $(cat "$T/err")"; exit 1
fi
secs=$(( $(date +%s) - start ))
cat "$T/out"
acc=$(sed -n 's/^validation accuracy \([0-9.]*\).*/\1/p' "$T/out")
"$ES" eval --model "$T/m.safetensors" --data "$DATA" --label-regex '^([0-2])_' \
  --group-regex '^[0-9]_([a-z]+)_' --groups nicolas --json >"$T/eval" 2>"$T/err" || {
  echo "FAIL: eval: $(cat "$T/err")"; exit 1; }
eacc=$(sed -n 's/^{"accuracy":\([0-9.e-]*\),.*/\1/p' "$T/eval")
echo "train_smoke: held-out speaker accuracy $acc (eval: $eacc), ${secs}s"
fails=0
awk -v a="$acc" 'BEGIN { exit !(a >= 0.6) }' || { echo "FAIL: accuracy $acc is not well above chance (0.33)"; fails=1; }
awk -v a="$acc" -v b="$eacc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 0.001) }' || {
  echo "FAIL: train says $acc, eval says $eacc"; fails=1; }
grep -q '"labels":\["0","1","2"\]' "$T/eval" || { echo "FAIL: eval labels: $(cat "$T/eval")"; fails=1; }
# the report: one JSON line per epoch, and two PNG figures
[ "$(grep -c '^{"epoch":[0-9]*,"loss":[0-9.]*,"train_acc":[0-9.]*,"val_acc":[0-9.]*,"best":\(true\|false\),' "$T/report/train.jsonl")" -eq 10 ] || {
  echo "FAIL: train.jsonl: $(head -2 "$T/report/train.jsonl")"; fails=1; }
for f in curves confusion; do
  [ "$(head -c 4 "$T/report/$f.png" | od -An -tx1 | tr -d ' \n')" = "89504e47" ] || { echo "FAIL: $f.png"; fails=1; }
done
[ "$fails" -eq 0 ] && echo "train_smoke: 1 passed, 0 failed" || echo "train_smoke: 0 passed, 1 failed"
exit $fails
