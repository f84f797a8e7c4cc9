#!/usr/bin/env bash
# The Python virtualenv the admin API's OpenAPI tests use, under
# target/openapi-tools, with `openapi-spec-validator` (which brings
# `jsonschema`): the document is checked as OpenAPI 3.1 and the daemon's
# answers against its schemas. Prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./scripts/python-venv.sh "${PSA_OPENAPI_VENV:-target/openapi-tools}" "OpenAPI validation" \
  "openapi-spec-validator==0.9.0"
