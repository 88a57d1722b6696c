"""Bm25Store scores and splits queries exactly as bm25s does, without importing it to query."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bm25s
import numpy as np
import pytest
import Stemmer
from hypothesis import given, settings
from hypothesis import strategies as st

from newsrag.index import Bm25Store, IndexStore
from newsrag.index.records import Chunk
from newsrag.index.sparse import QUERY_FILE, bm25_document, filter_mask
from newsrag.index.store import BM25_DIR

QUERIES = [
    "How much will Alibaba invest in its overseas research hubs?",
    "alibaba ALIBABA Alibaba's investing invests",  # one stem, repeated: counted each time
    "the and of is",  # stopwords only
    "zyzzyva quokka",  # nothing known
    "Telenor Pinduoduo data center Philippines 2021 $1 billion",
    "",
]
WORDS = ["alibaba", "invest", "cloud", "the", "research", "hubs", "Telenor", "of", "2021", "é"]


@pytest.fixture(scope="module")
def chunks(corpus_store: IndexStore) -> list[Chunk]:
    return corpus_store.chunks


@pytest.fixture(scope="module")
def reference(chunks: list[Chunk]) -> bm25s.BM25:
    """bm25s itself, indexing the same documents the same way."""
    tokens = bm25s.tokenize(
        [bm25_document(c) for c in chunks],
        stopwords="en",
        stemmer=Stemmer.Stemmer("english"),
        show_progress=False,
    )
    retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    retriever.index(tokens, show_progress=False)
    return retriever


def bm25s_scores(reference: bm25s.BM25, query: str) -> np.ndarray | None:
    """What the store searched with before issue 13: bm25s' own tokenizer and scorer."""
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(
        [query], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False
    )
    known = [t for t in (tokens[0] if tokens else []) if t in reference.vocab_dict]
    return reference.get_scores(known) if known else None


def assert_same_scores(store: Bm25Store, reference: bm25s.BM25, query: str) -> None:
    ours, theirs = store.scores(query), bm25s_scores(reference, query)
    if theirs is None:
        assert ours is None
    else:
        assert ours is not None and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_scores_equal_bm25s(chunks: list[Chunk], reference: bm25s.BM25, tmp_path: Path) -> None:
    built = Bm25Store.build(chunks)
    built.write(tmp_path)
    read = Bm25Store.read(tmp_path, chunks)
    assert built.n_docs == read.n_docs == len(chunks)
    for query in QUERIES:
        for store in (built, read):
            assert_same_scores(store, reference, query)
    assert read.search(QUERIES[0], 3) == built.search(QUERIES[0], 3) != []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=12), max_size=8).map(" ".join))
def test_any_query_scores_as_in_bm25s(
    chunks: list[Chunk], reference: bm25s.BM25, query: str
) -> None:
    assert_same_scores(Bm25Store.build(chunks), reference, query)


def test_bm25s_still_reads_what_is_written(
    chunks: list[Chunk], reference: bm25s.BM25, tmp_path: Path
) -> None:
    Bm25Store.build(chunks).write(tmp_path)
    again = bm25s.BM25.load(str(tmp_path), show_progress=False)
    assert again.vocab_dict == reference.vocab_dict
    for key in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(again.scores[key], reference.scores[key])
    tokenizer = json.loads((tmp_path / QUERY_FILE).read_text())
    assert set(tokenizer["stopwords"]) == set(bm25s.stopwords.STOPWORDS_EN)


def test_an_index_written_before_query_json_reads_the_same(
    writable_index_dir: Path, chunks: list[Chunk]
) -> None:
    (bm25,) = writable_index_dir.glob(f"gen-*/{BM25_DIR}")
    with_settings = Bm25Store.read(bm25, chunks)
    (bm25 / QUERY_FILE).unlink()
    without = Bm25Store.read(bm25, chunks)
    for query in QUERIES:
        assert with_settings.search(query, 5) == without.search(query, 5)


def test_searching_an_index_does_not_import_bm25s(corpus_index_dir: Path) -> None:
    index_dir = corpus_index_dir  # read only
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from newsrag.index import Bm25Store, Chunk\n"
        "from newsrag.index.generations import current_generation\n"
        f"gen = current_generation(Path({str(index_dir)!r}))\n"
        "lines = (gen / 'chunks.jsonl').read_text().splitlines()\n"
        "store = Bm25Store.read(gen / 'bm25', [Chunk(**json.loads(c)) for c in lines])\n"
        "hits = store.search('Alibaba research hubs', 3)\n"
        "print(json.dumps({'hits': len(hits),\n"
        "    'modules': sorted({m.split('.')[0] for m in sys.modules})}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["hits"] == 3
    assert {"bm25s", "scipy"}.isdisjoint(report["modules"])


def test_a_filtered_search_is_the_full_ranking_with_the_rest_left_out(
    chunks: list[Chunk],
) -> None:
    store = Bm25Store.build(chunks)
    query = QUERIES[0]
    full = store.search(query, len(chunks))
    docs = sorted({c.doc_id for c in chunks})
    for keep in ({0}, {0, 1}, {1, 2, 3}):

        def where(chunk: Chunk, keep: set[int] = keep) -> bool:
            return docs.index(chunk.doc_id) in keep

        wanted = [(h.chunk.id, h.score) for h in full if where(h.chunk)][:4]
        got = store.search(query, 4, where=where)
        assert [(h.chunk.id, h.score) for h in got] == wanted
        assert [h.rank for h in got] == list(range(1, len(got) + 1))
    assert store.search(query, 4, where=lambda chunk: False) == []
    assert store.search(query, 0) == []


def test_filter_mask_marks_the_chunks_kept(chunks: list[Chunk]) -> None:
    keep = chunks[0].doc_id
    mask = filter_mask(chunks, lambda c: c.doc_id == keep)
    assert mask is not None and mask.dtype == np.float32
    assert mask.tolist() == [1.0 if c.doc_id == keep else 0.0 for c in chunks]
    assert filter_mask(chunks, None) is None
