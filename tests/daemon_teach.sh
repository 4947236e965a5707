#!/bin/bash
# Teaching the running daemon (issue: online fine-tuning), end to end:
#  - bad requests get clear errors (unknown label without new_class, a path
#    outside finetune.allowed_dirs, broken base64, zero-length audio, no
#    examples, a second finetune while one runs, an unprivileged peer);
#  - finetune-cancel ends a running job, which leaves the model as it was;
#  - the digits model learns German digits from 5 utterances per digit of one
#    espeak-ng voice: new utterances of that voice at other speeds and
#    pitches must be >= 90% right (they are ~15% before), while accuracy on
#    FSDD may not fall by more than GUARD points (see below); inference keeps
#    its stride meanwhile (no sample lost) and the job's time is reported;
#  - save writes an absolute path that loads; rollback returns to the
#    previous model (same SHA-256);
#  - a new class (a doorbell chime, 10 examples) is detected live afterwards;
#  - examples and the saved model survive a restart;
#  - SIGKILL during fine-tuning and during save, many times, never leaves a
#    broken model file or example index.
# TEACH_QUICK=1 (sanitizer builds): one epoch, and the checks of what the
# model learned (German accuracy, the doorbell heard live) are left out.
# Usage: daemon_teach.sh EARSHOTD EARSHOT SOURCE_DIR
set -u
QUICK="${TEACH_QUICK:-0}"
EPOCHS=(); [ "$QUICK" = 1 ] && EPOCHS=(--epochs 1)
D="$1"; ES="$2"; SRC="$3"
FSDD="$SRC/../shared/data/fsdd"
if [ ! -d "$FSDD" ]; then echo "daemon_teach: SKIPPED: $FSDD is absent"; exit 77; fi
for t in espeak-ng sox; do
  command -v $t >/dev/null || { echo "daemon_teach: SKIPPED: $t is missing (scripts/install-deps.sh test)"; exit 77; }
done
T="$(mktemp -d)"; PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fails=0; checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
# The FSDD accuracy may fall by at most this much: issue 6's goal. With this
# job seed (1) it falls 1.28 points; seeds 1-9 fell 0.60-1.96 (README,
# "Teaching earshotd").
GUARD=0.02

# ---- audio ---------------------------------------------------------------------
words=(null eins zwei drei vier fünf sechs sieben acht neun)
mkdir -p "$T/de/train" "$T/de/test" "$T/bell" "$T/allowed" "$T/models"
say() { espeak-ng -v de -s "$2" -p "$3" -w "$T/raw.wav" "$1" &&
        sox -q -D "$T/raw.wav" -r 16000 -b 16 "$4" silence 1 0.01 0.3% reverse silence 1 0.01 0.3% reverse; }
for d in 0 1 2 3 4 5 6 7 8 9; do
  i=0
  for sp in 140 160 175 190 210; do say "${words[$d]}" $sp $((30 + i * 8)) "$T/de/train/${d}_de_$i.wav"; i=$((i + 1)); done
  i=0
  for sp in 130 150 170 185 200 220; do for p in 35 50 65; do
    say "${words[$d]}" $sp $p "$T/de/test/${d}_de_$i.wav"; i=$((i + 1)); done; done
done
# a two-tone doorbell ("ding-dong"), ten of them a little different
for i in 0 1 2 3 4 5 6 7 8 9; do
  f=$((640 + i * 9)); g=$((f * 4 / 5))
  sox -q -V1 -D -n -r 16000 -b 16 "$T/bell/bell_$i.wav" synth 0.$((35 + i)) sine $f synth 0.$((50 + i)) sine $g \
    fade 0 0 0.3 gain -$((3 + i))
done
# the live scene: faint noise with the doorbell at 3 s and at 9 s
sox -q -V1 -D -n -r 16000 -b 16 "$T/q.wav" synth 3 whitenoise gain -60
sox -q -V1 -D -n -r 16000 -b 16 "$T/chime.wav" synth 0.4 sine 660 synth 0.55 sine 530 fade 0 0 0.3 gain -6
sox -q -D "$T/q.wav" "$T/chime.wav" "$T/q.wav" "$T/q.wav" "$T/chime.wav" "$T/q.wav" "$T/scene.wav"
cp "$SRC/models/digits.safetensors" "$SRC/models/digits.replay.safetensors" "$T/models/"
cp "$T/de/train/0_de_0.wav" "$T/allowed/"
cat >"$T/d.conf" <<EOF
input = { source = "file:$T/scene.wav"; pace = "realtime"; loop = true; };
socket = { path = "$T/s"; };
state_dir = "$T/state";
log_level = "info";
finetune = { allowed_dirs = ["$T/allowed"]; };
models = ( { name = "digits"; file = "models/digits.safetensors"; threshold = 0.6;
             min_count = 1; average_seconds = 0.5; refractory_seconds = 0.75; } );
