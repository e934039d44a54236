#!/usr/bin/env bash
# The project's test command (the README's second command).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features --all-targets
cargo test --workspace --all-features --doc
