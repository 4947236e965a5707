#!/bin/sh
# Regenerates demo/digits.wav, the bundled clip `make run` analyses: three
# spoken digits synthesised by espeak-ng (no recording of anyone, so no
# licence question), resampled to 16 kHz mono 16-bit with sox.
# Needs Debian's espeak-ng and sox; the result is committed, so building
# earshot needs neither.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
espeak-ng -v en-us -s 140 -g 20 -w "$tmp/raw.wav" "seven. three. nine."
sox "$tmp/raw.wav" -r 16000 -c 1 -b 16 demo/digits.wav
soxi demo/digits.wav
