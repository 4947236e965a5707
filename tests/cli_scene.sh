#!/bin/bash
# `earshot scene`, `earshot score` and `earshot mine` on synthetic clips:
# the scene holds its targets where its truth says, the same seed makes the
# same scene, a perfect set of detections scores perfectly and each kind of
# mistake is counted; bad input gets one clear error line.
# Usage: cli_scene.sh EARSHOT SOURCE_DIR
set -u
ES="$1"; SRC="$2"
command -v sox >/dev/null || { echo "cli_scene: FAIL: sox is missing (scripts/install-deps.sh test)"; exit 1; }
T="${KEEP:-$(mktemp -d)}"; [ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fails=0; passes=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { if eval "$1"; then passes=$((passes + 1)); else fail "$2"; fi; }

# targets: 0.3 s tones (high, low) with 0.4 s of silence around them, in
# two sources; others: noise "speech" and chords "music", 2-4 s long
mkdir -p "$T/c"
echo "path,label,group,source" >"$T/targets.csv"
for i in 1 2 3; do
  sox -q -n -r 16000 -b 16 -c 1 "$T/c/hi$i.wav" synth 0.3 sine $((1500 + 100 * i)) pad 0.4 0.4
  sox -q -n -r 8000 -b 16 -c 1 "$T/c/lo$i.wav" synth 0.3 sine $((300 + 20 * i)) pad 0.4 0.4
  echo "c/hi$i.wav,hi,g$i,tones-a" >>"$T/targets.csv"
  echo "c/lo$i.wav,lo,g$i,tones-b" >>"$T/targets.csv"
done
echo "path,label,group,source" >"$T/others.csv"
for i in 1 2; do
  sox -q -n -r 16000 -b 16 -c 1 "$T/c/talk$i.wav" synth $((1 + i)) pinknoise vol 0.3
  sox -q -n -r 22050 -b 16 -c 1 "$T/c/song$i.wav" synth 4 sine 440 sine 554 vol 0.2
  echo "c/talk$i.wav,speech,p$i,noise" >>"$T/others.csv"
  echo "c/song$i.wav,music,s$i,chords" >>"$T/others.csv"
done

"$ES" scene --target "beep=$T/targets.csv:animal" --other "$T/others.csv" --minutes 1.5 --seed 3 \
  --target-share 0.3 --out "$T/s.wav" --truth "$T/t.tsv" 2>"$T/err"; st=$?
ok '[ $st -eq 0 ]' "scene: exit $st: $(cat "$T/err")"
len=$(soxi -D "$T/s.wav" 2>/dev/null || echo 0)
ok 'awk -v l="$len" "BEGIN { exit !(l >= 90 && l < 120) }"' "scene length $len s"
ok '[ "$(head -1 "$T/t.tsv")" = "$(printf "model\tlabel\tonset\toffset\tcategory\tsource\tgroup")" ]' "truth header"
ok 'awk -F"\t" "NR > 1 && !(\$3 < \$4) { bad = 1 } END { exit bad }" "$T/t.tsv"' "every part has onset < offset"
# the parts follow each other and cover the scene (targets' silence apart)
ok 'awk -F"\t" -v l="$len" "NR > 1 { if (\$3 < e - 1e-6) bad = 1; e = \$4 } END { exit bad || e < l - 0.01 }" "$T/t.tsv"' \
  "parts in order, up to the scene's end"
ok '[ "$(awk -F"\t" "\$1 == \"beep\"" "$T/t.tsv" | wc -l)" -ge 6 ]' "targets in the scene: $(grep -c beep "$T/t.tsv")"
ok 'grep -q "^beep	hi	.*	animal	tones-a	g[123]$" "$T/t.tsv" && grep -q "^beep	lo	.*	animal	tones-b	" "$T/t.tsv"' \
  "both labels and sources, with their category and group"
ok 'grep -q "^-	speech	.*	speech	noise	p[12]$" "$T/t.tsv" && grep -q "^-	room	" "$T/t.tsv"' \
  "other sounds and room tone are parts"
# a target's event is its tone: 0.3 s, not its 0.4 s of silence around
ok 'awk -F"\t" "\$1 == \"beep\" { d = \$4 - \$3; if (d < 0.27 || d > 0.33) bad = 1 } END { exit bad }" "$T/t.tsv"' \
  "events are the sounds: $(awk -F'\t' '$1 == "beep" { printf "%.2f ", $4 - $3 }' "$T/t.tsv")"
# the audio is there: a tone's stretch is far louder than room tone
read -r on off < <(awk -F"\t" '$1 == "beep" { print $3, $4; exit }' "$T/t.tsv")
read -r r0 r1 < <(awk -F"\t" '$2 == "room" && $4 - $3 > 0.5 { print $3, $4 - $3; exit }' "$T/t.tsv")
tone=$(sox "$T/s.wav" -n trim "$on" "$(awk -v a="$on" -v b="$off" 'BEGIN { print b - a }')" stat 2>&1 | awk '/RMS +amplitude/ { print $3 }')
room=$(sox "$T/s.wav" -n trim "$r0" "$r1" stat 2>&1 | awk '/RMS +amplitude/ { print $3 }')
ok 'awk -v a="$tone" -v b="$room" "BEGIN { exit !(a > 30 * b && b > 0) }"' "tone RMS $tone against room $room"
"$ES" scene --target "beep=$T/targets.csv:animal" --other "$T/others.csv" --minutes 1.5 --seed 3 \
  --target-share 0.3 --out "$T/s2.wav" --truth "$T/t2.tsv" 2>/dev/null
ok 'cmp -s "$T/s.wav" "$T/s2.wav" && cmp -s "$T/t.tsv" "$T/t2.tsv"' "the same seed makes the same scene"
"$ES" scene --target "beep=$T/targets.csv" --other "$T/others.csv" --minutes 1.5 --seed 4 \
  --out "$T/s3.wav" --truth "$T/t3.tsv" 2>/dev/null
ok '! cmp -s "$T/t.tsv" "$T/t3.tsv" && grep -q "^beep	.*	target	" "$T/t3.tsv"' "another seed, another scene; category target by default"

# score: a detection on every target (hits), then one of each mistake
awk -F'\t' '$1 == "beep" { printf "{\"event\":\"detection\",\"model\":\"beep\",\"label\":\"%s\",\"onset\":%s,\"offset\":%s,\"decided\":%.3f,\"score\":0.9}\n", $2, $3, $4, $4 + 0.2 }' \
  "$T/t.tsv" >"$T/ev.jsonl"
n=$(wc -l <"$T/ev.jsonl")
"$ES" score --truth "$T/t.tsv" --events "$T/ev.jsonl" --json >"$T/sc" 2>"$T/err"; st=$?
ok '[ $st -eq 0 ] && grep -q "\"model\":\"beep\",\"events\":$n,\"hits\":$n,\"detections\":$n,\"recall\":1.0,\"precision\":1.0" "$T/sc"' \
  "perfect detections score 1: $(head -c 300 "$T/sc") $(cat "$T/err")"
ok 'grep -q "\"onset_error_abs_median\":0.0," "$T/sc" && grep -q "\"latency_median\":0.5" "$T/sc"' \
  "onset error 0, latency 0.3 + 0.2 s: $(grep -o '"latency_median":[0-9.]*' "$T/sc")"
first=$(awk -F'\t' '$1 == "beep" { print $2, $3, $4; exit }' "$T/t.tsv")
read -r lab on off <<<"$first"
other=$([ "$lab" = hi ] && echo lo || echo hi)
{
  echo "{\"event\":\"detection\",\"model\":\"beep\",\"label\":\"$lab\",\"onset\":$on,\"offset\":$off,\"score\":0.8}"
  echo "{\"event\":\"detection\",\"model\":\"beep\",\"label\":\"$other\",\"onset\":$r0,\"offset\":$(awk -v a="$r0" 'BEGIN { print a + 0.2 }'),\"score\":0.8}"
  echo '{"event":"posteriors","model":"beep"}'
  echo ""
} >>"$T/ev.jsonl"
"$ES" score --truth "$T/t.tsv" --events "$T/ev.jsonl" --list >"$T/sc" 2>"$T/err"; st=$?
ok '[ $st -eq 0 ] && grep -q "1 duplicates, 1 false alarms" "$T/sc" && grep -q "false alarms on room  *1" "$T/sc"' \
  "a duplicate and a false alarm on room tone: $(head -1 "$T/sc")"
ok 'grep -q "^  duplicate " "$T/sc" && grep -q "^  false alarm .*\[- room scene/-\]" "$T/sc"' "--list names them and what played"
"$ES" score --truth "$T/t.tsv" --events "$T/ev.jsonl" --require "beep:recall>=1" --require "beep:fa_per_hour<=100" >/dev/null 2>"$T/err"
ok '[ $? -eq 0 ]' "requirements met: $(cat "$T/err")"
"$ES" score --truth "$T/t.tsv" --events "$T/ev.jsonl" --require "beep:precision>=0.99" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && grep -q "beep: precision is 0\.[0-9]*, required >= 0.99" "$T/err"' "a requirement missed: exit $st, $(cat "$T/err")"
"$ES" score --truth "$T/t.tsv" --events "$T/ev.jsonl" --offset 1000 --require "beep:recall<=0" >/dev/null 2>&1
ok '[ $? -eq 0 ]' "--offset moves every detection out of the scene"

# bad input
"$ES" scene --other "$T/others.csv" --out "$T/x.wav" --truth "$T/x.tsv" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "--target" "$T/err"' "scene without targets: $(cat "$T/err")"
"$ES" scene --target "$T/targets.csv" --out "$T/x.wav" --truth "$T/x.tsv" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 2 ] && grep -q "is not MODEL=CSV" "$T/err"' "--target without a model: $(cat "$T/err")"
"$ES" scene --target "beep=$T/none.csv" --out "$T/x.wav" --truth "$T/x.tsv" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && grep -q "none.csv" "$T/err"' "a missing manifest: $(cat "$T/err")"
"$ES" scene --target "beep=$T/targets.csv" --minutes 0 --out "$T/x.wav" --truth "$T/x.tsv" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 2 ] && grep -q -- "--minutes: .0. is not a number in" "$T/err"' "--minutes 0: $(cat "$T/err")"
echo "path,label" >"$T/broken.csv"; echo "c/gone.wav,hi" >>"$T/broken.csv"
"$ES" scene --target "beep=$T/broken.csv" --minutes 0.5 --target-share 0.5 --out "$T/x.wav" --truth "$T/x.tsv" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && grep -q "gone.wav" "$T/err" && [ ! -e "$T/x.wav" ] && [ ! -e "$T/x.tsv" ]' \
  "a missing clip: named, nothing written: $(cat "$T/err")"
