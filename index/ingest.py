"""Ingest: upsert articles by id and content hash into a new generation, atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from newsrag.index.chunking import ChunkingParams, chunk_article
from newsrag.index.embed_stream import EmbedStream
from newsrag.index.embedding import Embedder
from newsrag.index.errors import CorruptIndexError, EmbedderMismatchError, IndexNotFoundError
from newsrag.index.generations import StepHook, current_generation, publish, writer_lock
from newsrag.index.loaders import FieldMap, LoadFailure, load_paths
from newsrag.index.records import Article, Chunk
from newsrag.index.store import ArticleEntry, IndexStore, open_index

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestReport:
    """What an ingest or delete did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)
    skipped: list[LoadFailure] = field(default_factory=list)
    chunks_embedded: int = 0
    tokens_embedded: int = 0
    total_chunks: int = 0
    generation: str | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """Whether a new generation was (or would be) written."""
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for `--json` and the HTTP API."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """Knobs of an ingest that change what is written."""

    params: ChunkingParams = field(default_factory=ChunkingParams)
    faiss_kind: str | None = None  # None: keep the index's kind ("flat" for a new index)
    prune: bool = False
    rebuild: bool = False
    fields: FieldMap = field(default_factory=FieldMap)
    progress: bool = False  # a progress bar while embedding (index.embed_stream), on long runs
    on_step: StepHook | None = field(default=None, compare=False, repr=False)


def content_hash(article: Article) -> str:
    """sha256 over everything of an article that ends up in the index."""
    payload = asdict(article)
    payload.pop("path")
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def ingest(
    paths: Iterable[Path],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
) -> IngestReport:
    """Load `paths` and upsert their articles; unchanged articles are not re-embedded."""
    options = options or IngestOptions()
    if options.params.max_tokens > embedder.max_tokens:
        raise ValueError(
            f"chunks of up to {options.params.max_tokens} tokens would be truncated by "
            f"{embedder.name!r}, which reads at most {embedder.max_tokens}"
        )
    started = time.perf_counter()
    loaded = load_paths(list(paths), options.fields)
    report = IngestReport(failed=loaded.failures, skipped=loaded.skipped)
    with writer_lock(index_dir):
        previous = _previous(index_dir, embedder, options)
        kept_kind = previous.manifest.faiss_kind if previous is not None else "flat"
        options = replace(options, faiss_kind=options.faiss_kind or kept_kind)
        reusable = _reusable(previous, embedder, options)
        incoming = {a.id: a for a in loaded.articles}
        failed_paths = {f.path.split(":")[0] for f in loaded.failures}
        prune = options.prune and not (loaded.failures and not incoming)
        if options.prune and not prune:
            log.warning("every input failed to load; not pruning")
        keep: dict[str, Article] = {}
        for doc_id, article in incoming.items():
            if doc_id in reusable and reusable[doc_id] == content_hash(article):
                report.unchanged.append(doc_id)
            elif previous and doc_id in previous.articles:
                report.updated.append(doc_id)
            else:
                report.added.append(doc_id)
            keep[doc_id] = article
        for doc_id, old in (previous.articles if previous else {}).items():
            if doc_id in incoming:
                continue
            if prune and old.path not in failed_paths:
                report.removed.append(doc_id)
            else:
                keep[doc_id] = old
                if doc_id not in reusable:
                    report.updated.append(doc_id)  # re-chunked for new parameters
        if previous is None:
            # A first ingest makes an index (possibly empty) unless every input failed.
            needed = bool(keep) or not report.failed
        else:
            needed = report.changed or previous.manifest.faiss_kind != options.faiss_kind
        if needed:
            _write(index_dir, embedder, options, previous, keep, set(reusable), report)
        elif previous is not None:
            report.generation = previous.path.name if previous.path else None
            report.total_chunks = len(previous.chunks)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def delete_articles(
    doc_ids: Iterable[str],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
) -> IngestReport:
    """Remove articles by id in a new generation; unknown ids raise KeyError."""
    options = options or IngestOptions()
    doc_ids = list(doc_ids)
    started = time.perf_counter()
    report = IngestReport()
    if current_generation(index_dir) is None:  # before the lock, which would create the dir
        raise IndexNotFoundError(f"no index at {index_dir}; build one with `rag ingest PATH`")
    with writer_lock(index_dir):
        previous = open_index(index_dir, embedder)
        unknown = [d for d in doc_ids if d not in previous.articles]
        if unknown:
            raise KeyError(f"no article with id {', '.join(map(repr, unknown))} in the index")
        drop = set(doc_ids)
        report.removed = sorted(drop)
        keep = {k: v for k, v in previous.articles.items() if k not in drop}
        options = IngestOptions(
            params=ChunkingParams(**previous.manifest.chunking),
            faiss_kind=previous.manifest.faiss_kind,
            on_step=options.on_step,
        )
        _write(index_dir, embedder, options, previous, keep, set(keep), report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _previous(index_dir: Path, embedder: Embedder, options: IngestOptions) -> IndexStore | None:
    try:
        return open_index(index_dir, embedder)
    except IndexNotFoundError:
        return None
    except (EmbedderMismatchError, CorruptIndexError):
        if options.rebuild:  # start over: the only way out of another model or a wrecked index
            return None
        raise


def _reusable(
    previous: IndexStore | None, embedder: Embedder, options: IngestOptions
) -> dict[str, str]:
    """doc_id -> hash of articles whose stored chunks and vectors can be kept as they are."""
    if previous is None or options.rebuild:
        return {}
    if previous.manifest.chunking != asdict(options.params):
        log.info("chunking parameters changed; re-chunking every article")
        return {}
    return {doc_id: entry.hash for doc_id, entry in previous.manifest.articles.items()}


def _write(
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    previous: IndexStore | None,
    keep: dict[str, Article],
    reusable: set[str],
    report: IngestReport,
) -> None:
    fresh = {d for d in keep if d not in reusable or d in report.updated or d in report.added}
    old_rows: dict[str, list[int]] = {}
    if previous is not None:
        for row, chunk in enumerate(previous.chunks):
            old_rows.setdefault(chunk.doc_id, []).append(row)
    chunks: list[Chunk] = []
    rows: list[int | None] = []  # row in previous.vectors, or None for a fresh chunk
    embedding = EmbedStream(
        embedder, options.params.max_title_tokens, progress=options.progress, articles=len(fresh)
    )
    with embedding:
        for doc_id in sorted(keep):
            if doc_id in fresh:
                new = chunk_article(keep[doc_id], options.params, embedder.count_tokens)
                chunks.extend(new)
                rows.extend([None] * len(new))
                embedding.add(new)  # embedded in the background while the next are cut
            else:
                assert previous is not None
                chunks.extend(previous.chunks[r] for r in old_rows.get(doc_id, []))
                rows.extend(old_rows.get(doc_id, []))
        fresh_vectors = embedding.vectors()  # (chunks added, dim), in order
    todo = [i for i, r in enumerate(rows) if r is None]
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)  # (n_chunks, dim)
    if todo:
        vectors[todo] = fresh_vectors
    reused = [i for i, r in enumerate(rows) if r is not None]
    if reused and previous is not None:
        vectors[reused] = previous.vectors[[int(rows[i] or 0) for i in reused]]
    per_doc: dict[str, int] = {}
    for chunk in chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    entries = {d: ArticleEntry(content_hash(a), per_doc.get(d, 0), a.path) for d, a in keep.items()}
    store = IndexStore.build(
        articles=dict(sorted(keep.items())),
        entries=dict(sorted(entries.items())),
        chunks=chunks,
        vectors=vectors,
        embedder=embedder,
        chunking=asdict(options.params),
        faiss_kind=options.faiss_kind or "flat",
    )
    final = publish(
        index_dir,
        lambda tmp, number: store.write(tmp, number, options.on_step),
        previous=previous.path if previous is not None else None,
        on_step=options.on_step,
    )
    report.generation = final.name
    report.chunks_embedded = len(todo)
    report.tokens_embedded = sum(chunks[i].n_tokens for i in todo)
    report.total_chunks = len(chunks)
