#!/usr/bin/env bash
# What the dashboard's headless-browser test needs (tests/e2e/dashboard.rs):
# Debian's Chromium (/usr/bin/chromium, installed with apt when missing) and
# playwright-core (`npm ci` in tests/browser when its node_modules is not
# there or older than the lock file). Skips whatever is already present.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    echo "browser-deps: installing Debian's chromium" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "browser-deps: node and npm are needed (Node 18 or later)" >&2
    exit 1
fi
lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    echo "browser-deps: npm ci in tests/browser" >&2
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
