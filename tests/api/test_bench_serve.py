"""bench/serve.py stays runnable: one short cell per endpoint against a live server."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.http_load import Connection
from bench.serve import corpus_queries, main, percentile, run_cell
from tests.api.conftest import ROOT, LiveServer


def test_percentile_is_nearest_rank() -> None:
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 95) == 4.0


def test_queries_are_distinct_corpus_windows() -> None:
    queries = corpus_queries(ROOT / "corpus")
    assert len(queries) > 1000 and len(set(queries)) == len(queries)
    assert all(5 <= len(q.split()) <= 12 for q in queries[:100])


def test_cells_measure_the_live_server(corpus_server: LiveServer) -> None:
    queries = corpus_queries(ROOT / "corpus")[:50]
    for endpoint in ("/v1/search", "/v1/ask"):
        # Bounded by the request cap (4), the time limit (30 s) is only a guard.
        cell = asyncio.run(run_cell(corpus_server.url, endpoint, 2, 30.0, 4, queries))
        assert cell.requests == 4 and cell.errors == 0
        assert cell.rps > 0 and 0 < cell.p50_ms <= cell.p95_ms


def test_main_prints_the_table(
    corpus_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            "--url",
            corpus_server.url,
            "--clients",
            "1",
            "--seconds",
            "0.5",
            "--warmup",
            "1",
            "--max-requests",
            "3",
            "--endpoints",
            "/v1/search",
        ]
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["endpoint", "clients", "requests"]
    assert "/v1/search" in out


def test_load_client_reads_lengths_and_chunks_on_one_connection(
    corpus_server: LiveServer,
) -> None:
    async def exchange() -> list[tuple[int, bytes]]:
        connection = Connection(corpus_server.url)
        try:
            return [
                await connection.post_json("/v1/search", {"query": "research hubs", "k": 2}),
                await connection.post_json("/v1/search", {"query": " "}),  # 422, same socket
                await connection.post_json(  # an event stream comes chunked
                    "/v1/ask/stream", {"question": "How many researchers?", "no_llm": True}
                ),
            ]
        finally:
            await connection.close()

    (ok, found), (bad, error), (streamed, events) = asyncio.run(exchange())
    assert ok == 200 and len(json.loads(found)["results"]) == 2
    assert bad == 422 and json.loads(error)["error"]["code"] == "empty_question"
    assert streamed == 200 and events.rstrip().splitlines()[-2] == b"event: final"
