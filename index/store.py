"""IndexStore: one generation of the index (chunks, vectors, FAISS, BM25, manifest) in memory."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from newsrag.index.dense import FaissStore, build_faiss
from newsrag.index.embedding import Embedder
from newsrag.index.errors import (
    CorruptIndexError,
    EmbedderMismatchError,
    IndexNotFoundError,
)
from newsrag.index.generations import (
    StepHook,
    current_generation,
    generation_dirs,
    generation_number,
    pointer_problem,
    sha256_file,
)
from newsrag.index.records import Article, Chunk
from newsrag.index.sparse import Bm25Store

log = logging.getLogger(__name__)
_T = TypeVar("_T")

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
ARTICLES = "articles.jsonl"
VECTORS = "vectors.npy"
FAISS_FILE = "dense.faiss"
BM25_DIR = "bm25"


@dataclass(frozen=True, slots=True)
class ArticleEntry:
    """What the manifest records of one article."""

    hash: str
    n_chunks: int
    path: str | None


@dataclass(frozen=True, slots=True)
class Manifest:
    """Describes a generation; `files` maps relative paths to sha256."""

    format_version: int
    generation: int
    embedder: str
    dim: int
    chunking: dict[str, int]
    faiss_kind: str
    created_at: str
    articles: dict[str, ArticleEntry]
    files: dict[str, str] = field(default_factory=dict)
    n_chunks: int = 0

    def to_json(self) -> str:
        """Serialise as indented JSON."""
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse; raises CorruptIndexError when the JSON or its fields are wrong."""
        try:
            data = json.loads(text)
            data["articles"] = {k: ArticleEntry(**v) for k, v in data["articles"].items()}
            manifest = cls(**data)
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptIndexError(
                f"{MANIFEST} is malformed ({type(exc).__name__}: {exc})"
            ) from exc
        if manifest.format_version != FORMAT_VERSION:
            raise CorruptIndexError(
                f"index format {manifest.format_version} is not supported "
                f"(this version reads {FORMAT_VERSION}); rebuild with `rag ingest --rebuild`"
            )
        return manifest


