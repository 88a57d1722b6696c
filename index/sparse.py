"""Bm25Store: BM25 over the same chunks (bm25s, English stemming and stopwords).

bm25s builds and saves the index: per term, the chunks it occurs in and their precomputed BM25
scores (an eager, column-sparse matrix in plain .npy + JSON files). Queries are scored here from
those files as bm25s scores them (the sum of the query terms' columns), and split as
`bm25s.tokenize` splits text, from the settings `query.json` records beside them: a process
that only answers questions never imports bm25s, nor the scipy it pulls in (0.2-0.4 s of a
`rag ask`, issue 13). tests/index/test_index_sparse.py checks both against bm25s itself.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import Stemmer

from newsrag.index.chunking import embed_input
from newsrag.index.records import Chunk, Hit

log = logging.getLogger(__name__)
ChunkFilter = Callable[[Chunk], bool]

# bm25s' file names (BM25.save / BM25.load) and ours beside them.
_DATA, _INDICES, _INDPTR = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
_VOCAB, _PARAMS, _NONOCCURRENCE = (
    "vocab.index.json",
    "params.index.json",
    "nonoccurrence_array.index.npy",
)
QUERY_FILE = "query.json"
# Raw term frequencies (aligned with bm25s' data: same indices and indptr) and token counts per
# chunk: what scoring with corpus-wide statistics over several segments needs (index.segments).
_TF, _DOCLEN = "tf.csc.index.npy", "doclen.index.npy"
# How chunks are split (bm25s.tokenize's defaults, English stopwords, Snowball English stems).
LANGUAGE = "english"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


@dataclass(frozen=True, slots=True)
class QueryTokenizer:
    """bm25s.tokenize's steps for one text: lowercase, split by pattern, drop stopwords, stem."""

    pattern: str
    stopwords: frozenset[str]
    language: str = LANGUAGE
    lower: bool = True

    def terms(self, text: str, stemmer: Stemmer.Stemmer) -> list[str]:
        """The stemmed terms of `text`, in order, repeats kept (each counts, as in bm25s)."""
        words = re.findall(self.pattern, text.lower() if self.lower else text)
        return stemmer.stemWords([w for w in words if w not in self.stopwords])

    def to_json(self) -> str:
        """What `query.json` holds."""
        fields = {"pattern": self.pattern, "lower": self.lower, "language": self.language}
        return json.dumps({**fields, "stopwords": sorted(self.stopwords)}, indent=1)

    @classmethod
    def read(cls, path: Path) -> QueryTokenizer:
        """From `query.json`; an index written before it existed asks bm25s for its stopwords."""
        if not path.is_file():
            log.info(
                "BM25 query settings missing; importing bm25s for them", extra={"path": str(path)}
            )
            return _bm25s_tokenizer()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["pattern"], frozenset(data["stopwords"]), data["language"], data["lower"])


def _bm25s_tokenizer() -> QueryTokenizer:
    """The settings `Bm25Store.build` passes to bm25s.tokenize (stopwords="en")."""
    from bm25s.stopwords import STOPWORDS_EN

    return QueryTokenizer(TOKEN_PATTERN, frozenset(STOPWORDS_EN))


@dataclass(frozen=True, slots=True)
class _Columns:
    """bm25s' eager index: term t's chunks are indices[indptr[t]:indptr[t+1]], scores in data."""

    data: np.ndarray  # (nnz,) BM25 score of a term in a chunk
    indices: np.ndarray  # (nnz,) chunk rows
    indptr: np.ndarray  # (n_terms + 1,)
    vocab: dict[str, int]  # stem -> term column
    n_docs: int
    nonoccurrence: np.ndarray | None  # (n_terms,) for BM25L / BM25+ only
    tf: np.ndarray | None = None  # (nnz,) float32 term frequency behind each entry of data
    doclen: np.ndarray | None = None  # (n_docs,) int64 tokens of each chunk, as bm25s counts


def bm25_document(chunk: Chunk) -> str:
    """Text BM25 indexes for a chunk: title and passage, as the embedder sees them."""
    return embed_input(chunk.title, chunk.text)