EOF
export EARSHOT_SOCKET="$T/s"
# Waits are bounded only to catch a hang: LIVE seconds is far beyond what any
# step needs, even under a sanitizer on a loaded machine.
LIVE=120
start() {
  local end=$((SECONDS + LIVE))
  "$D" --config "$T/d.conf" >>"$T/d.log" 2>&1 & PID=$!
  until "$ES" status >/dev/null 2>&1; do
    if ! kill -0 "$PID" 2>/dev/null; then
      wait "$PID"; echo "FAIL: the daemon exited at start-up (status $?): $(tail -5 "$T/d.log")"; PID=; exit 1
    fi
    [ "$SECONDS" -lt "$end" ] ||
      { echo "FAIL: the daemon did not answer status within $LIVE s of starting: $(tail -5 "$T/d.log")"; exit 1; }
    sleep 0.1
  done
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }
ask() { printf '%s\n' "$1" | socat -t "$LIVE" - "UNIX-CONNECT:$T/s" 2>/dev/null | grep -m1 '"ok"'; }
# true while finetune-status reports a running job
job_running() { case "$(ask '{"cmd":"finetune-status","model":"digits"}')" in *'"running":true'*) return 0;; *) return 1;; esac; }
status_num() {  # a number from status --json: status_num KEY
  "$ES" status --json | sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1
}
acc() { "$ES" eval --model "$1" --data "$2" --label-regex '^([0-9])_' --json | sed -n 's/^{"accuracy":\([0-9.e-]*\),.*/\1/p'; }
expect_code() {  # request, code, what
  local r; r="$(ask "$1")"
  case "$r" in *"\"code\":\"$2\""*) ok "$3: $2";; *) bad "$3: wanted code $2, got: $r";; esac
}
command -v socat >/dev/null || { echo "daemon_teach: SKIPPED: socat is missing"; exit 77; }
start

