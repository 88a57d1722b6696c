"""FaissStore: dense inner-product search over L2-normalised chunk vectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsrag.index.records import Chunk, Hit

if TYPE_CHECKING:
    import faiss
    import numpy as np

    from newsrag.index.embedding import Embedder

# faiss and numpy are imported where they are used: `rag --help` reads FAISS_KINDS for its
# help text, and importing them costs 0.3-0.6 s there (issue 13).

FAISS_KINDS = ("flat", "hnsw", "ivf-sq8", "ivf-pq")
ChunkFilter = Callable[[Chunk], bool]


def build_faiss(vectors: np.ndarray, kind: str = "flat", *, hnsw_m: int = 32) -> faiss.Index:
    """A FAISS index over (n, dim) float32 vectors; `kind` is one of FAISS_KINDS."""
    import faiss
    import numpy as np

    if kind not in FAISS_KINDS:
        raise ValueError(
            f"unknown FAISS index kind {kind!r}; choose one of {', '.join(FAISS_KINDS)}"
        )
    n, dim = vectors.shape
    index: Any  # faiss's SWIG stubs do not model its class tree
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    elif kind.startswith("ivf") and n >= 1024:
        nlist = int(max(16, min(65536, 4 * np.sqrt(n))))
        quantizer = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        if kind == "ivf-sq8":
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        else:
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, dim // 8, 8, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).permutation(n)[: min(n, 64 * nlist)]]
        index.train(sample)
        index.nprobe = max(8, nlist // 32)
    else:
        index = faiss.IndexFlatIP(dim)  # exact; IVF needs >= 1024 vectors to train
    if n:
        index.add(vectors)
    return index


class FaissStore:
    """Dense retriever: embeds the query and searches a FAISS index of chunk vectors."""

    def __init__(self, index: faiss.Index, chunks: Sequence[Chunk], embedder: Embedder) -> None:
        if index.ntotal != len(chunks):
            raise ValueError(f"FAISS holds {index.ntotal} vectors for {len(chunks)} chunks")
        self.index = index
        self.chunks = chunks
        self.embedder = embedder

    @classmethod
    def read(cls, path: Path, chunks: Sequence[Chunk], embedder: Embedder) -> FaissStore:
        """Load a FAISS file written by `write`."""
        import faiss

        return cls(faiss.read_index(str(path)), chunks, embedder)

    def write(self, path: Path, on_step: Callable[[str], None] | None = None) -> None:
        """Write the FAISS index to `path`, reporting "faiss-half-written" halfway through."""
        import faiss

        data = faiss.serialize_index(self.index)  # (n_bytes,) uint8
        half = len(data) // 2
        with path.open("wb") as handle:
            handle.write(data[:half].tobytes())
            handle.flush()  # a crash test killed here leaves a truncated file on disk
            if on_step is not None:
                on_step("faiss-half-written")
            handle.write(data[half:].tobytes())

    def search(self, query: str, k: int, *, where: ChunkFilter | None = None) -> list[Hit]:
        """Top-k chunks by cosine similarity to the query."""
        return self.search_vector(self.embedder.embed_query(query), k, where=where)

    def search_vector(
        self, vector: np.ndarray, k: int, *, where: ChunkFilter | None = None
    ) -> list[Hit]:
        """Top-k chunks for an already embedded (dim,) query vector."""
        if k < 1 or not self.chunks:
            return []
        params = None
        if where is not None:
            import faiss
            import numpy as np

            allowed = np.array([i for i, c in enumerate(self.chunks) if where(c)], dtype=np.int64)
            if not len(allowed):
                return []
            params = _search_params(self.index, faiss.IDSelectorBatch(allowed))
        k = min(k, len(self.chunks))
        scores, ids = self.index.search(vector.reshape(1, -1), k, params=params)  # (1, k)
        hits: list[Hit] = []
        for score, idx in zip(scores[0], ids[0], strict=True):
            if idx < 0:
                continue
            hits.append(Hit(self.chunks[idx], float(score), len(hits) + 1, {"dense": float(score)}))
        return hits


def _search_params(index: Any, selector: Any) -> Any:
    import faiss

    api: Any = faiss
    if isinstance(index, faiss.IndexHNSW):
        return api.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    if isinstance(index, faiss.IndexIVF):
        return api.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    return api.SearchParameters(sel=selector)
