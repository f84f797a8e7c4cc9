#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, compliance and end-to-end tests.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Supply chain: advisories, licenses, bans, sources (installs cargo-deny once).
./scripts/deny.sh
# The Python client libraries the simulator tests drive (a venv under target/).
./scripts/python-clients.sh >/dev/null
# Chromium and playwright-core for the dashboard's browser test (tests/e2e/dashboard.rs).
./scripts/browser-deps.sh
# The end-to-end tests mostly wait on loopback HTTP and the simulators, so
# three run at once even on two cores (their timeouts allow for a slow machine).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-3}"
cargo test --workspace --locked
