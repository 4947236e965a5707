#!/bin/bash
# Leave-one-group-out validation of a recipe: trains once per group with that
# group held out and reports each held-out accuracy and their mean.
#
#   scripts/loso.sh conf/recipes/digits.cfg george jackson lucas nicolas yweweler
#
# Extra flags for `earshot train` go in TRAIN_FLAGS (e.g. TRAIN_FLAGS="--epochs 20").
set -euo pipefail
ES="${ES:-build/bin/earshot}"
RECIPE="$1"; shift
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
sum=0; n=0
for g in "$@"; do
  # shellcheck disable=SC2086
  line=$("$ES" train --config "$RECIPE" --val-groups "$g" --out "$T/$g.safetensors" --quiet ${TRAIN_FLAGS:-})
  acc=$(echo "$line" | sed -n 's/^validation accuracy \([0-9.]*\).*/\1/p')
  printf '%-12s %s\n' "$g" "$acc"
  sum=$(awk -v s="$sum" -v a="$acc" 'BEGIN { print s + a }'); n=$((n + 1))
done
awk -v s="$sum" -v n="$n" 'BEGIN { printf "mean         %.4f over %d held-out groups\n", s / n, n }'
