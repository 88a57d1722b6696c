"""The real server under hostile uploads, long uploads and spoofed proxy headers (issue 14)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from newsrag.api.app import create_app
from newsrag.api.cli import proxy_options
from newsrag.index import SentenceTransformerEmbedder
from tests.api.conftest import ServerFactory, api_settings
from tests.reliability.test_hostile_files import DEPTH, GOOD, YAML_BOMB


def test_bad_files_fail_alone_and_the_connection_stays_usable(
    start_server: ServerFactory, writable_index_dir: Path
) -> None:
    client = start_server(api_settings(writable_index_dir)).client
    files = [
        ("files", ("deep.json", b"[" * DEPTH + b"]" * DEPTH)),
        ("files", ("bomb.md", YAML_BOMB.encode())),
        (
            "files",
            ("deep.md", ("---\ntitle: " + "[" * DEPTH + "]" * DEPTH + "\n---\nx\n").encode()),
        ),
        (
            "files",
            ("harbour.md", GOOD.replace("title: Harbour", "id: harbour\ntitle: Harbour").encode()),
        ),
    ]
    response = client.post("/v1/documents", files=files)
    assert response.status_code == 200, response.text
    results = {r["filename"]: r for r in response.json()["results"]}
    assert results["harbour.md"]["status"] == "added"
    assert "nested too deeply" in results["deep.json"]["error"]
    assert "aliases" in results["bomb.md"]["error"]
    assert "nested too deeply" in results["deep.md"]["error"]
    assert response.json()["ingest"]["added"] == 1
    # The same keep-alive connection answers the next request.
    assert client.get("/v1/documents/harbour").status_code == 200


def test_a_delete_does_not_wait_for_a_long_upload(
    start_server: ServerFactory, writable_index_dir: Path
) -> None:
    """An upload embeds before it takes the writer lock: a delete meanwhile is not held up."""
    server = start_server(api_settings(writable_index_dir))
    body = " ".join(
        f"Paragraph {i} tells of the harbour works and the new quay." for i in range(40)
    )
    files = [("files", (f"long{i}.md", f"# Long {i}\n\n{body}\n".encode())) for i in range(60)]
    doc_id = server.client.get("/v1/documents").json()["documents"][0]["id"]
    upload: dict[str, object] = {}

    def send() -> None:
        with httpx.Client(base_url=server.url, timeout=300) as other:
            started = time.perf_counter()
            upload["response"] = other.post("/v1/documents", files=files)
            upload["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=send)
    thread.start()
    deadline = time.monotonic() + 60
    seen_progress = False
    while time.monotonic() < deadline and not seen_progress:  # wait until it is embedding
        metrics = server.client.get("/metrics").text
        seen_progress = 'rag_ingest_articles{state="total"} 60.0' in metrics
        time.sleep(0.05)
    assert seen_progress, "no ingest progress on /metrics"
    started = time.perf_counter()
    deleted = server.client.delete(f"/v1/documents/{doc_id}")
    delete_seconds = time.perf_counter() - started
    thread.join(timeout=300)
    assert deleted.status_code == 200, deleted.text
    response = upload["response"]
    assert isinstance(response, httpx.Response) and response.status_code == 200
    assert response.json()["ingest"]["added"] == 60
    assert not thread.is_alive()
    assert delete_seconds < 0.5 * float(upload["seconds"]), (delete_seconds, upload["seconds"])
    listed = {d["id"] for d in server.client.get("/v1/documents").json()["documents"]}
    assert doc_id not in listed and "long0" in listed


def spoofed(url: str, n: int) -> list[int]:
    """Statuses of n requests, each claiming another client address in X-Forwarded-For."""
    with httpx.Client(base_url=url, timeout=30) as client:
        return [
            client.get("/v1/models", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(n)
        ]


def run_uvicorn(
    app: object, options: dict[str, object]
) -> tuple[uvicorn.Server, threading.Thread, str]:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", ws="none", **options)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    corpus_index_dir: Path, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """`rag serve`'s uvicorn options: rotating X-Forwarded-For from loopback is limited like
    any client, unless the operator lists loopback as a proxy (RAG_TRUSTED_PROXIES)."""
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index_dir, index_dir)
    outcomes = {}
    for trusted in ("", "127.0.0.1"):
        settings = api_settings(index_dir, rate_limit_per_minute=5, trusted_proxies=trusted)
        app = create_app(settings, embedder=embedder, index_poll_s=0)
        server, thread, url = run_uvicorn(app, proxy_options(settings))
        try:
            outcomes[trusted] = spoofed(url, 12)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    assert outcomes[""][:5] == [200] * 5 and set(outcomes[""][5:]) == {429}
    assert outcomes["127.0.0.1"] == [200] * 12  # each forwarded address is its own client
