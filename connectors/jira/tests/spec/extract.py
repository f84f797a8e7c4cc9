#!/usr/bin/env python3
"""Cuts the operations the Jira connector and simulator use, and every
schema they reference, out of Atlassian's Jira Cloud platform OpenAPI spec
(shared/specs/jira-cloud-platform.openapi.json, 2.4 MB) into
jira-openapi-subset.json beside this script, which tests/spec_validation.rs
reads. Run it again when the spec or the list below changes:

    python3 connectors/jira/tests/spec/extract.py ../shared/specs/jira-cloud-platform.openapi.json
"""
import json
import os
import sys

OPERATIONS = [
    ("/rest/api/3/serverInfo", "get"),
    ("/rest/api/3/myself", "get"),
    ("/rest/api/3/field", "get"),
    ("/rest/api/3/priority", "get"),
    ("/rest/api/3/status", "get"),
    ("/rest/api/3/resolution", "get"),
    ("/rest/api/3/project", "get"),
    ("/rest/api/3/project/{projectIdOrKey}", "get"),
    ("/rest/api/3/workflow/search", "get"),
    ("/rest/api/3/search/jql", "get"),
    ("/rest/api/3/search/jql", "post"),
    ("/rest/api/3/issue", "post"),
    ("/rest/api/3/issue/{issueIdOrKey}", "get"),
    ("/rest/api/3/issue/{issueIdOrKey}", "put"),
    ("/rest/api/3/issue/{issueIdOrKey}/editmeta", "get"),
    ("/rest/api/3/issue/{issueIdOrKey}/transitions", "get"),
    ("/rest/api/3/issue/{issueIdOrKey}/transitions", "post"),
    ("/rest/api/3/issue/{issueIdOrKey}/comment", "get"),
    ("/rest/api/3/issue/{issueIdOrKey}/comment", "post"),
    ("/rest/api/3/issue/{issueIdOrKey}/properties", "get"),
    ("/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", "get"),
    ("/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", "put"),
]


def refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            out.add(ref.rsplit("/", 1)[1])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main():
    spec = json.load(open(sys.argv[1]))
    paths = {}
    wanted = set()
    for path, method in OPERATIONS:
        op = spec["paths"][path][method]
        keep = {k: op[k] for k in ("operationId", "requestBody", "responses") if k in op}
        paths.setdefault(path, {})[method] = keep
        refs(keep, wanted)
    schemas = spec["components"]["schemas"]
    done = set()
    while wanted - done:
        name = (wanted - done).pop()
        done.add(name)
        refs(schemas[name], wanted)
    subset = {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"] + " (subset used by psa-jira)", "version": spec["info"]["version"]},
        "paths": paths,
        "components": {"schemas": {n: schemas[n] for n in sorted(done)}},
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jira-openapi-subset.json")
    with open(out, "w") as f:
        json.dump(subset, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(paths)} paths, {len(done)} schemas -> {out}")


if __name__ == "__main__":
    main()
