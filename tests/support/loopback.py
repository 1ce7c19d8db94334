"""An HTTP server on 127.0.0.1 in a thread, for the stand-ins the server tests run (the Flux fleet,
Grafana's user API, the HA relay, the alert receivers): started, and always stopped after."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve_on_loopback(handler: type[BaseHTTPRequestHandler], port: int = 0) -> Iterator[int]:
    """Serves ``handler`` on 127.0.0.1 at ``port`` (default an ephemeral one) and yields the port;
    shut down, closed and its thread joined when the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
