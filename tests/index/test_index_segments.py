"""Segments and change detection: an ingest writes only what changed, and ranks as a rebuild.

Runs on an invented corpus with the word-hashing test embedder (tests/index/hashing.py), so it
needs no model: what is checked is the index, not the vectors.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from newsrag.index import (
    IndexStore,
    IngestOptions,
    delete_articles,
    ingest,
    loaders,
    open_index,
    segments,
    sources,
)
from newsrag.index.ingest import compact
from newsrag.index.records import Chunk
from newsrag.index.segments import select_merges, tier
from tests.index.hashing import HashingEmbedder

WORDS = [
    "harbour",
    "ferry",
    "council",
    "budget",
    "river",
    "bridge",
    "school",
    "teacher",
    "strike",
    "festival",
    "orchard",
    "drought",
    "reservoir",
    "tram",
    "depot",
    "library",
    "archive",
    "glacier",
    "valley",
    "copper",
    "mine",
    "vineyard",
    "frost",
    "market",
]
QUERIES = [
    "ferry harbour council",
    "drought reservoir river",
    "copper mine valley strike",
    "library archive festival tram",
    "glacier",
    "nothing known zzz",
]
UNKNOWN = QUERIES[-1]


def write_article(folder: Path, name: str, seed: int, words: int = 40) -> Path:
    """A markdown article of invented words; the same seed writes the same text."""
    rng = random.Random(seed)
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    path = folder / f"{name}.md"
    path.write_text(f'---\ntitle: "{name} {rng.choice(WORDS)}"\n---\n{body}.\n', "utf-8")
    return path


def results(store: IndexStore) -> list[list[tuple[str, float]]]:
    """Dense and BM25 top-10 (chunk id, score) of every query, plus unfiltered scores."""
    out = []
    for query in QUERIES:
        out.append([(h.chunk.id, h.score) for h in store.sparse.search(query, 10)])
        if query == UNKNOWN:  # every chunk ties at cosine 0: FAISS's tie order is its own
            continue
        out.append([(h.chunk.id, h.score) for h in store.dense.search(query, 10)])
        out.append([(h.chunk.id, h.score) for h in store.sparse.search(query, 5, where=_even_doc)])
        out.append([(h.chunk.id, h.score) for h in store.dense.search(query, 5, where=_even_doc)])
    return out


def _even_doc(chunk: Chunk) -> bool:
    return chunk.doc_id[-1] in "02468"


def assert_same_as_rebuild(index_dir: Path, corpus: Path, tmp_path: Path) -> None:
    """Same passages in the same order with scores equal to 1e-6, as a fresh build gives."""
    embedder = HashingEmbedder()
    rebuilt_dir = tmp_path / f"rebuilt-{len(list(tmp_path.iterdir()))}"
    ingest([corpus], rebuilt_dir, embedder)
    ours, rebuilt = open_index(index_dir, embedder), open_index(rebuilt_dir, embedder)
    assert [c.id for c in ours.chunks] == [c.id for c in rebuilt.chunks]
    assert ours.articles == rebuilt.articles
    np.testing.assert_array_equal(ours.vectors, rebuilt.vectors)
    for mine, theirs in zip(results(ours), results(rebuilt), strict=True):
        assert [cid for cid, _ in mine] == [cid for cid, _ in theirs]
        np.testing.assert_allclose([s for _, s in mine], [s for _, s in theirs], atol=1e-6)
    for query in QUERIES:
        a, b = ours.sparse.scores(query), rebuilt.sparse.scores(query)
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            np.testing.assert_array_equal(a, b)  # bit for bit: same float operations


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(30):
        write_article(folder, f"a{i:02d}", i)
    return folder


def test_a_segmented_index_ranks_exactly_like_a_rebuild(corpus: Path, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    index_dir = tmp_path / "index"
    ingest([corpus], index_dir, embedder)
    for i in range(30, 35):  # adds
        write_article(corpus, f"a{i:02d}", i)
    ingest([corpus], index_dir, embedder)
    for i in (3, 17):  # changes
        write_article(corpus, f"a{i:02d}", 1000 + i, words=70)
    ingest([corpus], index_dir, embedder)
    delete_articles(["a31"], index_dir, embedder)  # a delete (its file goes too)
    (corpus / "a31.md").unlink()
    (corpus / "a08.md").unlink()  # a prune
    report = ingest([corpus], index_dir, embedder, IngestOptions(prune=True))
    assert report.removed == ["a08"] and not report.added and not report.updated
    store = open_index(index_dir, embedder)
    assert len(store.manifest.segments) >= 2, "the changes should sit in segments of their own"
    assert any(s.deleted for s in store.manifest.segments)
    assert_same_as_rebuild(index_dir, corpus, tmp_path)

    done = compact(index_dir, embedder)
    compacted = open_index(index_dir, embedder)
    assert done.segments == 1 and len(compacted.manifest.segments) == 1
    assert not compacted.manifest.segments[0].deleted
    assert_same_as_rebuild(index_dir, corpus, tmp_path)
    assert compact(index_dir, embedder).generation == done.generation  # nothing left to merge


def test_an_add_writes_one_small_segment_and_links_the_rest(corpus: Path, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    index_dir = tmp_path / "index"
    first = ingest([corpus], index_dir, embedder)
    write_article(corpus, "new", 99)
    second = ingest([corpus], index_dir, embedder)
    assert second.added == ["new"] and embedder.passages == 31  # one more chunk embedded
    gen1, gen2 = index_dir / str(first.generation), index_dir / str(second.generation)
    old_vectors = gen1 / "vectors.npy"
    linked = gen2 / "seg-000001" / "vectors.npy"
    assert linked.stat().st_ino == old_vectors.stat().st_ino  # linked, not copied
    new_vectors = np.load(gen2 / "seg-000002" / "vectors.npy")
    assert new_vectors.shape[0] == 1


def test_an_unchanged_file_is_not_opened_and_a_touched_one_is_hashed_only(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = HashingEmbedder()
    index_dir = tmp_path / "index"
    ingest([corpus], index_dir, embedder)
    opened: list[str] = []
    hashed: list[str] = []
    real_load, real_digest = loaders.load_one, sources._digest
    monkeypatch.setattr(
        sys.modules["newsrag.index.ingest"],
        "load_one",
        lambda p, *a, **k: opened.append(p.name) or real_load(p, *a, **k),
    )
    monkeypatch.setattr(sources, "_digest", lambda p: hashed.append(p.name) or real_digest(p))
    embedded = embedder.passages

    again = ingest([corpus], index_dir, embedder)
    assert (opened, hashed) == ([], []) and again.files_unchanged == 30
    assert len(again.unchanged) == 30 and not again.changed

    touched = corpus / "a05.md"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    report = ingest([corpus], index_dir, embedder)
    assert hashed == ["a05.md"] and opened == [] and report.files_rehashed == 1
    assert embedder.passages == embedded and not report.changed  # nothing re-embedded
    hashed.clear()
    ingest([corpus], index_dir, embedder)
    assert hashed == []  # the new stat was recorded

    write_article(corpus, "a06", 606)
    report = ingest([corpus], index_dir, embedder)
    assert opened == ["a06.md"] and report.updated == ["a06"]
    assert embedder.passages == embedded + 1

    (corpus / "a07.md").unlink()
    report = ingest([corpus], index_dir, embedder, IngestOptions(prune=True))
    assert report.removed == ["a07"] and len(report.unchanged) == 29
    opened.clear()
    report = ingest([corpus], index_dir, embedder, IngestOptions(rebuild=True))
    assert len(opened) == 29 and len(report.updated) == 29  # --rebuild reads everything again


def test_the_merge_policy_keeps_segments_bounded(corpus: Path, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    index_dir = tmp_path / "index"
    options = IngestOptions(merge_factor=3, merge_floor=4)
    ingest([corpus], index_dir, embedder, options)
    counts = []
    for i in range(20):
        write_article(corpus, f"n{i:02d}", 500 + i)
        counts.append(ingest([corpus], index_dir, embedder, options).segments)
    # tiers at 4 and 12 and 36 chunks: at most 2 segments per tier, 4 tiers here
    assert max(counts) <= 2 * 4 and counts[-1] < 20
    assert_same_as_rebuild(index_dir, corpus, tmp_path)


def test_select_merges() -> None:
    assert tier(3, 10, 10) == 0 and tier(10, 10, 10) == 1 and tier(150, 10, 10) == 2
    small = {f"s{i}": (5, 5) for i in range(9)}
    assert select_merges(small, 5, 10, 100) == set(small)  # the 10th small one merges the tier
    assert select_merges(small, 0, 10, 100) == set()  # a delete writes no segment
    assert select_merges({"big": (60, 100)}, 0, 10, 10) == {"big"}  # 40% deleted: rewritten
    assert select_merges({"big": (70, 100)}, 0, 10, 10) == set()


def test_a_corrupt_new_segment_falls_back_to_the_previous_generation(
    corpus: Path, tmp_path: Path
) -> None:
    embedder = HashingEmbedder()
    index_dir = tmp_path / "index"
    ingest([corpus], index_dir, embedder)
    write_article(corpus, "late", 77)
    report = ingest([corpus], index_dir, embedder)
    path = index_dir / str(report.generation) / "seg-000002" / "dense.faiss"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    store = open_index(index_dir, embedder)
    assert store.path is not None and store.path.name == "gen-000001"
    # the next ingest notices it too (the file's stat changed, so it is checksummed) and
    # builds on the intact generation
    again = ingest([corpus], index_dir, embedder)
    assert again.added == ["late"] and again.generation == "gen-000003"
    assert "late" in open_index(index_dir, embedder).articles
    shutil.rmtree(index_dir)


def test_the_incremental_bench_runs_and_finds_identical_results(tmp_path: Path) -> None:
    from bench import ingest as bench_ingest
    from bench.ingest_segments import run_incremental

    absent = str(tmp_path / "absent")
    options = ["--articles", "150", "--repeat", "1", "--queries", "5", "--scifact", absent]
    args = bench_ingest.parse_args(["--incremental", *options])
    figures = run_incremental(args)
    assert figures["hash_articles"] == 150 and figures["hash_segments"] == 10
    assert figures["hash_identical_results"] == "5/5"
    assert str(figures["scifact"]).startswith("skipped")
    assert float(figures["hash_full_rewrite_s"]) > 0  # type: ignore[arg-type]


def segmented(corpus: Path, index_dir: Path, options: IngestOptions | None = None) -> IndexStore:
    """An index of `corpus` in several segments, with a changed and a deleted article."""
    embedder = HashingEmbedder()
    ingest([corpus], index_dir, embedder, options)
    for i in range(30, 34):
        write_article(corpus, f"a{i:02d}", i)
        ingest([corpus], index_dir, embedder, options)
    write_article(corpus, "a05", 505, words=60)
    ingest([corpus], index_dir, embedder, options)
    delete_articles(["a11"], index_dir, embedder)
    (corpus / "a11.md").unlink()
    store = open_index(index_dir, embedder)
    assert len(store.manifest.segments) >= 3 and any(s.deleted for s in store.manifest.segments)
    return store


def test_flat_segments_are_searched_in_one_pass_ties_as_a_rebuild(
    corpus: Path, tmp_path: Path
) -> None:
    store = segmented(corpus, tmp_path / "index")
    assert store.dense._flat is store.vectors  # type: ignore[attr-defined]  # one pass
    ingest([corpus], tmp_path / "rebuilt", HashingEmbedder())
    rebuilt = open_index(tmp_path / "rebuilt", HashingEmbedder())
    for query in (UNKNOWN, "glacier"):  # UNKNOWN: every chunk ties at cosine 0
        ours = [(h.chunk.id, h.score) for h in store.dense.search(query, 12)]
        assert ours == [(h.chunk.id, h.score) for h in rebuilt.dense.search(query, 12)]


def test_hnsw_segments_are_searched_one_by_one_and_merged(corpus: Path, tmp_path: Path) -> None:
    options = IngestOptions(faiss_kind="hnsw")
    store = segmented(corpus, tmp_path / "index", options)
    assert store.dense._flat is None  # type: ignore[attr-defined]
    ingest([corpus], tmp_path / "rebuilt", HashingEmbedder(), options)
    rebuilt = open_index(tmp_path / "rebuilt", HashingEmbedder())
    for query in QUERIES[:-1]:  # a corpus this small is searched exhaustively by HNSW
        ours = [(h.chunk.id, round(h.score, 6)) for h in store.dense.search(query, 8)]
        assert ours == [(h.chunk.id, round(h.score, 6)) for h in rebuilt.dense.search(query, 8)]
        kept = store.dense.search(query, 4, where=_even_doc)
        assert kept and all(_even_doc(h.chunk) for h in kept)
        assert "a11" not in {h.chunk.doc_id for h in store.dense.search(query, 40)}


def test_bm25_merged_in_small_blocks_scores_as_a_rebuild(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "MERGE_BLOCK", 7)  # many blocks, cut inside columns
    store = segmented(corpus, tmp_path / "index")
    ingest([corpus], tmp_path / "rebuilt", HashingEmbedder())
    rebuilt = open_index(tmp_path / "rebuilt", HashingEmbedder())
    for query in QUERIES:
        ours, theirs = store.sparse.scores(query), rebuilt.sparse.scores(query)
        assert (ours is None) == (theirs is None)
        if ours is not None and theirs is not None:
            np.testing.assert_array_equal(ours, theirs)
