"""A real SMTP server for Conversure's integration tests (tests/it/smtp.rs starts it).

Built on aiosmtpd (Debian package python3-aiosmtpd; run it with /usr/bin/python3, which scripts/test.sh
exports as CONVERSURE_TEST_PYTHON). It listens on 127.0.0.1 and stores every accepted message as
DIR/<n>.eml (n = 1, 2, ...; written under a temporary name and renamed, so a reader never sees half a file).

    smtp_server.py --port N --maildir DIR [--auth-user U --auth-password P] [--watch-stdin]

--port 0 picks a free port. Once listening it prints `READY <port>` on stdout. With --auth-user/--auth-password
it offers AUTH PLAIN and LOGIN over the plain connection, requires a login before MAIL (530 otherwise) and
answers wrong credentials with 535. It never offers STARTTLS. It exits on SIGTERM or SIGINT, and with
--watch-stdin also when its stdin closes (so a test process that dies cannot leave it running).
"""

import argparse
import asyncio
import hmac
import os
import signal
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Maildir:
    """Writes each accepted message to DIR/<n>.eml, atomically."""

    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.directory, f"{self.count}.eml")
        temp = os.path.join(self.directory, f".{self.count}.eml.tmp")
        with open(temp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, name)
        return "250 2.0.0 Message accepted for delivery"


class Authenticator:
    """Accepts exactly one user name and password, for AUTH PLAIN and LOGIN."""

    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, self.user)
            and hmac.compare_digest(auth_data.password, self.password)
        )
        # handled=False lets aiosmtpd answer: 235 on success, "535 5.7.8 Authentication credentials invalid" otherwise.
        return AuthResult(success=ok, handled=False)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--maildir", required=True, help="directory for the received messages")
    parser.add_argument("--auth-user")
    parser.add_argument("--auth-password")
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin reaches end of file")
    args = parser.parse_args()
    if (args.auth_user is None) != (args.auth_password is None):
        parser.error("--auth-user and --auth-password go together")
    return args


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.watch_stdin:

        def wait_for_eof():
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=wait_for_eof, daemon=True).start()

    os.makedirs(args.maildir, exist_ok=True)
    handler = Maildir(args.maildir)
    auth = {}
    if args.auth_user is not None:
        auth = {
            "authenticator": Authenticator(args.auth_user, args.auth_password),
            "auth_required": True,
            "auth_require_tls": False,
        }

    def factory():
        return SMTP(handler, hostname="conversure-test-smtp", **auth)

    server = await loop.create_server(factory, host="127.0.0.1", port=args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()


def main():
    args = parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
