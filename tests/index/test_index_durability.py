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
from tests.processes import RagProcesses

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
    "tables-written",
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


@dataclass(frozen=True)
class Expected:
    """An index of the old corpus to start from, and clean-build fingerprints of both corpora."""

    template: Path
    old: Fingerprint
    new: Fingerprint


@pytest.fixture(scope="module")
def expected(
    corpora: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
) -> Expected:
    """Both corpora built cleanly, their fingerprints learnt."""
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
    return Expected(base / "old", old_fp, new_fp)


@dataclass(frozen=True)
class Harness:
    """What the tests here share: an index_dir of their own, the clean builds, a way to kill."""

    expected: Expected
    processes: RagProcesses
    embedder: SentenceTransformerEmbedder
    reference: Reference
    index_dir: Path

    def copy_old_index(self) -> Path:
        """A private copy of the old corpus's index at `index_dir`."""
        shutil.copytree(self.expected.template, self.index_dir)
        return self.index_dir

    def kill_at(self, step: str, *args: str | Path) -> None:
        """Run `rag *args`, which SIGKILLs itself at `step`, and check that it did."""
        killed = self.processes.run(*args, env={"RAG_TEST_KILL_AT": step})
        assert killed.signal == signal.SIGKILL, killed.stderr

    def finish(self, *args: str | Path) -> IndexStore:
        """Run `rag *args` to the end and open the index it leaves."""
        finished = self.processes.run(*args)
        assert finished.code == 0, finished.stderr
        return open_index(self.index_dir, self.embedder)

    def fingerprint(self) -> Fingerprint:
        """The fingerprint of what a reader of `index_dir` sees now."""
        return self.reference.fingerprint(open_index(self.index_dir, self.embedder))

    def half_written_faiss(self, segment: str = "") -> list[int]:
        """Sizes of the FAISS files a killed write left in its temporary generation."""
        pattern = f".tmp-gen-*/{segment}/dense.faiss" if segment else ".tmp-gen-*/dense.faiss"
        return [p.stat().st_size for p in self.index_dir.glob(pattern)]

    def assert_cleaned_up(
        self, store: IndexStore, step: str, partial: list[int], segment: str = ""
    ) -> None:
        """No temporary generation is left, and a kill at faiss-half-written left half the file."""
        if step == "faiss-half-written":  # the kill really came with half the file on disk
            assert store.path is not None
            faiss = store.path / segment / "dense.faiss"
            assert partial == [faiss.stat().st_size // 2]
        assert not [p for p in self.index_dir.iterdir() if p.name.startswith(".tmp-gen-")]


@pytest.fixture
def harness(
    expected: Expected,
    rag_processes: RagProcesses,
    embedder: SentenceTransformerEmbedder,
    reference: Reference,
    tmp_path: Path,
) -> Harness:
    return Harness(expected, rag_processes, embedder, reference, tmp_path / "index")


def test_a_write_reports_every_step_in_order(
    corpora: tuple[Path, Path], tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    seen: list[str] = []
    ingest([corpora[0]], tmp_path / "index", embedder, IngestOptions(on_step=seen.append))
    assert seen == STEPS


@pytest.mark.parametrize("step", STEPS + SEGMENT_STEPS)
def test_sigkilled_ingest_leaves_old_or_new_index_and_resumes(
    step: str, corpora: tuple[Path, Path], harness: Harness
) -> None:
    args = ["ingest", corpora[1], "--prune", "--index-dir", harness.copy_old_index()]

    harness.kill_at(step, *args)

    live_after = step in STEPS and STEPS.index(step) >= LIVE_FROM
    assert harness.fingerprint() == (harness.expected.new if live_after else harness.expected.old)
    partial = harness.half_written_faiss()
    store = harness.finish(*args, "--json")
    assert harness.reference.fingerprint(store) == harness.expected.new
    harness.assert_cleaned_up(store, step, partial)
    assert len(generation_dirs(harness.index_dir)) <= 2  # the live one and the previous one


@pytest.mark.parametrize(
    "step", ["segments-linked", "faiss-half-written", "tables-written", "manifest-written"]
)
def test_sigkilled_add_of_a_segment_leaves_old_index_and_resumes(
    step: str, harness: Harness, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """An added article goes into a second segment beside the linked first one."""
    grown = write_corpus(tmp_path / "grown", {**ARTICLES, "vaccine": NEW_ARTICLES["vaccine"]})
    clean = tmp_path / "clean"
    ingest([grown], clean, embedder)
    harness.reference.learn(open_index(clean, embedder))
    grown_fp = harness.reference.fingerprint(open_index(clean, embedder))
    args = ["ingest", grown, "--index-dir", harness.copy_old_index()]

    harness.kill_at(step, *args)

    assert harness.fingerprint() == harness.expected.old
    partial = harness.half_written_faiss("seg-000002")
    runs = sorted(p.name for p in harness.index_dir.glob(".tmp-gen-*/tables/*.json"))
    store = harness.finish(*args)
    assert len(store.manifest.segments) == 2
    assert harness.reference.fingerprint(store) == grown_fp
    harness.assert_cleaned_up(store, step, partial, "seg-000002")
    if step == "tables-written":  # killed with the new runs written, the manifest not yet
        # (every article moved to the new folder: one run each takes in the old one)
        assert runs == ["articles-000002.json", "sources-000002.json"]


@pytest.mark.parametrize("step", ["faiss-half-written", "renamed"])
def test_sigkilled_first_ingest_leaves_no_index(
    step: str, corpora: tuple[Path, Path], harness: Harness
) -> None:
    args = ["ingest", corpora[1], "--index-dir", harness.index_dir]
    harness.kill_at(step, *args)
    if step == "renamed":
        # Complete and fsynced but never pointed at: a directory with a generation and no
        # CURRENT is never taken for an empty index (issue 14), so readers find this one.
        assert harness.fingerprint() == harness.expected.new
    else:
        with pytest.raises(IndexNotFoundError):
            harness.fingerprint()
    store = harness.finish(*args)
    assert (harness.index_dir / CURRENT).read_text().strip() == "gen-000001"
    assert harness.reference.fingerprint(store) == harness.expected.new


def test_sigkilled_delete_leaves_old_index(harness: Harness) -> None:
    args = ["delete", "museum", "--index-dir", harness.copy_old_index()]
    # A delete marks rows deleted and links the segment: it writes no BM25, only a manifest.
    harness.kill_at("manifest-written", *args)
    assert harness.fingerprint() == harness.expected.old
    store = harness.finish(*args)
    assert "museum" not in store.articles
    harness.reference.assert_consistent(store)


def test_console_script_killed_between_last_write_and_switch(
    corpora: tuple[Path, Path], harness: Harness
) -> None:
    """The same through `.venv/bin/rag` itself, so the entry point's wiring is real too."""
    index_dir = harness.copy_old_index()
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
    assert harness.fingerprint() == harness.expected.old


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
def two_generations(corpora: tuple[Path, Path], harness: Harness) -> Path:
    """An index whose previous generation is the old corpus and live one the new corpus."""
    index_dir = harness.copy_old_index()
    ingest([corpora[1]], index_dir, harness.embedder, IngestOptions(prune=True))
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
    harness: Harness,
    caplog: pytest.LogCaptureFixture,
) -> None:
    corrupt(two_generations / "gen-000002" / name, how)
    with caplog.at_level(logging.WARNING, logger="index"):
        store = open_index(two_generations, harness.embedder)
    assert store.path is not None and store.path.name == "gen-000001"
    assert harness.reference.fingerprint(store) == harness.expected.old
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
    two_generations: Path, corpora: tuple[Path, Path], harness: Harness
) -> None:
    """The next success replaces the corrupt live generation and keeps the one it read."""
    corrupt(two_generations / "gen-000002" / "vectors.npy", "flip")
    report = ingest([corpora[1]], two_generations, harness.embedder, IngestOptions(prune=True))
    assert report.generation == "gen-000003"
    assert sorted(p.name for p in generation_dirs(two_generations)) == [
        "gen-000001",
        "gen-000003",
    ]
    assert harness.fingerprint() == harness.expected.new


def test_rebuild_recovers_an_index_with_no_intact_generation(
    two_generations: Path, corpora: tuple[Path, Path], harness: Harness
) -> None:
    corrupt(two_generations / "gen-000002" / "chunks.jsonl", "truncate")
    corrupt(two_generations / "gen-000001" / "dense.faiss", "flip")
    with pytest.raises(CorruptIndexError):
        ingest([corpora[1]], two_generations, harness.embedder)
    options = IngestOptions(rebuild=True)
    report = ingest([corpora[1]], two_generations, harness.embedder, options)
    assert sorted(report.added) == sorted(NEW_ARTICLES)
    assert harness.fingerprint() == harness.expected.new


def test_only_the_entry_point_knows_the_kill_switch() -> None:
    library = (Path(__file__).resolve().parents[2] / "index").glob("*.py")
    assert not [p.name for p in library if "RAG_TEST_KILL_AT" in p.read_text()]
