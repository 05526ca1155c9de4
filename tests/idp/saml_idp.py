"""A real SAML 2.0 identity provider on loopback for Errhound's SSO tests (pysaml2 + xmlsec1).

Usage: saml_idp.py --key KEY.pem --cert CERT.pem --sp-metadata SP.xml --work-dir DIR

It listens on a free 127.0.0.1 port, prints "PORT <n>" once it accepts connections, and stops
when its standard input closes. The key and certificate come from the test
(errhound_test_utils::saml_idp), the SP metadata from Errhound (sp_metadata).

  GET /metadata          its metadata (entity id <base>/metadata, SSO at <base>/sso/redirect,
                         HTTP-Redirect binding, the signing certificate)
  GET /sso/redirect      reads the SP's AuthnRequest (SAMLRequest, RelayState: HTTP-Redirect
                         binding) and answers JSON {SAMLResponse, RelayState, request_id, acs}
                         instead of an auto-submitting form
  GET /unsolicited       an IdP-initiated response (no InResponseTo), same JSON

Knobs, as query parameters of either request:
  user=ann|bob           who logs in (default ann)
  sign=assertion|response|both|none   what is signed (default assertion)
  lifetime=MINUTES       the assertion's validity (default 15; negative: already expired)
  audience=URI           the audience (default the SP's entity id)
  alter=nameid           change one byte of the NameID after signing
"""

import argparse
import base64
import json
import os
import re
import shutil
import sys
import threading
import urllib.parse
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# pysaml2 imports cipher modes that cryptography has deprecated; not this test's concern.
warnings.filterwarnings("ignore", message=".*has been moved to cryptography.hazmat.decrepit")

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.assertion import Policy
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

USERS = {
    "ann": {
        "mail": ["ann@corp.test"],
        "displayName": ["Ann Example"],
        "eduPersonAffiliation": ["eng", "ops"],
    },
    "bob": {
        "mail": ["bob@corp.test"],
        "displayName": ["Bob Example"],
        "eduPersonAffiliation": ["sales"],
    },
}


def make_server(base, args):
    config = IdPConfig()
    config.load(
        {
            "entityid": base + "/metadata",
            "service": {
                "idp": {
                    "name": "Errhound test IdP",
                    "endpoints": {
                        "single_sign_on_service": [(base + "/sso/redirect", BINDING_HTTP_REDIRECT)],
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "want_authn_requests_signed": False,
                    "policy": {"default": {"lifetime": {"minutes": 15}}},
                },
            },
            "key_file": args.key,
            "cert_file": args.cert,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "metadata": {"local": [args.sp_metadata]},
            "allow_unknown_attributes": True,
        }
    )
    return Server(config=config)


def sp_info(server):
    """The SP's entity id and its (POST) assertion consumer service, from its metadata."""
    entity_id = next(iter(server.metadata.keys()))
    acs = server.metadata.assertion_consumer_service(entity_id, BINDING_HTTP_POST)
    return entity_id, acs[0]["location"]


def respond(server, query, in_response_to, acs):
    user = query.get("user", "ann")
    identity = USERS[user]
    sign = query.get("sign", "assertion")
    sp_entity_id, _ = sp_info(server)
    audience = query.get("audience", sp_entity_id)
    minutes = int(query.get("lifetime", "15"))
    policy = Policy(
        {"default": {"lifetime": {"minutes": minutes}}},
        mds=server.metadata,
    )
    response = server._authn_response(
        in_response_to,
        acs,
        audience,
        identity=identity,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=identity["mail"][0]),
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
        policy=policy,
        sign_assertion=sign in ("assertion", "both"),
        sign_response=sign in ("response", "both"),
        best_effort=True,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    xml = str(response)
    if query.get("alter") == "nameid":
        # One byte of the signed NameID, after signing: the digest no longer matches.
        xml, count = re.subn(r"(<(?:\w+:)?NameID\b[^>]*>)a", r"\1A", xml, count=1)
        assert count == 1, "no NameID to alter"
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")


class Handler(BaseHTTPRequestHandler):
    server_version = "ErrhoundTestIdP/1"

    def log_message(self, format, *args):
        pass

    def answer(self, status, content_type, body):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        idp = self.server.idp
        try:
            if url.path == "/metadata":
                self.answer(200, "application/samlmetadata+xml", self.server.metadata_xml)
            elif url.path == "/sso/redirect":
                request = idp.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
                message = request.message
                acs = message.assertion_consumer_service_url
                _, registered = sp_info(idp)
                if acs != registered:
                    raise ValueError("the AuthnRequest asks for an unregistered ACS: %s" % acs)
                body = {
                    "SAMLResponse": respond(idp, query, message.id, acs),
                    "RelayState": query.get("RelayState"),
                    "request_id": message.id,
                    "acs": acs,
                    "issuer": message.issuer.text if message.issuer else None,
                }
                self.answer(200, "application/json", json.dumps(body))
            elif url.path == "/unsolicited":
                _, acs = sp_info(idp)
                body = {"SAMLResponse": respond(idp, query, None, acs), "acs": acs}
                self.answer(200, "application/json", json.dumps(body))
            else:
                self.answer(404, "text/plain", "not found")
        except Exception as error:  # the test shows what went wrong
            self.answer(500, "text/plain", "%s: %s" % (type(error).__name__, error))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--sp-metadata", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    os.chdir(args.work_dir)

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = http.server_address[1]
    base = "http://127.0.0.1:%d" % port
    http.idp = make_server(base, args)
    http.metadata_xml = create_metadata_string(None, config=http.idp.config).decode("utf-8")
    threading.Thread(target=http.serve_forever, daemon=True).start()
    print("PORT %d" % port, flush=True)
    sys.stdin.read()
    http.shutdown()


if __name__ == "__main__":
    main()
