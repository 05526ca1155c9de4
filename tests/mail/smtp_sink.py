"""A real SMTP server on loopback for Errhound's mail tests (aiosmtpd).

Every accepted message is written to OUT_DIR as 000001.json, 000002.json, ... (written to a
temporary name, then renamed, so a reader never sees half a file), holding the envelope, the
login used, the decoded headers and the text of every MIME part.

Usage: smtp_sink.py OUT_DIR [--user USER:PASSWORD] [--reject ADDRESS]...
                    [--tls-cert CERT KEY [--require-starttls | --implicit-tls]]

--user makes AUTH (PLAIN, LOGIN) required, without TLS; --reject answers 550 to RCPT TO of that
address; --tls-cert offers STARTTLS with that certificate, --require-starttls refuses MAIL and
AUTH before it (as a submission port does), and --implicit-tls speaks TLS from the first byte
instead. The server listens on a free 127.0.0.1 port and prints "PORT <n>" once it accepts
connections; it stops when its standard input closes.

The certificate comes from the test (errhound_test_utils::smtp), made with a CA of its own for
each sink, so only a client told to trust that CA gets through.
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, out_dir, reject):
        self.out_dir = out_dir
        self.reject = {address.lower() for address in reject}
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: no such mailbox here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            # SMTP lines end in CRLF; tests compare with the text as sent.
            text = part.get_content().replace("\r\n", "\n")
            parts.append({"content_type": part.get_content_type(), "text": text})
        login = session.auth_data.login.decode() if session.auth_data else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": login,
            # session.ssl is set by STARTTLS only; implicit TLS shows on the transport.
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "content_type": message.get_content_type(),
            "headers": [[name, str(value)] for name, value in message.items()],
            "parts": parts,
        }
        self.count += 1
        path = os.path.join(self.out_dir, "%06d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 OK stored"


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticate


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--user")
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tls-cert", nargs=2, metavar=("CERT", "KEY"))
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--require-starttls", action="store_true")
    modes.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()

    # AUTH without TLS is what the tests want; aiosmtpd warns about it on every connection.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    sink = Sink(args.out_dir, args.reject)
    options = {"hostname": "sink.errhound.test"}
    if args.user:
        user, password = args.user.split(":", 1)
        options.update(
            authenticator=authenticator_for(user, password),
            auth_required=True,
            auth_require_tls=args.require_starttls,
        )
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls_cert)
        if not args.implicit_tls:
            options["tls_context"] = context
            options["require_starttls"] = args.require_starttls

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, **options),
        host="127.0.0.1",
        port=0,
        ssl=context if args.implicit_tls else None,
    )
    port = server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)

    # Runs until the test closes our standard input (or dies, which closes it too).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
