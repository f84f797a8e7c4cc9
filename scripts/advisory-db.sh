#!/usr/bin/env bash
# The RustSec advisory database for `cargo deny check advisories`, offline.
#
# CI and developer machines reach package registries only, not the git host
# the database lives on, and no registry ships it. So the check reads a
# snapshot: the database's `crates/` tree, its LICENSE.txt (CC0) and a
# SNAPSHOT file (commit and commit date). The repository carries one,
# supply-chain/advisory-db.tar.gz (about 450 KB); a newer folder snapshot
# takes precedence when found at $PSA_ADVISORY_DB or ../shared/advisory-db.
#
#   scripts/advisory-db.sh refresh <clone> [dest]
#       Writes a new snapshot from a clone (or bare mirror) of
#       rustsec/advisory-db: into the repository's tarball by default
#       (commit it), or into the folder dest.
#   scripts/advisory-db.sh stage
#       Lays the snapshot out as cargo-deny's database cache under
#       target/advisory-dbs (cargo-deny wants `.git/FETCH_HEAD`, whose mtime
#       it takes as the fetch time: it gets the snapshot's commit date, so
#       deny.toml's maximum-db-staleness measures the snapshot's real age).
#       Prints the snapshot's date and age. Exit 3: no snapshot found.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# The folder name cargo-deny derives from its default database URL
# (`<last path segment>-<xxhash64 of the URL>`, advisories/helpers/db.rs).
DB_DIR_NAME="advisory-db-3157b0e258782691"
STAGE_ROOT="$root/target/advisory-dbs"
TARBALL="$root/supply-chain/advisory-db.tar.gz"

find_snapshot() {
    for candidate in "${PSA_ADVISORY_DB:-}" "$root/../shared/advisory-db"; do
        if [[ -n "$candidate" && -f "$candidate/SNAPSHOT" && -d "$candidate/crates" ]]; then
            (cd "$candidate" && pwd)
            return 0
        fi
    done
    if [[ -f "$TARBALL" ]]; then
        local unpacked="$root/target/advisory-db-snapshot"
        rm -rf "$unpacked"
        mkdir -p "$unpacked"
        tar -xzf "$TARBALL" -C "$unpacked"
        if [[ -f "$unpacked/SNAPSHOT" && -d "$unpacked/crates" ]]; then
            echo "$unpacked"
            return 0
        fi
        echo "advisory-db: $TARBALL holds no SNAPSHOT and crates/" >&2
    fi
    return 1
}

field() { sed -n "s/^$1=//p" "$2/SNAPSHOT"; }

case "${1:-}" in
refresh)
    clone="${2:?usage: $0 refresh <clone-of-advisory-db> [dest]}"
    dest="${3:-}"
    commit="$(git -C "$clone" rev-parse HEAD)"
    date="$(git -C "$clone" show -s --format=%cI HEAD)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    # Every crate's advisories, not only today's dependencies: a crate added
    # later is covered without a refresh. Only the files the loader reads.
    git -C "$clone" archive HEAD crates LICENSE.txt | tar -x -C "$tmp"
    printf 'commit=%s\ndate=%s\nrefreshed=%s\n' "$commit" "$date" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/SNAPSHOT"
    count="$(find "$tmp/crates" -name '*.md' | wc -l)"
    if [[ -z "$dest" ]]; then
        mkdir -p "$(dirname "$TARBALL")"
        # Sorted names, fixed owner and mtime: a small, stable archive.
        tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$date" \
            -C "$tmp" -cf - . | gzip -9n >"$TARBALL"
        dest="$TARBALL"
    else
        rm -rf "$dest"
        mkdir -p "$dest"
        cp -R "$tmp/." "$dest/"
    fi
    echo "advisory-db snapshot $commit ($date): $count advisories in $dest"
    ;;
stage)
    if ! snapshot="$(find_snapshot)"; then
        echo "advisory-db: no snapshot at \$PSA_ADVISORY_DB, ../shared/advisory-db or $TARBALL" >&2
        exit 3
    fi
    date="$(field date "$snapshot")"
    db="$STAGE_ROOT/$DB_DIR_NAME"
    rm -rf "$db"
    mkdir -p "$db/.git"
    cp -R "$snapshot/crates" "$db/crates"
    # The shared folder is read-only in CI: keep the copy removable.
    chmod -R u+w "$db"
    touch "$db/.git/FETCH_HEAD"
    touch -d "$date" "$db/.git/FETCH_HEAD"
    age_days=$((($(date +%s) - $(date -d "$date" +%s)) / 86400))
    echo "advisory-db: snapshot $(field commit "$snapshot" | cut -c1-12) of $date ($age_days days old), $(find "$db/crates" -name '*.md' | wc -l) advisories, from $snapshot"
    ;;
*)
    echo "usage: $0 refresh <clone-of-advisory-db> [dest] | stage" >&2
    exit 2
    ;;
esac
