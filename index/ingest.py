"""Ingest: upsert articles by id and content hash into a new generation, atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from newsrag.index.chunking import ChunkingParams, chunk_article
from newsrag.index.embed_stream import EmbedStream
from newsrag.index.embedding import Embedder
from newsrag.index.errors import CorruptIndexError, EmbedderMismatchError, IndexNotFoundError
from newsrag.index.generations import StepHook, current_generation, publish, writer_lock
from newsrag.index.loaders import FieldMap, LoadFailure, LoadResult, load_paths
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


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """One fresh article cut into chunks and embedded, ready to be committed."""

    doc_id: str
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray  # (len(chunks), dim) float32, row i embeds chunks[i]


# The seam between preparing and committing: cuts and embeds an ingest's fresh articles
# (sorted by id), one PreparedArticle each. The default runs prepare_articles here;
# index.distributed runs it on the workers of a Ray cluster (issue 18).
PrepareArticles = Callable[[list[Article]], list[PreparedArticle]]


def ingest(
    paths: Iterable[Path],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
) -> IngestReport:
    """Load `paths` and upsert their articles; unchanged articles are not re-embedded."""
    options = options or IngestOptions()
    check_chunking(options.params, embedder)
    started = time.perf_counter()
    report = ingest_loaded(load_paths(list(paths), options.fields), index_dir, embedder, options)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def check_chunking(params: ChunkingParams, embedder: Embedder) -> None:
    """Raise ValueError when chunks of `params` would be truncated by the embedder."""
    if params.max_tokens > embedder.max_tokens:
        raise ValueError(
            f"chunks of up to {params.max_tokens} tokens would be truncated by "
            f"{embedder.name!r}, which reads at most {embedder.max_tokens}"
        )


def ingest_loaded(
    loaded: LoadResult,
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
    *,
    prepare: PrepareArticles | None = None,
) -> IngestReport:
    """Upsert articles loaded already; `prepare` cuts and embeds the fresh ones (default: here).

    Under the writer lock: what changed is decided against the live generation, only the
    fresh articles go to `prepare`, and the result is published as one new generation.
    """
    options = options or IngestOptions()
    check_chunking(options.params, embedder)
    started = time.perf_counter()
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
            _write(index_dir, embedder, options, previous, keep, set(reusable), report, prepare)
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


def prepare_articles(
    articles: list[Article], embedder: Embedder, params: ChunkingParams, *, progress: bool = False
) -> list[PreparedArticle]:
    """Cut articles into chunks and embed them, each batch while the next articles are cut."""
    cut: list[list[Chunk]] = []
    embedding = EmbedStream(
        embedder, params.max_title_tokens, progress=progress, articles=len(articles)
    )
    with embedding:
        for article in articles:
            cut.append(chunk_article(article, params, embedder.count_tokens))
            embedding.add(cut[-1])  # embedded in the background while the next are cut
        vectors = embedding.vectors()  # (chunks of all articles, dim), in order
    prepared, row = [], 0
    for article, chunks in zip(articles, cut, strict=True):
        part = vectors[row : row + len(chunks)]
        prepared.append(PreparedArticle(article.id, tuple(chunks), part))
        row += len(chunks)
    return prepared


def _checked(
    prepared: list[PreparedArticle], fresh: list[Article], dim: int
) -> dict[str, PreparedArticle]:
    """Prepared articles by id; ValueError unless each fresh article came back once, whole."""
    by_id = {p.doc_id: p for p in prepared}
    wanted = {a.id for a in fresh}
    if len(by_id) != len(prepared) or set(by_id) != wanted:
        missing, extra = sorted(wanted - set(by_id)), sorted(set(by_id) - wanted)
        raise ValueError(
            f"prepared articles do not match the fresh ones: {len(prepared)} for {len(wanted)}"
            f" (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for p in prepared:
        ids = [c.id for c in p.chunks]
        if p.vectors.shape != (len(p.chunks), dim) or ids != [
            f"{p.doc_id}#{i}" for i in range(len(ids))
        ]:
            raise ValueError(f"prepared article {p.doc_id!r} has malformed chunks or vectors")
    return by_id


def _write(
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    previous: IndexStore | None,
    keep: dict[str, Article],
    reusable: set[str],
    report: IngestReport,
    prepare: PrepareArticles | None = None,
) -> None:
    fresh = {d for d in keep if d not in reusable or d in report.updated or d in report.added}
    old_rows: dict[str, list[int]] = {}
    if previous is not None:
        for row, chunk in enumerate(previous.chunks):
            old_rows.setdefault(chunk.doc_id, []).append(row)
    fresh_articles = [keep[d] for d in sorted(fresh)]
    if prepare is None:
        made = prepare_articles(fresh_articles, embedder, options.params, progress=options.progress)
    else:
        made = prepare(fresh_articles)
    prepared = _checked(made, fresh_articles, embedder.dim)
    chunks: list[Chunk] = []
    rows: list[int | None] = []  # row in previous.vectors, or None for a fresh chunk
    fresh_parts: list[np.ndarray] = []
    for doc_id in sorted(keep):
        if doc_id in prepared:
            chunks.extend(prepared[doc_id].chunks)
            rows.extend([None] * len(prepared[doc_id].chunks))
            fresh_parts.append(prepared[doc_id].vectors)
        else:
            assert previous is not None
            chunks.extend(previous.chunks[r] for r in old_rows.get(doc_id, []))
            rows.extend(old_rows.get(doc_id, []))
    todo = [i for i, r in enumerate(rows) if r is None]
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)  # (n_chunks, dim)
    if todo:
        vectors[todo] = np.concatenate(fresh_parts)  # (chunks added, dim), in order
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
