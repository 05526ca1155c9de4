"""Sets the alert rules of the benchmark's project through Sentry's rule and plugin API.

Usage: alert_rules.py off|on BASE_URL TOKEN DEAD_URL

off: no rule at all, so ingest evaluates nothing and writes no delivery.
on:  the first start's default rule (new issue or regression -> mail the project's members; mail
     is not configured, so those deliveries are given up on at once) plus a webhook rule (a new
     issue, or more than 100 events of an issue in a minute) whose receiver, DEAD_URL, refuses
     every connection, so its deliveries are retried with backoff for the whole run.
Standard library only: it runs with the system's python3.
"""

import json
import sys
import urllib.request

ORG, PROJECT = "errhound", "default"


def call(base, token, method, path, body=None):
    request = urllib.request.Request(
        f"{base}/api/0/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return json.loads(text) if text else None


def main():
    mode, base, token, dead_url = sys.argv[1:5]
    rules = f"projects/{ORG}/{PROJECT}/rules/"
    if mode == "off":
        for rule in call(base, token, "GET", rules):
            call(base, token, "DELETE", f"{rules}{rule['id']}/")
    elif mode == "on":
        webhooks = f"projects/{ORG}/{PROJECT}/plugins/webhooks/"
        call(base, token, "POST", webhooks)
        call(base, token, "PUT", webhooks, {"urls": dead_url, "secret": "bench-secret"})
        call(base, token, "POST", rules, {
            "name": "New or busy issues to the webhook",
            "actionMatch": "any",
            "frequency": 5,
            "conditions": [
                {"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"},
                {"id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
                 "value": 100, "interval": "1m", "comparisonType": "count"},
            ],
            "actions": [{
                "id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction",
                "service": "webhooks",
            }],
        })
    else:
        sys.exit(f"unknown mode {mode!r}: off or on")
    names = [rule["name"] for rule in call(base, token, "GET", rules)]
    print(f"alert rules ({mode}): {names}")


if __name__ == "__main__":
    main()
