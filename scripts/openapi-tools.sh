#!/usr/bin/env bash
# Creates (once) the Python virtualenv the admin API's OpenAPI tests use,
# under target/openapi-tools, with `openapi-spec-validator` (which brings
# `jsonschema`): the document is checked as OpenAPI 3.1 and the daemon's
# answers against its schemas. Skips what is already installed; prints the
# venv's python path (nothing, and exit 0, when python3 is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PSA_OPENAPI_VENV:-target/openapi-tools}"
PACKAGES=("openapi-spec-validator==0.9.0")
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 not found; the OpenAPI validation tests will be skipped" >&2
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
