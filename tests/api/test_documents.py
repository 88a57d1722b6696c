"""Search and documents over a real uvicorn: provenance, offsets, uploads, deletes."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

import newsrag.index.loaders
from tests.api.conftest import LiveServer, ServerFactory, api_settings

ZEBRA_MD = b"""---
id: zebra-crossing
title: Zebras cross the Mara river in record numbers
source: Savanna Times
published_at: 2024-03-05
---
Zebras crossed the Mara river in record numbers on Tuesday, rangers said.

More than forty thousand zebras made the crossing within six hours, the park authority counted.
"""


def test_search_returns_ranked_passages_with_provenance(corpus_server: LiveServer) -> None:
    response = corpus_server.client.post(
        "/v1/search", json={"query": "Alibaba overseas research hubs investment", "k": 3}
    )
    assert response.status_code == 200
    body = response.json()
    results = body["results"]
    assert 1 <= len(results) <= 3
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    assert all(a["score"] >= b["score"] for a, b in pairwise(results))
    top = results[0]
    assert "research" in top["text"].lower()
    assert top["chunk_id"].startswith(top["doc_id"] + "#")
    # The offsets point into the cleaned article text that GET /v1/documents/{id} returns.
    article = corpus_server.client.get(f"/v1/documents/{top['doc_id']}").json()
    assert article["text"][top["start"] : top["end"]] == top["text"]


def test_search_filters_and_validation(corpus_server: LiveServer) -> None:
    client = corpus_server.client
    unknown = client.post("/v1/search", json={"query": "Alibaba", "source": "No Such Outlet"})
    assert unknown.status_code == 200 and unknown.json()["results"] == []
    for bad in (
        {"query": ""},
        {"query": "   "},
        {"query": "Alibaba", "k": 0},
        {"query": "Alibaba", "since": "2021-13-01"},
        {"query": "Alibaba", "since": "2021-06-02", "until": "2021-06-01"},
        {"k": 3},
    ):
        response = client.post("/v1/search", json=bad)
        assert response.status_code == 422, bad
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_documents_list_and_read(corpus_server: LiveServer) -> None:
    client = corpus_server.client
    documents = client.get("/v1/documents").json()["documents"]
    store = corpus_server.engine.require().store
    assert {d["id"] for d in documents} == set(store.articles)
    assert all(d["n_chunks"] >= 1 for d in documents)
    first = documents[0]
    article = client.get(f"/v1/documents/{first['id']}").json()
    assert article["title"] == first["title"]
    assert article["text"] == store.articles[first["id"]].text
    missing = client.get("/v1/documents/no-such-article")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_upload_then_search_update_and_delete(
    start_server: ServerFactory, writable_index_dir: Path
) -> None:
    server = start_server(api_settings(writable_index_dir))
    client = server.client
    before = server.engine.require().name

    added = client.post("/v1/documents", files=[("files", ("zebras.md", ZEBRA_MD))]).json()
    assert added["results"] == [
        {"filename": "zebras.md", "status": "added", "doc_ids": ["zebra-crossing"], "error": None}
    ]
    assert added["generation"] != before
    hits = client.post("/v1/search", json={"query": "zebras crossing the Mara river", "k": 1})
    assert hits.json()["results"][0]["doc_id"] == "zebra-crossing"
    assert hits.json()["results"][0]["source"] == "Savanna Times"

    again = client.post("/v1/documents", files=[("files", ("zebras.md", ZEBRA_MD))]).json()
    assert again["results"][0]["status"] == "unchanged"
    assert again["generation"] == added["generation"]

    edited = ZEBRA_MD.replace(b"forty", b"fifty")
    updated = client.post("/v1/documents", files=[("files", ("z.md", edited))]).json()
    assert updated["results"][0]["status"] == "updated"
    assert "fifty" in client.get("/v1/documents/zebra-crossing").json()["text"]

    deleted = client.delete("/v1/documents/zebra-crossing")
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] == "zebra-crossing"
    assert client.get("/v1/documents/zebra-crossing").status_code == 404
    assert client.delete("/v1/documents/zebra-crossing").status_code == 404


def test_malformed_upload_fails_alone_and_leaves_the_index(
    start_server: ServerFactory, writable_index_dir: Path
) -> None:
    server = start_server(api_settings(writable_index_dir))
    client = server.client
    generation = server.engine.require().name
    listing = client.get("/v1/documents").json()
    files = [
        ("files", ("broken.json", b'{"title": "x", "body": ')),
        ("files", ("empty.md", b"   \n")),
        ("files", ("image.png", b"\x89PNG\r\n\x1a\n")),
        ("files", ("latin1.txt", "Caf\u00e9 news".encode("latin-1"))),
    ]
    response = client.post("/v1/documents", files=files)
    assert response.status_code == 200
    results = {r["filename"]: r for r in response.json()["results"]}
    assert set(results) == {"broken.json", "empty.md", "image.png", "latin1.txt"}
    for result in results.values():
        assert result["status"] == "failed" and result["doc_ids"] == []
        assert result["error"] and "/tmp" not in result["error"]
    assert "malformed JSON" in results["broken.json"]["error"]
    assert "unsupported file type .png" in results["image.png"]["error"]
    assert response.json()["generation"] == generation
    assert server.engine.require().name == generation
    assert client.get("/v1/documents").json() == listing


def test_upload_mixed_good_and_bad_keeps_the_good(
    start_server: ServerFactory, writable_index_dir: Path
) -> None:
    server = start_server(api_settings(writable_index_dir))
    files = [
        ("files", ("../../etc/zebras.md", ZEBRA_MD)),
        ("files", ("broken.jsonl", b'{"id": "a", "body": "ok text here"}\n{not json\n')),
        ("files", ("copy.md", ZEBRA_MD)),
    ]
    results = server.client.post("/v1/documents", files=files).json()["results"]
    assert results[0]["status"] == "added" and results[0]["doc_ids"] == ["zebra-crossing"]
    assert results[1]["status"] == "added" and results[1]["doc_ids"] == ["a"]
    assert "malformed JSON line" in results[1]["error"]
    assert results[2]["status"] == "failed" and "duplicate article id" in results[2]["error"]
    assert "zebra-crossing" in server.engine.require().store.articles


def test_upload_into_an_empty_index_creates_it(start_server: ServerFactory, tmp_path: Path) -> None:
    server = start_server(api_settings(tmp_path / "fresh"))
    assert server.client.get("/readyz").status_code == 503
    assert server.client.post("/v1/search", json={"query": "zebras"}).status_code == 503
    response = server.client.post("/v1/documents", files=[("files", ("z.md", ZEBRA_MD))])
    assert response.json()["results"][0]["status"] == "added"
    assert response.json()["generation"] == "gen-000001"
    assert server.client.get("/readyz").status_code == 200


def test_each_uploaded_file_is_parsed_once(
    start_server: ServerFactory, writable_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(api_settings(writable_index_dir))
    parsed: list[str] = []
    load_one = newsrag.index.loaders.load_one

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        parsed.append(path.name)
        return load_one(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(newsrag.index.loaders, "load_one", counting)
    edited = ZEBRA_MD.replace(b"zebra-crossing", b"zebra-two")
    files = [("files", ("z.md", ZEBRA_MD)), ("files", ("two.md", edited))]
    results = server.client.post("/v1/documents", files=files).json()["results"]
    assert [r["status"] for r in results] == ["added", "added"]
    assert sorted(parsed) == ["two.md", "z.md"]  # the ingest takes the parsed articles
    assert {"zebra-crossing", "zebra-two"} <= set(server.engine.require().store.articles)
