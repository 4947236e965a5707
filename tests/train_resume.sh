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
T="$(mktemp -d)"; pid=
trap 'kill -9 $pid 2>/dev/null; rm -rf "$T"' EXIT
cd "$SRC" || exit 1
R=tests/recipes/tiny-resume.cfg
fails=0; passed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$ES" train --config "$R" --threads 2 --quiet --out "$T/a.st" --last "$T/a_last.st" >/dev/null 2>"$T/err" ||
  { echo "FAIL: train: $(cat "$T/err")"; exit 1; }

# the interrupted run, killed once its checkpoint holds epoch 2: train.jsonl
# is a FIFO with room left for one line, so the trainer blocks writing epoch
# 2's line (after that epoch's checkpoint) and cannot start epoch 3
mkdir "$T/rep" && mkfifo "$T/rep/train.jsonl" || exit 1
exec 3<>"$T/rep/train.jsonl"
page=$(getconf PAGESIZE)
# fill every page of the pipe, free the first, refill it all but 150 bytes
# (a line is 90-120 bytes); one-byte writes pack the pages
dd if=/dev/zero of="$T/rep/train.jsonl" bs=1 oflag=nonblock conv=notrunc status=none 2>/dev/null
dd if="$T/rep/train.jsonl" of=/dev/null bs="$page" count=1 iflag=fullblock status=none
dd if=/dev/zero of="$T/rep/train.jsonl" bs=1 count=$((page - 150)) conv=notrunc status=none
"$ES" train --config "$R" --threads 2 --quiet --out "$T/b.st" --checkpoint "$T/ck.st" \
  --report "$T/rep" >/dev/null 2>"$T/err" 3>&- &
pid=$!
# the checkpoint's counters, "EPOCH EPOCHS", from its safetensors header
ck_epochs() {
  local n
  n=$(head -c 8 "$1" 2>/dev/null | od -An -tu8 | tr -d ' ')
  [ -n "$n" ] || return 1
  tail -c +9 "$1" | head -c "$n" |
    sed -n 's/.*\\"epoch\\":\([0-9]*\),\\"epochs\\":\([0-9]*\).*/\1 \2/p'
}
# a liveness bound (seconds since the start) within ctest's 300 s, not a race
ck=
while [ $SECONDS -lt 240 ]; do
  ck=$(ck_epochs "$T/ck.st")
  [ -n "$ck" ] && [ "${ck%% *}" -ge 2 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
log=$(dd if="$T/rep/train.jsonl" iflag=nonblock bs=65536 status=none 2>/dev/null | tr -d '\0')
exec 3>&-
read -r ck_epoch ck_total <<<"${ck:-0 0}"
if [ "$ck_epoch" -ge 2 ] && [ "$ck_epoch" -lt "$ck_total" ]; then ok
elif [ -z "$ck" ]; then bad "the run wrote no checkpoint; log: $log; $(cat "$T/err")"
else bad "the killed run's checkpoint holds epoch $ck_epoch of $ck_total, not one from 2 to $((ck_total - 1))"; fi
grep -q '"epoch":1,' <<<"$log" && ok || bad "train.jsonl lacks epoch 1: $log"
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
