"""Checks the admin API's OpenAPI document and the daemon's answers.

Usage: api_openapi.py DOCUMENT SAMPLES

DOCUMENT is the document the daemon served; it must validate as OpenAPI 3.1
(openapi-spec-validator). SAMPLES is a JSON list of
{"method", "route", "status", "body"}: each body must validate against the
schema the document gives for that route, method and status. Prints one
line per problem and exits 1 when there is any.
"""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

document = json.load(open(sys.argv[1]))
samples = json.load(open(sys.argv[2]))
validate(document)
problems = []
for sample in samples:
    where = f"{sample['method']} {sample['route']} -> {sample['status']}"
    operation = document["paths"].get(sample["route"], {}).get(sample["method"].lower())
    if operation is None:
        problems.append(f"{where}: not documented")
        continue
    response = operation["responses"].get(str(sample["status"]))
    if response is None:
        problems.append(f"{where}: status not documented")
        continue
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        problems.append(f"{where}: no JSON schema")
        continue
    wrapped = dict(schema)
    wrapped["components"] = document["components"]
    for error in Draft202012Validator(wrapped).iter_errors(sample["body"]):
        path = "/".join(str(p) for p in error.absolute_path)
        problems.append(f"{where}: at /{path}: {error.message}")
for problem in problems:
    print(problem)
print(f"{len(samples)} answers checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
