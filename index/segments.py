"""Segments: a generation as immutable parts plus deleted rows, searched as one index.

Each ingest writes one new segment (the chunks, vectors, FAISS and BM25 index of the articles
it added or changed) and a new manifest that lists the live segments and, per segment, the
rows replaced or deleted since (tombstones). The segments it keeps are hard-linked into the new
generation directory, so nothing is copied and the commit protocol (index.generations) is
unchanged: a generation directory is still complete on its own.

Search reads the segments as one index. BM25 is scored from each segment's raw term
frequencies with corpus-wide statistics (live chunks, their average length, each term's
document frequency over live chunks), with the same float operations bm25s uses for one
index, into one column index over the live rows (`merge_postings`), so a segmented index
scores exactly as a rebuild of the same articles does, at the cost per query of one segment;
dense search runs FAISS's flat kernel once over the live vectors (flat segments) or fans out
over the segments' indexes and merges (other kinds). Chunks are ordered as a rebuild orders
them (by article id, then position), so ties break alike too.

A tiered merge policy (`select_merges`) keeps the number of segments bounded: segments are
grouped in tiers of size (a factor apart, small ones in the lowest tier); a tier that reaches
`factor` segments is merged into the next segment written, and a segment with more than a third
of its rows deleted is merged too. `rag compact` (index.ingest.compact) merges everything.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from newsrag.index.dense import _search_params
from newsrag.index.errors import CorruptIndexError
from newsrag.index.records import Article, Chunk, Hit
from newsrag.index.sparse import Bm25Store, filtered_search
from newsrag.index.tables import TABLES_DIR

if TYPE_CHECKING:
    from newsrag.index.embedding import Embedder
    from newsrag.index.sparse import _Columns
    from newsrag.index.store import Manifest, Segment, SegmentEntry

ChunkFilter = Callable[[Chunk], bool]

# Merge policy defaults: segments per tier, and the live chunks under which a segment counts
# as small (Lucene's TieredMergePolicy has the same two knobs).
MERGE_FACTOR = 10
MERGE_FLOOR = 1000
# A segment with more than this share of its rows deleted is rewritten by the next merge.
DELETED_SHARE = 1 / 3


def tier(live: int, factor: int, floor: int) -> int:
    """0 below `floor` live chunks, then one tier per power of `factor` above it."""
    if live < floor:
        return 0
    return 1 + int(math.log(live / floor, factor))


def select_merges(
    segments: dict[str, tuple[int, int]], incoming: int, factor: int, floor: int
) -> set[str]:
    """Names of the segments (live, total rows) to merge into the next written segment.

    `incoming` is the live chunks that segment gets anyway (0: none is written unless a merge
    is chosen). Afterwards no tier holds `factor` segments or more, so at most
    (factor - 1) x (number of tiers) segments exist, and tiers grow with log(corpus).
    """
    chosen = {
        name
        for name, (live, total) in segments.items()
        if total and (total - live) > DELETED_SHARE * total
    }
    if factor < 2:
        return chosen
    while True:
        out = incoming + sum(segments[n][0] for n in chosen)
        tiers: dict[int, list[str]] = {}
        for name, (live, _) in segments.items():
            if name not in chosen:
                tiers.setdefault(tier(live, factor, floor), []).append(name)
        if out or chosen:
            tiers.setdefault(tier(out, factor, floor), []).append("")
        full = sorted(t for t, names in tiers.items() if len(names) >= factor)
        if not full:
            return chosen
        chosen.update(n for n in tiers[full[0]] if n)


def link_tree(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """Hard-link every file of a segment under `source` to the same place under `target`;
    (src, dst) pairs. The manifest and the tables' runs (index.tables) are not a segment's."""
    pairs = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).parts
        if path.is_file() and path.name != "manifest.json" and rel[0] != TABLES_DIR:
            dst = target / path.relative_to(source)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, dst)
            pairs.append((path, dst))
    return pairs


@dataclass(slots=True)
class View:
    """Segments read as one store: live chunks in rebuild order and both fan-out searchers."""

    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: np.ndarray  # (n_live, dim) float32
    dense: SegmentedDense
    sparse: SegmentedBm25


def assemble(parts: Sequence[Segment], manifest: Manifest, embedder: Embedder) -> View:
    """The live rows of `parts`, ordered by (article id, ordinal) as one rebuilt segment."""
    keys: list[tuple[str, int, int, int]] = []  # (doc_id, ordinal, part, row)
    lives: list[np.ndarray] = []  # per part: (n_rows,) bool
    for p, part in enumerate(parts):
        live = np.ones(len(part.chunks), dtype=bool)
        if part.entry.deleted:
            deleted = np.array(part.entry.deleted, dtype=np.int64)
            if deleted.min() < 0 or deleted.max() >= len(part.chunks):
                raise CorruptIndexError(f"segment {part.entry.name} deletes rows it lacks")
            live[deleted] = False
        lives.append(live)
        for row in np.flatnonzero(live).tolist():
            chunk = part.chunks[row]
            keys.append((chunk.doc_id, chunk.ordinal, p, row))
    keys.sort()  # runs already sorted per segment: timsort merges them
    maps = [np.full(len(part.chunks), -1, dtype=np.int64) for part in parts]  # row -> global
    chunks: list[Chunk] = []
    for g, (_, _, p, row) in enumerate(keys):
        maps[p][row] = g
        chunks.append(parts[p].chunks[row])
    vectors = np.empty((len(chunks), manifest.dim), dtype=np.float32)  # (n_live, dim)
    for part, live, gmap in zip(parts, lives, maps, strict=True):
        vectors[gmap[live]] = part.vectors[live]
    articles: dict[str, Article] = {}
    by_name = {part.entry.name: part for part in parts}
    for doc_id in sorted(manifest.articles):  # by id, as a rebuild lists them
        entry = manifest.articles[doc_id]
        owner = by_name.get(entry.segment or "")
        article = owner.articles.get(doc_id) if owner is not None else None
        if article is None:
            raise CorruptIndexError(f"article {doc_id!r} is not in segment {entry.segment}")
        articles[doc_id] = article
    dense = SegmentedDense(
        [(part.dense, gmap, live) for part, gmap, live in zip(parts, maps, lives, strict=True)],
        chunks,
        embedder,
        vectors,
    )
    sparse = SegmentedBm25(
        [(part.sparse, gmap, live) for part, gmap, live in zip(parts, maps, lives, strict=True)],
        chunks,
    )
    return View(articles, chunks, vectors, dense, sparse)


class _StackedIndex:
    """What readers ask of a FAISS index (ntotal, reconstruct_n), over the segments' own."""

    def __init__(self, owner: SegmentedDense) -> None:
        self._owner = owner

    @property
    def ntotal(self) -> int:
        return len(self._owner.chunks)

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        """(n, dim) stored vectors of global rows start..start+n-1, read from each segment."""
        out = np.empty((self.ntotal, self._owner.embedder.dim), dtype=np.float32)
        for store, gmap, live in self._owner.parts:
            rows = np.flatnonzero(live)
            if len(rows):
                out[gmap[rows]] = store.index.reconstruct_n(0, len(gmap))[rows]
        return out[start : start + n]


