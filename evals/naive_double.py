"""TEST DOUBLE, not an LLM: a naive scripted model behind an OpenAI-compatible server.

`rag eval --mode llm-naive-double` measures what the LLM path's checks catch when the model
checks nothing (issue 15): this server on 127.0.0.1 (a free port, one thread a request, for one
eval run) never refuses and answers every chat completion with the first sentence of the top
passage it was shown, cited [1]. The pipeline reaches it through the real `OpenAIChatModel`,
so prompt building, the HTTP client, sanitising and verification all run as they would against
a real endpoint. Its figures say how well verification holds, not how good any model is.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from newsrag.index.chunking import split_sentences

MODE = "llm-naive-double"
MODEL_NAME = "naive-double (TEST DOUBLE: repeats the top passage's first sentence)"
# Passage [1] as rag.prompts.format_passage fences it: marker line, then the passage text.
_FIRST_PASSAGE = re.compile(r'<passage id="1">\n\[1\] [^\n]*\n(.*?)\n</passage>', re.S)
_MAX_BODY = 1 << 20  # bytes; a prompt is a few thousand tokens


def naive_reply(prompt: str) -> str:
    """The first sentence of passage [1] with a [1] marker ("" when no passage was shown)."""
    match = _FIRST_PASSAGE.search(prompt)
    if not match:
        return ""
    spans = split_sentences(match.group(1))
    if not spans:
        return ""
    start, end = spans[0]
    return match.group(1)[start:end].rstrip(" .") + " [1]."


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return  # the eval prints its own progress

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if not self.path.rstrip("/").endswith("/chat/completions") or length > _MAX_BODY:
            self._send(404, {"error": {"message": "not found", "type": "not_found"}})
            return
        body = json.loads(self.rfile.read(length) or b"{}")
        messages = body.get("messages") or [{}]
        text = naive_reply(str(messages[-1].get("content", ""))) or "No passage [1]."
        message = {"role": "assistant", "content": text}
        self._send(
            200,
            {
                "id": "chatcmpl-naive-double",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": MODEL_NAME,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            },
        )

    def _send(self, code: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def naive_double_server() -> Iterator[str]:
    """Serve the naive double on 127.0.0.1 for the block; yields its OpenAI base URL (…/v1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
