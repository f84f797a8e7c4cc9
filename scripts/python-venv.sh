#!/usr/bin/env bash
# Creates (once) a Python virtualenv at VENV with the pinned PACKAGES and
# prints its python path; installs only what is missing or at another
# version. Without python3 it says which tests WHAT are skipped and exits 0.
#   scripts/python-venv.sh VENV WHAT PACKAGE==VERSION...
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$1"
WHAT="$2"
shift 2
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 not found; the $WHAT tests will be skipped" >&2
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
missing=()
for spec in "$@"; do
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
