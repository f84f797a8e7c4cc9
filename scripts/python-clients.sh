#!/usr/bin/env bash
# Creates (once) the Python virtualenv the client-library tests use, under
# target/python-clients, with ServiceNow's official client `pysnc`.
# Skips what is already installed; prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PSA_PYTHON_VENV:-target/python-clients}"
PYSNC_VERSION="1.2.1"
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 not found; the client-library tests will be skipped" >&2
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import pysnc, sys; sys.exit(0 if pysnc.__version__ == '$PYSNC_VERSION' else 1)" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pysnc==$PYSNC_VERSION"
fi
echo "$VENV/bin/python"
