#!/usr/bin/env bash
# Supply-chain check: `cargo deny check` (advisories, bans, licenses, sources)
# over the workspace and fuzz/, against deny.toml. The advisory database is a
# snapshot read offline (scripts/advisory-db.sh: the repository carries one).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh

# --offline keeps cargo-deny from fetching the database (and cargo metadata
# from the network), so every package the graphs name must be downloaded.
cargo fetch --locked >/dev/null
fuzz=(--manifest-path fuzz/Cargo.toml --config deny.toml)
if ! err="$(cargo fetch --locked --manifest-path fuzz/Cargo.toml 2>&1 >/dev/null)"; then
    echo "$err" >&2
    echo "supply-chain check FAILED: fuzz/Cargo.lock does not match the workspace's" \
        "dependencies (refresh it: cd fuzz && cargo update --workspace)" >&2
    exit 1
fi

checks=(advisories bans licenses sources)
if ! ./scripts/advisory-db.sh stage; then
    echo "supply-chain check FAILED: no advisory-db snapshot (README, Supply chain)" >&2
    exit 1
fi
# Self-check: a known-vulnerable lock file must be flagged, which proves
# the snapshot is read and matched (not an empty or unread database).
selfcheck=(--manifest-path scripts/deny-selfcheck/Cargo.toml --config deny.toml)
cargo fetch --locked --manifest-path scripts/deny-selfcheck/Cargo.toml >/dev/null 2>&1
if out="$(cargo deny --offline --locked "${selfcheck[@]}" check advisories 2>&1)" ||
    ! grep -q RUSTSEC-2021-0003 <<<"$out"; then
    echo "advisory self-check FAILED: smallvec 1.6.0 (RUSTSEC-2021-0003) not flagged" >&2
    echo "$out" >&2
    exit 1
fi
echo "advisory self-check: the known-vulnerable smallvec 1.6.0 is flagged"

cargo deny --offline --locked check --hide-inclusion-graph "${checks[@]}"
cargo deny --offline --locked "${fuzz[@]}" check --hide-inclusion-graph "${checks[@]}"
