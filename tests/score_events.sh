#!/bin/bash
# Event-level scoring of detections against a truth list, for the end-to-end
# tests. A detection (model, label, onset, offset, score) matches a truth
# event (model, label, onset, offset) of the same model and label whose span
# it overlaps once shifted by OFFSET seconds (where the recording started in
# the daemon's stream); each truth event matches once. Prints the counts and
# F1; exits 1 when F1 < MIN_F1. VERBOSE=1 lists the misses and the false ones.
#
#   tests/score_events.sh TRUTH.tsv DETECTIONS.tsv OFFSET MIN_F1 NAME
awk -F'\t' -v off="$3" -v min="$4" -v name="$5" -v show="${VERBOSE:-0}" '
  NR == FNR { tm[NR] = $1; tl[NR] = $2; t0[NR] = $3 + off; t1[NR] = $4 + off; nt = NR; next }
  {
    hit = 0
    for (i = 1; i <= nt; i++)
      if (!used[i] && tm[i] == $1 && tl[i] == $2 && $3 < t1[i] && $4 > t0[i]) { used[i] = 1; hit = 1; break }
    if (hit) tp++; else { fp++; if (show) printf "false positive: %s %s %.2f-%.2f (%.2f)\n", $1, $2, $3, $4, $5 }
  }
  END {
    for (i = 1; i <= nt; i++) if (!used[i]) { fn++; if (show) printf "missed: %s %s %.2f-%.2f\n", tm[i], tl[i], t0[i], t1[i] }
    f1 = tp + fp + fn ? 2 * tp / (2 * tp + fp + fn) : 0
    printf "%s: %d true events, %d detections: %d right, %d false, %d missed; F1 %.3f\n", name, nt, tp + fp, tp, fp, fn, f1
    exit !(f1 >= min)
  }' "$1" "$2"
