#!/bin/bash
# Lists every labelled clip earshot trains and is judged on, split by group
# into training and held-out manifests (CSV: path,label,group,source).
#
#   scripts/make-manifests.sh OUT [DATA [VOICES]]
#
# DATA is ../shared/data by default; VOICES, when given, is the folder of
# synthetic training voices scripts/make-training-voices.sh writes (their
# digits join digits-train.csv as the source "espeak"); the Debian packages named in
# scripts/install-deps.sh's "data" set are read where they install.
# Writes into OUT:
#   digits-{train,test}.csv   spoken English digits (label: the digit)
#   catdog-{train,test}.csv   cat meows and dog barks (label: cat, dog)
#   others-{train,test}.csv   everything neither model should detect (label:
#                             its kind: speech, music, street, household,
#                             animal, human, nature)
#   catdog-background-train.csv  all cat/dog must not detect: the others,
#                             the spoken digits (as speech), Azerbaijani digits
#                             (kept for teaching the digits model new words,
#                             never as its background) and other languages'
#                             digits
#   digits-background-train.csv  all the digits model must not detect: the
#                             others, and the cats and dogs (as animal)
# A group (a speaker, an animal, a recording, a language) is wholly in one
# half. Held out ("test"): FSDD's jackson, Kaggle's files numbered ..8 and
# ..9, half of ESC-50's cats and dogs, the Asterisk voices but the French
# one (Allison, in English and Spanish; Italian; Russian), Tux Paint's British voice of the digits and its descriptions in
# Russian, Greek, Danish and Dutch, hyperrogue's music; in every other
# source, the groups whose hash (below) falls under 35 of 100. Half of the
# Azerbaijani speakers are left out of everything, for judging teaching.
set -euo pipefail
OUT="$1"
DATA="$(realpath "${2:-$(dirname "$0")/../../shared/data}")"
VOICES="${3:-}"
mkdir -p "$OUT"
TUX=/usr/share/tuxpaint/stamps
AST=/usr/share/asterisk/sounds
for d in "$DATA/fsdd" "$DATA/catdog" "$TUX" "$AST/en_US_f_Allison"; do
  [ -d "$d" ] || { echo "make-manifests.sh: $d is missing (scripts/install-deps.sh data)" >&2; exit 1; }
done

