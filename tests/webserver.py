"""A real local HTTP server for tests (the internet replaced, nothing mocked).

``LocalWeb`` runs ``http.server`` in a thread. Each route is a function ``(handler, hit)`` that
writes a response; ``hit`` counts requests to that path from 1, so a route can fail first and
succeed later. Helpers write the usual responses (a body, a status, a truncated body).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's name
        web: LocalWeb = self.server.web
        parts = urlsplit(self.path)
        with web.lock:
            web.hits[parts.path] = web.hits.get(parts.path, 0) + 1
            hit = web.hits[parts.path]
            web.requests.append(self.path)
        route = web.routes.get(parts.path)
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if route is None:
            return send(self, b"not found", status=404, content_type="text/plain")
        try:
            route(self, hit)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):  # quiet
        pass


def send(h, body: bytes, status: int = 200, content_type: str = "application/octet-stream",
         headers: dict | None = None, length: int | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body) if length is None else length))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)
    h.wfile.flush()
    if length is not None and length != len(body):
        h.close_connection = True  # a truncated body: the connection drops


def send_json(h, data, status: int = 200) -> None:
    send(h, json.dumps(data).encode(), status=status, content_type="application/json")


def slow(h, seconds: float) -> None:
    time.sleep(seconds)


class LocalWeb:
    def __init__(self):
        self.routes: dict = {}
        self.hits: dict[str, int] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.web = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def route(self, path: str, fn) -> str:
        self.routes[path] = fn
        return self.url(path)
