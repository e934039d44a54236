#!/usr/bin/env bash
# The project's test command (the README's second command): every Rust test, then the plugin bundles in real hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
cargo test --workspace --all-features --all-targets
cargo test --workspace --all-features --doc

# The debug bundles (nice-plug's `assert_process_allocs` on: an allocation in `process` aborts the host).
cargo run -q -p xtask -- bundle quell --all-features
# CLAP: the test host of plugin/tests/clap_host.rs, now on the bundle itself.
QUELL_CLAP="$PWD/target/bundled/Quell.clap" cargo test -q -p quell-plugin --all-features --test clap_host
# VST3: Spotify's pedalboard (JUCE's VST3 host), from PyPI into a local venv.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -c "import pedalboard, numpy" 2>/dev/null || .venv/bin/pip install -q pedalboard numpy
.venv/bin/python scripts/vst3_host_test.py target/bundled/Quell.vst3