# rows: role<TAB>path<TAB>label<TAB>group<TAB>source; role is digits,
# catdog, other, or catdog-speech. A group with "@test"/"@train" appended is
# forced into that half.
rows() {
  local f b
  for f in "$DATA"/fsdd/*.wav; do
    b=${f##*/}; s=${b#*_}; s=${s%_*}
    printf 'digits\t%s\t%s\t%s\t%s\n' "$f" "${b%%_*}" "$s$([ "$s" = jackson ] && echo @test || echo @train)" fsdd
  done
  if [ -n "$VOICES" ]; then
    for f in "$(realpath "$VOICES")"/*_syn*.wav; do
      b=${f##*/}; s=${b#*_}; printf 'digits\t%s\t%s\t%s\t%s\n' "$f" "${b%%_*}" "${s%_*}@train" espeak
    done
  fi
  for f in "$DATA"/speechcommands-digits/*.flac; do
    b=${f##*/}; s=${b#*_}; printf 'digits\t%s\t%s\t%s\t%s\n' "$f" "${b%%_*}" "${s%_*}" speechcommands
  done
  for d in 0 1 2 3 4 5 6 7 8 9; do
    printf 'digits\t%s\t%s\t%s\t%s\n' "$AST/en_US_f_Allison/digits/$d.wav" $d allison@test asterisk
    printf 'digits\t%s\t%s\t%s\t%s\n' "$TUX/symbols/math/$d.ogg" $d en_US@train tuxpaint
    printf 'digits\t%s\t%s\t%s\t%s\n' "$TUX/symbols/math/${d}_en_GB.ogg" $d en_GB@test tuxpaint
  done
  for f in "$TUX"/symbols/math/[0-9]_*.ogg; do
    case "$f" in *_en_GB.ogg|*_desc_*) continue ;; esac
    b=${f##*/}; l=${b#*_}; printf 'catdog-speech\t%s\tspeech\t%s\t%s\n' "$f" "${l%.ogg}" tuxpaint-digits
  done
  for f in "$DATA"/catdog/*.wav; do
    b=${f##*/}; n=${b%.wav}; n=${n: -1}
    printf 'catdog\t%s\t%s\t%s\t%s\n' "$f" "$(case $b in cat*) echo cat ;; *) echo dog ;; esac)" \
      "fold$n$(case $n in 8|9) echo @test ;; *) echo @train ;; esac)" kaggle
  done
  for f in "$DATA"/catmeows/*.flac; do
    b=${f##*/}; g=${b#*_}; printf 'catdog\t%s\tcat\t%s\t%s\n' "$f" "${g%%_*}" catmeows
  done
  printf 'catdog\t%s\tdog\t%s\t%s\n' "$TUX/animals/mammals/dogs/dog.ogg" dog@test tuxpaint
  printf 'catdog\t%s\tcat\t%s\t%s\n' "$TUX/seasonal/halloween/blackcat.ogg" blackcat@test tuxpaint
  # ESC-50 has few cats and dogs: every other recording (freesound id) held out
  cat_n=0; dog_n=0; cat_g=; dog_g=
  tail -n +2 "$DATA/esc50/LABELS.tsv" | sort -t- -k2,2n | while IFS=$'\t' read -r f c; do
    g=${f#*-}; g=${g%%-*}
    case $c in
      dog|cat) eval "[ \"\$${c}_g\" = $g ] || ${c}_n=\$((${c}_n + 1)); ${c}_g=$g; k=\$((${c}_n % 2))"
               printf 'catdog\t%s\t%s\t%s\t%s\n' "$DATA/esc50/$f" "$c" "$g$([ "$k" = 1 ] && echo @test || echo @train)" esc50 ;;
      *) printf 'other\t%s\t%s\t%s\t%s\n' "$DATA/esc50/$f" "$(esc50_kind "$c")" "$g" esc50 ;;
    esac
  done
  tail -n +2 "$DATA/urbansound8k/LABELS.tsv" | while IFS=$'\t' read -r f c; do
    g=${f#*/}; g=${g%%-*}
    case $c in
      dog_bark) printf 'catdog\t%s\tdog\t%s\t%s\n' "$DATA/urbansound8k/$f" "$g" urbansound8k ;;
      street_music) printf 'other\t%s\tmusic\t%s\t%s\n' "$DATA/urbansound8k/$f" "$g" urbansound8k ;;
      children_playing) printf 'other\t%s\thuman\t%s\t%s\n' "$DATA/urbansound8k/$f" "$g" urbansound8k ;;
      *) printf 'other\t%s\tstreet\t%s\t%s\n' "$DATA/urbansound8k/$f" "$g" urbansound8k ;;
    esac
  done
  # Tux Paint: spoken descriptions in 13 languages (a group per language),
  # the English letters (but O, which is also said for zero), sound effects
  find "$TUX" -name '*_desc*.ogg' | sort | while read -r f; do
    l=${f##*_desc}; l=${l#_}; l=${l%.ogg}; l=${l:-en}
    case $l in ru|el|da|nl) l=$l@test ;; *) l=$l@train ;; esac
    printf 'other\t%s\tspeech\t%s\t%s\n' "$f" "$l" tuxpaint-speech
  done
  find "$TUX/symbols/alphabets/english" -name '*.ogg' | grep -v '/[Oo]_' | sort | while read -r f; do
    printf 'other\t%s\tspeech\t%s\t%s\n' "$f" en_GB@train tuxpaint-letters
  done
  find "$TUX" -name '*.ogg' ! -name '*_desc*' ! -path '*/symbols/*' | sort | while read -r f; do
    case "$f" in */dogs/dog.ogg|*/blackcat.ogg) continue ;; esac
    b=${f##*/}; printf 'other\t%s\t%s\t%s\t%s\n' "$f" "$(tux_kind "$f")" "${b%.ogg}" tuxpaint-sounds
  done
  find "$AST" -name '*.wav' -path '*/en_US_f_Allison/*' ! -path '*/digits/*' ! -path '*/silence/*' |
    sort | while read -r f; do printf 'other\t%s\tspeech\t%s\t%s\n' "$f" allison@test asterisk; done
  # the other languages' voices: Canadian French for training; Allison's
  # Spanish (the English voice), Italian and Russian held out
  for d in "$AST"/fr_CA_* "$AST"/es_MX_* "$AST"/it_IT_* "$AST"/ru_RU_*; do
    [ -d "$d" ] || continue
    v=${d##*/}
    find "$d" -name '*.wav' ! -path '*/silence/*' ! -path '*/digits/*' | sort | while read -r f; do
      printf 'other\t%s\tspeech\t%s\t%s\n' "$f" "$v$(case $v in fr_CA_*) echo @train ;; *) echo @test ;; esac)" asterisk
    done
  done
  for f in /usr/share/sounds/freedesktop/stereo/*.oga; do
    b=${f##*/}; printf 'other\t%s\thousehold\t%s\t%s\n' "$f" "${b%.oga}" freedesktop
  done
  for f in /usr/share/scummvm/drascula/audio/*.ogg; do
    [ -f "$f" ] && printf 'other\t%s\tmusic\t%s\t%s\n' "$f" drascula@train drascula-music
  done
  for f in /usr/share/hyperrogue/music/*.ogg; do
    [ -f "$f" ] && printf 'other\t%s\tmusic\t%s\t%s\n' "$f" hyperrogue@test hyperrogue-music
  done
  for f in "$DATA"/azdigits/*.flac; do
    b=${f##*/}; s=${b#*_}; printf 'catdog-speech\t%s\tspeech\t%s\t%s\n' "$f" "${s%%_*}" azdigits
  done
}

