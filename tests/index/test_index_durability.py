"""Durability: a `rag ingest` SIGKILLed at any write step leaves the old or the new index.

Each kill runs `rag ingest` in a real child process (forked from a pre-imported server, or the
console script itself) with RAG_TEST_KILL_AT naming the step at which it SIGKILLs itself.
Afterwards the index must load as exactly the old generation or exactly the new one, and
finishing the ingest must give what a clean build gives.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from newsrag.index import (
    CorruptIndexError,
    IndexNotFoundError,
    IndexStore,
    IngestOptions,
    SentenceTransformerEmbedder,
    ingest,
    open_index,
)
from newsrag.index.generations import CURRENT, generation_dirs

# Every step of a durable write, in order (index.generations.publish and IndexStore.write).
STEPS = [
    "begin",
    "tmp-created",
    "chunks-written",
    "articles-written",
    "vectors-written",
    "faiss-half-written",
    "faiss-written",
    "bm25-written",
    "manifest-written",
    "fsynced",
    "renamed",
    "current-tmp-written",
    "switched",
    "gc-done",
]
LIVE_FROM = STEPS.index("switched")  # killed at or after this step, the new index is live
# Steps only an ingest over an existing index takes (index.ingest._commit_segments): linking
# the kept segments, and reading the segments the merge policy merges into the new one.
SEGMENT_STEPS = ["segments-linked", "merge-read"]

QUERIES = [
    "wind farm turbines off the coast",
    "central bank raises interest rates",
    "museum returns stolen paintings",
    "vaccine trial results",
]

ARTICLES = {
    "wind": (
        "Offshore wind farm approved",
        "Regulators approved a 1.2 gigawatt offshore wind farm on Monday, clearing the way for "
        "construction of 80 turbines about 30 kilometres off the coast. The developer said the "
        "first power would flow in 2027.\n\nFishing groups had opposed the project, saying the "
        "turbines would close traditional grounds. The regulator required the developer to fund "
        "a compensation scheme for affected boats.",
    ),
    "rates": (
        "Central bank raises rates again",
        "The central bank raised its benchmark interest rate by a quarter point to 4.5 percent, "
        "its fifth increase this year, and signalled that further rises were possible if "
        "inflation stayed high.\n\nMortgage lenders said they would pass the increase on to "
        "borrowers within days. Economists expect growth to slow in the second half.",
    ),
    "museum": (
        "Museum returns looted paintings",
        "A national museum returned four paintings that had been looted during the war to the "
        "heirs of their original owner. A two-year investigation traced the works through three "
        "dealers.\n\nThe museum director called the return a moral obligation.",
    ),
}
# What the killed ingest installs: one article changed, one unchanged, one removed, one new.
NEW_ARTICLES = {
    "wind": (
        ARTICLES["wind"][0],
        ARTICLES["wind"][1].replace("80 turbines", "95 larger turbines")
        + " Construction ships will sail from two ports.",
    ),
    "rates": ARTICLES["rates"],
    "vaccine": (
        "Vaccine trial shows strong results",
        "A late-stage vaccine trial involving 30,000 volunteers showed 91 percent protection "
        "against severe illness, the company said. Regulators will review the data next month."
        "\n\nSide effects were mild and short-lived, according to the published results.",
    ),
}


def write_corpus(folder: Path, articles: dict[str, tuple[str, str]]) -> Path:
    """Markdown files with front matter, one per article."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in articles.items():
        (folder / f"{doc_id}.md").write_text(f'---\ntitle: "{title}"\n---\n{text}\n')
    return folder


@dataclass(frozen=True)
class Fingerprint:
    """What a reader sees: chunk ids and texts, and top-10 ids of dense and BM25 search."""

    chunk_ids: tuple[str, ...]
    chunk_texts: tuple[str, ...]
    dense_top10: tuple[tuple[str, ...], ...]
    bm25_top10: tuple[tuple[str, ...], ...]


