"""Sends an event full of secrets to Errhound with the real Python SDK. Usage: sensitive.py DSN

A WSGI app, wrapped in the SDK's own SentryWsgiMiddleware and given the request body and
cookies the way the framework integrations (Django, Flask) add them, fails during a checkout.
With send_default_pii=True the SDK itself sends the Authorization, Cookie and X-Api-Key headers,
the query string, the user's IP address, the JSON body with a password and a card number, and
the local variables of every frame (a password, a card number, a token).

Prints one line: "checkout <event_id>". The test checks that none of SECRET's values is stored.
"""
import io
import json
import sys

import sentry_sdk
from sentry_sdk.integrations._wsgi_common import RequestExtractor
from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware

# Every value here must be scrubbed before Errhound stores the event (the test has the same
# values). The code below refers to them by name: the SDK also sends the source lines around each
# frame, and Sentry (like Errhound) does not scrub source code, only data.
SECRET = {
    "password": "hunter2",
    "card": "4111 1111 1111 1111",
    "mastercard": "5500-0000-0000-0004",
    "session": "sess-s3cr3t",
    "csrf": "csrf-s3cr3t",
    "api_key": "key-s3cr3t",
    "bearer": "sk_live_bearer_s3cr3t",
    "token": "tok-s3cr3t",
    "db_password": "dbpass-s3cr3t",
}

dsn = sys.argv[1]
sent = []


def remember(event, hint):
    # The middleware captures in the request's own scope, so `last_event_id()` cannot see it.
    sent.append(event["event_id"])
    return event


sentry_sdk.init(
    dsn=dsn,
    release="shop@1.2.3",
    environment="production",
    send_default_pii=True,
    before_send=remember,
)


class WsgiRequest(RequestExtractor):
    """What a framework integration extracts from a request: cookies and the parsed body."""

    def env(self):
        return self.request

    def cookies(self):
        pairs = (c.strip().split("=", 1) for c in self.request.get("HTTP_COOKIE", "").split(";"))
        return {k: v for k, v in pairs}

    def raw_data(self):
        return self.request["wsgi.input"].getvalue()

    def form(self):
        return None

    def files(self):
        return None


def charge_card(order):
    password = SECRET["password"]
    card_number = SECRET["card"]
    api_token = SECRET["token"]
    amount = order["amount"]
    raise ValueError("payment declined for order %d" % order["id"])


def app(environ, start_response):
    scope = sentry_sdk.get_isolation_scope()
    scope.add_event_processor(
        lambda event, hint: (WsgiRequest(environ).extract_into_event(event), event)[1]
    )
    sentry_sdk.set_user({"id": "42", "email": "jane@example.org"})
    sentry_sdk.set_extra(
        "payment", {"card_number": SECRET["card"], "password": SECRET["password"], "amount": 100}
    )
    sentry_sdk.set_extra("note", "customer paid with " + SECRET["mastercard"])
    sentry_sdk.add_breadcrumb(
        category="http",
        message="POST https://app:%s@db.example/orders" % SECRET["db_password"],
        data={
            "url": "https://pay.example/v1/charge?api_key=%s&currency=EUR" % SECRET["api_key"],
            "method": "POST",
        },
    )
    charge_card({"id": 1001, "amount": 100})
    start_response("200 OK", [])
    return [b"ok"]


body = json.dumps(
    {"username": "jane", "password": SECRET["password"], "card": SECRET["card"]}
).encode()
environ = {
    "REQUEST_METHOD": "POST",
    "PATH_INFO": "/checkout",
    "QUERY_STRING": "coupon=SPRING&access_token=" + SECRET["token"],
    "SERVER_NAME": "shop.example",
    "SERVER_PORT": "443",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.url_scheme": "https",
    "wsgi.input": io.BytesIO(body),
    "REMOTE_ADDR": "203.0.113.7",
    "CONTENT_TYPE": "application/json",
    "CONTENT_LENGTH": str(len(body)),
    "HTTP_HOST": "shop.example",
    "HTTP_ACCEPT": "application/json",
    "HTTP_USER_AGENT": "errhound-e2e",
    "HTTP_AUTHORIZATION": "Bearer " + SECRET["bearer"],
    "HTTP_COOKIE": "sessionid=%s; csrftoken=%s; theme=dark" % (SECRET["session"], SECRET["csrf"]),
    "HTTP_X_API_KEY": SECRET["api_key"],
}

try:
    SentryWsgiMiddleware(app)(environ, lambda status, headers: None)
except ValueError:
    pass
for event_id in sent:
    print("checkout", event_id, flush=True)

sentry_sdk.flush(10)