@dataclass(slots=True)
class IndexStore:
    """A loaded generation: chunk records, their vectors, and both search backends."""

    manifest: Manifest
    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: np.ndarray  # (n_chunks, dim) float32
    dense: FaissStore
    sparse: Bm25Store
    path: Path | None = None

    @classmethod
    def build(
        cls,
        *,
        articles: dict[str, Article],
        entries: dict[str, ArticleEntry],
        chunks: list[Chunk],
        vectors: np.ndarray,
        embedder: Embedder,
        chunking: dict[str, int],
        faiss_kind: str = "flat",
    ) -> IndexStore:
        """Assemble an in-memory store (not yet written)."""
        if vectors.shape != (len(chunks), embedder.dim):
            raise ValueError(f"vectors {vectors.shape} do not match {len(chunks)} chunks")
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            generation=0,
            embedder=embedder.name,
            dim=embedder.dim,
            chunking=chunking,
            faiss_kind=faiss_kind,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            articles=entries,
            n_chunks=len(chunks),
        )
        dense = FaissStore(build_faiss(vectors, faiss_kind), chunks, embedder)
        return cls(manifest, articles, chunks, vectors, dense, Bm25Store.build(chunks))

    def write(self, directory: Path, generation: int, on_step: StepHook | None = None) -> None:
        """Write every file of this generation into `directory`, manifest last.

        Steps reported to `on_step`: chunks-written, articles-written, vectors-written,
        faiss-half-written, faiss-written, bm25-written, manifest-written.
        """
        step = on_step or (lambda name: None)
        _write_jsonl(directory / CHUNKS, (asdict(c) for c in self.chunks))
        step("chunks-written")
        _write_jsonl(directory / ARTICLES, (asdict(a) for a in self.articles.values()))
        step("articles-written")
        np.save(directory / VECTORS, self.vectors, allow_pickle=False)
        step("vectors-written")
        self.dense.write(directory / FAISS_FILE, step)
        step("faiss-written")
        self.sparse.write(directory / BM25_DIR)
        step("bm25-written")
        files = {
            str(p.relative_to(directory)): sha256_file(p)
            for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name != MANIFEST
        }
        fields = {**asdict(self.manifest), "generation": generation, "files": files}
        fields["articles"] = self.manifest.articles
        self.manifest = Manifest(**fields)
        (directory / MANIFEST).write_text(self.manifest.to_json(), encoding="utf-8")
        step("manifest-written")

    @classmethod
    def read(cls, directory: Path, embedder: Embedder, *, verify: bool = True) -> IndexStore:
        """Load one generation directory; checksums are verified unless `verify` is False."""
        try:
            manifest = Manifest.from_json((directory / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CorruptIndexError(f"{directory.name}: {MANIFEST} is missing") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptIndexError(f"{directory.name}: {MANIFEST} cannot be read: {exc}") from exc
        except CorruptIndexError as exc:
            raise CorruptIndexError(f"{directory.name}: {exc}") from exc
        if (manifest.embedder, manifest.dim) != (embedder.name, embedder.dim):
            raise EmbedderMismatchError(
                manifest.embedder, manifest.dim, embedder.name, embedder.dim
            )
        if verify:
            _verify_files(directory, manifest)

        def read(name: str, load: Callable[[], _T]) -> _T:
            try:
                return load()
            except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
                detail = f"{type(exc).__name__}: {exc}"
                raise CorruptIndexError(
                    f"{directory.name}: {name} cannot be read ({detail})"
                ) from exc

        chunks = read(CHUNKS, lambda: [Chunk(**r) for r in _read_jsonl(directory / CHUNKS)])
        articles = read(
            ARTICLES, lambda: {r["id"]: Article(**r) for r in _read_jsonl(directory / ARTICLES)}
        )
        vectors = read(VECTORS, lambda: np.load(directory / VECTORS, allow_pickle=False))
        if len(chunks) != manifest.n_chunks or vectors.shape != (len(chunks), manifest.dim):
            raise CorruptIndexError(
                f"{directory.name}: {CHUNKS} holds {len(chunks)} chunks and {VECTORS} "
                f"{vectors.shape} vectors, but {MANIFEST} says {manifest.n_chunks} x {manifest.dim}"
            )
        dense = read(FAISS_FILE, lambda: FaissStore.read(directory / FAISS_FILE, chunks, embedder))
        sparse = read(BM25_DIR, lambda: Bm25Store.read(directory / BM25_DIR, chunks))
        return cls(manifest, articles, chunks, vectors, dense, sparse, directory)

    def size_bytes(self) -> int:
        """Bytes on disk of this generation."""
        if self.path is None:
            return 0
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def open_index(index_dir: Path, embedder: Embedder, *, verify: bool = True) -> IndexStore:
    """Load the live generation; fall back to an older intact one with a warning.

    When CURRENT is lost or garbled but generations exist, the newest intact one is used
    (with a warning); `rag ingest` then writes CURRENT again (index.ingest).
    """
    current = current_generation(index_dir)
    problem = pointer_problem(index_dir)
    generations = generation_dirs(index_dir)
    if problem is None and current is None:
        raise IndexNotFoundError(f"no index at {index_dir}; build one with `rag ingest PATH`")
    if problem is not None:
        log.warning(
            "%s in %s; reading the newest intact generation instead (the next `rag ingest` "
            "repairs the pointer)",
            problem,
            index_dir,
        )
        candidates = generations
    else:
        assert current is not None
        older = [g for g in generations if generation_number(g) < generation_number(current)]
        candidates = [current, *older]
    errors: list[str] = []
    for candidate in candidates:
        try:
            store = IndexStore.read(candidate, embedder, verify=verify)
        except CorruptIndexError as exc:
            errors.append(str(exc))
            log.warning("index generation %s is unusable: %s", candidate.name, exc)
            continue
        if candidate != candidates[0]:
            log.warning(
                "index generation %s is corrupt (%s); using an older one, %s",
                candidates[0].name,
                errors[0],
                candidate.name,
            )
        return store
    raise CorruptIndexError(
        (f"{problem} and " if problem else "")
        + "no intact index generation: "
        + "; ".join(errors)
        + "; rebuild with `rag ingest PATH --rebuild`"
    )


def _verify_files(directory: Path, manifest: Manifest) -> None:
    for name, digest in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise CorruptIndexError(f"{directory.name}: {name} is missing")
        try:
            actual = sha256_file(path)
        except OSError as exc:
            raise CorruptIndexError(f"{directory.name}: {name} cannot be read: {exc}") from exc
        if actual != digest:
            raise CorruptIndexError(
                f"{directory.name}: {name} fails its checksum (sha256 {actual[:12]}..., "
                f"the manifest recorded {digest[:12]}...)"
            )


def _write_jsonl(path: Path, rows: Any) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
