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
from newsrag.index.generations import (
    StepHook,
    current_generation,
    pointer_problem,
    publish,
    repair_current,
    writer_lock,
)
from newsrag.index.loaders import FieldMap, LoadFailure, LoadLimits, LoadResult, load_paths
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


# Called with (phase, done, total) while an ingest runs: "embedding" counts articles.
ProgressHook = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """Knobs of an ingest that change what is written."""

    params: ChunkingParams = field(default_factory=ChunkingParams)
    faiss_kind: str | None = None  # None: keep the index's kind ("flat" for a new index)
    prune: bool = False
    rebuild: bool = False
    fields: FieldMap = field(default_factory=FieldMap)
    limits: LoadLimits = field(default_factory=LoadLimits)
    progress: bool = False  # a progress bar while embedding (index.embed_stream), on long runs
    on_step: StepHook | None = field(default=None, compare=False, repr=False)
    on_progress: ProgressHook | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """An article cut and embedded, ready to commit: its chunks and their (n, dim) vectors."""

    article: Article
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray  # (len(chunks), dim) float32
    hash: str

    def __post_init__(self) -> None:
        if self.vectors.shape[0] != len(self.chunks):
            raise ValueError(
                f"{self.article.id}: {self.vectors.shape[0]} vectors for {len(self.chunks)} chunks"
            )


def content_hash(article: Article) -> str:
    """sha256 over everything of an article that ends up in the index."""
    payload = asdict(article)
    payload.pop("path")
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def prepare_articles(
    articles: Iterable[Article], embedder: Embedder, options: IngestOptions
) -> dict[str, PreparedArticle]:
    """Cut and embed articles (no lock held: this is the slow part of an ingest)."""
    todo = list(articles)
    params = options.params
    on_progress = options.on_progress
    embedding = EmbedStream(
        embedder,
        params.max_title_tokens,
        progress=options.progress,
        articles=len(todo),
        on_articles=(lambda done: on_progress("embedding", done, len(todo)))
        if on_progress
        else None,
    )
    cut: list[tuple[Article, list[Chunk]]] = []
    if on_progress is not None:
        on_progress("embedding", 0, len(todo))
    with embedding:
        for article in todo:
            chunks = chunk_article(article, params, embedder.count_tokens)
            cut.append((article, chunks))
            embedding.add(chunks)  # embedded in the background while the next are cut
        vectors = embedding.vectors()  # (chunks added, dim), in order
    prepared: dict[str, PreparedArticle] = {}
    row = 0
    for article, chunks in cut:
        part = vectors[row : row + len(chunks)]
        row += len(chunks)
        prepared[article.id] = PreparedArticle(article, tuple(chunks), part, content_hash(article))
    return prepared


# The seam between preparing and committing: cuts and embeds an ingest's fresh articles
# (sorted by id), one PreparedArticle each. The default runs prepare_articles here;
# index.distributed runs the same function on the workers of a Ray cluster (issue 18).
PrepareArticles = Callable[[list[Article]], list[PreparedArticle]]


def check_chunking(params: ChunkingParams, embedder: Embedder) -> None:
    """Raise ValueError when chunks of `params` would be truncated by the embedder."""
    if params.max_tokens > embedder.max_tokens:
        raise ValueError(
            f"chunks of up to {params.max_tokens} tokens would be truncated by "
            f"{embedder.name!r}, which reads at most {embedder.max_tokens}"
        )


