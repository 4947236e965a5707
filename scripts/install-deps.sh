#!/bin/sh
# Installs the Debian packages earshot needs, and only those that are missing.
# Usage: scripts/install-deps.sh [build|test|bench]
#   build (default): compiler, CMake and the libraries libearshot links.
#   test:            also the tools the suite drives and the audio of
#                    DATA_PKGS (the open-world scene): sox makes test signals
#                    (noise, silence, 48 kHz copies, test scenes), espeak-ng
#                    speaks digits in voices no model heard, systemd brings
#                    systemd-analyze and systemd-socket-activate, PulseAudio
#                    (a null sink) and ALSA's pulse plugin stand in for a
#                    microphone that PortAudio captures in real time.
#   bench:           also PyTorch/torchaudio, the peer the benchmarks and the
#                    fixture generator compare against.
set -eu

BUILD_PKGS="gcc make cmake pkg-config
  libfftw3-dev libsndfile1-dev libsoxr-dev libjansson-dev
  libopenblas-dev libconfig-dev libsystemd-dev portaudio19-dev libcairo2-dev libssl-dev"
TEST_PKGS="sox espeak-ng systemd pulseaudio pulseaudio-utils libasound2-plugins socat"
# audio the models train and are judged on besides ../shared/data
# (scripts/make-manifests.sh): speech in 13 languages, animal and household
# sounds, desktop sounds, telephone prompts in five languages, music
DATA_PKGS="tuxpaint-stamps-default sound-theme-freedesktop asterisk-core-sounds-en-wav
  asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav
  asterisk-core-sounds-ru-wav drascula-music hyperrogue-music"
BENCH_PKGS="python3 python3-numpy python3-torch python3-torchaudio"

case "${1:-build}" in
  build) want="$BUILD_PKGS" ;;
  test) want="$BUILD_PKGS $TEST_PKGS $DATA_PKGS" ;;
  bench) want="$BUILD_PKGS $TEST_PKGS $DATA_PKGS $BENCH_PKGS" ;;
  *) echo "install-deps.sh: unknown set '$1' (expected build, test or bench)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "install-deps.sh: installing:$missing" >&2
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