class Reference:
    """Query vectors, and every chunk's vector as a clean build embedded it."""

    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        self.queries = [embedder.embed_query(q) for q in QUERIES]  # each (dim,)
        self.vectors: dict[tuple[str, str], np.ndarray] = {}

    def learn(self, store: IndexStore) -> None:
        """Remember the vectors of a clean build."""
        for chunk, vector in zip(store.chunks, store.vectors, strict=True):
            self.vectors[(chunk.id, chunk.text)] = vector

    def fingerprint(self, store: IndexStore) -> Fingerprint:
        """Fingerprint of a loaded store, after checking that its parts belong together."""
        self.assert_consistent(store)
        return Fingerprint(
            tuple(c.id for c in store.chunks),
            tuple(c.text for c in store.chunks),
            tuple(
                tuple(h.chunk.id for h in store.dense.search_vector(q, 10)) for q in self.queries
            ),
            tuple(tuple(h.chunk.id for h in store.sparse.search(q, 10)) for q in QUERIES),
        )

    def assert_consistent(self, store: IndexStore) -> None:
        """One generation, not a mix: counts agree and each row holds its own chunk's vector."""
        n = len(store.chunks)
        assert store.dense.index.ntotal == n
        assert store.sparse.n_docs == n
        assert store.vectors.shape[0] == store.manifest.n_chunks == n
        doc_ids = {c.doc_id for c in store.chunks}
        assert set(store.articles) == set(store.manifest.articles) == doc_ids
        expected = np.stack([self.vectors[(c.id, c.text)] for c in store.chunks])  # (n, dim)
        assert np.allclose(store.vectors, expected, atol=1e-4)
        faiss_rows = store.dense.index.reconstruct_n(0, n)  # (n, dim)
        assert np.allclose(faiss_rows, expected, atol=1e-4)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The old and the new corpus folders."""
    base = tmp_path_factory.mktemp("durability-corpora")
    return write_corpus(base / "old", ARTICLES), write_corpus(base / "new", NEW_ARTICLES)


@pytest.fixture(scope="module")
def reference(embedder: SentenceTransformerEmbedder) -> Reference:
    """Reference vectors, filled by `expected`."""
    return Reference(embedder)


@pytest.fixture(scope="module")
def expected(
    corpora: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> tuple[Path, Fingerprint, Fingerprint]:
    """An index of the old corpus to start from, and clean-build fingerprints of both."""
    old, new = corpora
    base = tmp_path_factory.mktemp("durability-expected")
    ingest([old], base / "old", embedder)
    ingest([new], base / "new", embedder)
    fingerprints = []
    for name in ("old", "new"):
        store = open_index(base / name, embedder)
        reference.learn(store)
        fingerprints.append(reference.fingerprint(store))
    old_fp, new_fp = fingerprints
    assert old_fp != new_fp
    return base / "old", old_fp, new_fp


def test_a_write_reports_every_step_in_order(
    corpora: tuple[Path, Path], tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    seen: list[str] = []
    ingest([corpora[0]], tmp_path / "index", embedder, IngestOptions(on_step=seen.append))
    assert seen == STEPS


@pytest.mark.parametrize("step", STEPS + SEGMENT_STEPS)
def test_sigkilled_ingest_leaves_old_or_new_index_and_resumes(
    step: str,
    corpora: tuple[Path, Path],
    expected: tuple[Path, Fingerprint, Fingerprint],
    rag_processes,  # tests/index/conftest.py
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> None:
    template, old_fp, new_fp = expected
    index_dir = tmp_path / "index"
    shutil.copytree(template, index_dir)
    args = ["ingest", corpora[1], "--prune", "--index-dir", index_dir]

    killed = rag_processes.run(*args, env={"RAG_TEST_KILL_AT": step})

    assert killed.signal == signal.SIGKILL, killed.stderr
    live = reference.fingerprint(open_index(index_dir, embedder))
    assert live == (new_fp if step in STEPS and STEPS.index(step) >= LIVE_FROM else old_fp)
    partial = [p.stat().st_size for p in index_dir.glob(".tmp-gen-*/dense.faiss")]

    finished = rag_processes.run(*args, "--json")
    assert finished.code == 0, finished.stderr
    store = open_index(index_dir, embedder)
    assert reference.fingerprint(store) == new_fp
    if step == "faiss-half-written":  # the kill really came with half the file on disk
        assert store.path is not None
        assert partial == [(store.path / "dense.faiss").stat().st_size // 2]
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-gen-")]
    assert len(generation_dirs(index_dir)) <= 2  # the live one and the previous one


@pytest.mark.parametrize("step", ["segments-linked", "faiss-half-written", "manifest-written"])
def test_sigkilled_add_of_a_segment_leaves_old_index_and_resumes(
    step: str,
    corpora: tuple[Path, Path],
    expected: tuple[Path, Fingerprint, Fingerprint],
    rag_processes,
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> None:
    """An added article goes into a second segment beside the linked first one."""
    template, old_fp, _ = expected
    grown = write_corpus(tmp_path / "grown", {**ARTICLES, "vaccine": NEW_ARTICLES["vaccine"]})
    clean = tmp_path / "clean"
    ingest([grown], clean, embedder)
    reference.learn(open_index(clean, embedder))
    grown_fp = reference.fingerprint(open_index(clean, embedder))
    index_dir = tmp_path / "index"
    shutil.copytree(template, index_dir)
    args = ["ingest", grown, "--index-dir", index_dir]

    killed = rag_processes.run(*args, env={"RAG_TEST_KILL_AT": step})

    assert killed.signal == signal.SIGKILL, killed.stderr
    assert reference.fingerprint(open_index(index_dir, embedder)) == old_fp
    partial = [p.stat().st_size for p in index_dir.glob(".tmp-gen-*/seg-000002/dense.faiss")]
    assert rag_processes.run(*args).code == 0
    store = open_index(index_dir, embedder)
    assert len(store.manifest.segments) == 2
    assert reference.fingerprint(store) == grown_fp
    if step == "faiss-half-written":
        assert store.path is not None
        assert partial == [(store.path / "seg-000002" / "dense.faiss").stat().st_size // 2]
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-gen-")]


@pytest.mark.parametrize("step", ["faiss-half-written", "renamed"])
def test_sigkilled_first_ingest_leaves_no_index(
    step: str,
    corpora: tuple[Path, Path],
    expected: tuple[Path, Fingerprint, Fingerprint],
    rag_processes,
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> None:
    index_dir = tmp_path / "index"
    args = ["ingest", corpora[1], "--index-dir", index_dir]
    killed = rag_processes.run(*args, env={"RAG_TEST_KILL_AT": step})
    assert killed.signal == signal.SIGKILL
    if step == "renamed":
        # Complete and fsynced but never pointed at: a directory with a generation and no
        # CURRENT is never taken for an empty index (issue 14), so readers find this one.
        assert reference.fingerprint(open_index(index_dir, embedder)) == expected[2]
    else:
        with pytest.raises(IndexNotFoundError):
            open_index(index_dir, embedder)
    assert rag_processes.run(*args).code == 0
    assert (index_dir / CURRENT).read_text().strip() == "gen-000001"
    assert reference.fingerprint(open_index(index_dir, embedder)) == expected[2]


def test_sigkilled_delete_leaves_old_index(
    expected: tuple[Path, Fingerprint, Fingerprint],
    rag_processes,
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(expected[0], index_dir)
    # A delete marks rows deleted and links the segment: it writes no BM25, only a manifest.
    killed = rag_processes.run(
        "delete", "museum", "--index-dir", index_dir, env={"RAG_TEST_KILL_AT": "manifest-written"}
    )
    assert killed.signal == signal.SIGKILL
    assert reference.fingerprint(open_index(index_dir, embedder)) == expected[1]
    assert rag_processes.run("delete", "museum", "--index-dir", index_dir).code == 0
    store = open_index(index_dir, embedder)
    assert "museum" not in store.articles
    reference.assert_consistent(store)


def test_console_script_killed_between_last_write_and_switch(
    corpora: tuple[Path, Path],
    expected: tuple[Path, Fingerprint, Fingerprint],
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> None:
    """The same through `.venv/bin/rag` itself, so the entry point's wiring is real too."""
    template, old_fp, _ = expected
    index_dir = tmp_path / "index"
    shutil.copytree(template, index_dir)
    rag = Path(sys.executable).parent / "rag"  # the console script of this environment
    proc = subprocess.run(
        [rag, "ingest", corpora[1], "--prune", "--index-dir", index_dir],
        env={**os.environ, "RAG_TEST_KILL_AT": "current-tmp-written"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (index_dir / CURRENT).read_text().strip() == "gen-000001"
    assert sorted(p.name for p in generation_dirs(index_dir)) == ["gen-000001", "gen-000002"]
    assert reference.fingerprint(open_index(index_dir, embedder)) == old_fp


# Corruption of the live generation: detected by checksum, never served.


def corrupt(path: Path, how: str) -> None:
    """Damage a file: flip a byte in the middle, or cut it in half."""
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        del data[len(data) // 2 :]
    path.write_bytes(bytes(data))


@pytest.fixture
def two_generations(
    expected: tuple[Path, Fingerprint, Fingerprint],
    corpora: tuple[Path, Path],
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
) -> Path:
    """An index whose previous generation is the old corpus and live one the new corpus."""
    index_dir = tmp_path / "index"
    shutil.copytree(expected[0], index_dir)
    ingest([corpora[1]], index_dir, embedder, IngestOptions(prune=True))
    return index_dir


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("vectors.npy", "flip"),
        ("vectors.npy", "truncate"),
        ("dense.faiss", "flip"),
        ("dense.faiss", "truncate"),
        ("chunks.jsonl", "flip"),
        ("manifest.json", "truncate"),
    ],
)
def test_corrupt_live_generation_falls_back_to_previous_with_warning(
    name: str,
    how: str,
    two_generations: Path,
    expected: tuple[Path, Fingerprint, Fingerprint],
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
    caplog: pytest.LogCaptureFixture,
) -> None:
    corrupt(two_generations / "gen-000002" / name, how)
    with caplog.at_level(logging.WARNING, logger="index"):
        store = open_index(two_generations, embedder)
    assert store.path is not None and store.path.name == "gen-000001"
    assert reference.fingerprint(store) == expected[1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("corrupt" in w and "older" in w for w in warnings), warnings


def test_corrupt_without_intact_generation_is_a_clear_error(
    two_generations: Path, embedder: SentenceTransformerEmbedder
) -> None:
    corrupt(two_generations / "gen-000002" / "dense.faiss", "truncate")
    corrupt(two_generations / "gen-000001" / "vectors.npy", "flip")
    with pytest.raises(CorruptIndexError) as info:
        open_index(two_generations, embedder)
    message = str(info.value)
    assert "gen-000002: dense.faiss fails its checksum" in message
    assert "gen-000001: vectors.npy fails its checksum" in message


def test_ingest_after_fallback_keeps_the_intact_generation(
    two_generations: Path,
    corpora: tuple[Path, Path],
    expected: tuple[Path, Fingerprint, Fingerprint],
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> None:
    """The next success replaces the corrupt live generation and keeps the one it read."""
    corrupt(two_generations / "gen-000002" / "vectors.npy", "flip")
    report = ingest([corpora[1]], two_generations, embedder, IngestOptions(prune=True))
    assert report.generation == "gen-000003"
    assert sorted(p.name for p in generation_dirs(two_generations)) == [
        "gen-000001",
        "gen-000003",
    ]
    assert reference.fingerprint(open_index(two_generations, embedder)) == expected[2]


def test_rebuild_recovers_an_index_with_no_intact_generation(
    two_generations: Path,
    corpora: tuple[Path, Path],
    expected: tuple[Path, Fingerprint, Fingerprint],
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> None:
    corrupt(two_generations / "gen-000002" / "chunks.jsonl", "truncate")
    corrupt(two_generations / "gen-000001" / "dense.faiss", "flip")
    with pytest.raises(CorruptIndexError):
        ingest([corpora[1]], two_generations, embedder)
    report = ingest([corpora[1]], two_generations, embedder, IngestOptions(rebuild=True))
    assert sorted(report.added) == sorted(NEW_ARTICLES)
    assert reference.fingerprint(open_index(two_generations, embedder)) == expected[2]


def test_only_the_entry_point_knows_the_kill_switch() -> None:
    library = (Path(__file__).resolve().parents[2] / "index").glob("*.py")
    assert not [p.name for p in library if "RAG_TEST_KILL_AT" in p.read_text()]
