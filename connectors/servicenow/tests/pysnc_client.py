"""Drives the ServiceNow simulator with ServiceNow's official Python client, pysnc.

Usage: pysnc_client.py <http://127.0.0.1:port> <user> <password>

pysnc accepts only https:// instance URLs (pysnc.utils.get_instance raises
for http://). Its supported way to bring your own transport is passing a
requests.Session as `auth`; this script gives it a session whose adapter
sends the https://sim.invalid requests to the simulator's plain-HTTP
loopback address. pysnc itself is used unchanged.

Prints one JSON object with what it saw; the Rust test asserts on it.
"""

import json
import sys

import requests
from requests.adapters import HTTPAdapter
from pysnc import ServiceNowClient

INSTANCE = "https://sim.invalid"


class LoopbackAdapter(HTTPAdapter):
    """Sends requests for INSTANCE to the simulator over http://."""

    def __init__(self, target):
        super().__init__()
        self.target = target.rstrip("/")

    def send(self, request, **kwargs):
        request.url = self.target + request.url[len(INSTANCE):]
        return super().send(request, **kwargs)


def main():
    target, user, password = sys.argv[1:4]
    session = requests.Session()
    session.auth = (user, password)
    session.mount(INSTANCE, LoopbackAdapter(target))
    client = ServiceNowClient(INSTANCE, session, auto_retry=False)

    # Create.
    created = []
    for n in range(3):
        gr = client.GlideRecord("incident")
        gr.initialize()
        gr.short_description = f"pysnc incident {n}"
        gr.description = "Created through pysnc"
        gr.impact = 1
        gr.urgency = 2
        created.append(str(gr.insert()))

    # Read one.
    one = client.GlideRecord("incident")
    found = one.get(created[0])
    read = {
        "found": found,
        "short_description": one.get_value("short_description"),
        "priority": one.get_value("priority"),
        "priority_label": one.get_display_value("priority"),
        "state_label": one.get_display_value("state"),
        "number": one.get_value("number"),
    }

    # Query (encoded query, paged two at a time).
    query = client.GlideRecord("incident", batch_size=2)
    query.add_encoded_query("short_descriptionSTARTSWITHpysnc incident^ORDERBYDESCnumber")
    query.query()
    listed = [rec.get_value("short_description") for rec in query]
    total = query.get_row_count()

    # Update.
    one.short_description = "pysnc incident 0 (updated)"
    one.state = 2
    one.comments = "Comment from pysnc"
    updated_id = one.update()
    again = client.GlideRecord("incident")
    again.get(created[0])

    print(json.dumps({
        "created": created,
        "read": read,
        "listed": listed,
        "total": total,
        "updated": str(updated_id),
        "after_update": {
            "short_description": again.get_value("short_description"),
            "state_label": again.get_display_value("state"),
            "sys_mod_count": again.get_value("sys_mod_count"),
        },
    }))


if __name__ == "__main__":
    main()
