#!/bin/bash
# Training recipes: a misspelt or mistyped setting, or a value out of range,
# stops `earshot train` with file:line and the setting named (before any
# data is read). Usage: cli_recipe.sh EARSHOT SOURCE_DIR
set -u
ES="$1"; SRC="$2"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fails=0; passes=0
# bad NAME NEEDLE SED: the tiny recipe edited by SED must fail naming NEEDLE
bad() {
  sed "$3" "$SRC/tests/recipes/tiny-digits.cfg" >"$T/r.cfg"
  "$ES" train --config "$T/r.cfg" --out "$T/m.safetensors" --quiet >/dev/null 2>"$T/err"; st=$?
  if [ "$st" -ne 1 ] || [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -qF -- "$2" "$T/err" ||
     ! grep -q "r.cfg:[0-9]" "$T/err" || [ -e "$T/m.safetensors" ]; then
    echo "FAIL: $1: exit $st, $(cat "$T/err")"; fails=$((fails + 1))
  else passes=$((passes + 1)); fi
}
bad "misspelt train key" "unknown setting 'epoch' in 'train'" 's/epochs = 10;/epoch = 10;/'
bad "mistyped number" "'train.lr' must be a number" 's/lr = 0.003;/lr = "0.003";/'
bad "unknown top-level group" "unknown setting 'trian'" 's/^train = /trian = /'
bad "unknown layer key" "unknown setting 'kernal'" 's/out = 8; kernel = 3;/out = 8; kernal = 3;/'
bad "negative epochs" "epochs, batch and lr must be positive" 's/epochs = 10;/epochs = -1;/'
bad "speed out of range" "augment: speed needs 0.5 <= min <= max <= 2" 's/augment = {/augment = { speed = { p = 0.5; min = 0.0; max = 1.0; };/'
bad "unknown augment key" "unknown setting 'pitch' in 'augment'" 's/augment = {/augment = { pitch = 2;/'
bad "bad feature key" "unknown key 'colour'" 's/n_mels = 32;/n_mels = 32; colour = 1;/'
bad "averaging more epochs than run" "average_epochs from 0 to epochs" 's/epochs = 10;/epochs = 10; average_epochs = 11;/'
bad "syntax error" "syntax error" 's/^model = {/model = {{/'
echo "cli_recipe: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