# ---- the worker's scheduling: SCHED_FIFO 10 where permitted (root in CI) ----------
# /proc/PID/task/*/stat after "pid (comm) ": field 38 rt_priority, 39 policy (1 FIFO)
fifo_threads() { for s in /proc/"$PID"/task/*/stat; do sed 's/.*) //' "$s"; done | awk '$39 == 1 && $38 == 10' | wc -l; }
if grep -q "model 'digits': inference under SCHED_FIFO, priority 10" "$T/d.log"; then
  [ "$(fifo_threads)" -eq 1 ] && ok "the inference worker runs under SCHED_FIFO 10, and only it" ||
    bad "the log says SCHED_FIFO, but $(fifo_threads) threads run under it"
  "$ES" status --json | grep -q '"realtime_priority": *10' && ok "status says realtime_priority 10" ||
    bad "status: $("$ES" status --json)"
elif grep -q "model 'digits': inference at normal priority, SCHED_FIFO 10 refused" "$T/d.log"; then
  [ "$(fifo_threads)" -eq 0 ] && ok "SCHED_FIFO refused here, and the log says so" || bad "FIFO threads after a refusal"
else
  bad "the log says nothing of the inference worker's scheduling: $(head -5 "$T/d.log")"
fi

# ---- bad requests ----------------------------------------------------------------
expect_code '{"cmd":"finetune","model":"digits"}' no_examples "finetune with no examples"
expect_code '{"cmd":"example-add","model":"digits","label":"doorbell","last":1.0}' unknown_label "unknown label"
expect_code "{\"cmd\":\"example-add\",\"model\":\"digits\",\"label\":\"3\",\"path\":\"$T/de/train/3_de_0.wav\"}" denied "path outside allowed_dirs"
expect_code "{\"cmd\":\"example-add\",\"model\":\"digits\",\"label\":\"3\",\"path\":\"$T/allowed/../de/train/3_de_1.wav\"}" denied "path escaping with .."
expect_code '{"cmd":"example-add","model":"digits","label":"3","audio":"%%%not base64","rate":16000}' bad_audio "broken base64"
expect_code '{"cmd":"example-add","model":"digits","label":"3","audio":"AA==","rate":16000}' bad_audio "odd byte count"
expect_code '{"cmd":"example-add","model":"digits","label":"3","audio":"AAAAAAAA","rate":16000}' bad_audio "an example of 3 samples, far too short"
expect_code '{"cmd":"example-add","model":"digits","label":"3","audio":"","rate":16000}' bad_audio "zero-length audio"
expect_code '{"cmd":"example-add","model":"digits","label":"3","audio":"AAAA"}' bad_argument "inline audio without a rate"
expect_code '{"cmd":"example-add","model":"digits","label":"3","last":1.0,"detection":4}' bad_argument "two sources"
expect_code '{"cmd":"example-remove","model":"digits","example":999}' no_such_example "removing an unknown example"
expect_code '{"cmd":"finetune","model":"digits","layers":"some"}' bad_argument "bad layers"
expect_code '{"cmd":"rollback","model":"digits"}' no_previous "rollback with nothing before"
expect_code '{"cmd":"save","model":"digits","path":"relative.safetensors"}' bad_argument "a relative save path"
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null; then
  chmod 711 "$T"; chmod 666 "$T/s"
  out="$(runuser -u nobody -- "$ES" example add --model digits --label 3 "$T/allowed/0_de_0.wav" 2>&1)"
  case "$out" in *denied*) ok "unprivileged example add: denied";; *) bad "unprivileged example add: $out";; esac
  out="$(runuser -u nobody -- "$ES" finetune --model digits 2>&1)"
  case "$out" in *denied*) ok "unprivileged finetune: denied";; *) bad "unprivileged finetune: $out";; esac
  chmod 660 "$T/s"; chmod 700 "$T"
else
  echo "daemon_teach: not root: the unprivileged-peer checks are skipped"
fi
# a good path inside allowed_dirs, then removed again
r="$(ask "{\"cmd\":\"example-add\",\"model\":\"digits\",\"label\":\"0\",\"path\":\"$T/allowed/0_de_0.wav\"}")"
id="$(printf '%s' "$r" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')"
[ -n "$id" ] && ok "example from an allowed path ($id)" || bad "example from an allowed path: $r"
r="$(ask "{\"cmd\":\"example-remove\",\"model\":\"digits\",\"example\":$id}")"
case "$r" in *'"ok":true'*) ok "example removed";; *) bad "example-remove: $r";; esac

# ---- German digits ----------------------------------------------------------------
if [ "$QUICK" != 1 ]; then
  before="$(acc "$T/models/digits.safetensors" "$T/de/test")"
  fsdd0="$(acc "$T/models/digits.safetensors" "$FSDD")"
fi
for d in 0 1 2 3 4 5 6 7 8 9; do
  "$ES" example add --model digits --label $d "$T"/de/train/${d}_de_*.wav >/dev/null || bad "example add $d"
done
n="$("$ES" example list --model digits | wc -l)"
[ "$n" -eq 50 ] && ok "50 examples listed" || bad "example list shows $n, not 50"
sha0="$("$ES" status --json | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')"
# one job at a time: a job of 1000 epochs runs until it is cancelled, so a
# second finetune meets it whatever the machine's speed
"$ES" finetune --model digits --epochs 1000 --wait --json >"$T/long.jsonl" 2>"$T/long.err" &
LONG=$!
end=$((SECONDS + LIVE))
until job_running; do
  kill -0 "$LONG" 2>/dev/null && [ "$SECONDS" -lt "$end" ] || break
  sleep 0.1
done
if job_running; then
  ok "finetune-status: a job of 1000 epochs runs"
  expect_code '{"cmd":"finetune","model":"digits"}' busy "a second finetune while one runs"
else
  bad "finetune-status does not report the job of 1000 epochs as running: $(ask '{"cmd":"finetune-status","model":"digits"}') $(cat "$T/long.jsonl" "$T/long.err")"
fi
r="$(ask '{"cmd":"finetune-cancel","model":"digits"}')"
case "$r" in *'"cancelling":"digits"'*) ok "finetune-cancel: cancelling";; *) bad "finetune-cancel: $r";; esac
end=$((SECONDS + LIVE))
while job_running && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
if job_running; then
  bad "the job still runs $LIVE s after finetune-cancel: $(ask '{"cmd":"finetune-status","model":"digits"}')"
  ask '{"cmd":"finetune-cancel","model":"digits"}' >/dev/null
  kill "$LONG" 2>/dev/null
fi
# finetune --wait returns at the job's finetune-done
end=$((SECONDS + LIVE))
while kill -0 "$LONG" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
kill -0 "$LONG" 2>/dev/null && { bad "finetune --wait still waits $LIVE s after the job ended"; kill "$LONG"; }
wait "$LONG"; rc=$?
done_ev="$(grep '"finetune-done"' "$T/long.jsonl")"
case "$done_ev" in *'"cancelled":true'*) case "$done_ev" in *'"accepted":false'*) [ "$rc" -ne 0 ] &&
    ok "the cancelled job ends with finetune-done: cancelled, not accepted" ||
    bad "finetune --wait exits 0 after a cancelled job: $done_ev";;
  *) bad "the cancelled job's finetune-done: $done_ev";; esac;;
  *) bad "the cancelled job's finetune-done: $done_ev $(cat "$T/long.err")";; esac
sha="$("$ES" status --json | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')"
[ "$sha" = "$sha0" ] && ok "a cancelled job leaves the model as it was" || bad "the model changed with a cancelled job: $sha0 -> $sha"
# the job whose outcome the rest checks
"$ES" finetune --model digits "${EPOCHS[@]}" --wait --json >"$T/ft.jsonl" 2>"$T/ft.err"; rc=$?
done_ev="$(grep '"finetune-done"' "$T/ft.jsonl")"
if [ "$QUICK" = 1 ]; then
  case "$done_ev" in *'"ok":true'*) ok "finetune --wait: the job ran to its end";;
    *) bad "finetune --wait: $done_ev $(cat "$T/ft.err")";; esac
else
  [ "$rc" -eq 0 ] && ok "finetune --wait: the new model was taken" || bad "finetune --wait exit $rc: $done_ev $(cat "$T/ft.err")"
fi
prog="$(grep -c '"finetune-progress"' "$T/ft.jsonl")"
[ "$prog" -ge 1 ] && ok "$prog progress events" || bad "no progress events"
secs="$(printf '%s' "$done_ev" | sed -n 's/.*"seconds":\([0-9.e+-]*\).*/\1/p')"
lost="$(printf '%s' "$done_ev" | sed -n 's/.*"lost_samples_during":\([0-9]*\).*/\1/p')"
p99b="$(printf '%s' "$done_ev" | sed -n 's/.*"p99_ms_before":\([0-9.e+-]*\).*/\1/p')"
p99d="$(printf '%s' "$done_ev" | sed -n 's/.*"p99_ms_during":\([0-9.e+-]*\).*/\1/p')"
nd="$(printf '%s' "$done_ev" | sed -n 's/.*"windows_during":\([0-9]*\).*/\1/p')"
pre="$(printf '%s' "$done_ev" | sed -n 's/.*"preempted_during":\([0-9]*\).*/\1/p')"
echo "daemon_teach: fine-tuning took ${secs} s; inference p99 ${p99b} ms idle, ${p99d} ms during; ${pre} of ${nd} windows preempted; ${lost} samples lost"
[ -n "$pre" ] && [ -n "$nd" ] && [ "$pre" -le "$nd" ] && ok "finetune-done counts preempted windows ($pre of $nd)" ||
  bad "preempted_during missing or above windows_during: $done_ev"
[ "$lost" = "0" ] && ok "no audio lost during fine-tuning" || bad "$lost samples lost during fine-tuning"
saved="$("$ES" save --model digits)"
case "$saved" in /*) [ -s "$saved" ] && ok "save wrote $saved" || bad "save printed $saved, which is missing";;
  *) bad "save printed '$saved', not an absolute path";; esac
if [ "$QUICK" != 1 ]; then
after="$(acc "$saved" "$T/de/test")"
fsdd1="$(acc "$saved" "$FSDD")"
echo "daemon_teach: German (unheard utterances) $before -> $after; FSDD $fsdd0 -> $fsdd1"
awk -v a="$after" 'BEGIN { exit !(a >= 0.90) }' && ok "German digits $after >= 0.90" || bad "German digits $after < 0.90"
awk -v a="$fsdd0" -v b="$fsdd1" -v g="$GUARD" 'BEGIN { exit !(a - b <= g) }' &&
  ok "FSDD fell by at most $GUARD ($fsdd0 -> $fsdd1)" || bad "FSDD fell from $fsdd0 to $fsdd1"
fi
sha1="$("$ES" status --json | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')"
if [ "$QUICK" != 1 ] || [ "$sha1" != "$sha0" ]; then
  "$ES" rollback --model digits >/dev/null || bad "rollback"
fi
sha2="$("$ES" status --json | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')"
if [ "$QUICK" = 1 ] && [ "$sha1" = "$sha0" ]; then
  ok "rollback: (one epoch changed nothing the validation liked; nothing to roll back)"
else
  [ "$sha2" = "$sha0" ] && [ "$sha1" != "$sha0" ] && ok "rollback returns to the original model" ||
    bad "rollback: sha $sha0 -> $sha1 -> $sha2"
fi

# ---- a new class, detected live ------------------------------------------------------
"$ES" example add --model digits --label doorbell "$T/bell/bell_0.wav" >/dev/null 2>&1 &&
  bad "a new label without --new-class was accepted" || ok "a new label needs --new-class"
"$ES" example add --model digits --label doorbell --new-class "$T"/bell/bell_*.wav >/dev/null || bad "example add doorbell"
if [ "$QUICK" = 1 ]; then
  "$ES" finetune --model digits --epochs 1 --wait --json 2>/dev/null | grep -q '"added_labels":"doorbell"' &&
    ok "a one-epoch job grows the model by the new class" || bad "no doorbell added"
else
  "$ES" finetune --model digits --wait >/dev/null 2>"$T/ft2.err" && ok "fine-tuned with a new class" ||
    bad "finetune with a new class: $(tail -2 "$T/ft2.err")"
  "$ES" status --json | grep -q '"doorbell"' && ok "the model now has label doorbell" || bad "no doorbell label"
  # listen while the model hears 15 s of the stream (at least two chimes),
  # counted in stream time from when the listener is connected
  c0="$(status_num clients)"
  "$ES" listen --model digits --json >"$T/events" 2>/dev/null & LP=$!
  end=$((SECONDS + LIVE))
  while [ "$(status_num clients)" -le "$c0" ] && kill -0 "$LP" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
    sleep 0.1
  done
  s0="$(status_num stream_seconds)"
  end=$((SECONDS + LIVE))
  until awk -v a="$(status_num stream_seconds)" -v b="$s0" 'BEGIN { exit !(a >= b + 15) }'; do
    [ "$SECONDS" -lt "$end" ] || { bad "the stream did not advance 15 s in $LIVE s (from $s0 s)"; break; }
    sleep 0.2
  done
  kill "$LP" 2>/dev/null; wait "$LP" 2>/dev/null
  n="$(grep -c '"label":"doorbell"' "$T/events")"
  [ "$n" -ge 1 ] && ok "doorbell detected live ($n events in 15 s of a 12 s loop with 2 chimes)" ||
    bad "no doorbell detected live: $(head -c 400 "$T/events")"
fi
"$ES" save --model digits >/dev/null || bad "save after the new class"

# ---- persistence ---------------------------------------------------------------------
stop
start
n="$("$ES" example list --model digits | wc -l)"
[ "$n" -eq 60 ] && ok "60 examples after a restart" || bad "$n examples after a restart, not 60"
"$ES" status --json | grep -q "\"file\":\"$T/state/models/digits.safetensors\"" &&
  ok "the saved model is used after a restart" || bad "the saved model is not used: $("$ES" status | head -3)"

# ---- SIGKILL during fine-tuning and during save --------------------------------------
good="$T/state/models/digits.safetensors"
intact() {
  "$ES" classify --model "$good" "$T/de/test/1_de_0.wav" >/dev/null 2>&1 &&
  "$ES" example list --model digits >/dev/null 2>&1
}
broken=0
for i in $(seq 12); do
  if [ $((i % 2)) -eq 0 ]; then
    printf '{"cmd":"finetune","model":"digits","epochs":3}\n' | socat -t 2 - "UNIX-CONNECT:$T/s" >/dev/null 2>&1 &
    SJ=$!
    sleep 0.$((RANDOM % 9 + 1))
  else
    printf '{"cmd":"save","model":"digits"}\n' | socat -t 2 - "UNIX-CONNECT:$T/s" >/dev/null 2>&1 &
    SJ=$!
    sleep 0.00$((RANDOM % 9))
  fi
  kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
  # the request goes to the daemon just killed, never to the next one
  kill "$SJ" 2>/dev/null; wait "$SJ" 2>/dev/null
  start
  intact || { broken=$((broken + 1)); echo "broken after kill $i"; }
  left="$(ls "$T/state/models" | grep -v '^digits.safetensors$')"
  [ -z "$left" ] || { broken=$((broken + 1)); echo "left behind after kill $i: $left"; }
done
[ "$broken" -eq 0 ] && ok "12 kills during fine-tuning and save: the model and examples stay loadable, no temporary files stay" ||
  bad "$broken of 12 kills left something broken"
stop
grep -q "AddressSanitizer\|ThreadSanitizer\|runtime error" "$T/d.log" && bad "sanitizer report: $(grep -m3 'Sanitizer\|runtime error' "$T/d.log")"
echo "daemon_teach: $((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
