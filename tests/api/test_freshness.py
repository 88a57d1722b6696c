"""An ingest by another writer (the CLI's `ingest()` into the served directory) goes live
without a restart, while concurrent requests keep succeeding."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from newsrag.api.embedders import GatedEmbedder
from newsrag.index import ingest
from tests.api.conftest import LiveServer, ServerFactory, api_settings

N_CLIENTS = 4
SWAP_BOUND_S = 10.0  # the app polls CURRENT every second; the load itself takes a moment
ARTICLE = """---
id: quokka-census
title: Rottnest Island quokka census finds record numbers
source: Perth Gazette
published_at: "2024-03-02"
---
Rangers on Rottnest Island counted 12,400 quokkas in this year's census, a record. The
marsupials thrived after a wet winter, the island authority said on Saturday.
"""


def search_loop(url: str, stop: threading.Event, statuses: list[int]) -> None:
    """Search back to back until told to stop, recording every status (0 = transport error)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            try:
                response = client.post("/v1/search", json={"query": "research hubs", "k": 3})
                statuses.append(response.status_code)
            except httpx.HTTPError:
                statuses.append(0)


def outside_writer(server: LiveServer) -> GatedEmbedder:
    """The model for a writer other than the server's engine, as `rag ingest` would be.

    It shares the server's model only through the server's gate: HF fast tokenizers are not
    thread-safe, and a second copy of the model would cost seconds to load.
    """
    gated = server.engine.embedder.inner  # the cache wraps the gated model
    return GatedEmbedder(gated.inner, gated.gate, priority=False)


def metric(text: str, name: str) -> float:
    """The value of an unlabelled Prometheus sample."""
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def test_an_outside_ingest_goes_live_without_errors(
    start_server: ServerFactory, writable_index_dir: Path, tmp_path: Path
) -> None:
    server = start_server(api_settings(writable_index_dir))
    before = server.engine.require().name
    assert before is not None
    generation_before = metric(server.client.get("/metrics").text, "rag_index_generation")
    assert generation_before == int(before.removeprefix("gen-"))
    (tmp_path / "quokka.md").write_text(ARTICLE, encoding="utf-8")

    stop = threading.Event()
    statuses: list[list[int]] = [[] for _ in range(N_CLIENTS)]
    clients = [threading.Thread(target=search_loop, args=(server.url, stop, s)) for s in statuses]
    for thread in clients:
        thread.start()
    try:
        report = ingest([tmp_path / "quokka.md"], writable_index_dir, outside_writer(server))
        assert report.added == ["quokka-census"]
        published = time.monotonic()
        found = False
        while not found and time.monotonic() - published < SWAP_BOUND_S:
            hits = server.client.post("/v1/search", json={"query": "quokka census", "k": 1})
            found = hits.json()["results"][0]["doc_id"] == "quokka-census"
            time.sleep(0.1)
        time.sleep(0.3)  # a few more requests on the new generation
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=30)

    assert found, f"not live {SWAP_BOUND_S} s after the ingest"
    done = [code for s in statuses for code in s]
    assert len(done) >= N_CLIENTS and set(done) == {200}, sorted(set(done))
    after = server.engine.require().name
    assert after is not None and after > before
    ready = server.client.get("/readyz").json()
    assert ready["checks"]["index"] == after
    text = server.client.get("/metrics").text
    assert metric(text, "rag_index_generation") == int(after.removeprefix("gen-"))
    assert 'rag_index_swaps_total{cause="external"} 1.0' in text


def test_refresh_is_a_no_op_while_current_is_unchanged(
    start_server: ServerFactory, writable_index_dir: Path
) -> None:
    server = start_server(api_settings(writable_index_dir))
    live = server.engine.require()
    assert server.engine.refresh() is False
    assert server.engine.require() is live


def test_a_server_started_before_any_index_becomes_ready_after_one_is_built(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    server = start_server(api_settings(index_dir))
    assert server.client.get("/readyz").status_code == 503
    (tmp_path / "quokka.md").write_text(ARTICLE, encoding="utf-8")
    ingest([tmp_path / "quokka.md"], index_dir, outside_writer(server))
    deadline = time.monotonic() + SWAP_BOUND_S
    while server.client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "no index loaded after the ingest"
        time.sleep(0.1)
    hits = server.client.post("/v1/search", json={"query": "quokka census", "k": 1}).json()
    assert hits["results"][0]["doc_id"] == "quokka-census"


def test_a_generation_built_with_another_embedder_keeps_the_live_one(
    start_server: ServerFactory, writable_index_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(api_settings(writable_index_dir))
    live = server.engine.require()
    assert live.name is not None
    foreign = writable_index_dir / "gen-000900"
    shutil.copytree(writable_index_dir / live.name, foreign)
    manifest = json.loads((foreign / "manifest.json").read_text(encoding="utf-8"))
    manifest["embedder"] = "another-model"
    (foreign / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    pointer = writable_index_dir / "CURRENT.tmp"
    pointer.write_text(foreign.name + "\n", encoding="utf-8")
    pointer.rename(writable_index_dir / "CURRENT")  # as a publish switches it

    with caplog.at_level(logging.ERROR, logger="newsrag.api.engine"):
        server.engine.refresh()  # (or the app's own poll sees it first)
        time.sleep(2.5)  # two more polls
        assert server.engine.refresh() is False
    refused = [r for r in caplog.records if r.getMessage() == "new index generation not loaded"]
    assert len(refused) == 1  # tried once per change of CURRENT, not every second
    assert server.engine.require() is live
    assert server.client.post("/v1/search", json={"query": "research hubs"}).status_code == 200
