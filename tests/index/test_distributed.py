"""`rag ingest --ray`: a real Ray cluster (a head and 2 workers here) builds the local index.

The cluster is ray.cluster_utils.Cluster: three raylets on this machine, listening on
127.0.0.1 (tests/conftest.py), each worker node with one CPU and a small object store.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from newsrag.index import IndexStore, IngestOptions, SentenceTransformerEmbedder, ingest
from newsrag.index.distributed import RAY_HINT, RayOptions, RayWorkers, ingest_on_ray
from newsrag.index.ingest import IngestReport
from newsrag.index.store import open_index

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
QUERIES = ("harbour budget vote", "who chairs the rail board", "drought in the valley farms")

# Invented words for invented news: no article of any shipped or gold corpus.
_WHO = (
    "Mara Quill",
    "Tobin Vale",
    "the Orrin council",
    "Dalia Fenn",
    "the rail board",
    "Ivo Stark",
)
_DID = ("approved", "delayed", "questioned", "funded", "rejected", "announced")
_WHAT = ("a harbour budget", "the new tram line", "a drought relief plan", "the school merger")
_WHERE = ("in Lowmere", "across the valley farms", "at the port of Seld", "in the old quarter")


def _sentence(rng: random.Random) -> str:
    amount = f"{rng.randint(2, 900)} million"
    return (
        f"{rng.choice(_WHO)} {rng.choice(_DID)} {rng.choice(_WHAT)} {rng.choice(_WHERE)} "
        f"on day {rng.randint(1, 28)}, worth {amount}, after {rng.randint(2, 60)} hours of talks."
    )


def _body(rng: random.Random) -> str:
    sentences = [_sentence(rng) for _ in range(rng.choice((2, 4, 8, 16, 24)))]
    return "\n\n".join(" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3))


def write_corpus(folder: Path, n_markdown: int = 70, n_records: int = 30) -> Path:
    """About 100 invented articles (Markdown files and one JSONL), plus bad files."""
    rng = random.Random(18)
    folder.mkdir()
    for i in range(n_markdown):
        front = f"---\nid: md-{i:03d}\ntitle: Lowmere report {i}\nsource: Seld Post\n---\n"
        (folder / f"a{i:03d}.md").write_text(front + _body(rng), encoding="utf-8")
    lines = [
        json.dumps({"id": f"rec-{i}", "title": f"Wire {i}", "text": _body(rng)})
        for i in range(n_records)
    ]
    lines[5] = "{not json"
    lines[9] = json.dumps({"id": "rec-notext", "title": "No text"})
    (folder / "wire.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Caf\xe9 news".encode("latin-1"))
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4")
    (folder / "zz-dup.md").write_text("---\nid: md-001\n---\n" + _body(rng), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The invented corpus, written once."""
    return write_corpus(tmp_path_factory.mktemp("ray-corpus") / "news")


