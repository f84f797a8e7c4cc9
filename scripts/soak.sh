#!/usr/bin/env sh
# Soak: the real daemon against the simulators on loopback for MINUTES
# (default 5) at a steady load (20 signed webhooks per second plus one note a
# second crossing, alternately each way, over 6 escalated ticket pairs).
# Samples the daemon's resident memory, open files, threads and tokio alive
# tasks every 5 s and prints start, end, maximum and the second half's trend
# for each. See docs/reliability.md, "Soak".
#
#   scripts/soak.sh [MINUTES] [--release]
set -eu
minutes="${1:-5}"
profile=""
if [ "${2:-}" = "--release" ]; then
  profile="--release"
fi
case "$minutes" in
  ''|*[!0-9]*) echo "usage: scripts/soak.sh [MINUTES] [--release]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
SOAK_SECS=$((minutes * 60)) exec cargo test $profile --test e2e soak::soak -- \
  --ignored --exact --nocapture
