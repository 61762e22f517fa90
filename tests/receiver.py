"""A real webhook receiver for tests: a stdlib HTTP server on 127.0.0.1 in a thread.

Each request is recorded (headers with lower-case names, raw body, time of arrival). What it answers is
scripted: a list of answers used in order, then the default answer. An answer is (status, headers, body),
or a callable that writes the answer itself (for slow or broken receivers).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, dict[str, str], bytes] | Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self, *answers: Answer, default: Answer = (200, {}, b"ok"), port: int = 0):
        self.answers = list(answers)
        self.default = default
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver.arrived:
                    receiver.received.append(Received(self.path, headers, body))
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                    receiver.arrived.notify_all()
                if callable(answer):
                    answer(self)
                    return
                status, extra, content = answer
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` requests arrived (or fail after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the receiver got {len(self.received)} requests, expected {count}")
                self.arrived.wait(left)
            return list(self.received)


class ClosedPort:
    """A port on 127.0.0.1 that is bound but not listening: connections to it are refused at once, and no
    other process can take it until `release()` (then a Receiver can start on it)."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def release(self) -> int:
        self.socket.close()
        return self.port


def drip(interval: float, *, chunks: int = 100) -> Callable[[BaseHTTPRequestHandler], None]:
    """An answer that sends its status line one byte every `interval` seconds (a slow-loris receiver)."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        payload = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * chunks
        try:
            for byte in payload:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass  # the client gave up, as it should

    return answer