@pytest.fixture(scope="module")
def local(
    corpus: Path, tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> tuple[IngestReport, IndexStore]:
    """The same corpus ingested here, without Ray: what every Ray ingest must equal."""
    index_dir = tmp_path_factory.mktemp("local") / "index"
    return ingest([corpus], index_dir, embedder), open_index(index_dir, embedder)


@pytest.fixture(scope="module")
def workers() -> Iterator[RayWorkers]:
    """Two embedding workers on a head (no CPUs) plus two 1-CPU worker nodes."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "object_store_memory": 80 * 2**20},
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
        cluster.wait_for_nodes(timeout=120)
        options = RayOptions(
            address=cluster.address,
            files_per_batch=8,
            articles_per_batch=4,  # ~25 batches: a kill lands mid-run
            start_timeout_s=180,
            stall_timeout_s=120,
        )
        with RayWorkers(options) as pool:
            yield pool
    finally:
        cluster.shutdown()


def assert_same_index(store: IndexStore, expected: IndexStore) -> None:
    """Same articles, chunks (ids, text, offsets), vectors bit for bit, and search results."""
    assert store.articles == expected.articles
    assert store.chunks == expected.chunks
    ids = [c.id for c in store.chunks]
    assert len(ids) == len(set(ids))  # nothing doubled
    # onnx-int8 embeds one text per run, so a vector is a function of its text alone.
    assert np.array_equal(store.vectors, expected.vectors)
    for query in QUERIES:
        for ours, theirs in ((store.dense, expected.dense), (store.sparse, expected.sparse)):
            got, want = ours.search(query, 10), theirs.search(query, 10)
            assert [(h.chunk.id, h.score) for h in got] == [(h.chunk.id, h.score) for h in want]


def test_ray_builds_the_local_index(
    workers: RayWorkers,
    corpus: Path,
    local: tuple[IngestReport, IndexStore],
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    """Two workers share the work; index, per-file failures and figures equal a local ingest."""
    expected_report, expected = local
    before = list(workers.batches_done)
    report = ingest_on_ray([corpus], tmp_path / "index", embedder, workers=workers)
    assert all(after > was for after, was in zip(workers.batches_done, before, strict=True))
    assert report.added == expected_report.added
    assert len(report.added) == 70 + 30 - 2  # two bad JSONL records; md-001's repeat fails
    assert report.failed == expected_report.failed
    assert report.skipped == expected_report.skipped
    reasons = " | ".join(f.reason for f in report.failed)
    for reason in ("empty file", "not UTF-8", "malformed JSON line", "no text field", "duplicate"):
        assert reason in reasons
    assert [s.path for s in report.skipped] == [str(corpus / "scan.pdf")]
    assert (report.chunks_embedded, report.tokens_embedded) == (
        expected_report.chunks_embedded,
        expected_report.tokens_embedded,
    )
    assert report.chunks_embedded > len(report.added)  # long articles made several chunks
    assert_same_index(open_index(tmp_path / "index", embedder), expected)

    again = ingest_on_ray([corpus], tmp_path / "index", embedder, workers=workers)
    assert again.chunks_embedded == 0 and not again.changed
    assert again.generation == report.generation


def test_a_killed_worker_is_retried(
    workers: RayWorkers,
    corpus: Path,
    local: tuple[IngestReport, IndexStore],
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    """SIGKILL one worker process mid-run: Ray restarts it, reruns its batches, none twice."""
    victim = workers.describe()[0][1]
    killed: list[tuple[int, int]] = []

    def kill_once(stage: str, done: int, total: int) -> None:
        if stage == "prepare" and done == 3 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append((done, total))

    workers.on_batch = kill_once
    try:
        report = ingest_on_ray([corpus], tmp_path / "index", embedder, workers=workers)
    finally:
        workers.on_batch = None
    assert killed and killed[0][1] > 10  # the kill came with most batches still to run
    assert workers.describe()[0][1] != victim  # Ray restarted the worker
    assert report.added == local[0].added
    assert_same_index(open_index(tmp_path / "index", embedder), local[1])


def test_cli_ray_starts_a_local_instance(
    corpus_index_dir: Path, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """`rag ingest corpus --ray --workers 1`, no address: Ray starts here, same index."""
    index_dir = tmp_path / "index"
    rag = str(Path(sys.executable).with_name("rag"))
    args = ["ingest", str(ROOT / "corpus"), "--ray", "--workers", "1", "--index-dir", index_dir]
    done = subprocess.run(
        [rag, *map(str, args), "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["chunks_embedded"] > 0
    assert_same_index(open_index(index_dir, embedder), open_index(corpus_index_dir, embedder))


def _rag_without_ray(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `rag` entry point in a Python where `import ray` fails."""
    code = "import sys; sys.modules['ray'] = None; from newsrag.rag.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_cli_without_ray_says_how_to_install_it(tmp_path: Path) -> None:
    """One line naming the extra, exit 1, nothing written; flags need --ray."""
    done = _rag_without_ray("ingest", str(ROOT / "corpus"), "--ray", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: {RAY_HINT}"]
    assert 'pip install "newsrag[ray]"' in done.stderr
    assert not (tmp_path / ".rag").exists()
    done = _rag_without_ray("ingest", str(ROOT / "corpus"), "--workers", "2", cwd=tmp_path)
    assert done.returncode == 1
    assert "--address and --workers go with --ray" in done.stderr


def test_ray_options_are_checked() -> None:
    """Counts below one are refused when the options are built."""
    with pytest.raises(ValueError, match="articles_per_batch"):
        RayOptions(articles_per_batch=0)
    with pytest.raises(ValueError, match="workers"):
        RayOptions(workers=0)


def test_prepare_articles_is_the_local_ingest(
    corpus: Path, local: tuple[IngestReport, IndexStore], embedder: SentenceTransformerEmbedder
) -> None:
    """What a worker runs (prepare_articles) cuts and embeds as the local ingest did."""
    from newsrag.index.ingest import prepare_articles
    from newsrag.index.loaders import load_paths

    articles = sorted(load_paths([corpus]).articles, key=lambda a: a.id)[:7]
    prepared = prepare_articles(articles, embedder, IngestOptions())
    assert sorted(prepared) == [a.id for a in articles]
    store = local[1]
    rows = {c.id: i for i, c in enumerate(store.chunks)}
    for p in prepared.values():
        assert list(p.chunks) == [c for c in store.chunks if c.doc_id == p.article.id]
        assert np.array_equal(p.vectors, store.vectors[[rows[c.id] for c in p.chunks]])