esc50_kind() {
  case $1 in
    rooster|pig|cow|frog|hen|insects|sheep|crow|chirping_birds|crickets) echo animal ;;
    crying_baby|sneezing|clapping|breathing|coughing|laughing|brushing_teeth|snoring|drinking_sipping|footsteps) echo human ;;
    rain|sea_waves|crackling_fire|wind|thunderstorm|water_drops) echo nature ;;
    car_horn|siren|engine|train|airplane|helicopter|chainsaw|fireworks|hand_saw|church_bells) echo street ;;
    *) echo household ;;
  esac
}

tux_kind() {
  case $1 in
    */animals/*|*/halloween/bat*|*/halloween/spider*) echo animal ;;
    */music/*|*/hanukkah/*|*/military/*) echo music ;;
    */faces/*|*/halloween/ghost*|*/christmas/santa*) echo human ;;
    */vehicles/*|*/town/*|*/space/*|*/newyears/*|*/naturalforces/*) echo street ;;
    *) echo household ;;
  esac
}

# The split: a forced half, or a hash of source:group (djb2 mod 100 < 35:
# held out); azdigits speakers under 50 are left out altogether.
rows | LC_ALL=C awk -F'\t' -v out="$OUT" '
  BEGIN {
    for (i = 0; i < 256; i++) ord[sprintf("%c", i)] = i
    split("digits catdog others catdog-speech", names, " ")
    for (i in names) for (h = 0; h < 2; h++) {
      f = out "/" names[i] "-" (h ? "test" : "train") ".csv"
      printf "path,label,group,source\n" > f
    }
  }
  function hash(s,   h, i) { h = 5381; for (i = 1; i <= length(s); i++) h = (h * 33 + ord[substr(s, i, 1)]) % 4294967296; return h % 100 }
  {
    role = $1 == "other" ? "others" : $1; group = $4; half = ""
    if (group ~ /@test$/) { half = "test"; sub(/@test$/, "", group) }
    else if (group ~ /@train$/) { half = "train"; sub(/@train$/, "", group) }
    else if (hash($5 ":" group) < 35) half = "test"
    else half = "train"
    if ($5 == "azdigits") { if (hash("az:" group) < 50) next; half = "train" }
    if (role == "catdog-speech" && half == "test") next
    path = $2; gsub(/"/, "\"\"", path)
    printf "\"%s\",%s,%s,%s\n", path, $3, group, $5 >> (out "/" role "-" half ".csv")
    n[role "-" half]++
  }
  END { for (k in n) printf "%s: %d clips\n", k, n[k] | "sort" }'
rm -f "$OUT/catdog-speech-test.csv"
# the backgrounds: other sounds, and the other model's targets by their kind
relabel() { tail -n +2 "$1" | awk -F, -v OFS=, -v k="$2" '{ $(NF - 2) = k; print }'; }
{ cat "$OUT/others-train.csv"; tail -n +2 "$OUT/catdog-speech-train.csv"
  relabel "$OUT/digits-train.csv" speech; } >"$OUT/catdog-background-train.csv"
{ cat "$OUT/others-train.csv"; relabel "$OUT/catdog-train.csv" animal; } >"$OUT/digits-background-train.csv"
rm -f "$OUT/catdog-speech-train.csv"
