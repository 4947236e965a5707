#!/bin/bash
# A file input reaches its end whatever its length: every sample is read,
# every whole window of every model is classified, status says
# input_ended, and the daemon stops cleanly. Lengths are chosen to be
# multiples of nothing the daemon counts in (10 ms blocks, 0.2 and 0.5 s
# strides, hops), one shorter than any window, one at 44.1 kHz (resampled
# for both models); at both paces. With loop the input never ends: it
# comes round again, windows keep coming, and SIGTERM still stops it.
# Usage: daemon_input_end.sh EARSHOT EARSHOTD SOURCE_DIR
set -u
ES="$1"; ESD="$2"; SRC="$3"
command -v sox >/dev/null || { echo "daemon_input_end: FAIL: sox is missing (scripts/install-deps.sh test)"; exit 1; }
T="$(mktemp -d)"; pid=
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
sed -e "s#^  path = \"/run/earshot/control.sock\";#  path = \"$T/s.sock\";#" \
    -e "s#^realtime_priority = 10;#realtime_priority = 0;#" \
    -e "s#\"\\.\\./models/#\"$SRC/models/#" "$SRC/conf/earshotd.conf" >"$T/earshotd.conf"
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
status() { "$ES" status --json --socket "$T/s.sock" 2>/dev/null; }
field() { # json name: the values of a numeric field, one per line
  grep -o "\"$2\":[0-9.e+-]*" <<<"$1" | cut -d: -f2
}

# make FILE RATE SAMPLES: faint noise, exactly SAMPLES long
make() {
  sox -q -r "$2" -n -b 16 -c 1 "$1" synth 20 whitenoise vol 0.01 trim 0 "$3s" ||
    { echo "FAIL: sox"; exit 1; }
}

# start FILE PACE [--loop]: the daemon on the file; waits for its socket
start() {
  "$ESD" --config "$T/earshotd.conf" --input "file:$1" --input-pace "$2" ${3:-} 2>"$T/log" &
  pid=$!
  for _ in $(seq 300); do status >/dev/null && return 0; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  bad "earshotd did not start on $1: $(tail -3 "$T/log")"
  return 1
}

stop() {
  kill $pid; wait $pid; local rc=$?
  [ $rc -eq 0 ] || bad "$1: exit status $rc after SIGTERM: $(tail -3 "$T/log")"
  pid=
}

# the windows a model classifies in SECONDS of audio: one per stride
# from the first whole window on
windows_in() { # seconds clip stride
  awk -v s="$1" -v c="$2" -v d="$3" 'BEGIN { print s < c - 1e-9 ? 0 : int((s - c) / d + 1e-9) + 1 }'
}

# one case: RATE SAMPLES PACE
ends() {
  local rate=$1 n=$2 pace=$3 name="$1 Hz, $2 samples, $3" s secs
  make "$T/in.wav" "$rate" "$n"
  start "$T/in.wav" "$pace" || return
  # a liveness bound, not a race: the longest file here takes 8 s in real time
  for _ in $(seq 600); do
    s=$(status); grep -q '"input_ended":true' <<<"$s" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '"input_ended":true' <<<"$s"; then
    bad "$name: the input never ended: $(grep -o '"input_seconds":[0-9.]*' <<<"$s")"
    stop "$name"; return
  fi
  secs=$(awk -v n="$n" -v r="$rate" 'BEGIN { printf "%.6f", n / r }')
  awk -v a="$(field "$s" input_seconds)" -v b="$secs" 'BEGIN { exit !(a - b < 1e-6 && b - a < 1e-6) }' ||
    bad "$name: input_seconds $(field "$s" input_seconds), expected $secs"
  # digits: 1 s windows every 0.2 s; catdog: 2 s every 0.5 s (conf/earshotd.conf)
  local got want_d want_c slack=0
  got=$(field "$s" windows | tr '\n' ' ')
  want_d=$(windows_in "$secs" 1.0 0.2); want_c=$(windows_in "$secs" 2.0 0.5)
  # resampled input: the resampler's last output sample may fall either side of a hop
  [ "$rate" -ne 16000 ] && slack=1
  awk -v g="$got" -v d="$want_d" -v c="$want_c" -v k=$slack 'BEGIN {
    split(g, w, " "); e1 = w[1] - d; e2 = w[2] - c
    exit !(e1 <= k && -e1 <= k && e2 <= k && -e2 <= k) }' ||
    bad "$name: windows $got, expected $want_d $want_c"
  stop "$name"
  echo "daemon_input_end: $name: ended, windows $got"
}

for pace in fast realtime; do
  ends 16000 4999 $pace       # 0.31 s: shorter than any window
  ends 16000 48001 $pace      # 3.00006 s
  ends 44100 136717 $pace     # 3.1002 s, resampled for both models
done
ends 16000 117331 fast        # 7.3332 s
ends 8000 41111 fast          # 5.1389 s at the digits model's own rate

# looping: the stream goes on past the file's end, round and round
for pace in fast realtime; do
  make "$T/in.wav" 16000 12347   # 0.77 s, shorter than catdog's window
  start "$T/in.wav" $pace --loop || continue
  want=$([ $pace = fast ] && echo 30 || echo 2.5)
  # until the stream has gone round the file several times and both models
  # have classified windows of it (a liveness bound, not a race)
  for _ in $(seq 600); do
    s=$(status)
    awk -v a="$(field "$s" input_seconds | head -1)" -v w="$want" -v g="$(field "$s" windows | tr '\n' ' ')" \
      'BEGIN { split(g, n, " "); exit !(a >= w && n[1] > 0 && n[2] > 0) }' && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  grep -q '"input_ended":false' <<<"$s" || bad "loop, $pace: the input ended"
  awk -v a="$(field "$s" input_seconds)" -v w="$want" 'BEGIN { exit !(a >= w) }' ||
    bad "loop, $pace: only $(field "$s" input_seconds) s read, expected more than $want"
  got=$(field "$s" windows | tr '\n' ' ')
  awk -v g="$got" 'BEGIN { split(g, w, " "); exit !(w[1] > 0 && w[2] > 0) }' ||
    bad "loop, $pace: windows $got after $(field "$s" input_seconds) s"
  stop "loop, $pace"
  echo "daemon_input_end: loop, $pace: $(field "$s" input_seconds | head -1) s, windows $got"
done
exit $((fails > 0))