def ingest(
    paths: Iterable[Path],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
) -> IngestReport:
    """Load `paths` and upsert their articles; unchanged articles are not re-embedded.

    Files are read, cut and embedded before the writer lock is taken, so another writer
    (an upload, a delete) waits only for the commit, not for this ingest's embedding.
    """
    options = options or IngestOptions()
    check_chunking(options.params, embedder)
    started = time.perf_counter()
    loaded = load_paths(list(paths), options.fields, options.limits)
    report = ingest_loaded(loaded, index_dir, embedder, options)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def ingest_loaded(
    loaded: LoadResult,
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
    *,
    prepare: PrepareArticles | None = None,
) -> IngestReport:
    """Upsert articles loaded already; `prepare` cuts and embeds the fresh ones (default: here).

    The fresh articles are prepared before the writer lock; under it, what changed is decided
    again against the live generation (another writer may have published meanwhile) and the
    result is published as one new generation.
    """
    options = options or IngestOptions()
    check_chunking(options.params, embedder)
    started = time.perf_counter()

    def run(articles: list[Article], opts: IngestOptions) -> dict[str, PreparedArticle]:
        if prepare is None:
            return prepare_articles(articles, embedder, opts)
        return _checked(prepare(articles), articles)

    snapshot = _previous(index_dir, embedder, options)
    first = _plan(loaded, snapshot, embedder, options)
    prepared = run([first.keep[d] for d in sorted(first.fresh)], options)
    with writer_lock(index_dir):
        _repair_pointer(index_dir, embedder)
        previous = _previous(index_dir, embedder, options, reuse=snapshot)
        plan = _plan(loaded, previous, embedder, options)
        report = plan.report
        stale = [plan.keep[d] for d in sorted(plan.fresh) if _stale(prepared, plan.keep[d])]
        if stale:  # another writer changed the index since the snapshot: embed what it needs
            prepared.update(run(stale, replace(options, progress=False)))
        if plan.needed:
            _commit(index_dir, embedder, plan.options, previous, plan.keep, prepared, report)
        elif previous is not None:
            report.generation = previous.path.name if previous.path else None
            report.total_chunks = len(previous.chunks)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _checked(prepared: list[PreparedArticle], fresh: list[Article]) -> dict[str, PreparedArticle]:
    """Prepared articles by id; ValueError unless each fresh article came back once, whole."""
    by_id = {p.article.id: p for p in prepared}
    wanted = {a.id for a in fresh}
    if len(by_id) != len(prepared) or set(by_id) != wanted:
        missing, extra = sorted(wanted - set(by_id)), sorted(set(by_id) - wanted)
        raise ValueError(
            f"prepared articles do not match the fresh ones: {len(prepared)} for {len(wanted)}"
            f" (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for p in prepared:
        ids = [c.id for c in p.chunks]
        if ids != [f"{p.article.id}#{i}" for i in range(len(ids))]:
            raise ValueError(f"prepared article {p.article.id!r} has malformed chunk ids")
    return by_id


def commit_prepared(
    prepared: Iterable[PreparedArticle],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
    *,
    remove: Iterable[str] = (),
    refresh_paths: bool = False,
) -> IngestReport:
    """Commit articles cut and embedded elsewhere (e.g. by distributed workers).

    Upserts `prepared` (by id; an unchanged hash keeps the stored chunks) and drops the ids in
    `remove`, in one new generation with the usual protocol (writer lock, atomic publish).
    The chunks must have been cut with `options.params`, which must match the index's.
    `refresh_paths`: an unchanged article whose file moved is stored again with its new path
    (index.watch prunes by path).
    """
    options = options or IngestOptions()
    started = time.perf_counter()
    incoming = {p.article.id: p for p in prepared}
    drop = set(remove)
    report = IngestReport()
    with writer_lock(index_dir):
        _repair_pointer(index_dir, embedder)
        previous = _previous(index_dir, embedder, options)
        if previous is not None and previous.manifest.chunking != asdict(options.params):
            raise ValueError("prepared chunks were cut with other parameters than the index's")
        options = replace(options, faiss_kind=options.faiss_kind or _kind(previous))
        keep = dict(previous.articles) if previous is not None else {}
        reusable = _reusable(previous, embedder, options)
        for doc_id in sorted(drop & set(keep)):
            del keep[doc_id]
            report.removed.append(doc_id)
        for doc_id, item in incoming.items():
            moved = refresh_paths and doc_id in keep and keep[doc_id].path != item.article.path
            if reusable.get(doc_id) == item.hash and not moved:
                report.unchanged.append(doc_id)
                continue
            (report.updated if doc_id in keep else report.added).append(doc_id)
            keep[doc_id] = item.article
        if report.changed or previous is None:
            _commit(index_dir, embedder, options, previous, keep, incoming, report)
        elif previous.path is not None:
            report.generation = previous.path.name
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
    if current_generation(index_dir) is None and pointer_problem(index_dir) is None:
        # checked before the lock, which would create the directory
        raise IndexNotFoundError(f"no index at {index_dir}; build one with `rag ingest PATH`")
    with writer_lock(index_dir):
        _repair_pointer(index_dir, embedder)
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
        _commit(index_dir, embedder, options, previous, keep, {}, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@dataclass(slots=True)
class _Plan:
    """What an ingest will do against one generation (or none)."""

    report: IngestReport
    keep: dict[str, Article]  # every article of the next generation
    fresh: set[str]  # ids whose chunks and vectors must be made
    needed: bool  # whether a new generation must be written
    options: IngestOptions


def _plan(
    loaded: LoadResult, previous: IndexStore | None, embedder: Embedder, options: IngestOptions
) -> _Plan:
    options = replace(options, faiss_kind=options.faiss_kind or _kind(previous))
    reusable = _reusable(previous, embedder, options)
    report = IngestReport(failed=list(loaded.failures), skipped=list(loaded.skipped))
    incoming = {a.id: a for a in loaded.articles}
    failed_paths = {f.path.split(":")[0] for f in loaded.failures}
    prune = options.prune and not (loaded.failures and not incoming)
    if options.prune and not prune:
        log.warning("every input failed to load; not pruning")
    keep: dict[str, Article] = {}
    fresh: set[str] = set()
    for doc_id, article in incoming.items():
        if doc_id in reusable and reusable[doc_id] == content_hash(article):
            report.unchanged.append(doc_id)
        else:
            (report.updated if previous and doc_id in previous.articles else report.added).append(
                doc_id
            )
            fresh.add(doc_id)
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
                fresh.add(doc_id)
    if previous is None:
        # A first ingest makes an index (possibly empty) unless every input failed.
        needed = bool(keep) or not report.failed
    else:
        needed = report.changed or previous.manifest.faiss_kind != options.faiss_kind
    return _Plan(report, keep, fresh, needed, options)


def _stale(prepared: dict[str, PreparedArticle], article: Article) -> bool:
    item = prepared.get(article.id)
    return item is None or item.article != article


def _kind(previous: IndexStore | None) -> str:
    return previous.manifest.faiss_kind if previous is not None else "flat"


def _repair_pointer(index_dir: Path, embedder: Embedder) -> None:
    """Under the writer lock: a lost or garbled CURRENT is pointed at the newest intact
    generation again (logged), never taken for a new index (issue 14)."""
    problem = pointer_problem(index_dir)
    if problem is None:
        return
    try:
        store = open_index(index_dir, embedder)
    except CorruptIndexError as exc:
        raise CorruptIndexError(
            f"{problem} in {index_dir} and no generation is intact ({exc}); nothing was "
            "changed. Restore a backup, or start over with `rag ingest PATH --rebuild`"
        ) from exc
    assert store.path is not None
    repair_current(index_dir, store.path.name)
    log.warning("%s in %s; pointed it at %s again", problem, index_dir, store.path.name)


def _previous(
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    *,
    reuse: IndexStore | None = None,
) -> IndexStore | None:
    if reuse is not None and reuse.path is not None and reuse.path == current_generation(index_dir):
        return reuse  # generations never change once written
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


def _commit(
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    previous: IndexStore | None,
    keep: dict[str, Article],
    prepared: dict[str, PreparedArticle],
    report: IngestReport,
) -> None:
    """Write `keep` as the next generation: prepared articles as given, the rest reused."""
    old_rows: dict[str, list[int]] = {}
    if previous is not None:
        for row, chunk in enumerate(previous.chunks):
            old_rows.setdefault(chunk.doc_id, []).append(row)
    chunks: list[Chunk] = []
    parts: list[np.ndarray] = []  # each (n_i, dim)
    embedded = tokens = 0
    for doc_id in sorted(keep):
        item = prepared.get(doc_id)
        if item is not None and item.article == keep[doc_id]:
            chunks.extend(item.chunks)
            parts.append(item.vectors)
            embedded += len(item.chunks)
            tokens += sum(c.n_tokens for c in item.chunks)
        else:
            assert previous is not None, f"{doc_id} is neither prepared nor stored"
            rows = old_rows.get(doc_id, [])
            chunks.extend(previous.chunks[r] for r in rows)
            parts.append(previous.vectors[rows])
    vectors = (
        np.concatenate(parts).astype(np.float32, copy=False)
        if parts
        else np.zeros((0, embedder.dim), np.float32)
    )  # (n_chunks, dim)
    per_doc: dict[str, int] = {}
    for chunk in chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    entries = {d: ArticleEntry(content_hash(a), per_doc.get(d, 0), a.path) for d, a in keep.items()}
    if options.on_progress is not None:
        options.on_progress("writing", 0, len(chunks))
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
    report.chunks_embedded = embedded
    report.tokens_embedded = tokens
    report.total_chunks = len(chunks)