class Bm25Store:
    """Sparse retriever over chunk text; an empty store answers every query with nothing."""

    def __init__(
        self,
        columns: _Columns | None,
        chunks: Sequence[Chunk],
        tokenizer: QueryTokenizer | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.chunks = chunks
        self.n_docs = 0 if columns is None else columns.n_docs
        if self.n_docs != len(chunks):
            raise ValueError(f"BM25 holds {self.n_docs} documents for {len(chunks)} chunks")
        self._columns = columns
        self._tokenizer = tokenizer or QueryTokenizer(TOKEN_PATTERN, frozenset())
        self._params = params or {}
        self._stem = Stemmer.Stemmer(self._tokenizer.language)

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> Bm25Store:
        """Index the chunks with Lucene-style BM25 (k1=1.2, b=0.75)."""
        if not chunks:
            return cls(None, chunks)
        import bm25s

        tokenizer = _bm25s_tokenizer()
        tokens = bm25s.tokenize(
            [bm25_document(c) for c in chunks],
            lower=tokenizer.lower,
            token_pattern=tokenizer.pattern,
            stopwords=sorted(tokenizer.stopwords),
            stemmer=Stemmer.Stemmer(tokenizer.language),
            show_progress=False,
        )
        retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
        retriever.index(tokens, show_progress=False)
        scores = retriever.scores
        tf, doclen = _term_frequencies(tokens.ids, len(scores["indptr"]) - 1, scores)
        params = {
            "k1": retriever.k1,
            "b": retriever.b,
            "delta": retriever.delta,
            "method": retriever.method,
            "idf_method": retriever.idf_method,
            "dtype": retriever.dtype,
            "int_dtype": retriever.int_dtype,
            "num_docs": int(scores["num_docs"]),
            "version": bm25s.__version__,
            "backend": retriever.backend,
        }
        columns = _Columns(
            scores["data"],
            scores["indices"],
            scores["indptr"],
            dict(retriever.vocab_dict),
            int(scores["num_docs"]),
            retriever.nonoccurrence_array,
            tf,
            doclen,
        )
        return cls(columns, chunks, tokenizer, params)

    @classmethod
    def read(cls, directory: Path, chunks: Sequence[Chunk]) -> Bm25Store:
        """Load a store written by `write` (plain JSON + .npy files, no pickle)."""
        if not chunks:
            return cls(None, chunks)
        params = json.loads((directory / _PARAMS).read_text(encoding="utf-8"))
        nonoccurrence = directory / _NONOCCURRENCE
        tf, doclen = directory / _TF, directory / _DOCLEN
        data, indices, indptr = (
            np.load(directory / name, allow_pickle=False) for name in (_DATA, _INDICES, _INDPTR)
        )
        columns = _Columns(
            data,
            indices,
            indptr,
            json.loads((directory / _VOCAB).read_text(encoding="utf-8")),
            int(params["num_docs"]),
            np.load(nonoccurrence, allow_pickle=False) if nonoccurrence.exists() else None,
            np.load(tf, allow_pickle=False) if tf.exists() else None,
            np.load(doclen, allow_pickle=False) if doclen.exists() else None,
        )
        return cls(columns, chunks, QueryTokenizer.read(directory / QUERY_FILE), params)

    def write(self, directory: Path) -> None:
        """Save the BM25 arrays, vocabulary and parameters (bm25s' format) and query.json."""
        directory.mkdir(parents=True, exist_ok=True)
        columns = self._columns
        if columns is None:
            return
        arrays = [(_DATA, columns.data), (_INDICES, columns.indices), (_INDPTR, columns.indptr)]
        if columns.nonoccurrence is not None:
            arrays.append((_NONOCCURRENCE, columns.nonoccurrence))
        if columns.tf is not None and columns.doclen is not None:
            arrays += [(_TF, columns.tf), (_DOCLEN, columns.doclen)]
        for name, array in arrays:
            np.save(directory / name, array, allow_pickle=False)
        vocab = json.dumps(columns.vocab, ensure_ascii=False)
        (directory / _VOCAB).write_text(vocab, encoding="utf-8")
        (directory / _PARAMS).write_text(json.dumps(self._params, indent=4), encoding="utf-8")
        (directory / QUERY_FILE).write_text(self._tokenizer.to_json(), encoding="utf-8")

    @property
    def columns(self) -> _Columns | None:
        """The index arrays (None for an empty store); index.segments scores across stores."""
        return self._columns

    @property
    def tokenizer(self) -> QueryTokenizer:
        """How queries are split into terms."""
        return self._tokenizer

    @property
    def params(self) -> dict[str, Any]:
        """bm25s' parameters (k1, b, method, ...)."""
        return self._params

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray | None:
        """(n_chunks,) BM25 score of each chunk (times `mask`), None when no term is known."""
        columns = self._columns
        if columns is None:
            return None
        terms = self._tokenizer.terms(query, self._stem)
        known = [columns.vocab[t] for t in terms if t in columns.vocab]
        if not known:
            return None
        scores = np.zeros(columns.n_docs, dtype=columns.data.dtype)  # (n_chunks,)
        for term in known:  # bm25s' _compute_relevance_from_scores, term by term in query order
            start, end = columns.indptr[term], columns.indptr[term + 1]
            np.add.at(scores, columns.indices[start:end], columns.data[start:end])
        if columns.nonoccurrence is not None:
            scores += columns.nonoccurrence[known].sum()
        if mask is not None:
            scores *= mask
        return scores

    def search(self, query: str, k: int, *, where: ChunkFilter | None = None) -> list[Hit]:
        """Top-k chunks by BM25 score; chunks that share no term with the query are left out."""
        return filtered_search(self.scores, self.chunks, query, k, where)


# (query, mask) -> (n_chunks,) scores times the mask, or None when no query term is known.
ScoreFn = Callable[[str, np.ndarray | None], np.ndarray | None]


def filter_mask(chunks: Sequence[Chunk], where: ChunkFilter | None) -> np.ndarray | None:
    """(n_chunks,) float32: 1.0 for each chunk `where` keeps, else 0.0; None without a filter."""
    if where is None:
        return None
    return np.array([1.0 if where(c) else 0.0 for c in chunks], dtype=np.float32)


def filtered_search(
    scores_of: ScoreFn,
    chunks: Sequence[Chunk],
    query: str,
    k: int,
    where: ChunkFilter | None = None,
) -> list[Hit]:
    """Top-k of `chunks` by `scores_of(query, mask)`, only chunks `where` keeps (BM25 searches).

    Bm25Store and index.segments.SegmentedBm25 share it: one mask, one top-k tail.
    """
    if not chunks or k < 1:
        return []
    mask = filter_mask(chunks, where)
    if mask is not None and not mask.any():
        return []
    scores = scores_of(query, mask)  # (n_chunks,)
    if scores is None:
        return []
    return top_hits(scores, chunks, k)


def top_hits(scores: np.ndarray, chunks: Sequence[Chunk], k: int) -> list[Hit]:
    """The k best of (n_chunks,) `scores` as hits, best first; scores <= 0 left out."""
    k = min(k, len(chunks))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    hits: list[Hit] = []
    for idx in top:
        score = float(scores[idx])
        if score <= 0:
            break
        hits.append(Hit(chunks[idx], score, len(hits) + 1, {"bm25": score}))
    return hits


def _term_frequencies(
    ids: list[list[int]], n_vocab: int, scores: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(nnz,) term frequencies aligned with bm25s' score columns, and (n_docs,) token counts.

    Built the way bm25s builds its score matrix (a scipy CSC from (doc, term) pairs), so the
    entries line up one for one; checked, since a mismatch would score the wrong chunks.
    """
    import scipy.sparse as sp

    rows: list[int] = []
    cols: list[int] = []
    counts: list[int] = []
    for doc, token_ids in enumerate(ids):
        for term, n in Counter(token_ids).items():
            rows.append(doc)
            cols.append(term)
            counts.append(n)
    matrix = sp.csc_matrix(
        (np.array(counts, np.float32), (np.array(rows), np.array(cols))),
        shape=(len(ids), n_vocab),
        dtype=np.float32,
    )
    if not (
        np.array_equal(matrix.indices, scores["indices"])
        and np.array_equal(matrix.indptr, scores["indptr"])
    ):
        raise RuntimeError("term frequencies do not line up with bm25s' score matrix")
    doclen = np.array([len(t) for t in ids], dtype=np.int64)  # (n_docs,)
    return matrix.data, doclen
