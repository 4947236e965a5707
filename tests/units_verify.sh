#!/bin/bash
# The systemd units, with their paths filled in as `make install` does,
# pass `systemd-analyze verify`; the default config passes
# `earshotd --check-config`, and a broken one fails naming file:line.
# Usage: units_verify.sh EARSHOTD SOURCE_DIR
set -u
ESD="$(realpath "$1")"; SRC="$(realpath "$2")"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fails=0; passed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
if command -v systemd-analyze >/dev/null; then
  sed -e "s#@BINDIR@#$(dirname "$ESD")#g" -e 's#@SYSCONFDIR@#/etc#g' -e 's#@DOCDIR@#/usr/share/doc/earshot#g' \
    "$SRC/systemd/earshotd.service.in" >"$T/earshotd.service"
  cp "$SRC/systemd/earshotd.socket" "$T/"
  if out=$(systemd-analyze verify "$T/earshotd.socket" "$T/earshotd.service" 2>&1); then ok
  else bad "systemd-analyze verify: $out"; fi
else
  echo "units_verify: systemd-analyze is missing: the unit check is skipped"
fi
"$ESD" --config "$SRC/conf/earshotd.conf" --check-config >/dev/null 2>"$T/err" && ok || bad "default config: $(cat "$T/err")"
check_bad() { # sed-expression expected-message
  sed -e "$1" -e "s#\"\.\./#\"$SRC/#" "$SRC/conf/earshotd.conf" >"$T/bad.conf"
  if "$ESD" --config "$T/bad.conf" --check-config >/dev/null 2>"$T/err"; then bad "'$1' was accepted"
  elif grep -q -- "$2" "$T/err"; then ok
  else bad "'$1': expected '$2' in: $(cat "$T/err")"; fi
}
check_bad 's/^  rate = 16000;/  rate = "fast";/' "bad.conf:[0-9]*: 'input.rate' must be an integer"
check_bad 's/^  pace = "realtime";/  pace = "slow";/' "bad.conf:[0-9]*: input.pace must be"
check_bad 's/^  max_clients = 64;/  max_clientz = 64;/' "unknown setting 'max_clientz' in 'socket'"
check_bad 's/^    threshold = 0.8;/    threshold = 1.6;/' "threshold in \[0, 1\]"
check_bad 's#^    file = "../models/digits.safetensors";#    file = "../README.md";#' "model 'digits': .*README.md.*header length"
check_bad 's/^log_level = "info";/log_level = "loud";/' "log_level must be"
check_bad 's/^realtime_priority = 10;/realtime_priority = 100;/' "bad.conf:[0-9]*: realtime_priority must be in \[0, 99\]"
check_bad 's/^    stride_seconds = 0.2;/    stride_seconds = -1;/' "stride_seconds must be 0 (the model's own) or in \[0.01, 60\]"
check_bad 's/^    lookback_seconds = 0.75;/    lookback_seconds = 0.01;/' "lookback_seconds must be 0 (whole windows) or in \[0.05, 60\]"
check_bad 's/^    lookback_quiet_db = 15.0;/    lookback_quiet_db = -3.0;/' "lookback_quiet_db must be in \[0, 120\]"
check_bad 's/^history_events = 1000;/history_events = = 1000;/' "bad.conf:[0-9]*: syntax error"
check_bad 's/^    threshold = 0.8;/    thresholds = ( { label = "8"; threshold = 2.0; } );/' "a threshold needs a label and a threshold in \[0, 1\]"
check_bad 's/^    threshold = 0.8;/    thresholds = { x = 0.5; };/' "'thresholds' must be a list"
# teaching keys
check_bad 's/^  layers = "top"; /  layers = "most";/' 'finetune.layers must be "all", "top" or "head"'
check_bad 's/^  threads = 2;/  threads = 3;/' 'threads 1 or 2'
check_bad 's/^  epochs = 30;/  epochs = 0;/' "finetune: epochs in \[1, 1000\]"
check_bad 's/^  allowed_dirs = \[\];/  allowed_dirs = [1, 2];/' "finetune.allowed_dirs holds folder names"
check_bad 's/^  holdout = 0.2; /  holdout_share = 0.2;/' "unknown setting 'holdout_share' in 'finetune'"
check_bad 's#^    threshold = 0.8;#    threshold = 0.6; replay = "../README.md";#' "model 'digits': replay: .*README.md"
# label thresholds in the documented form pass
sed -e 's/^    threshold = 0.8;/    thresholds = ( { label = "8"; threshold = 0.8; }, { label = "0"; threshold = 0.7; } );/' \
    -e "s#\"\.\./#\"$SRC/#" "$SRC/conf/earshotd.conf" >"$T/good.conf"
"$ESD" --config "$T/good.conf" --check-config >/dev/null 2>"$T/err" && ok || bad "label thresholds: $(cat "$T/err")"
# flags: a wrong one names itself
"$ESD" --input-pace warp --config "$SRC/conf/earshotd.conf" --check-config 2>"$T/err" && bad "--input-pace warp accepted" ||
  { grep -q "input-pace: 'warp'" "$T/err" && ok || bad "--input-pace: $(cat "$T/err")"; }
"$ESD" --bogus 2>"$T/err"; [ $? -eq 2 ] && grep -q "unknown option '--bogus'" "$T/err" && ok || bad "--bogus: $(cat "$T/err")"
echo "units_verify: $passed passed, $fails failed"
exit $((fails > 0))
