#!/usr/bin/env bash
# Installs the Debian packages the workspace builds and tests against, when missing: the plugin editor's X11 and
# OpenGL headers, the standalone's JACK and ALSA headers, Python's venv for the VST3 host test, and ffmpeg (the
# CLI tests encode their MP3, AAC, Vorbis, ALAC and CAF fixtures with it). Runs apt-get
# as root, or through sudo.
set -euo pipefail
packages=(pkg-config libx11-dev libx11-xcb-dev libxcursor-dev libxcb1-dev libgl1-mesa-dev libasound2-dev
  libjack-jackd2-dev python3-venv ffmpeg)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
