"""`python -m tertulia.sandbox [--host H] [--port P] [--webhook-url URL]`: the sandbox as a process."""

from __future__ import annotations

import argparse

from tertulia.sandbox.server import main

parser = argparse.ArgumentParser(prog="python -m tertulia.sandbox", description=main.__doc__)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8090)
parser.add_argument("--public-url", default=None, help="the address media links point to (default host:port)")
parser.add_argument("--webhook-url", default=None, help="register a WhatsApp Cloud channel posting here")
parser.add_argument("--no-auto-status", action="store_true", help="emit statuses only when asked")
args = parser.parse_args()
main(args.host, args.port, public_url=args.public_url, webhook_url=args.webhook_url,
     auto_status=not args.no_auto_status)