class SegmentedDense:
    """Dense search over several segments' FAISS indexes, deleted rows left out.

    When every segment is a flat (exact) index, as by default, the live vectors in rebuild
    order (`vectors`, which the store holds anyway) are searched in one pass by the same FAISS
    kernel a flat index runs: the hits and their order are those of a rebuilt flat index, at
    the cost of one search whatever the number of segments. Other kinds are searched segment
    by segment and merged.
    """

    def __init__(
        self,
        parts: list[tuple[Any, np.ndarray, np.ndarray]],  # (FaissStore, row->global, live)
        chunks: list[Chunk],
        embedder: Embedder,
        vectors: np.ndarray | None = None,  # (n_live, dim) float32, rows as `chunks`
    ) -> None:
        self.parts = parts
        self.chunks = chunks
        self.embedder = embedder
        self.index = _StackedIndex(self)
        self._flat = vectors if vectors is not None and _all_flat(parts) else None
        self._selectors: list[Any] = []  # per part: None (all live) or a selector of live rows
        for _, _, live in parts:
            self._selectors.append(None if live.all() else _not_deleted(np.flatnonzero(~live)))

    def search(self, query: str, k: int, *, where: ChunkFilter | None = None) -> list[Hit]:
        """Top-k chunks by cosine similarity to the query."""
        return self.search_vector(self.embedder.embed_query(query), k, where=where)

    def search_vector(
        self, vector: np.ndarray, k: int, *, where: ChunkFilter | None = None
    ) -> list[Hit]:
        """Top-k chunks over all segments for a (dim,) query vector; ties by rebuild order."""
        if k < 1 or not self.chunks:
            return []
        if self._flat is not None:
            return self._search_flat(vector, k, where)
        found: list[tuple[float, int]] = []  # (-score, global row)
        query = vector.reshape(1, -1)
        for (store, gmap, live), selector in zip(self.parts, self._selectors, strict=True):
            n_live = int(live.sum())
            if not n_live:
                continue
            keep = selector
            if where is not None:
                allowed = [r for r in np.flatnonzero(live).tolist() if where(store.chunks[r])]
                if not allowed:
                    continue
                keep = _only(np.array(allowed, dtype=np.int64))
                n_live = len(allowed)
            params = _search_params(store.index, keep[0]) if keep is not None else None
            scores, ids = store.index.search(query, min(k, n_live), params=params)  # (1, k)
            for score, idx in zip(scores[0], ids[0], strict=True):
                if idx >= 0 and gmap[idx] >= 0:
                    found.append((-float(score), int(gmap[idx])))
        # As FAISS over one index: among equal scores the lowest rows are kept, and listed
        # from the highest row down (its heap orders by (score, id), both descending).
        found.sort()
        best = sorted(found[:k], key=lambda f: (f[0], -f[1]))
        return [
            Hit(self.chunks[g], -neg, rank, {"dense": -neg})
            for rank, (neg, g) in enumerate(best, start=1)
        ]

    def _search_flat(self, vector: np.ndarray, k: int, where: ChunkFilter | None) -> list[Hit]:
        """As FaissStore.search_vector over one flat index of the live vectors."""
        import faiss

        assert self._flat is not None
        selector = None
        if where is not None:
            allowed = np.array([i for i, c in enumerate(self.chunks) if where(c)], dtype=np.int64)
            if not len(allowed):
                return []
            selector = faiss.IDSelectorBatch(allowed)
        xb = self._flat
        k = min(k, len(self.chunks))
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)  # (1, dim)
        scores = np.empty((1, k), dtype=np.float32)
        ids = np.empty((1, k), dtype=np.int64)
        faiss.knn_inner_product(  # what IndexFlatIP.search runs
            faiss.swig_ptr(query),
            faiss.swig_ptr(xb),
            xb.shape[1],
            1,
            xb.shape[0],
            k,
            faiss.swig_ptr(scores),
            faiss.swig_ptr(ids),
            selector,
        )
        hits: list[Hit] = []
        for score, idx in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
            if idx >= 0:
                hits.append(Hit(self.chunks[idx], score, len(hits) + 1, {"dense": score}))
        return hits


