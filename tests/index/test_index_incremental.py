"""Incremental ingest: unchanged articles are not re-embedded; removed ones are never found."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from newsrag.index import (
    ChunkingParams,
    IndexStore,
    IngestOptions,
    SentenceTransformerEmbedder,
    delete_articles,
    ingest,
    open_index,
)
from newsrag.index.chunking import embed_input, short_title
from newsrag.index.embed_stream import EMBED_BATCH, PROGRESS_MIN_ARTICLES
from newsrag.index.generations import generation_dirs

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
A000, A001, A004 = "000_55b3a58e47ab3e3b", "001_6e6788954849d3b3", "004_fa44ad58bdb6b94c"


class RecordingEmbedder:
    """The real embedder, recording every passage it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.embedded: list[str] = []

    def count_tokens(self, texts: list[str]) -> list[int]:
        """As the real model counts."""
        return self.inner.count_tokens(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Embed for real, and remember the texts."""
        self.embedded.extend(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed for real."""
        return self.inner.embed_query(text)


@pytest.fixture
def recorder(embedder: SentenceTransformerEmbedder) -> RecordingEmbedder:
    """A fresh recording wrapper around the session's model."""
    return RecordingEmbedder(embedder)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped corpus that a test may edit."""
    return Path(shutil.copytree(CORPUS, tmp_path / "corpus"))


def assert_consistent(store: IndexStore) -> None:
    """FAISS vectors == BM25 documents == chunk records == vector rows == manifest counts."""
    n = len(store.chunks)
    assert store.dense.index.ntotal == n
    assert store.sparse.n_docs == n
    assert store.vectors.shape == (n, store.manifest.dim)
    assert store.manifest.n_chunks == n
    assert sum(e.n_chunks for e in store.manifest.articles.values()) == n
    assert set(store.articles) == set(store.manifest.articles) == {c.doc_id for c in store.chunks}
    for doc_id in store.articles:
        ordinals = [c.ordinal for c in store.chunks if c.doc_id == doc_id]
        assert ordinals == list(range(len(ordinals)))


def assert_never_found(store: IndexStore, doc_id: str, queries: list[str]) -> None:
    """No search, dense or BM25, with any k, returns a chunk of `doc_id`."""
    everything = len(store.chunks) + 5
    for query in queries:
        for hits in (store.dense.search(query, everything), store.sparse.search(query, everything)):
            assert doc_id not in {h.chunk.doc_id for h in hits}


def test_second_ingest_of_the_same_corpus_embeds_nothing(
    writable_index_dir: Path, recorder: RecordingEmbedder
) -> None:
    before = sorted(p.name for p in generation_dirs(writable_index_dir))
    report = ingest([CORPUS], writable_index_dir, recorder)
    assert recorder.embedded == []
    assert report.chunks_embedded == 0 and report.tokens_embedded == 0
    assert sorted(report.unchanged) == [A000, A001, A004]
    assert report.added == report.updated == report.removed == report.failed == []
    assert not report.changed
    assert sorted(p.name for p in generation_dirs(writable_index_dir)) == before
    assert report.generation == before[-1]


def test_changing_one_article_re_embeds_only_its_chunks(
    writable_index_dir: Path,
    corpus_copy: Path,
    recorder: RecordingEmbedder,
    corpus_store: IndexStore,
) -> None:
    path = next(corpus_copy.glob("004_*.md"))
    old_sentence = "Price Action: Alibaba shares closed 0.5% lower at $215.82 on Tuesday."
    new_sentence = "Price Action: Alibaba shares jumped 4.2% to $224.70 after the announcement."
    path.write_text(path.read_text().replace(old_sentence, new_sentence))

    report = ingest([corpus_copy], writable_index_dir, recorder)

    store = open_index(writable_index_dir, recorder.inner)
    assert_consistent(store)
    assert report.updated == [A004]
    assert sorted(report.unchanged) == [A000, A001]
    new_chunks = [c for c in store.chunks if c.doc_id == A004]
    assert report.chunks_embedded == len(new_chunks) == len(recorder.embedded)
    title = short_title(new_chunks[0].title, 32, recorder.count_tokens)
    assert sorted(recorder.embedded) == sorted(embed_input(title, c.text) for c in new_chunks)
    texts = [c.text for c in store.chunks]
    assert any(new_sentence in t for t in texts)
    assert not any(old_sentence in t for t in texts)
    assert store.sparse.search("jumped 224.70 announcement", 3)[0].chunk.doc_id == A004
    assert_never_found_text(store, old_sentence)
    # The other articles' chunks and vectors are carried over bit for bit.
    for doc_id in (A000, A001):
        old_rows = [i for i, c in enumerate(corpus_store.chunks) if c.doc_id == doc_id]
        new_rows = [i for i, c in enumerate(store.chunks) if c.doc_id == doc_id]
        assert [store.chunks[i] for i in new_rows] == [corpus_store.chunks[i] for i in old_rows]
        assert np.array_equal(store.vectors[new_rows], corpus_store.vectors[old_rows])


def assert_never_found_text(store: IndexStore, text: str) -> None:
    """No chunk that BM25 or dense search can return holds `text`."""
    everything = len(store.chunks)
    for hits in (store.dense.search(text, everything), store.sparse.search(text, everything)):
        assert not any(text in h.chunk.text for h in hits)


def test_prune_removes_articles_no_longer_present(
    writable_index_dir: Path, corpus_copy: Path, recorder: RecordingEmbedder
) -> None:
    next(corpus_copy.glob("001_*.md")).unlink()

    kept = ingest([corpus_copy], writable_index_dir, recorder)
    assert kept.removed == [] and sorted(kept.unchanged) == [A000, A004]  # without --prune
    assert A001 in open_index(writable_index_dir, recorder.inner).articles

    report = ingest([corpus_copy], writable_index_dir, recorder, IngestOptions(prune=True))
    assert report.removed == [A001]
    assert recorder.embedded == []  # removing re-embeds nothing
    store = open_index(writable_index_dir, recorder.inner)
    assert_consistent(store)
    assert A001 not in store.articles
    assert_never_found(
        store, A001, ["Jerusalem Venture Capital", "Israel Post", "development center in Israel"]
    )


def test_delete_removes_one_article(writable_index_dir: Path, recorder: RecordingEmbedder) -> None:
    report = delete_articles(iter([A000]), writable_index_dir, recorder)  # any iterable
    assert report.removed == [A000] and recorder.embedded == []
    store = open_index(writable_index_dir, recorder.inner)
    assert_consistent(store)
    assert set(store.articles) == {A001, A004}
    assert_never_found(store, A000, ["Telenor Bank", "AliPay in Pakistan", "Pakistani consumers"])


def test_delete_unknown_id_raises_and_changes_nothing(
    writable_index_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    before = sorted(p.name for p in generation_dirs(writable_index_dir))
    with pytest.raises(KeyError, match="no-such-id"):
        delete_articles([A000, "no-such-id"], writable_index_dir, embedder)
    assert sorted(p.name for p in generation_dirs(writable_index_dir)) == before
    assert A000 in open_index(writable_index_dir, embedder).articles


def test_delete_then_re_ingest_brings_it_back(
    writable_index_dir: Path, recorder: RecordingEmbedder, corpus_store: IndexStore
) -> None:
    delete_articles([A004], writable_index_dir, recorder)
    report = ingest([CORPUS], writable_index_dir, recorder)
    assert report.added == [A004]
    store = open_index(writable_index_dir, recorder.inner)
    assert_consistent(store)
    assert [c.id for c in store.chunks] == [c.id for c in corpus_store.chunks]


def test_changed_chunking_re_embeds_everything(
    writable_index_dir: Path, recorder: RecordingEmbedder
) -> None:
    params = ChunkingParams(target_tokens=80, overlap_tokens=16)
    report = ingest([CORPUS], writable_index_dir, recorder, IngestOptions(params=params))
    assert sorted(report.updated) == [A000, A001, A004]
    store = open_index(writable_index_dir, recorder.inner)
    assert report.chunks_embedded == len(store.chunks) == len(recorder.embedded)
    assert store.manifest.chunking["target_tokens"] == 80
    assert_consistent(store)


def test_switching_faiss_kind_rewrites_without_re_embedding(
    writable_index_dir: Path, recorder: RecordingEmbedder, corpus_store: IndexStore
) -> None:
    report = ingest([CORPUS], writable_index_dir, recorder, IngestOptions(faiss_kind="hnsw"))
    assert recorder.embedded == [] and report.generation == "gen-000002"
    store = open_index(writable_index_dir, recorder.inner)
    assert store.manifest.faiss_kind == "hnsw"
    assert np.array_equal(store.vectors, corpus_store.vectors)
    assert_consistent(store)


def test_an_ingest_without_a_kind_keeps_the_index_kind(
    tmp_path: Path, corpus_copy: Path, recorder: RecordingEmbedder
) -> None:
    index_dir = tmp_path / "index"
    ingest([corpus_copy], index_dir, recorder, IngestOptions(faiss_kind="hnsw"))
    (corpus_copy / "late.txt").write_text(
        "Late news\n\nA ferry operator added two routes to the islands this spring.", "utf-8"
    )
    report = ingest([corpus_copy], index_dir, recorder)  # no kind: an update, not a switch
    store = open_index(index_dir, recorder.inner)
    assert report.added == ["late"] and store.manifest.faiss_kind == "hnsw"
    # the new article went into a segment of its own, HNSW like the first one
    parts = getattr(store.dense, "parts", [(store.dense,)])
    assert len(parts) == 2
    assert {type(part[0].index).__name__ for part in parts} == {"IndexHNSWFlat"}
    assert_consistent(store)


def test_rebuild_re_embeds_everything(
    writable_index_dir: Path, recorder: RecordingEmbedder
) -> None:
    report = ingest([CORPUS], writable_index_dir, recorder, IngestOptions(rebuild=True))
    assert report.chunks_embedded == report.total_chunks == len(recorder.embedded) > 0
    assert_consistent(open_index(writable_index_dir, recorder.inner))


def test_an_empty_first_ingest_makes_an_empty_index(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    (tmp_path / "empty").mkdir()
    report = ingest([tmp_path / "empty"], tmp_path / "index", embedder)
    assert report.generation == "gen-000001" and report.total_chunks == 0
    store = open_index(tmp_path / "index", embedder)
    assert store.chunks == [] and store.dense.search("anything", 5) == []
    assert store.sparse.search("anything", 5) == []


class ProgressProbe:
    """A toy embedder (4 dims) that records how many texts each call embeds."""

    name, dim, max_tokens = "probe", 4, 256

    def __init__(self) -> None:
        self.calls: list[int] = []

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Whitespace words plus two specials."""
        return [2 + len(t.split()) for t in texts]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, 4) float32 unit rows."""
        self.calls.append(len(texts))
        rows = np.ones((len(texts), self.dim), dtype=np.float32)
        return rows / 2.0

    def embed_query(self, text: str) -> np.ndarray:
        """(4,) float32 unit."""
        return np.full(self.dim, 0.5, dtype=np.float32)


def test_progress_bar_only_on_long_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    many = max(PROGRESS_MIN_ARTICLES, EMBED_BATCH) + 10  # one chunk each
    for i in range(many):
        (folder / f"a{i:04d}.txt").write_text(f"Headline {i}\n\nStory number {i} happened today.")
    probe = ProgressProbe()
    options = IngestOptions(progress=True)
    bars = []
    for paths, where, opts in [
        ([next(folder.iterdir())], "small", options),
        ([folder], "large", options),
        ([folder], "quiet", IngestOptions(progress=False)),
    ]:
        ingest(paths, tmp_path / where, probe, opts)
        bars.append(capsys.readouterr().err)
    assert "Embedding" not in bars[0] and "Embedding" not in bars[2]
    assert f"{many}/{many}" in bars[1]
    # The bar is the ingest's, over articles; batches of EMBED_BATCH chunks, in order.
    batches = [EMBED_BATCH, many - EMBED_BATCH]
    assert probe.calls == [1, *batches, *batches]
