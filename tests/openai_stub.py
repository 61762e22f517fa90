"""A small OpenAI-compatible server on 127.0.0.1 for tests: the real SDK talks real HTTP to it.

It records every request body, and answers `POST /v1/chat/completions` from a script of steps
(`ok`, `status`, `sleep`, `content`, `refusal`); with an empty script it answers `ok`. An `ok` answer
writes the requested number of variants and uses every placeholder found in the prompt, as a
well-behaved model would.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")


class StubOpenAI:
    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.script: deque[tuple] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> StubOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def then(self, *steps: tuple) -> StubOpenAI:
        self.script.extend(steps)
        return self

    def _next_step(self) -> tuple:
        with self._lock:
            return self.script.popleft() if self.script else ("ok",)

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                with stub._lock:
                    stub.bodies.append(body)
                    number = len(stub.bodies)
                if not self.path.endswith("/chat/completions"):
                    return self._json(
                        404, {"error": {"message": "not found", "type": "invalid_request_error"}}
                    )
                step = stub._next_step()
                kind = step[0]
                request = json.loads(body)
                if kind == "sleep":
                    time.sleep(step[1])
                    kind = "ok"
                if kind == "status":
                    code, error = step[1], step[2] if len(step) > 2 else {}
                    payload = {"error": {"message": "stub error", "type": "server_error", **error}}
                    return self._json(code, payload, request_id=f"req_{number}")
                if kind == "refusal":
                    return self._json(
                        200, _completion(request, None, number, refusal="I can't help with that.")
                    )
                content = step[1] if kind == "content" else json.dumps({"variants": _variants(request)})
                return self._json(200, _completion(request, content, number), request_id=f"req_{number}")

            def _json(self, code: int, payload: dict, request_id: str | None = None):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if request_id:
                        self.send_header("x-request-id", request_id)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        return Handler


def _variants(request: dict) -> list[dict]:
    prompt = "\n".join(message["content"] for message in request["messages"] if message["role"] == "user")
    placeholders = list(dict.fromkeys(PLACEHOLDER.findall(prompt)))
    count = request["response_format"]["json_schema"]["schema"]["properties"]["variants"]["minItems"]
    mentioned = " ".join(placeholders)
    return [
        {
            "headline": f"Variant {n}: a gentle hello",
            "body": f"Written for the brief. {mentioned}".strip(),
            "cta": "Take a look",
        }
        for n in range(1, count + 1)
    ]


def _completion(request: dict, content: str | None, number: int, refusal: str | None = None) -> dict:
    return {
        "id": f"chatcmpl-stub-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "stub-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 321, "completion_tokens": 123, "total_tokens": 444},
    }


def placeholder_response(variants: int, text: str) -> str:
    """An answer whose every variant body is `text` (e.g. with a wrong placeholder)."""
    return json.dumps(
        {"variants": [{"headline": f"V{n}", "body": text, "cta": "Go"} for n in range(1, variants + 1)]}
    )
