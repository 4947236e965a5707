#!/bin/bash
# `earshot features`: results on good input; on bad input exactly one error
# line naming the problem and exit status 1 (bad data) or 2 (bad usage),
# never a crash. Usage: cli_features.sh EARSHOT FIXTURES_DIR SOURCE_DIR
set -u
ES="$1"; FIX="$2"; SRC="$3"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fails=0; passes=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { passes=$((passes + 1)); }

# expect_error STATUS NEEDLE ARGS...: exit STATUS, one stderr line containing NEEDLE.
expect_error() {
  local want="$1" needle="$2"; shift 2
  "$ES" "$@" >"$T/out" 2>"$T/err"; local st=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ "$st" -ne "$want" ]; then fail "earshot $* exited $st, wanted $want: $(cat "$T/err")"; return; fi
  if [ "$lines" -ne 1 ]; then fail "earshot $* wrote $lines stderr lines, wanted 1:"; cat "$T/err" >&2; return; fi
  if ! grep -qF -- "$needle" "$T/err"; then fail "earshot $*: error '$(cat "$T/err")' does not name '$needle'"; return; fi
  pass
}

# npy_bytes F T: size of a float32 [F, T] .npy file with numpy's 128-byte header.
npy_bytes() { echo $((128 + $1 * $2 * 4)); }

# --- good input
"$ES" features --help | grep -q "usage: earshot features" && pass || fail "--help"
"$ES" --help | grep -q features && pass || fail "earshot --help lists features"
"$ES" help features | grep -q -- "--config" && pass || fail "earshot help features"
if "$ES" features --config "$SRC/conf/features/logmel64-16k.json" "$FIX/synth1-16000.wav" \
     --out "$T/a.npy" >"$T/out" 2>"$T/err"; then
  [ "$(stat -c %s "$T/a.npy")" -eq "$(npy_bytes 64 164)" ] && pass || fail "logmel [64,164] size"
  grep -q "\[64, 164\]" "$T/out" && pass || fail "summary line: $(cat "$T/out")"
else fail "features on a good clip: $(cat "$T/err")"; fi
# an 8 kHz clip into a 16 kHz description is resampled: 26336 → 52672 samples, 1 + 52672/160 frames
if "$ES" features -c "$SRC/conf/features/logmel64-16k.json" -o "$T/b.npy" "$FIX/synth1-8000.wav" \
     >/dev/null 2>"$T/err"; then
  n=$(( $(stat -c %s "$FIX/synth1-8000.wav") - 44 )); n=$((n / 2 * 2))
  [ "$(stat -c %s "$T/b.npy")" -eq "$(npy_bytes 64 $((1 + n / 160)))" ] && pass || fail "resampled size"
else fail "resampled clip: $(cat "$T/err")"; fi

# --- bad usage (exit 2)
expect_error 2 "--frobnicate" features --frobnicate --config x.json a.wav --out o.npy
expect_error 2 "-z" features -z --config x.json a.wav --out o.npy
expect_error 2 "--config" features a.wav --out o.npy
expect_error 2 "--out" features --config x.json a.wav
expect_error 2 "'--config' needs a value" features a.wav --out o.npy --config
expect_error 2 "got 2" features --config x.json a.wav b.wav --out o.npy
expect_error 2 "got 0" features --config x.json --out o.npy
expect_error 2 "--help" features --help=yes
expect_error 2 "frobnicate" frobnicate

# --- bad data (exit 1)
GOOD_CONF="$SRC/conf/features/logmel64-16k.json"
expect_error 1 "$T/missing.wav" features --config "$GOOD_CONF" "$T/missing.wav" --out "$T/o.npy"
echo "this is not audio at all" >"$T/text.wav"
expect_error 1 "$T/text.wav" features --config "$GOOD_CONF" "$T/text.wav" --out "$T/o.npy"
# a valid WAV header announcing zero samples
printf 'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00' >"$T/empty.wav"
expect_error 1 "$T/empty.wav" features --config "$GOOD_CONF" "$T/empty.wav" --out "$T/o.npy"
# a WAV cut short of the length its header promises
head -c 20000 "$FIX/synth1-16000.wav" >"$T/cut.wav"
expect_error 1 "truncated" features --config "$GOOD_CONF" "$T/cut.wav" --out "$T/o.npy"
# 100 samples: too short for a 512-point centred frame
head -c 244 "$FIX/synth1-16000.wav" >"$T/short.wav"
printf '\xc8\x00\x00\x00' | dd of="$T/short.wav" bs=1 seek=40 conv=notrunc status=none
expect_error 1 "too short" features --config "$GOOD_CONF" "$T/short.wav" --out "$T/o.npy"
expect_error 1 "$T/nothere.json" features --config "$T/nothere.json" "$FIX/synth1-16000.wav" --out "$T/o.npy"
conf() { echo "$1" >"$T/c.json"; }
conf '{"kind":"spectrogram","sample_rate":0,"n_fft":512,"hop_length":160}'
expect_error 1 "'sample_rate'" features --config "$T/c.json" "$FIX/synth1-16000.wav" --out "$T/o.npy"
conf '{"kind":"spectrogram","sample_rate":16000,"n_fft":512,'
expect_error 1 "bad JSON" features --config "$T/c.json" "$FIX/synth1-16000.wav" --out "$T/o.npy"
conf '{"kind":"spectrogram","sample_rate":16000,"hop_length":160}'
expect_error 1 "'n_fft'" features --config "$T/c.json" "$FIX/synth1-16000.wav" --out "$T/o.npy"
conf '{"kind":"spectrogram","sample_rate":16000,"n_fft":512,"hop_length":160,"colour":"blue"}'
expect_error 1 "unknown key 'colour'" features --config "$T/c.json" "$FIX/synth1-16000.wav" --out "$T/o.npy"
conf ''
expect_error 1 "bad JSON" features --config "$T/c.json" "$FIX/synth1-16000.wav" --out "$T/o.npy"
expect_error 1 "$T/no/such/dir/o.npy" features --config "$GOOD_CONF" "$FIX/synth1-16000.wav" --out "$T/no/such/dir/o.npy"
expect_error 1 "$T" features --config "$GOOD_CONF" "$T" --out "$T/o.npy"

echo "cli_features: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
