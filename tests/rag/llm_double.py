"""TEST DOUBLE: a scripted OpenAI-compatible chat server on loopback.

This is not an LLM. It is a small real HTTP server (127.0.0.1, random port, one thread a
request, bounded) that plays a script: each POST /v1/chat/completions takes the next Step
(the last one repeats). It records every request it received, so tests can assert what the
prompt held, and counts calls. Steps cover the ways a real endpoint behaves and misbehaves:
a reply (computed from the request if wanted), an HTTP error status with headers, malformed
JSON, an empty reply, a hang longer than the client's timeout, and a stream cut mid-way.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Request = dict[str, Any]  # the JSON body the client sent


@dataclass(frozen=True)
class Step:
    """One scripted response; kind is reply | status | malformed | empty | hang | cut."""

    kind: str = "reply"
    text: str | Callable[[Request], str] = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # hang: how long to sleep before replying (ended early at shutdown)
    chunks_before_cut: int = 2  # cut: stream deltas sent before the connection drops


def reply(text: str | Callable[[Request], str]) -> Step:
    """A normal completion (streamed as SSE deltas when the request asks for a stream)."""
    return Step("reply", text=text)


def status(code: int, **headers: str) -> Step:
    """An HTTP error status with an OpenAI error envelope."""
    return Step("status", status=code, headers={k.replace("_", "-"): v for k, v in headers.items()})


def malformed() -> Step:
    """HTTP 200 with a body that is not JSON."""
    return Step("malformed")


def empty() -> Step:
    """HTTP 200 with a well-formed reply that holds no choices."""
    return Step("empty")


def hang(seconds: float, text: str = "late") -> Step:
    """Sleep longer than the client's timeout, then reply."""
    return Step("hang", text=text, delay_s=seconds)


def cut(text: str, chunks_before_cut: int = 2) -> Step:
    """Stream a few deltas of text, then drop the connection without finishing."""
    return Step("cut", text=text, chunks_before_cut=chunks_before_cut)


class LLMDouble:
    """The scripted server; use as a context manager, read .base_url, .requests, .calls."""

    def __init__(self, steps: list[Step] | None = None, *, max_concurrent: int = 16) -> None:
        self.steps: list[Step] = list(steps or [reply("OK [1].")])
        self.requests: list[Request] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (…/v1)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def calls(self) -> int:
        """Chat completion requests received."""
        with self._lock:
            return len(self.requests)

    def wait(self, seconds: float) -> None:
        """Sleep in a responder (a slow model) until seconds pass or the double shuts down."""
        self._stopping.wait(seconds)

    def script(self, *steps: Step) -> None:
        """Replace the script (the last step repeats)."""
        with self._lock:
            self.steps = list(steps)

    def prompt_text(self, index: int = -1) -> str:
        """All message contents of one recorded request, joined."""
        return "\n".join(m["content"] for m in self.requests[index]["messages"])

    def __enter__(self) -> LLMDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and release any hanging handler."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next_step(self, body: Request, headers: dict[str, str]) -> Step:
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
            self.headers.append(headers)
            return self.steps[min(index, len(self.steps) - 1)]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that time out or go away mid-reply are part of the script, not errors.
        return


def _handler_for(double: LLMDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # silence stderr
            return

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": "double", "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found", "type": "not_found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": "not found", "type": "not_found"}})
                return
            if not double._slots.acquire(blocking=False):  # bounded: shed load like a server
                self._json(503, {"error": {"message": "busy", "type": "overloaded"}})
                return
            try:
                step = double._next_step(body, {k.lower(): v for k, v in self.headers.items()})
                self._play(step, body)
            finally:
                double._slots.release()

        def _play(self, step: Step, body: Request) -> None:
            text = step.text(body) if callable(step.text) else step.text
            if step.kind == "hang":
                double._stopping.wait(step.delay_s)
            if step.kind == "status":
                error = {"message": f"scripted {step.status}", "type": "scripted", "code": None}
                self._json(step.status, {"error": error}, step.headers)
            elif step.kind == "malformed":
                self._raw(200, b'{"id": "x", "choices": [ this is not json', "application/json")
            elif step.kind == "empty":
                self._json(200, _completion(body, None))
            elif body.get("stream"):
                self._stream(text, cut_after=step.chunks_before_cut if step.kind == "cut" else None)
            else:
                self._json(200, _completion(body, text))

        def _stream(self, text: str, cut_after: int | None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pieces = _pieces(text)
            for n, piece in enumerate(pieces):
                if cut_after is not None and n >= cut_after:
                    self.wfile.flush()
                    self.connection.close()  # drop mid-stream: no finish_reason, no [DONE]
                    return
                self._chunk(_sse({"content": piece}, None))
            self._chunk(_sse({}, "stop"))
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _json(self, code: int, payload: object, headers: dict[str, str] | None = None) -> None:
            self._raw(code, json.dumps(payload).encode(), "application/json", headers)

        def _raw(
            self, code: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _pieces(text: str) -> list[str]:
    """Split text into word-sized deltas, as a model streams."""
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)] if text else []


def _completion(body: Request, text: str | None) -> dict[str, object]:
    choices = [] if text is None else [_choice({"role": "assistant", "content": text}, "stop")]
    return {
        "id": "chatcmpl-double",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "double"),
        "choices": choices,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _choice(message: dict[str, str], finish: str | None) -> dict[str, object]:
    return {"index": 0, "message": message, "finish_reason": finish}


def _sse(delta: dict[str, str], finish: str | None) -> bytes:
    payload = {
        "id": "chatcmpl-double",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "double",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()
