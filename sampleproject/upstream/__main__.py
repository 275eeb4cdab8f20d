"""``python -m sampleproject.upstream --port 8001``: serve the fake upstream.

Runs in the foreground on 127.0.0.1 under uvicorn until Ctrl+C.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from sampleproject.upstream.app import create_app
from sampleproject.upstream.server import (
    LOOPBACK,
    loopback_listener,
    server_config,
    socket_url,
)

DEFAULT_PORT = 8001  # where sampleproject.board.demo expects it


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a port number from 0 to 65535, got {text!r}"
        ) from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 0 to 65535, got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sampleproject.upstream",
        description="Serve the fake upstream on 127.0.0.1 until Ctrl+C."
        " GET / on it lists the routes.",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help=f"TCP port; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        default="info",
        help="uvicorn's log level (default: info, which logs every request)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # Taken here, not by uvicorn, so that a busy port is a one-line error
        # and port 0 can be reported as the port it became.
        sock = loopback_listener(LOOPBACK, args.port)
    except OSError as error:
        where = f"{LOOPBACK}:{args.port}"
        parser.exit(1, f"{parser.prog}: cannot listen on {where}: {error.strerror}\n")
    print(f"Fake upstream on {socket_url(sock)} (Ctrl+C to stop)", flush=True)
    config = server_config(
        create_app(), log_config=LOGGING_CONFIG, log_level=args.log_level
    )
    # uvicorn re-raises Ctrl+C once it has shut down: nothing left to report.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
