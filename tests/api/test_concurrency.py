"""Questions during an upload: answered from the previous generation, 0 errors, then the switch."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.api.conftest import ServerFactory, api_settings
from tests.api.test_ask import QUESTION

N_ASKS = 20
N_ARTICLES = 12


def synthetic_articles() -> list[tuple[str, tuple[str, bytes]]]:
    """A batch of distinct articles, big enough that the ingest takes a while."""
    files = []
    for n in range(N_ARTICLES):
        body = " ".join(
            f"Harbour report {n}, item {i}: the port of Velmora handled {n * 100 + i} containers "
            f"of copper and grain on day {i}, officials of district {n} said."
            for i in range(16)
        )
        text = f"---\nid: velmora-{n}\ntitle: Velmora port report {n}\n---\n{body}\n"
        files.append(("files", (f"velmora-{n}.md", text.encode())))
    return files


def test_twenty_concurrent_asks_during_an_upload_all_succeed(
    start_server: ServerFactory, writable_index_dir: Path
) -> None:
    server = start_server(api_settings(writable_index_dir))
    before = server.engine.require().name
    upload_done = threading.Event()
    upload: list[tuple[httpx.Response, float]] = []  # (response, when it came back)

    def do_upload() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            response = client.post("/v1/documents", files=synthetic_articles())
        upload.append((response, time.monotonic()))
        upload_done.set()

    def ask(_: int) -> tuple[int, float, str]:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            response = client.post("/v1/ask", json={"question": QUESTION})
            return response.status_code, time.monotonic(), response.text

    uploader = threading.Thread(target=do_upload)
    uploader.start()
    deadline = time.monotonic() + 30
    registry = server.app.state.metrics.registry
    while not registry.get_sample_value("rag_ingest_running"):  # the ingest has begun
        assert time.monotonic() < deadline and not upload_done.is_set()
        time.sleep(0.01)
    with ThreadPoolExecutor(N_ASKS) as pool:
        results = list(pool.map(ask, range(N_ASKS)))
    uploader.join(timeout=120)

    failed = [text for code, _, text in results if code != 200]
    assert not failed and len(results) == N_ASKS, failed
    [(response, upload_finished)] = upload
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"added"}
    # Answers did not wait for the ingest: the first came back while it still ran.
    assert min(done for _, done, _ in results) < upload_finished
    after = server.engine.require()
    assert after.name != before and "velmora-3" in after.store.articles
    hits = server.client.post("/v1/search", json={"query": "Velmora port containers", "k": 1})
    assert hits.json()["results"][0]["doc_id"].startswith("velmora-")