"$ES" score --truth "$T/none.tsv" --events "$T/ev.jsonl" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && grep -q "none.tsv" "$T/err"' "score: a missing truth: $(cat "$T/err")"
printf '{"event":"detection","model":"beep","label":"hi","onset":1,"offset":2}\n{not json\n' >"$T/bad.jsonl"
"$ES" score --truth "$T/t.tsv" --events "$T/bad.jsonl" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && grep -q "bad.jsonl:2: not JSON" "$T/err"' "score: a line that is not JSON: $(cat "$T/err")"
"$ES" score --truth "$T/t.tsv" --events "$T/ev.jsonl" --require "beep:recall=1" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 2 ] && grep -q "is not MODEL:KEY<=VALUE" "$T/err"' "score: a bad --require: $(cat "$T/err")"
"$ES" score --truth "$T/t.tsv" --events "$T/ev.jsonl" --require "cat:recall>=1" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 2 ] && grep -q "no targets of model .cat." "$T/err"' "score: --require of an unknown model: $(cat "$T/err")"

# mine: windows of the shipped cat/dog model on the other sounds, as a manifest
"$ES" mine --model "$SRC/models/catdog.safetensors" --manifest "$T/others.csv" --threshold 0.01 \
  --per-clip 2 --out "$T/hard.csv" 2>"$T/err"; st=$?
ok '[ $st -eq 0 ] && [ "$(head -1 "$T/hard.csv")" = "path,label,group,source,start,end" ]' "mine: exit $st, $(cat "$T/err")"
ok '[ "$(tail -n +2 "$T/hard.csv" | wc -l)" -ge 2 ] && [ -z "$(tail -n +2 "$T/hard.csv" | cut -d, -f1 | sort | uniq -c | awk "\$1 > 2")" ]' \
  "mine: windows found, at most two of a clip: $(tail -n +2 "$T/hard.csv" | wc -l)"
ok 'tail -n +2 "$T/hard.csv" | awk -F, "{ if (\$2 != \"hard\" || !(\$5 < \$6)) bad = 1 } END { exit bad }"' "mine: rows are hard spans"
"$ES" mine --model "$SRC/models/catdog-seed.safetensors" --manifest "$T/others.csv" --out "$T/x.csv" >/dev/null 2>"$T/err"; st=$?
ok '[ $st -eq 1 ] && grep -q "no background class" "$T/err" && [ ! -e "$T/x.csv" ]' "mine: a model without background: $(cat "$T/err")"

echo "cli_scene: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
