"""Ingest: upsert articles by id and content hash into a new generation, atomically."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
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
from newsrag.index.loaders import (
    FieldMap,
    LoadFailure,
    LoadLimits,
    LoadResult,
    load_one,
    merge_loaded,
    walk_files,
)
from newsrag.index.records import Article, Chunk
from newsrag.index.segments import MERGE_FACTOR, MERGE_FLOOR, link_tree, select_merges
from newsrag.index.sources import SourceScan, merged_sources, scan_sources, settle
from newsrag.index.store import (
    ArticleEntry,
    IndexStore,
    Manifest,
    SegmentEntry,
    SourceEntry,
    finish_manifest,
    open_index,
    open_manifest,
    read_segment,
    segment_name,
    with_rows,
)

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
    files_unchanged: int = 0  # source files not opened: stat as recorded
    files_rehashed: int = 0  # stat changed, bytes did not: hashed, nothing re-read
    segments: int = 0  # segments of the generation written (or kept)

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
    merge_factor: int = MERGE_FACTOR  # segments per tier before they merge (< 2: no tiers)
    merge_floor: int = MERGE_FLOOR  # live chunks under which a segment counts as small
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
    base = None if options.rebuild else _base(index_dir, embedder, options)
    scan = scan_sources(walk_files(list(paths)), base[1] if base is not None else None)
    read = merge_loaded(load_one(p, options.fields, options.limits) for p in scan.to_read)
    loaded = settle(scan, read)
    report = ingest_loaded(loaded, index_dir, embedder, options, scan=scan)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def ingest_loaded(
    loaded: LoadResult,
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
    *,
    prepare: PrepareArticles | None = None,
    scan: SourceScan | None = None,
) -> IngestReport:
    """Upsert articles loaded already; `prepare` cuts and embeds the fresh ones (default: here).

    `scan` (from index.sources) names the articles of files found unchanged, which count as
    present without having been read, and the source files as now seen. The fresh articles are
    prepared before the writer lock; under it, what changed is decided again against the live
    generation (another writer may have published meanwhile) and the result is published as
    one new generation: a new segment beside the kept ones (index.segments) when the index
    allows it, else one rewritten segment.
    """
    options = options or IngestOptions()
    check_chunking(options.params, embedder)
    started = time.perf_counter()
    scan = scan or SourceScan()

    def run(articles: list[Article], opts: IngestOptions) -> dict[str, PreparedArticle]:
        if prepare is None:
            return prepare_articles(articles, embedder, opts)
        return _checked(prepare(articles), articles)

    base = None if options.rebuild else _base(index_dir, embedder, options)
    if base is not None and _extendable(base[1], options):
        report = _ingest_segments(loaded, scan, base, index_dir, embedder, options, run)
        if report is not None:
            report.seconds = round(time.perf_counter() - started, 3)
            return report
    snapshot = _previous(index_dir, embedder, options)
    first = _plan(loaded, snapshot, embedder, options, scan)
    prepared = run([first.keep[d] for d in sorted(first.fresh)], options)
    with writer_lock(index_dir):
        _repair_pointer(index_dir, embedder)
        previous = _previous(index_dir, embedder, options, reuse=snapshot)
        plan = _plan(loaded, previous, embedder, options, scan)
        report = plan.report
        stale = [plan.keep[d] for d in sorted(plan.fresh) if _stale(prepared, plan.keep[d])]
        if stale:  # another writer changed the index since the snapshot: embed what it needs
            prepared.update(run(stale, replace(options, progress=False)))
        sources = merged_sources(
            previous.manifest.sources if previous is not None and not options.rebuild else {},
            scan,
            prune=plan.options.prune,
        )
        if plan.needed:
            _commit(
                index_dir, embedder, plan.options, previous, plan.keep, prepared, report, sources
            )
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
        base = _base(index_dir, embedder, options)
        if base is not None and _extendable(base[1], options):
            _upsert_segments(
                index_dir, embedder, options, base, incoming, drop, report, refresh_paths
            )
            report.seconds = round(time.perf_counter() - started, 3)
            return report
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
    with _existing_index(index_dir, embedder):
        base = open_manifest(index_dir, embedder)
        opts = _own_options(base[1], options)
        if _extendable(base[1], opts):
            _check_known(doc_ids, base[1].articles)
            _upsert_segments(index_dir, embedder, opts, base, {}, set(doc_ids), report)
            report.seconds = round(time.perf_counter() - started, 3)
            return report
        previous = open_index(index_dir, embedder)
        _check_known(doc_ids, previous.articles)
        drop = set(doc_ids)
        report.removed = sorted(drop)
        keep = {k: v for k, v in previous.articles.items() if k not in drop}
        opts = _own_options(previous.manifest, options)  # the generation it opened
        _commit(index_dir, embedder, opts, previous, keep, {}, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@contextlib.contextmanager
def _existing_index(index_dir: Path, embedder: Embedder) -> Iterator[None]:
    """Hold the writer lock of the index at `index_dir`, its CURRENT pointer repaired;
    IndexNotFoundError when there is none (checked before the lock, which would create the
    directory). What `delete_articles` and `compact`, which need an index, begin with."""
    if current_generation(index_dir) is None and pointer_problem(index_dir) is None:
        raise IndexNotFoundError(f"no index at {index_dir}; build one with `rag ingest PATH`")
    with writer_lock(index_dir):
        _repair_pointer(index_dir, embedder)
        yield


def _own_options(manifest: Manifest, options: IngestOptions) -> IngestOptions:
    """Options that keep the index's own chunking and FAISS kind (`options`' step hook)."""
    return IngestOptions(
        params=ChunkingParams(**manifest.chunking),
        faiss_kind=manifest.faiss_kind,
        on_step=options.on_step,
    )


def _check_known(doc_ids: list[str], articles: Mapping[str, object]) -> None:
    unknown = [d for d in doc_ids if d not in articles]
    if unknown:
        raise KeyError(f"no article with id {', '.join(map(repr, unknown))} in the index")


@dataclass(slots=True)
class _Plan:
    """What an ingest will do against one generation (or none)."""

    report: IngestReport
    keep: dict[str, Article]  # every article of the next generation
    fresh: set[str]  # ids whose chunks and vectors must be made
    needed: bool  # whether a new generation must be written
    options: IngestOptions


def _plan(
    loaded: LoadResult,
    previous: IndexStore | None,
    embedder: Embedder,
    options: IngestOptions,
    scan: SourceScan | None = None,
) -> _Plan:
    options = replace(options, faiss_kind=options.faiss_kind or _kind(previous))
    reusable = _reusable(previous, embedder, options)
    report = IngestReport(failed=list(loaded.failures), skipped=list(loaded.skipped))
    incoming = {a.id: a for a in loaded.articles}
    if scan is not None and previous is not None:  # articles of unchanged files, as stored
        for doc_id in scan.kept:
            if doc_id in previous.articles and doc_id not in incoming:
                incoming[doc_id] = previous.articles[doc_id]
        report.files_unchanged, report.files_rehashed = scan.unchanged_files, scan.rehashed_files
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
    sources: dict[str, SourceEntry] | None = None,
) -> None:
    """Write `keep` as the next generation (one segment): prepared articles as given, the
    rest reused; `sources` is its table of source files (default: the previous one's)."""
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
        sources=sources
        if sources is not None
        else (previous.manifest.sources if previous is not None else {}),
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
    report.segments = 1


# Segments: an ingest that can build on the live generation writes only what changed.

_Base = tuple[Path, Manifest]  # a generation directory and its manifest, files checked


def _base(index_dir: Path, embedder: Embedder, options: IngestOptions) -> _Base | None:
    """The live generation's manifest (no chunks or vectors loaded), None for a new index."""
    try:
        return open_manifest(index_dir, embedder)
    except IndexNotFoundError:
        return None
    except (EmbedderMismatchError, CorruptIndexError):
        if options.rebuild:
            return None
        raise


def _extendable(manifest: Manifest, options: IngestOptions) -> bool:
    """Whether a new segment can be added: same chunking and kind, and a segmented manifest
    (an index written before segments is rewritten once, then grows by segments)."""
    return (
        not options.rebuild
        and bool(manifest.segments)
        and manifest.chunking == asdict(options.params)
        and options.faiss_kind in (None, manifest.faiss_kind)
        and all(e.segment is not None for e in manifest.articles.values())
    )


@dataclass(slots=True)
class _Delta:
    """What an ingest changes in a segmented generation."""

    report: IngestReport
    fresh: dict[str, Article]  # to cut and embed into the new segment
    removed: set[str]
    moved: dict[str, str | None]  # unchanged articles now read from another path
    sources: dict[str, SourceEntry]

    def needed(self, manifest: Manifest) -> bool:
        return bool(self.fresh or self.removed or self.moved) or self.sources != manifest.sources


def _plan_delta(
    loaded: LoadResult, scan: SourceScan, manifest: Manifest, options: IngestOptions
) -> _Delta:
    report = IngestReport(failed=list(loaded.failures), skipped=list(loaded.skipped))
    report.files_unchanged, report.files_rehashed = scan.unchanged_files, scan.rehashed_files
    incoming = {a.id: a for a in loaded.articles}
    failed_paths = {f.path.split(":")[0] for f in loaded.failures}
    prune = options.prune and not (loaded.failures and not incoming and not scan.kept)
    if options.prune and not prune:
        log.warning("every input failed to load; not pruning")
    fresh: dict[str, Article] = {}
    moved: dict[str, str | None] = {}
    for doc_id, article in incoming.items():
        entry = manifest.articles.get(doc_id)
        if entry is not None and entry.hash == content_hash(article):
            report.unchanged.append(doc_id)
            if entry.path != article.path:
                moved[doc_id] = article.path
        else:
            (report.updated if entry is not None else report.added).append(doc_id)
            fresh[doc_id] = article
    report.unchanged.extend(d for d in scan.kept if d in manifest.articles)
    removed: set[str] = set()
    if prune:
        for doc_id, entry in manifest.articles.items():
            gone = doc_id not in incoming and doc_id not in scan.kept
            if gone and entry.path not in failed_paths:
                removed.add(doc_id)
    report.removed = sorted(removed)
    sources = merged_sources(manifest.sources, scan, prune=prune)
    return _Delta(report, fresh, removed, moved, sources)


def _ingest_segments(
    loaded: LoadResult,
    scan: SourceScan,
    base: _Base,
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    run: Callable[[list[Article], IngestOptions], dict[str, PreparedArticle]],
) -> IngestReport | None:
    """Ingest as a new segment; None when, under the lock, the index can no longer be extended
    (another writer rewrote it meanwhile): the caller then rewrites it."""
    first = _plan_delta(loaded, scan, base[1], options)
    prepared = run([first.fresh[d] for d in sorted(first.fresh)], options)
    with writer_lock(index_dir):
        _repair_pointer(index_dir, embedder)
        now = _base(index_dir, embedder, options)
        if now is None or not _extendable(now[1], options):
            return None
        delta = first if now[0] == base[0] else _plan_delta(loaded, scan, now[1], options)
        stale = [a for d, a in sorted(delta.fresh.items()) if _stale(prepared, a)]
        if stale:  # another writer changed the index since the snapshot: embed what it needs
            prepared.update(run(stale, replace(options, progress=False)))
        report = delta.report
        if delta.needed(now[1]):
            fresh = {d: prepared[d] for d in delta.fresh}
            _commit_segments(index_dir, embedder, options, now, fresh, delta, report)
        else:
            report.generation = now[0].name
            report.total_chunks = now[1].n_chunks
            report.segments = len(now[1].segments)
    return report


def _commit_segments(
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    base: _Base,
    fresh: dict[str, PreparedArticle],
    delta: _Delta,
    report: IngestReport,
) -> None:
    """Publish `base` plus a segment of `fresh` (and of what the merge policy merges into it),
    with the replaced and removed articles' rows marked deleted; other segments are linked."""
    base_dir, manifest = base
    entries = dict(manifest.articles)
    deleted = {s.name: set(s.deleted) for s in manifest.segments}
    for doc_id in sorted(delta.removed | set(fresh)):
        old = entries.pop(doc_id, None)
        if old is not None and old.n_chunks:
            deleted[old.segment or ""].update(range(old.row, old.row + old.n_chunks))
    for doc_id, path in delta.moved.items():
        entries[doc_id] = entries[doc_id]._replace(path=path)
    segments = [replace(s, deleted=tuple(sorted(deleted[s.name]))) for s in manifest.segments]
    if any(s.live == 0 for s in segments):
        # A segment without live articles is dropped; one with live rows has some, so only
        # these need a look for articles without chunks (rare: the look is O(corpus)).
        holding = {e.segment or "" for e in entries.values()}
        segments = [s for s in segments if s.live or s.name in holding]
    incoming = sum(len(p.chunks) for p in fresh.values())
    chosen = select_merges(
        {s.name: (s.live, s.n_chunks) for s in segments},
        incoming,
        options.merge_factor,
        options.merge_floor,
    )
    kept = [s for s in segments if s.name not in chosen]
    merging = [s for s in segments if s.name in chosen]
    writes = bool(fresh or merging)
    step = options.on_step or (lambda name: None)
    if options.on_progress is not None:
        options.on_progress("writing", 0, incoming)
    written: dict[str, int] = {}

    def write(tmp: Path, number: int) -> None:
        several = len(kept) + writes > 1
        linked: dict[str, tuple[str, tuple[int, int]]] = {}
        out: list[SegmentEntry] = []
        for seg in kept:
            where = seg.name if several else ""
            source = base_dir / seg.dir if seg.dir else base_dir
            for src, dst in link_tree(source, tmp / where if where else tmp):
                old_rel = str(src.relative_to(base_dir))
                st = src.stat()
                stat = manifest.file_stats.get(old_rel, (st.st_size, st.st_mtime_ns))
                linked[str(dst.relative_to(tmp))] = (manifest.files[old_rel], stat)
            out.append(replace(seg, dir=where))
        step("segments-linked")
        new_entries = dict(entries)
        if writes:
            name = segment_name(number)
            parts: dict[str, tuple[Article, tuple[Chunk, ...], np.ndarray, ArticleEntry]] = {}
            docs_of: dict[str, list[str]] = {seg.name: [] for seg in merging}
            if merging:  # the articles of the merged segments (a merge is O(corpus) anyway)
                for doc_id, e in entries.items():
                    if (e.segment or "") in docs_of:
                        docs_of[e.segment or ""].append(doc_id)
            for seg in merging:
                stored = read_segment(base_dir, seg, manifest.dim, embedder)
                for doc_id in docs_of[seg.name]:
                    e = entries[doc_id]
                    rows = slice(e.row, e.row + e.n_chunks)
                    article = stored.articles[doc_id]
                    parts[doc_id] = (article, tuple(stored.chunks[rows]), stored.vectors[rows], e)
            if merging:
                step("merge-read")
            for doc_id, item in fresh.items():
                entry = ArticleEntry(item.hash, len(item.chunks), item.article.path)
                parts[doc_id] = (item.article, item.chunks, item.vectors, entry)
            order = sorted(parts)
            chunks = [c for d in order for c in parts[d][1]]
            vectors = (
                np.concatenate([parts[d][2] for d in order]).astype(np.float32, copy=False)
                if order
                else np.zeros((0, embedder.dim), np.float32)
            )  # (n_new, dim)
            store = IndexStore.build(
                articles={d: parts[d][0] for d in order},
                entries={d: parts[d][3] for d in order},
                chunks=chunks,
                vectors=vectors.reshape(len(chunks), embedder.dim),
                embedder=embedder,
                chunking=manifest.chunking,
                faiss_kind=manifest.faiss_kind,
            )
            store.write_segment(tmp / name if several else tmp, step)
            new_entries.update(with_rows(store.manifest.articles, chunks, name))
            out.append(SegmentEntry(name, name if several else "", len(chunks)))
            written["chunks"] = len(chunks)
        next_manifest = replace(
            manifest,
            generation=number,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            articles=new_entries,
            n_chunks=sum(s.live for s in out),
            segments=out,
            sources=delta.sources,
        )
        finish_manifest(tmp, next_manifest, linked, base=base, step=step)
        written["segments"], written["live"] = len(out), sum(s.live for s in out)
        step("manifest-written")

    final = publish(index_dir, write, previous=base_dir, on_step=options.on_step)
    report.generation = final.name
    report.chunks_embedded = incoming
    report.tokens_embedded = sum(c.n_tokens for p in fresh.values() for c in p.chunks)
    report.total_chunks = written["live"]
    report.segments = written["segments"]


def _upsert_segments(
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    base: _Base,
    incoming: dict[str, PreparedArticle],
    drop: set[str],
    report: IngestReport,
    refresh_paths: bool = False,
) -> None:
    """Under the writer lock: upsert prepared articles and drop ids, as a new segment.

    `refresh_paths`: an unchanged article whose file moved is written again with its path.

    The source files of dropped articles are forgotten, so that ingesting them again reads
    them (and brings the articles back).
    """
    manifest = base[1]
    if manifest.chunking != asdict(options.params):
        raise ValueError("prepared chunks were cut with other parameters than the index's")
    removed = drop & set(manifest.articles)
    report.removed = sorted(removed)
    fresh: dict[str, PreparedArticle] = {}
    for doc_id, item in incoming.items():
        entry = manifest.articles.get(doc_id)
        moved = refresh_paths and entry is not None and entry.path != item.article.path
        if entry is not None and entry.hash == item.hash and doc_id not in removed and not moved:
            report.unchanged.append(doc_id)
            continue
        (report.updated if entry is not None else report.added).append(doc_id)
        fresh[doc_id] = item
    gone = {manifest.articles[d].path for d in removed}
    sources = {k: v for k, v in manifest.sources.items() if k not in gone}
    delta = _Delta(report, {d: p.article for d, p in fresh.items()}, removed, {}, sources)
    if delta.needed(manifest):
        _commit_segments(index_dir, embedder, options, base, fresh, delta, report)
    else:
        report.generation = base[0].name
        report.total_chunks, report.segments = manifest.n_chunks, len(manifest.segments)


def compact(
    index_dir: Path, embedder: Embedder, options: IngestOptions | None = None
) -> IngestReport:
    """Merge every segment into one, deleted rows dropped: what a rebuild writes, without
    embedding anything. An index that is one segment without deletions is left as it is."""
    options = options or IngestOptions()
    started = time.perf_counter()
    report = IngestReport()
    with _existing_index(index_dir, embedder):
        previous = open_index(index_dir, embedder)
        manifest = previous.manifest
        report.unchanged = sorted(previous.articles)
        if len(manifest.segments) == 1 and not manifest.segments[0].deleted:
            report.generation = previous.path.name if previous.path else None
            report.total_chunks, report.segments = len(previous.chunks), 1
        else:
            opts = _own_options(manifest, options)
            keep = dict(previous.articles)
            _commit(index_dir, embedder, opts, previous, keep, {}, report, manifest.sources)
    report.seconds = round(time.perf_counter() - started, 3)
    return report