def _all_flat(parts: list[tuple[Any, np.ndarray, np.ndarray]]) -> bool:
    """Whether every segment's FAISS index is an exact inner-product flat index."""
    import faiss

    return all(
        type(store.index) is faiss.IndexFlatIP
        or (
            type(store.index) is faiss.IndexFlat
            and store.index.metric_type == faiss.METRIC_INNER_PRODUCT
        )
        for store, _, _ in parts
    )


def _not_deleted(deleted: np.ndarray) -> tuple[Any, ...]:
    """A FAISS selector of every row but `deleted` (kept with the objects it refers to)."""
    import faiss

    inner = faiss.IDSelectorBatch(deleted)
    return (faiss.IDSelectorNot(inner), inner, deleted)


def _only(rows: np.ndarray) -> tuple[Any, ...]:
    import faiss

    return (faiss.IDSelectorBatch(rows), rows)


class SegmentedBm25:
    """BM25 over several segments with corpus-wide statistics, as one index over the live rows.

    Per (term, chunk) the score is bm25s' Lucene BM25, computed with bm25s' own float
    operations (idf in float32, the rest in float64, stored as float32) from the term's
    frequency, the chunk's length, the number of live chunks, their average length and the
    term's document frequency over live chunks; query scores add up term by term in query
    order, as Bm25Store does. So the scores equal those of a rebuild bit for bit.

    Those scores depend on nothing but the live rows, so they are computed once, when the
    segments are read (before a service swaps the store in), into one corpus-wide column index
    over global rows (`merged`): a query then costs what it costs on one segment (one
    vectorised pass per query term), whatever the number of segments. Building it is linear in
    the postings (no sort) with bounded scratch memory.
    """

    def __init__(
        self,
        parts: list[tuple[Bm25Store, np.ndarray, np.ndarray]],  # (store, row->global, live)
        chunks: list[Chunk],
    ) -> None:
        self.chunks = chunks
        self.n_docs = len(chunks)
        self.parts = [(s, g, lv) for s, g, lv in parts if s.columns is not None]
        total = 0
        for store, _, live in self.parts:
            columns = store.columns
            assert columns is not None
            if columns.tf is None or columns.doclen is None:
                raise CorruptIndexError("a segment's BM25 index lacks term frequencies")
            if store.params.get("method") != "lucene":
                raise CorruptIndexError("segments are scored with Lucene BM25 only")
            if len(columns.indptr) - 1 > len(columns.vocab):
                raise CorruptIndexError("a segment's BM25 vocabulary and columns disagree")
            total += int(columns.doclen[live].sum())
        self._avgdl = np.float64(total) / self.n_docs if self.n_docs else np.float64(0)
        params = self.parts[0][0].params if self.parts else {}
        self._k1, self._b = params.get("k1", 1.2), params.get("b", 0.75)
        self._tokenizer = self.parts[0][0].tokenizer if self.parts else None
        self._stem = self.parts[0][0]._stem if self.parts else None
        self.merged = merge_postings(self.parts, self.n_docs, self._avgdl, self._k1, self._b)

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray | None:
        """(n_live,) BM25 score of each live chunk (times `mask`); None when no term is known."""
        if self._tokenizer is None or self._stem is None or not self.n_docs:
            return None
        merged = self.merged
        terms = self._tokenizer.terms(query, self._stem)
        columns = [merged.vocab[t] for t in terms if t in merged.vocab]
        indptr = merged.indptr
        columns = [c for c in columns if indptr[c + 1] > indptr[c]]  # some live chunk has it
        if not columns:
            return None
        scores = np.zeros(self.n_docs, dtype=np.float32)  # (n_live,)
        for column in columns:  # in query order, repeats kept, as Bm25Store adds them
            start, end = indptr[column], indptr[column + 1]
            np.add.at(scores, merged.rows[start:end], merged.data[start:end])
        if mask is not None:
            scores *= mask
        return scores

    def search(self, query: str, k: int, *, where: ChunkFilter | None = None) -> list[Hit]:
        """Top-k live chunks by BM25 score; chunks sharing no term with the query left out."""
        return filtered_search(self.scores, self.chunks, query, k, where)


