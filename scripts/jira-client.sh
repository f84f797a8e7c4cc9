#!/usr/bin/env bash
# Runs a Python script with the widely used Jira client library (pycontribs
# "jira" on PyPI) from a virtualenv under target/, created on first use.
#   scripts/jira-client.sh SCRIPT [ARGS...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${JIRA_CLIENT_VENV:-$root/target/python-clients/jira}"
version="${JIRA_CLIENT_VERSION:-3.10.5}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import jira" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "jira==$version"
fi
exec "$venv/bin/python" "$@"
