#!/usr/bin/env bash
# Runs a Python script with the Jira client library (pycontribs "jira" on
# PyPI) from the client-library virtualenv (scripts/python-clients.sh).
#   scripts/jira-client.sh SCRIPT [ARGS...]
set -euo pipefail
python="$("$(dirname "$0")/python-clients.sh")"
exec "$python" "$@"
