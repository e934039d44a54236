#!/usr/bin/env bash
# Screenshot of the plugin's editor: the standalone build on a virtual X display (Xvfb) and a dummy JACK server,
# with the demo clip looping into its input so that the meters show real activity.
#
#   bash scripts/screenshot.sh [OUT.png]        (default docs/editor.png)
#
# Installs what it needs when missing (Debian: xvfb, x11-apps, imagemagick, jackd2; PyPI into .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/editor.png}"
display=":97"
seconds="${QUELL_SCREENSHOT_SECONDS:-8}"

packages=(xvfb x11-apps imagemagick jackd2 libjack-jackd2-dev libasound2-dev python3-venv)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -c "import jack, soundfile, numpy" 2>/dev/null ||
  .venv/bin/pip install -q JACK-Client soundfile numpy

cargo build -p quell-plugin --features standalone --bin quell-standalone
bin="target/debug/quell-standalone"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
export JACK_NO_AUDIO_RESERVATION=1 JACK_DEFAULT_SERVER="quell-shot-$$"
jackd -n "$JACK_DEFAULT_SERVER" -r -d dummy -r 48000 -p 480 >/dev/null 2>&1 &
pids+=($!)
sleep 2

DISPLAY="$display" "$bin" --backend jack --sample-rate 48000 --period-size 480 >/tmp/quell-standalone.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  jack_lsp 2>/dev/null | grep -qi '^quell:input' && break
  sleep 0.2
done
inputs=$(jack_lsp 2>/dev/null | grep -iE '^quell:input' | head -2 | tr '\n' ' ')
[ -n "$inputs" ] || { echo "the standalone did not register JACK inputs:"; cat /tmp/quell-standalone.log; exit 1; }
# shellcheck disable=SC2086
.venv/bin/python scripts/jack_feed.py assets/demo/noisy.wav $inputs &
pids+=($!)
sleep "$seconds"

convert_bin=convert
[ -x /usr/bin/convert ] && convert_bin=/usr/bin/convert
mkdir -p "$(dirname "$out")"
DISPLAY="$display" xwd -silent -name Quell | "$convert_bin" xwd:- "png:$out"
echo "wrote $out"
