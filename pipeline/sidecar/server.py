"""Running the sidecar app under uvicorn, the same way for `ltv webhooks serve` and the bench."""

from __future__ import annotations

import logging
import sys
import time

import uvicorn
from starlette.applications import Starlette

from pipeline.sidecar.protocol import HEAD_TIMEOUT_SECONDS, MAX_HEAD_BYTES, guarded_protocol

# Connections and requests handled at once; past it new ones get 503 at once instead of
# queueing without bound (ThriveCart retries).
LIMIT_CONCURRENCY = 1000


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


def server_config(
    app: Starlette,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_head_bytes: int = MAX_HEAD_BYTES,
    head_timeout: float = HEAD_TIMEOUT_SECONDS,
) -> uvicorn.Config:
    """The sidecar's uvicorn settings: bounded headers (431), header time (408), concurrency.

    uvicorn's access log is off: the app writes its own line per request, without the client
    address.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(max_head_bytes, head_timeout),
        lifespan="on",
        log_config=None,  # uvicorn's own lines go through configure_logging's format too
        access_log=False,
        server_header=False,
        limit_concurrency=LIMIT_CONCURRENCY,
        timeout_graceful_shutdown=10,
    )


def serve(app: Starlette, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM.

    On a signal uvicorn stops accepting, lets in-flight requests finish, then runs the
    lifespan shutdown, which writes whatever is still queued for the log.
    """
    server = uvicorn.Server(server_config(app, host, port))
    server.run()
    if not server.started:
        raise ServerStartError(f"the webhook sidecar did not start on {host}:{port}")
