#!/bin/bash
# `earshot inspect`: a PNG of the right size for good input; one clear error
# line for bad input. Usage: cli_inspect.sh EARSHOT FIXTURES_DIR
set -u
ES="$1"; FIX="$2"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fails=0; passes=0
check() { if [ "$1" = 0 ]; then passes=$((passes + 1)); else echo "FAIL: $2" >&2; fails=$((fails + 1)); fi; }

"$ES" inspect "$FIX/synth1-16000.wav" --out "$T/f.png" >/dev/null 2>"$T/err"; st=$?
check "$st" "inspect a 16 kHz clip: $(cat "$T/err")"
# PNG signature, then the IHDR chunk's width and height (1200 x 1240)
[ "$(head -c 8 "$T/f.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; check $? "PNG signature"
[ "$(dd if="$T/f.png" bs=1 skip=16 count=8 status=none | od -An -tx1 | tr -d ' \n')" = "000004b0000004d8" ]
check $? "1200x1240 image"
[ "$(stat -c %s "$T/f.png")" -gt 20000 ]; check $? "a figure, not an empty image"
"$ES" inspect "$FIX/synth1-8000.wav" -o "$T/g.png" >/dev/null 2>&1; check $? "inspect an 8 kHz clip"

"$ES" inspect "$FIX/synth1-16000.wav" >/dev/null 2>"$T/err"; st=$?
[ "$st" -eq 2 ] && grep -q -- "--out" "$T/err"; check $? "missing --out"
"$ES" inspect "$T/nope.wav" --out "$T/x.png" >/dev/null 2>"$T/err"; st=$?
[ "$st" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q nope.wav "$T/err"; check $? "missing file"
[ ! -e "$T/x.png" ]; check $? "no figure for a failed run"
"$ES" inspect "$FIX/synth1-16000.wav" --out "$T/no/dir/f.png" >/dev/null 2>"$T/err"; st=$?
[ "$st" -eq 1 ] && grep -q "no/dir/f.png" "$T/err"; check $? "unwritable output: $(cat "$T/err")"

echo "cli_inspect: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
