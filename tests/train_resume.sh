#!/bin/bash
# Checkpoints: a run killed (SIGKILL) after an epoch and resumed from its
# checkpoint ends with exactly the files of a run never interrupted, with
# every random part of training switched on; a checkpoint of another run, a
# model file or a damaged file is refused with a clear error.
# Usage: train_resume.sh EARSHOT SOURCE_DIR
set -u
ES="$1"; SRC="$2"
DATA="$SRC/../shared/data/fsdd"
if [ ! -d "$DATA" ]; then
  echo "train_resume: SKIPPED: $DATA is absent (the datasets live in ../shared/data)"
  exit 77
fi
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
cd "$SRC" || exit 1
R=tests/recipes/tiny-resume.cfg
fails=0; passed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$ES" train --config "$R" --threads 2 --quiet --out "$T/a.st" --last "$T/a_last.st" >/dev/null 2>"$T/err" ||
  { echo "FAIL: train: $(cat "$T/err")"; exit 1; }

# the interrupted run: killed once its second epoch is logged (the
# checkpoint is written before the log line)
"$ES" train --config "$R" --threads 2 --quiet --out "$T/b.st" --checkpoint "$T/ck.st" \
  --report "$T/rep" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do
  grep -q '"epoch":2,' "$T/rep/train.jsonl" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done_epochs=$(grep -c '"epoch"' "$T/rep/train.jsonl")
[ "$done_epochs" -ge 2 ] && ok || bad "the run logged $done_epochs epochs before it was killed"
"$ES" train --config "$R" --threads 2 --quiet --out "$T/b.st" --last "$T/b_last.st" \
  --resume "$T/ck.st" >/dev/null 2>"$T/err" && ok || bad "resume: $(cat "$T/err")"
cmp -s "$T/a_last.st" "$T/b_last.st" && ok || bad "resumed run's last model differs from the uninterrupted run's"
cmp -s "$T/a.st" "$T/b.st" && ok || bad "resumed run's best model differs from the uninterrupted run's"

# refusals, each naming what is wrong
expect_err() { # pattern, args...
  local pat="$1"; shift
  if "$ES" train --config "$R" --threads 2 --quiet --out "$T/x.st" "$@" >/dev/null 2>"$T/err"; then
    bad "train $* succeeded"
  elif grep -q -- "$pat" "$T/err"; then ok
  else bad "train $*: expected '$pat' in: $(cat "$T/err")"; fi
}
expect_err "this one has 6," --resume "$T/ck.st" --epochs 6
expect_err "seed" --resume "$T/ck.st" --seed 8
expect_err "earshot.checkpoint' is missing" --resume "$T/a.st"
expect_err "no such file\|No such file\|cannot open" --resume "$T/nothing.st"
head -c 3000 "$T/ck.st" >"$T/cut.st"
expect_err "cut.st" --resume "$T/cut.st"
sed 's/average_epochs = 3;/average_epochs = 1;/' "$R" >"$T/avg.cfg"
if "$ES" train --config "$T/avg.cfg" --threads 2 --quiet --out "$T/x.st" --resume "$T/ck.st" \
     >/dev/null 2>"$T/err"; then bad "a checkpoint averaging other epochs was accepted"
elif grep -q "averages the last 1 epochs' weights differently" "$T/err"; then ok
else bad "other averaging: $(cat "$T/err")"; fi
sed 's/out = 16;/out = 12;/' "$R" >"$T/other.cfg"
if "$ES" train --config "$T/other.cfg" --threads 2 --quiet --out "$T/x.st" --resume "$T/ck.st" \
     >/dev/null 2>"$T/err"; then bad "a checkpoint of another arch was accepted"
elif grep -q "earshot.arch differs" "$T/err"; then ok
else bad "other arch: $(cat "$T/err")"; fi

echo "train_resume: $passed passed, $fails failed"
exit $((fails > 0))
