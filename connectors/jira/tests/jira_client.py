"""Drives the Jira simulator with the pycontribs `jira` library, unchanged:
search, read, create, transition and comment, as a real integration would.
Run by tests/python_client.rs through scripts/jira-client.sh:

    jira_client.py BASE_URL EMAIL API_TOKEN
"""
import json
import sys

from jira import JIRA


def adf(text):
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


def main():
    base, email, token = sys.argv[1:4]
    client = JIRA(server=base, basic_auth=(email, token),
                  options={"rest_api_version": "3"}, get_server_info=True)
    assert client.deploymentType == "Cloud", client.deploymentType

    # Search: token paging through search/jql, two per page.
    found = client.search_issues("project = HELP ORDER BY key ASC", maxResults=False,
                                 fields="summary,status")
    keys = [i.key for i in found]
    assert keys == ["HELP-1", "HELP-2", "HELP-3"], keys
    assert found[0].fields.summary == "Seeded 1", found[0].raw
    # Page by page with the library's own token handling.
    page = client.enhanced_search_issues("project = HELP ORDER BY key ASC", maxResults=2, fields="summary")
    token = page.nextPageToken
    assert [i.key for i in page] == ["HELP-1", "HELP-2"] and token
    rest = client.enhanced_search_issues("project = HELP ORDER BY key ASC", nextPageToken=token,
                                         maxResults=2, fields="summary")
    assert [i.key for i in rest] == ["HELP-3"] and not rest.nextPageToken

    # Read.
    first = client.issue("HELP-1", fields="summary,status,priority,description")
    assert first.fields.summary == "Seeded 1", first.fields.summary
    assert first.fields.status.name == "Open"

    # Create.
    created = client.create_issue(fields={
        "project": {"key": "HELP"},
        "issuetype": {"name": "Service Request"},
        "summary": "Created by the jira library",
        "description": adf("Made in Python."),
        "priority": {"name": "High"},
    })
    assert created.key == "HELP-4", created.key

    # Transition: by name, then one that needs a resolution.
    names = [t["name"] for t in client.transitions(created)]
    assert "Start work" in names, names
    client.transition_issue(created, "Start work")
    client.transition_issue(created, "Resolve", fields={"resolution": {"name": "Fixed"}})
    resolved = client.issue(created.key)
    assert resolved.fields.status.name == "Resolved", resolved.fields.status.name
    assert resolved.fields.resolution.name == "Fixed"

    # Comment: public, then internal (JSM property), then read back.
    client.add_comment(created, adf("Public from Python"))
    client.add_comment(created, adf("Internal from Python"), is_internal=True)
    comments = client.comments(created)
    bodies = [c.raw["body"]["content"][0]["content"][0]["text"] for c in comments]
    assert bodies == ["Public from Python", "Internal from Python"], bodies
    print(json.dumps({"created": created.key, "searched": keys, "comments": len(comments)}))


if __name__ == "__main__":
    main()
