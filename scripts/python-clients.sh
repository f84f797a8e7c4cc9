#!/usr/bin/env bash
# Creates (once) the Python virtualenv the client-library tests use, under
# target/python-clients, with ServiceNow's official client `pysnc` and the
# widely used Jira client `jira` (pycontribs). Skips what is already
# installed; prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PSA_PYTHON_VENV:-target/python-clients}"
PACKAGES=("pysnc==1.2.1" "jira==3.10.5")
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 not found; the client-library tests will be skipped" >&2
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
missing=()
for spec in "${PACKAGES[@]}"; do
  name="${spec%%==*}"
  want="${spec##*==}"
  have="$("$VENV/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')" || have=""
  if [ "$have" != "$want" ]; then
    missing+=("$spec")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi
echo "$(pwd)/$VENV/bin/python"
