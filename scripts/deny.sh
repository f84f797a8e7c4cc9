#!/usr/bin/env bash
# Supply-chain check: `cargo deny check` (advisories, bans, licenses, sources)
# over the workspace and fuzz/, against deny.toml. The advisory database is a
# local snapshot (scripts/advisory-db.sh); without one, advisories are
# skipped with a warning and the other checks still run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh

# --offline keeps cargo-deny from fetching the database (and cargo metadata
# from the network), so every package the graphs name must be downloaded.
cargo fetch --locked >/dev/null
fuzz=(--manifest-path fuzz/Cargo.toml --config deny.toml)
fuzz_ok=true
if ! cargo fetch --locked --manifest-path fuzz/Cargo.toml >/dev/null 2>&1; then
    fuzz_ok=false
    echo "WARNING: fuzz/Cargo.lock is out of date with the workspace; fuzz/ not checked" \
        "(refresh it: cd fuzz && cargo update --workspace)" >&2
fi

checks=(advisories bans licenses sources)
if ./scripts/advisory-db.sh stage; then
    # Self-check: without deny.toml's ignores the advisories check must fail
    # and name each ignored advisory, which proves the snapshot is loaded and
    # matched against our lock file (not an empty or unread database).
    stripped="$(mktemp)"
    trap 'rm -f "$stripped"' EXIT
    sed '/^ignore = \[/,/^\]/d' deny.toml >"$stripped"
    ids="$(sed -n 's/.*id = "\(RUSTSEC-[0-9-]*\)".*/\1/p' deny.toml)"
    if out="$(cargo deny --offline --locked --config "$stripped" check advisories 2>&1)"; then
        echo "advisory self-check FAILED: with its ignores removed the check passed" >&2
        exit 1
    fi
    for id in $ids; do
        grep -q "$id" <<<"$out" || {
            echo "advisory self-check FAILED: $id not reported without its ignore" >&2
            exit 1
        }
    done
    echo "advisory self-check: without ignores the check fails on $(echo $ids)"
else
    rc=$?
    [[ $rc -eq 3 ]] || exit "$rc"
    checks=(bans licenses sources)
    echo "WARNING: advisories NOT checked: no advisory-db snapshot (README, Supply chain)" >&2
fi

cargo deny --offline --locked check --hide-inclusion-graph "${checks[@]}"
if $fuzz_ok; then
    cargo deny --offline --locked "${fuzz[@]}" check --hide-inclusion-graph "${checks[@]}"
fi
