"""Sends events to Errhound with the real Python SDK. Usage: send_events.py DSN SCENARIO [COUNT]

Prints one line per captured event: "<scenario-tag> <event_id>". The tests compare what the API
shows with what this script sent.
"""
import sys

import sentry_sdk

dsn, scenario = sys.argv[1], sys.argv[2]
sentry_sdk.init(
    dsn=dsn,
    release="shop@1.2.3",
    environment="production",
    send_default_pii=True,
    # The SDK's default transport, gzip included: exactly what applications send.
)


def charge_card(amount):
    return amount / 0


def load_inventory(sku):
    return {"sku-1": 3}[sku]


def report(tag, event_id):
    print(tag, event_id, flush=True)


if scenario == "grouping":
    # The same site three times (one issue), a second site twice (a second issue).
    for attempt in range(3):
        try:
            charge_card(100 + attempt)
        except ZeroDivisionError:
            report("charge", sentry_sdk.capture_exception())
    for sku in ("sku-2", "sku-3"):
        try:
            load_inventory(sku)
        except KeyError:
            report("inventory", sentry_sdk.capture_exception())
elif scenario == "fingerprint":
    # Two different sites forced into one issue by a custom fingerprint...
    for func, arg in ((charge_card, 1), (load_inventory, "sku-9")):
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["payment-provider-down"]
            try:
                func(arg)
            except Exception:
                report("custom", sentry_sdk.capture_exception())
    # ...and one site split in two by a salted fingerprint.
    for tenant in ("acme", "globex"):
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["{{ default }}", tenant]
            try:
                charge_card(5)
            except ZeroDivisionError:
                report("salted-" + tenant, sentry_sdk.capture_exception())
elif scenario == "message":
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("checkout.step", "payment")
        scope.set_user({"id": "42", "email": "jane@example.org"})
        report("message", sentry_sdk.capture_message("Payment 1234 failed for order 99", level="warning"))
        report("message", sentry_sdk.capture_message("Payment 5678 failed for order 100", level="warning"))
elif scenario == "moved":
    # The same code deployed twice, the second time with lines added above the failing function
    # and from another directory, as a redeploy of a new release would be.
    import importlib.util
    import os
    import tempfile

    body = (
        "def apply_discount(order):\n"
        "    rate = order['discount']\n"
        "    return order['total'] / rate\n"
    )
    for deploy, header in (("v1", ""), ("v2", "import math\n\n\n# Discounts, see PRICING.md\n\n")):
        directory = tempfile.mkdtemp(prefix="release-" + deploy + "-")
        path = os.path.join(directory, "pricing.py")
        with open(path, "w") as source:
            source.write(header + body)
        spec = importlib.util.spec_from_file_location("pricing", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            module.apply_discount({"total": 10, "discount": 0})
        except ZeroDivisionError:
            report("moved-" + deploy, sentry_sdk.capture_exception())
elif scenario == "rule":
    # The same exception type from two different sites: two issues by default, one under the
    # fingerprint rule `error.type:ZeroDivisionError -> ...`.
    def split_bill(total, people):
        return total / people

    for func in (charge_card, lambda amount: split_bill(amount, 0)):
        try:
            func(7)
        except ZeroDivisionError:
            report("zero", sentry_sdk.capture_exception())
    try:
        load_inventory("sku-404")
    except KeyError:
        report("other", sentry_sdk.capture_exception())
elif scenario == "burst":
    # COUNT events from one site, one after the other, as fast as the application can raise
    # them (a key's rate limit lets only the first ones through).
    for attempt in range(int(sys.argv[3])):
        try:
            charge_card(attempt)
        except ZeroDivisionError:
            report("burst", sentry_sdk.capture_exception())
elif scenario == "distinct":
    # COUNT errors with COUNT different fingerprints: COUNT new issues at once, as a bad deploy
    # opens them.
    for n in range(int(sys.argv[3])):
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["deploy-broke", str(n)]
            try:
                charge_card(n)
            except ZeroDivisionError:
                report("distinct", sentry_sdk.capture_exception())
        if n % 50 == 49:
            # The SDK's transport queue holds 100 events and drops the rest; an application
            # raising this fast would lose some, the test must not.
            sentry_sdk.flush(10)
else:
    raise SystemExit("unknown scenario " + scenario)

sentry_sdk.flush(10)
