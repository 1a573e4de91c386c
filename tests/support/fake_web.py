"""A small web server on 127.0.0.1 that serves what a test tells it to, and records requests."""

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent.parent / "fixtures"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    # When set, the body is sent in these pieces with `chunk_delay` between them.
    chunks: Iterable[bytes] | None = None
    chunk_delay: float = 0.0


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


Responder = Callable[[Request], Reply]


class FakeWeb:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Responder] = {}
        # Responders for every path under a prefix, for APIs with ids in their paths.
        self.trees: dict[str, Responder] = {}
        self.requests: list[Request] = []
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                web.requests.append(request)
                path = self.path.split("?")[0]
                responder = web.routes.get(self.path) or web.routes.get(path) or web.tree_for(path)
                reply = responder(request) if responder else Reply(404, b"not found")
                time.sleep(reply.delay)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(reply)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                for piece in reply.chunks:
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(reply.chunk_delay)
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() returns within 20 ms instead of serve_forever's 500 ms.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> "FakeWeb":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, path: str, reply: Reply | Responder) -> str:
        """Serve `reply` (or what the responder returns) at `path`; returns the full URL."""
        self.routes[path] = reply if callable(reply) else (lambda _request, r=reply: r)
        return self.url(path)

    def route_tree(self, prefix: str, responder: Responder) -> str:
        """Answer every path at or under `prefix` with the responder; returns the prefix's URL."""
        self.trees[prefix.rstrip("/")] = responder
        return self.url(prefix)

    def tree_for(self, path: str) -> Responder | None:
        for prefix, responder in self.trees.items():
            if path == prefix or path.startswith(prefix + "/"):
                return responder
        return None

    def serve_fixture(
        self,
        path: str,
        fixture: str,
        content_type: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        gzipped: bool = False,
    ) -> str:
        """Serve a file from tests/fixtures, with validators answered by 304 when they match."""
        body = (FIXTURES / fixture).read_bytes()
        return self.serve_bytes(
            path, body, content_type, etag=etag, last_modified=last_modified, gzipped=gzipped
        )

    def serve_bytes(
        self,
        path: str,
        body: bytes,
        content_type: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        gzipped: bool = False,
    ) -> str:
        def respond(request: Request) -> Reply:
            if (etag and request.headers.get("if-none-match") == etag) or (
                last_modified and request.headers.get("if-modified-since") == last_modified
            ):
                return Reply(304)
            headers = {"Content-Type": content_type}
            if etag:
                headers["ETag"] = etag
            if last_modified:
                headers["Last-Modified"] = last_modified
            payload = body
            if gzipped:
                payload = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            return Reply(200, payload, headers)

        return self.route(path, respond)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.split("?")[0] == path]


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now, for a server a test starts elsewhere."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