@dataclass(frozen=True, slots=True)
class _Merged:
    """Term t's live chunks are rows[indptr[t]:indptr[t+1]] (global rows), scores in data."""

    vocab: dict[str, int]  # stem -> column, over every segment's terms
    indptr: np.ndarray  # (n_terms + 1,) int64
    rows: np.ndarray  # (nnz_live,) global row of each posting
    data: np.ndarray  # (nnz_live,) float32 BM25 score of the term in that chunk


def merge_postings(
    parts: Sequence[tuple[Bm25Store, np.ndarray, np.ndarray]],
    n_docs: int,
    avgdl: np.float64,
    k1: float,
    b: float,
) -> _Merged:
    """One BM25 column index over the live rows of `parts` (store, row->global, live), scored
    with the statistics of those rows (`n_docs` live chunks of average length `avgdl`, each
    term's live document frequency).

    Linear in the postings and with scratch memory bounded by MERGE_BLOCK: a first pass counts
    each column's live postings, a second places them by those counts (a counting sort), block
    by block. The largest vocabulary is taken over as it is."""
    all_columns = []
    for store, _, _ in parts:
        assert store.columns is not None and store.columns.tf is not None
        all_columns.append(store.columns)
    order = sorted(range(len(parts)), key=lambda p: -len(all_columns[p].vocab))
    vocab: dict[str, int] = {}
    colmaps = {}  # part -> (part term id -> global term id)
    for p in order:
        columns = all_columns[p]
        n_vocab = len(columns.vocab)  # bm25s gives its vocabulary's "" no column
        if not vocab:
            vocab = dict(columns.vocab)
            colmaps[p] = np.arange(n_vocab, dtype=np.int64)
        else:
            colmaps[p] = np.empty(n_vocab, dtype=np.int64)
            own = np.fromiter(columns.vocab.values(), np.int64, n_vocab)
            colmaps[p][own] = [vocab.setdefault(t, len(vocab)) for t in columns.vocab]
    n_terms = len(vocab)
    df = np.zeros(n_terms, dtype=np.int64)  # live chunks holding each term
    per_column = {}  # part -> live postings of each of its columns
    for p in order:
        counts = np.zeros(len(colmaps[p]), dtype=np.int64)
        for _, _, _, local in _live_blocks(all_columns[p], parts[p][2]):
            counts += np.bincount(local, minlength=len(counts))
        df[colmaps[p]] += counts  # a colmap is one-to-one
        per_column[p] = counts
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    # idf as bm25s computes it: in float64 (math.log, term by term), stored as float32
    idf = np.array(
        [math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in df.tolist()], dtype=np.float64
    ).astype(np.float32)
    nnz = int(indptr[-1])
    out_rows = np.empty(nnz, dtype=np.int32 if n_docs < 2**31 else np.int64)
    out_data = np.empty(nnz, dtype=np.float32)
    cursor = indptr[:-1].copy()  # where each global column's next part starts
    for p in order:
        columns, gmap, colmap = all_columns[p], parts[p][1], colmaps[p]
        assert columns.tf is not None and columns.doclen is not None
        first = np.cumsum(per_column[p]) - per_column[p]  # a column's first live posting
        seen = 0  # live postings of this part placed so far
        for start, stop, alive, local in _live_blocks(columns, parts[p][2]):
            rows, tf = columns.indices[start:stop][alive], columns.tf[start:stop][alive]
            column = colmap[local]
            place = cursor[column] + (seen + np.arange(len(local)) - first[local])
            seen += len(local)
            doclen = columns.doclen[rows]
            tfc = tf / (k1 * ((1 - b) + b * doclen / avgdl) + tf)  # float64, as bm25s
            out_rows[place] = gmap[rows]
            out_data[place] = (idf[column] * tfc).astype(np.float32)
        cursor[colmap] += per_column[p]
    return _Merged(vocab, indptr, out_rows, out_data)


MERGE_BLOCK = 1 << 20  # postings merge_postings handles at once


def _live_blocks(
    columns: _Columns, live: np.ndarray
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """The postings of a segment's BM25 columns in blocks of MERGE_BLOCK: (start, stop, which
    of the block's postings are of live rows, the column of each of those)."""
    indptr, indices = columns.indptr, columns.indices
    for start in range(0, len(indices), MERGE_BLOCK):
        stop = min(start + MERGE_BLOCK, len(indices))
        alive = live[indices[start:stop]]
        first = int(np.searchsorted(indptr, start, side="right")) - 1  # column holding `start`
        last = int(np.searchsorted(indptr, stop - 1, side="right")) - 1
        bounds = np.clip(indptr[first : last + 2], start, stop)  # the columns' parts in the block
        local = np.repeat(np.arange(first, last + 1), np.diff(bounds))  # (stop - start,)
        yield start, stop, alive, local[alive]


def segment_files(manifest: Manifest, entry: SegmentEntry) -> dict[str, str]:
    """Files (relative to the generation) of one segment, with their sha256."""
    if not entry.dir:
        return dict(manifest.files)
    prefix = entry.dir + "/"
    return {k: v for k, v in manifest.files.items() if k.startswith(prefix)}
