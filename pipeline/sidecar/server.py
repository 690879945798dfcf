"""Running the sidecar app under uvicorn, the same way for `ltv webhooks serve` and the bench."""

from __future__ import annotations

import logging
import sys
import time

import uvicorn
from starlette.applications import Starlette


class ServerStartError(RuntimeError):
    """uvicorn did not start the app (its own log says why)."""


def configure_logging() -> None:
    """Request lines and errors to stderr, stamped in UTC like everything the sidecar stores."""
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def serve(app: Starlette, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM.

    On a signal uvicorn stops accepting, lets in-flight requests finish, then runs the
    lifespan shutdown, which writes whatever is still queued for the log.
    uvicorn's access log is off: the app writes its own line per request, without the
    client address.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,  # uvicorn's own lines go through configure_logging's format too
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise ServerStartError(f"the webhook sidecar did not start on {host}:{port}")
