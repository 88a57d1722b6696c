"""POST /v1/ask and /v1/ask/stream over a real uvicorn: extractive, LLM (scripted double), and
every upstream failure degrading to a cited extractive answer within the deadline."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer, LLMServer, ServerFactory, llm_settings
from tests.rag.llm_double import (
    LLMDouble,
    Request,
    Step,
    cut,
    empty,
    hang,
    malformed,
    reply,
    status,
)

QUESTION = "How much will Alibaba invest to expand its overseas research hubs?"
MARKER = re.compile(r"\[\d+\]")


def cite_fact(request: Request) -> str:
    """A faithful two-sentence answer citing the shown passages that hold its two facts."""
    prompt = "\n".join(m["content"] for m in request["messages"])
    passages = re.findall(r'<passage id="(\d+)">(.*?)</passage>', prompt, re.DOTALL)
    money = next((n for n, body in passages if "15 billion" in body), None)
    centres = next((n for n, body in passages if "Eight research centres" in body), None)
    if money is None or centres is None:
        return "INSUFFICIENT_CONTEXT"
    return (
        f"Alibaba will invest $15 billion to expand overseas research hubs [{money}]. "
        f"Eight research centres will be established by the Alibaba Damo academy [{centres}]."
    )


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream body."""
    events = []
    for block in response.text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        name = next((ln[6:].strip() for ln in lines if ln.startswith("event:")), "message")
        data = "\n".join(ln[5:].lstrip() for ln in lines if ln.startswith("data:"))
        if data:
            events.append((name, json.loads(data)))
    return events


def assert_cited(answer: dict[str, Any]) -> None:
    """An answerable answer whose markers all point at returned citations."""
    assert answer["answerable"] is True
    citations = answer["citations"]
    assert isinstance(citations, list) and citations
    markers = {int(m[1:-1]) for m in MARKER.findall(str(answer["answer"]))}
    assert markers, answer["answer"]
    assert markers <= {c["marker"] for c in citations}
    assert any("15 billion" in c["text"] for c in citations)


def test_extractive_ask_is_cited(corpus_server: LiveServer) -> None:
    response = corpus_server.client.post("/v1/ask", json={"question": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert answer["mode"] == "extractive" and answer["degraded"] is False
    assert_cited(answer)
    assert set(answer["timings_ms"]) >= {"retrieve", "generate", "total"}


def test_unanswerable_question_is_refused(corpus_server: LiveServer) -> None:
    question = "What did the Mars rover find in the Jezero crater last winter?"
    answer = corpus_server.client.post("/v1/ask", json={"question": question}).json()
    assert answer["answerable"] is False
    assert answer["refusal_reason"] in ("no_relevant_passages", "not_supported")


def test_extractive_stream_ends_with_citations_then_final(corpus_server: LiveServer) -> None:
    response = corpus_server.client.post("/v1/ask/stream", json={"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "final"]
    assert set(names[:-2]) <= {"token"}
    citations, final = events[-2][1], events[-1][1]
    assert citations["citations"] == final["citations"]
    assert all("supported" in c for c in citations["citations"])
    assert_cited(final)


def test_llm_answer_and_stream(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble
) -> None:
    llm_double.script(reply(cite_fact))
    client = start_server(llm_settings(corpus_index_dir, llm_double)).client
    answer = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert answer["mode"] == "llm" and answer["degraded"] is False
    assert_cited(answer)
    assert "$15 billion" in answer["answer"]
    assert all(c["supported"] for c in answer["citations"])

    events = sse_events(client.post("/v1/ask/stream", json={"question": QUESTION}))
    tokens = "".join(str(data["text"]) for name, data in events if name == "token")
    final = events[-1][1]
    assert len([n for n, _ in events if n == "token"]) >= 2  # streamed, not sent at once
    assert "$15 billion" in tokens
    assert final["mode"] == "llm" and final["answer"] in tokens.strip() + final["answer"]
    assert_cited(final)

    calls = llm_double.calls
    no_llm = client.post("/v1/ask", json={"question": QUESTION, "no_llm": True}).json()
    assert no_llm["mode"] == "extractive" and llm_double.calls == calls


FAILURES = {
    "http_500": [status(500)],
    "http_503": [status(503)],
    "http_429": [status(429, retry_after="1")],
    "malformed_json": [malformed()],
    "no_choices": [empty()],
    "hang": [hang(30)],
}


def metric(server: LiveServer, name: str) -> float:
    """Sum of a Prometheus counter's samples (all labels)."""
    text = server.client.get("/metrics").text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


@pytest.mark.parametrize("steps", FAILURES.values(), ids=FAILURES.keys())
def test_upstream_failure_degrades_to_cited_extractive_answer(
    steps: list[Step], llm_server: LLMServer
) -> None:
    server, double = llm_server.server, llm_server.double
    limit = llm_server.settings.llm_deadline_s + 2
    # Warm the passage-vector cache first: the bound is on failure handling, and a cold
    # extractive answer on this shared 2-core CPU can alone take seconds.
    warm = server.client.post("/v1/ask", json={"question": QUESTION, "no_llm": True})
    assert warm.status_code == 200
    double.script(*steps)
    calls = double.calls
    degraded = metric(server, "rag_degraded_answers_total")
    failures = metric(server, "rag_upstream_failures_total")
    for path in ("/v1/ask", "/v1/ask/stream"):
        started = time.monotonic()
        response = server.client.post(path, json={"question": QUESTION})
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        answer = response.json() if path == "/v1/ask" else sse_events(response)[-1][1]
        assert answer["mode"] == "extractive" and answer["degraded"] is True, path
        assert_cited(answer)
        assert elapsed < limit, f"{path} took {elapsed:.1f}s"
    assert double.calls >= calls + 2
    assert metric(server, "rag_degraded_answers_total") == degraded + 2
    assert metric(server, "rag_upstream_failures_total") == failures + 2


def test_cut_stream_still_ends_with_a_degraded_final_event(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble
) -> None:
    llm_double.script(cut("Alibaba will invest fifteen billion dollars in new hubs [1].", 3))
    settings = llm_settings(corpus_index_dir, llm_double)
    client = start_server(settings).client
    client.post("/v1/ask", json={"question": QUESTION, "no_llm": True})  # warm, as above
    started = time.monotonic()
    events = sse_events(client.post("/v1/ask/stream", json={"question": QUESTION}))
    assert time.monotonic() - started < settings.llm_deadline_s + 2
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "final"] and "error" not in names
    final = events[-1][1]
    assert final["degraded"] is True and final["mode"] == "extractive"
    assert_cited(final)


def test_event_loop_stays_free_while_the_llm_hangs(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble
) -> None:
    llm_double.script(hang(30))
    server = start_server(llm_settings(corpus_index_dir, llm_double))
    server.client.post("/v1/ask", json={"question": QUESTION, "no_llm": True})  # warm
    with ThreadPoolExecutor(2) as pool:
        pending = [
            pool.submit(server.client.post, path, json={"question": QUESTION})
            for path in ("/v1/ask", "/v1/ask/stream")
        ]
        while llm_double.calls < 2:  # both answers are now waiting on the hanging upstream
            assert not any(p.done() for p in pending)
            time.sleep(0.02)
        for _ in range(5):
            started = time.monotonic()
            assert server.client.get("/healthz").status_code == 200
            assert time.monotonic() - started < 0.5
        assert all(p.result(timeout=30).status_code == 200 for p in pending)
