"""A stand-in for the running Caloria app's health page, for the app probe
(--app.health-url): a local HTTP(S) server whose answer per path is a Reply.

It listens on 127.0.0.1 only, serves each request on its own daemon thread,
and every wait in it is bounded, so a test that forgets to stop it cannot
hang the suite.
"""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

# What the seed's app answers on /health/database (DATABASE_CONSISTENCY_SUMMARY.md).
SEED_ANSWER = {
    "database": "POSTGRESQL",
    "status": "healthy",
    "timestamp": "2025-07-24T20:28:53.144251",
    "user_count": 3,
}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    location: str | None = None  # a redirect's target
    delay: float = 0.0  # seconds before answering
    repeat: int = 1  # the body is sent this many times, without a Content-Length


def json_reply(value, status: int = 200) -> Reply:
    return Reply(status=status, body=json.dumps(value).encode())


def make_self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, made by openssl.
    The certificate is its own CA: give it to --app.health-ca-file."""
    cert, key = folder / "app-cert.pem", folder / "app-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=caloria-test-app", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60)
    return cert, key


class FakeApp:
    """Serves routes {path: Reply}; unknown paths answer 404. Counts requests
    per path and the body bytes it managed to send, and remembers the
    credentials of the last basic authentication it was sent."""

    def __init__(self, routes: dict[str, Reply], tls: tuple[Path, Path] | None = None) -> None:
        self.routes = routes
        self.hits: dict[str, int] = {}
        self.body_bytes_sent = 0
        self.last_credentials: str | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                app.answer(self)

            def log_message(self, *args):  # keep pytest's output clean
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the exporter hanging up on a slow or huge answer is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile=str(tls[0]), keyfile=str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, userinfo: str = "") -> str:
        return f"{self.scheme}://{userinfo}127.0.0.1:{self.port}{path}"

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.hits[handler.path] = self.hits.get(handler.path, 0) + 1
            auth = handler.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                self.last_credentials = base64.b64decode(auth[len("Basic "):]).decode()
        reply = self.routes.get(handler.path, Reply(status=404, body=b'{"error": "not found"}'))
        # Bounded, and cut short when the test is over.
        if reply.delay and self.stopping.wait(reply.delay):
            return
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        if reply.location:
            handler.send_header("Location", reply.location)
        if reply.repeat == 1:
            handler.send_header("Content-Length", str(len(reply.body)))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        try:
            for _ in range(reply.repeat):
                handler.wfile.write(reply.body)
                with self.lock:
                    self.body_bytes_sent += len(reply.body)
        except OSError:
            pass  # the exporter stopped reading: what a bounded body is for

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> "FakeApp":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
