#!/usr/bin/env bash
# The Python virtualenv the client-library tests use, under
# target/python-clients, with ServiceNow's official client `pysnc` and the
# widely used Jira client `jira` (pycontribs); prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./scripts/python-venv.sh "${PSA_PYTHON_VENV:-target/python-clients}" client-library \
  "pysnc==1.2.1" "jira==3.10.5"
