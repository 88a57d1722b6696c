"""Hardening over a real uvicorn: auth, body/question/conversation limits, rate limit, CORS,
the error envelope, and no internals in any error."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsrag.api.limits import TokenBuckets
from tests.api.conftest import LiveServer, ServerFactory, api_settings, llm_settings
from tests.rag.llm_double import LLMDouble

KEY = "s3cret-key"


def assert_envelope(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    """The OpenAI error envelope, with nothing internal in it."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code"}
    assert error["type"] == kind
    for leak in ("Traceback", 'File "', "/tmp/", ".py", "site-packages"):
        assert leak not in response.text
    return error


def test_api_key_guards_v1_and_metrics_but_not_probes(
    start_server: ServerFactory, corpus_index_dir: Path
) -> None:
    server = start_server(api_settings(corpus_index_dir, api_key=KEY))
    client = server.client
    for method, path in [("POST", "/v1/search"), ("GET", "/v1/documents"), ("GET", "/metrics")]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
            response = client.request(method, path, json={"query": "Alibaba"}, headers=headers)
            error = assert_envelope(response, 401, "authentication_error")
            assert error["code"] == "invalid_api_key"
            assert response.headers["www-authenticate"].startswith("Bearer")
    auth = {"Authorization": f"Bearer {KEY}"}
    assert client.post("/v1/search", json={"query": "Alibaba"}, headers=auth).status_code == 200
    assert client.get("/metrics", headers=auth).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 200  # the page shell holds no data


def test_body_over_the_limit_is_413(start_server: ServerFactory, corpus_index_dir: Path) -> None:
    server = start_server(api_settings(corpus_index_dir, max_body_bytes=4096))
    big = {"query": "x" * 5000}
    assert_envelope(server.client.post("/v1/search", json=big), 413, "invalid_request_error")
    upload = [("files", ("big.md", b"# Big\n\n" + b"word " * 2000))]
    assert_envelope(server.client.post("/v1/documents", files=upload), 413, "invalid_request_error")

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit is counted as bytes arrive
        yield b'{"query": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    response = server.client.post(
        "/v1/search", content=chunked(), headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 413, "invalid_request_error")
    assert server.client.post("/v1/search", json={"query": "Alibaba"}).status_code == 200


def test_long_question_and_conversation_are_422_before_any_llm_call(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble
) -> None:
    settings = llm_settings(
        corpus_index_dir, llm_double, max_question_chars=100, max_conversation_messages=3
    )
    client = start_server(settings).client
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}] * 2
    cases = [
        ("/v1/ask", {"question": "q" * 101}, "question_too_long"),
        ("/v1/ask/stream", {"question": "q" * 101}, "question_too_long"),
        ("/v1/ask", {"question": "   "}, "empty_question"),
        ("/v1/ask", {"question": "Who?", "history": history}, "conversation_too_long"),
        (
            "/v1/chat/completions",
            {"model": "newsrag", "messages": [{"role": "user", "content": "q" * 101}]},
            "question_too_long",
        ),
        (
            "/v1/chat/completions",
            {"model": "newsrag", "messages": [*history, {"role": "user", "content": "Who?"}]},
            "conversation_too_long",
        ),
        (
            "/v1/chat/completions",
            {"model": "newsrag", "messages": [{"role": "assistant", "content": "Hi"}]},
            "no_question",
        ),
    ]
    for path, body, code in cases:
        error = assert_envelope(client.post(path, json=body), 422, "invalid_request_error")
        assert error["code"] == code, (path, body)
    assert llm_double.calls == 0


def test_rate_limit_is_per_client_with_retry_after(
    start_server: ServerFactory, corpus_index_dir: Path
) -> None:
    client = start_server(api_settings(corpus_index_dir, rate_limit_per_minute=3)).client
    statuses = [client.get("/v1/models").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = client.get("/v1/models")
    error = assert_envelope(limited, 429, "rate_limit_error")
    assert error["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert client.get("/healthz").status_code == 200  # probes are never limited


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(buckets.take("a") == 0 for _ in range(60))
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0  # another client has its own bucket
    now[0] += 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("a") == 0


def test_cors_is_off_unless_configured(
    corpus_server: LiveServer, start_server: ServerFactory, corpus_index_dir: Path
) -> None:
    origin = {"Origin": "https://example.org"}
    closed = corpus_server.client.get("/v1/models", headers=origin)
    assert "access-control-allow-origin" not in closed.headers
    server = start_server(api_settings(corpus_index_dir, cors_origins=["https://example.org"]))
    opened = server.client.get("/v1/models", headers=origin)
    assert opened.headers["access-control-allow-origin"] == "https://example.org"
    other = server.client.get("/v1/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_errors_use_the_envelope_and_hide_internals(
    start_server: ServerFactory, corpus_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(api_settings(corpus_index_dir))
    client = server.client
    assert_envelope(client.get("/v1/nothing-here"), 404, "not_found_error")
    assert_envelope(client.delete("/v1/models"), 405, "invalid_request_error")
    bad_json = client.post(
        "/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"}
    )
    assert_envelope(bad_json, 422, "invalid_request_error")

    def explode(*args: object) -> object:
        raise RuntimeError("secret internal detail at /srv/index/gen-000001")

    monkeypatch.setattr(server.engine, "search", explode)
    error = assert_envelope(
        client.post("/v1/search", json={"query": "Alibaba"}), 500, "server_error"
    )
    assert "secret" not in str(error["message"])


def test_metrics_count_routes_and_index_size(corpus_server: LiveServer) -> None:
    client = corpus_server.client
    client.get("/v1/documents/no-such-doc")
    client.post("/v1/search", json={"query": "Alibaba"})
    text = client.get("/metrics").text
    assert (
        'rag_http_requests_total{method="GET",route="/v1/documents/{doc_id}",status="404"}' in text
    )
    assert 'rag_http_request_duration_seconds_count{method="POST",route="/v1/search"}' in text
    chunks = len(corpus_server.engine.require().store.chunks)
    assert f"rag_index_chunks {float(chunks)}" in text
    assert "rag_index_size_bytes" in text and "rag_degraded_answers_total" in text


def test_readiness_needs_an_index_and_a_reachable_llm(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble, tmp_path: Path
) -> None:
    reachable = start_server(llm_settings(corpus_index_dir, llm_double)).client.get("/readyz")
    assert reachable.status_code == 200
    assert reachable.json()["checks"]["llm"] == "ok"
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    down = start_server(api_settings(corpus_index_dir, llm_base_url=dead_url, llm_model="m"))
    response = down.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["llm"].startswith("unreachable")
    assert down.client.get("/healthz").status_code == 200  # alive, just not ready
    empty = start_server(api_settings(tmp_path / "none")).client.get("/readyz")
    assert empty.status_code == 503 and empty.json()["checks"]["index"] == "not loaded"
