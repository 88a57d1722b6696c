"""`rag serve --watch PATH` (issue 17): a file dropped into the watched folder is found by
/v1/search over HTTP within a bounded time, and a removed one stops being found."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from newsrag.api.app import create_app
from newsrag.api.watch import ServiceWatch
from newsrag.index import SentenceTransformerEmbedder
from tests.api.conftest import api_settings, serve

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
BOUND_S = 20.0  # debounce + settle + embedding + swap, with margin for a busy machine
ARTICLE = """---
id: lighthouse-keepers
title: Lighthouse keepers return to Skerry Point
source: Coast Courier
published_at: "2026-11-30"
---
Two lighthouse keepers moved back to Skerry Point on Monday after the light was restored,
the maritime trust said. The keepers will tend the lamp and run a small weather station.
"""
QUERY = "lighthouse keepers Skerry Point"


def eventually(check: Callable[[], bool], bound_s: float = BOUND_S) -> float:
    """Seconds until `check()` holds (asserting it does within `bound_s`)."""
    started = time.monotonic()
    while time.monotonic() - started < bound_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not true within {bound_s} s")


def found(client: httpx.Client) -> bool:
    """Whether the top search result is the dropped article."""
    response = client.post("/v1/search", json={"query": QUERY, "k": 3})
    if response.status_code != 200:
        return False
    results = response.json()["results"]
    return bool(results) and results[0]["doc_id"] == "lighthouse-keepers"


def test_a_dropped_file_becomes_searchable_and_a_removed_one_goes(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    inbox = Path(shutil.copytree(CORPUS, tmp_path / "inbox"))
    settings = api_settings(tmp_path / "index", watch_debounce_ms=200, watch_settle_ms=100)
    app = create_app(settings, embedder=embedder, watch=[inbox])
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        folders: ServiceWatch = app.state.folder_watch
        assert folders.ready.wait(60)  # the first sync built the index from the folder
        eventually(lambda: client.get("/readyz").status_code == 200)
        assert not found(client)
        (inbox / "lighthouse.md").write_text(ARTICLE, encoding="utf-8")
        seconds = eventually(lambda: found(client))
        assert seconds < BOUND_S
        detail = client.get("/v1/documents/lighthouse-keepers")
        assert detail.status_code == 200 and detail.json()["source"] == "Coast Courier"
        (inbox / "lighthouse.md").unlink()
        eventually(lambda: client.get("/v1/documents/lighthouse-keepers").status_code == 404)
        assert not found(client)
    assert not folders.running  # the lifespan's shutdown stopped the watch
