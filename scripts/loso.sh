#!/bin/bash
# Leave-one-group-out (or k-fold by groups) validation of a recipe: trains
# once per fold with that fold's groups held out, evaluates the LAST epoch's
# model on them (the best epoch is chosen on the held-out groups themselves,
# so its accuracy flatters), and reports each fold's accuracy, their mean,
# and the accuracy and balanced accuracy of the pooled confusion matrix.
#
#   scripts/make-training-voices.sh build/voices    # the digits recipe trains on them too
#   scripts/loso.sh conf/recipes/digits.cfg george jackson lucas nicolas yweweler
#   scripts/loso.sh conf/recipes/catdog.cfg 0,1 2,3 4,5 6,7 8,9
#
# Extra flags for `earshot train` go in TRAIN_FLAGS (e.g. TRAIN_FLAGS="--epochs 20");
# KEEP=DIR keeps each fold's models and evaluations there.
set -euo pipefail
ES="${ES:-build/bin/earshot}"
RECIPE="$1"; shift
if [ -n "${KEEP:-}" ]; then T="$KEEP"; mkdir -p "$T"; else T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT; fi
for g in "$@"; do
  # shellcheck disable=SC2086
  "$ES" train --config "$RECIPE" --val-groups "$g" --out "$T/$g.best.safetensors" \
    --last "$T/$g.safetensors" --quiet ${TRAIN_FLAGS:-} >/dev/null
  "$ES" eval --model "$T/$g.safetensors" --recipe "$RECIPE" --groups "$g" --json >"$T/$g.json"
  sed -n 's/^{"accuracy":\([0-9.e-]*\),"balanced_accuracy":\([0-9.e-]*\),.*/\1 \2/p' "$T/$g.json" |
    awk -v g="$g" '{ printf "%-12s accuracy %.4f  balanced %.4f\n", g, $1, $2 }'
done
# pooled over the folds
/usr/bin/python3 - "$T" "$@" <<'PY'
import json, sys
d, folds = sys.argv[1], sys.argv[2:]
conf, accs = None, []
for g in folds:
    j = json.load(open(f"{d}/{g}.json"))
    accs.append(j["accuracy"])
    c = j["confusion"]
    conf = c if conf is None else [[a + b for a, b in zip(r, s)] for r, s in zip(conf, c)]
n = sum(map(sum, conf))
acc = sum(conf[k][k] for k in range(len(conf))) / n
rec = [conf[k][k] / sum(conf[k]) for k in range(len(conf)) if sum(conf[k]) > 0]
print(f"mean         {sum(accs) / len(accs):.4f} over {len(accs)} folds")
print(f"pooled       accuracy {acc:.4f}  balanced {sum(rec) / len(rec):.4f}  ({n} clips)")
PY
