#!/usr/bin/env bash
# Installs the pinned tools the test suite needs when they are absent (or at
# another version). Only crates.io is needed: `cargo install --locked`.
set -euo pipefail

CARGO_DENY_VERSION="0.20.2"

if [[ "$(cargo deny --version 2>/dev/null || true)" != "cargo-deny $CARGO_DENY_VERSION" ]]; then
    echo "installing cargo-deny $CARGO_DENY_VERSION (a few minutes, once)" >&2
    cargo install --locked "cargo-deny@$CARGO_DENY_VERSION"
fi
