"""A feed and page server on 127.0.0.1 for the feed tests (http.server in a thread).

It serves what a test puts in `routes` (path -> body, content type), answers conditional GETs
with 304 when the ETag or Last-Modified matches, and records every request it saw. Hostile
routes: `/slow` drips a byte a second, `/huge` sends more bytes than any cap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Mon, 30 Nov 2026 08:00:00 GMT"


@dataclass
class FeedServer:
    """Routes to serve and what was asked."""

    url: str = ""
    routes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def etag(self, path: str) -> str:
        """The ETag this server gives `path`'s current body."""
        return f'"{hash(self.routes[path][0]) & 0xFFFFFFFF:x}"'

    def paths(self) -> list[str]:
        """The paths requested, in order."""
        return [p for p, _ in self.requests]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet test output

        def do_GET(self) -> None:
            server.requests.append((self.path, dict(self.headers)))
            server.times.append(time.monotonic())
            if self.path == "/slow":
                return self._drip()
            if self.path == "/huge":
                return self._huge()
            if self.path not in server.routes:
                self.send_error(404)
                return
            body, kind = server.routes[self.path]
            etag = server.etag(self.path)
            if self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-Modified-Since") == LAST_MODIFIED
                and not self.headers.get("If-None-Match")
            ):
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.write(body)

        def _drip(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            try:
                for _ in range(30):  # bounded: the client gives up long before
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass

        def _huge(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")  # no Content-Length
            self.end_headers()
            try:
                for _ in range(400):  # 25 MB at most; the client stops at its cap
                    self.wfile.write(b"<rss>" + b"x" * 65_536)
            except OSError:
                pass

    return Handler


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    """Serve on a free 127.0.0.1 port until the block ends."""
    state = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
