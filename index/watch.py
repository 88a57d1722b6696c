"""Folder watch (issue 17): keep an index fresh from folders that fill up, one batch at a time.

`FolderSync` applies what changed under some folders to an index: the files added or changed
since the last batch are read (once their size and mtime have settled, so a file still being
written is retried, never half-read), cut and embedded before the writer lock, and committed
with the articles of removed files in one new generation (`index.ingest.commit_prepared`, the
same protocol as every other writer). `watch_folders` feeds it from `watchfiles` events,
batched by a debounce window, until a stop event is set.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsrag.index.chunking import ChunkingParams
from newsrag.index.embedding import Embedder
from newsrag.index.errors import CorruptIndexError, IndexNotFoundError, IndexStoreError
from newsrag.index.generations import current_generation
from newsrag.index.ingest import (
    IngestOptions,
    IngestReport,
    commit_prepared,
    content_hash,
    prepare_articles,
)
from newsrag.index.loaders import (
    SUPPORTED,
    LoadFailure,
    LoadResult,
    iter_files,
    load_one,
    merge_loaded,
)
from newsrag.index.records import Article
from newsrag.index.store import ArticleEntry, Manifest, load_manifest, open_index

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """How changes are batched and when a file counts as written."""

    debounce_ms: int = 500  # changes arriving within this window are applied as one batch
    settle_ms: int = 300  # a file must keep its size and mtime this long before it is read
    wake_s: float = 1.0  # the loop wakes at least this often (retries, `on_idle`, stop)
    error_backoff_s: float = 10.0  # after a failed commit, wait this long before retrying

    def __post_init__(self) -> None:
        if self.debounce_ms < 1 or self.settle_ms < 0 or self.wake_s <= 0:
            raise ValueError("debounce_ms must be >= 1, settle_ms >= 0 and wake_s > 0")


@dataclass(slots=True)
class WatchBatch:
    """What one batch did: the ingest report, files still being written, and any error."""

    report: IngestReport = field(default_factory=IngestReport)
    waiting: list[str] = field(default_factory=list)  # retried in a later batch
    error: str | None = None  # the commit failed (the files are retried after a back-off)
    initial: bool = False  # the sync of the whole folders when the watch starts

    @property
    def changed(self) -> bool:
        """Whether a new generation was published."""
        return self.report.changed and self.error is None


def path_key(path: str | Path) -> str:
    """A path as the index compares it: absolute and normalised (files may be named relatively)."""
    return os.path.normpath(os.path.abspath(path))


class PathIndex:
    """The stored articles of each source file (by path_key), kept in step with the manifest.

    Built once from a manifest (linear in the corpus), then moved to each later manifest by
    the articles table's runs (index.tables): an article can differ between two manifests only
    if it is named in a run that one of them holds and the other lacks, so a move costs the
    rows the commits in between wrote, not the corpus. A manifest without runs (written before
    them) is read whole.
    """

    def __init__(self, manifest: Manifest) -> None:
        self._runs = manifest.runs.get("articles", ())
        self._key_of: dict[str, str] = {}  # doc id -> path key of its file
        self._ids: dict[str, set[str]] = {}  # path key -> doc ids
        for doc_id, entry in manifest.articles.items():
            if entry.path:
                self._put(doc_id, path_key(entry.path))
        self._keys = sorted(self._ids)  # for the files under a removed folder
        self.rows_read = len(manifest.articles)  # articles looked at so far (tests count)

    def advance(self, manifest: Manifest) -> PathIndex:
        """This index moved to `manifest` (itself when nothing changed, a new one when the
        manifest has no runs)."""
        runs = manifest.runs.get("articles", ())
        if not runs or not self._runs:
            return PathIndex(manifest)
        if runs == self._runs:
            return self
        ours = {(r.file, len(r.keys)) for r in self._runs}
        theirs = {(r.file, len(r.keys)) for r in runs}
        touched: set[str] = set()
        for run in (*self._runs, *runs):
            if ((run.file, len(run.keys)) in ours) != ((run.file, len(run.keys)) in theirs):
                touched.update(run.keys)
        for doc_id in touched:
            old = self._key_of.pop(doc_id, None)
            if old is not None:
                self._drop(doc_id, old)
            entry = manifest.articles.get(doc_id)
            if entry is not None and entry.path:
                key = path_key(entry.path)
                if key not in self._ids:
                    bisect.insort(self._keys, key)
                self._put(doc_id, key)
        self._runs = runs
        self.rows_read += len(touched)
        return self

    def ids(self, keys: Iterable[str], folders: Iterable[str] = ()) -> set[str]:
        """Ids of the articles stored from files `keys` or from any file under `folders`."""
        found: set[str] = set()
        for key in keys:
            found.update(self._ids.get(key, ()))
        for folder in folders:
            prefix = folder + os.sep
            at = bisect.bisect_left(self._keys, prefix)
            while at < len(self._keys) and self._keys[at].startswith(prefix):
                found.update(self._ids[self._keys[at]])
                at += 1
        return found

    def _put(self, doc_id: str, key: str) -> None:
        self._key_of[doc_id] = key
        self._ids.setdefault(key, set()).add(doc_id)

    def _drop(self, doc_id: str, key: str) -> None:
        ids = self._ids[key]
        ids.discard(doc_id)
        if not ids:
            del self._ids[key]
            at = bisect.bisect_left(self._keys, key)
            if at < len(self._keys) and self._keys[at] == key:
                del self._keys[at]


class FolderSync:
    """Applies file changes under `roots` to the index at `index_dir`, one generation a batch."""

    def __init__(
        self,
        roots: Iterable[Path],
        index_dir: Path,
        embedder: Embedder,
        options: IngestOptions | None = None,
        watch: WatchOptions | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.roots = [Path(r) for r in roots]
        missing = [str(r) for r in self.roots if not r.is_dir()]
        if missing:
            raise ValueError(f"not a folder: {', '.join(missing)}")
        self.index_dir = index_dir
        self.embedder = embedder
        self.options = options or IngestOptions()
        self.watch = watch or WatchOptions()
        self._sleep = sleep
        self._root_keys = [path_key(r) for r in self.roots]
        self._resolved = [path_key(r.resolve()) for r in self.roots]
        self._paths: PathIndex | None = None  # articles by source file, of the last manifest

    def as_given(self, path: Path) -> Path:
        """An event's absolute path under the root as the user named it (as `rag ingest` would)."""
        key = path_key(path)
        for root, given in zip(self._resolved, self.roots, strict=True):
            if key == root or key.startswith(root + os.sep):
                return given / os.path.relpath(key, root)
        return path

    def initial(self) -> WatchBatch:
        """Bring the index up to date with the folders: read their settled files (those still
        being written wait for a later batch) and drop the articles of files gone since."""
        store = self._manifest()
        gone = {
            path_key(a.path)
            for a in (store.articles.values() if store is not None else ())
            if a.path and self._under_roots(path_key(a.path)) and not os.path.lexists(a.path)
        }
        batch = self._batch(self._files(self.roots), gone, store, self.options.progress)
        batch.initial = True
        return batch

    def apply(self, changed: Iterable[Path], removed: Iterable[Path] = ()) -> WatchBatch:
        """Apply one batch: read settled changed files, drop the articles of removed ones."""
        return self._batch(self._files(changed), {path_key(p) for p in removed}, self._manifest())

    def _batch(
        self,
        files: Iterable[Path],
        gone: set[str],
        store: Manifest | None,
        progress: bool = False,
    ) -> WatchBatch:
        batch = WatchBatch()
        ready, batch.waiting = self._settled(sorted(set(files)))
        loaded = merge_loaded(load_one(p, self.options.fields, self.options.limits) for p in ready)
        batch.report.failed.extend(loaded.failures)
        batch.report.skipped.extend(loaded.skipped)
        gone -= {path_key(p) for p in ready}
        fresh, remove = self._plan(loaded, ready, gone, store, batch.report)
        if not fresh and not remove:
            return batch
        options = self._options(store, progress=progress)
        prepared = prepare_articles(fresh, self.embedder, options)
        committed = commit_prepared(
            prepared.values(),
            self.index_dir,
            self.embedder,
            options,
            remove=remove,
            refresh_paths=True,
        )
        committed.failed, committed.skipped = batch.report.failed, batch.report.skipped
        committed.unchanged.extend(batch.report.unchanged)
        batch.report = committed
        return batch

    def _plan(
        self,
        loaded: LoadResult,
        ready: list[Path],
        gone: set[str],
        store: Manifest | None,
        report: IngestReport,
    ) -> tuple[list[Article], list[str]]:
        """The articles to embed and the ids to remove; unchanged ones go to the report."""
        known = store.articles if store is not None else {}
        failed = {f.path.split(":")[0] for f in loaded.failures}
        read = {path_key(p) for p in ready if str(p) not in failed}
        batch_keys = read | gone
        fresh: list[Article] = []
        kept: set[str] = set()
        for article in loaded.articles:
            old = known.get(article.id)
            if _claimed_elsewhere(old, batch_keys):  # the id is another file's: first one wins
                also = old.path if old is not None else "?"
                reason = f"duplicate article id {article.id!r} (also in {also})"
                report.failed.append(LoadFailure(str(article.path), reason))
                continue
            kept.add(article.id)
            moved = old is not None and (  # stored again under its new path
                not old.path or path_key(old.path) != path_key(str(article.path))
            )
            if old is not None and old.hash == content_hash(article) and not moved:
                report.unchanged.append(article.id)
            else:
                fresh.append(article)
        remove = []
        if store is not None:  # only the articles of the batch's files are looked at
            paths = self._paths.advance(store) if self._paths is not None else PathIndex(store)
            self._paths = paths
            for doc_id in sorted(paths.ids(read | gone, gone) - kept):
                old = known.get(doc_id)
                if old is not None and old.path and self._in_batch(path_key(old.path), read, gone):
                    remove.append(doc_id)
        return fresh, remove

    @staticmethod
    def _in_batch(key: str, read: set[str], gone: set[str]) -> bool:
        if key in read or key in gone:
            return True
        # a removed folder takes the articles of every file below it
        return any(key.startswith(g + os.sep) for g in gone)

    def _files(self, paths: Iterable[Path]) -> Iterator[Path]:
        """Supported, non-hidden files among `paths` (folders expanded)."""
        for path in paths:
            if self._hidden(path):
                continue
            if path.is_dir():
                yield from (f for f in iter_files([path]) if f.suffix.lower() in SUPPORTED)
            elif path.suffix.lower() in SUPPORTED and path.exists():
                yield path

    def _hidden(self, path: Path) -> bool:
        key = path_key(path)
        for root in self._root_keys:
            if key == root:
                return False
            if key.startswith(root + os.sep):
                return any(p.startswith(".") for p in Path(key[len(root) + 1 :]).parts)
        return path.name.startswith(".")

    def _settled(self, files: list[Path]) -> tuple[list[Path], list[str]]:
        """Files whose size and mtime stay put for settle_ms, and those still changing."""
        settle_s = self.watch.settle_ms / 1000
        before = {p: _stat(p) for p in files}
        now = time.time_ns()
        recent = [p for p, s in before.items() if s is None or now - s[1] < settle_s * 1e9]
        if recent and settle_s:
            self._sleep(settle_s)  # once per batch; files not touched lately need no wait
        ready: list[Path] = []
        waiting: list[Path] = []
        for path in files:
            stat = _stat(path) if path in recent else before[path]
            if stat is None:
                continue  # gone meanwhile: its removal event follows
            (ready if stat == before[path] else waiting).append(path)
        return ready, [str(p) for p in waiting]

    def _under_roots(self, key: str) -> bool:
        return any(key.startswith(root + os.sep) for root in self._root_keys)

    def _manifest(self) -> Manifest | None:
        """The live generation's manifest (ids, hashes, paths, chunking), None without an index.

        Read alone it costs a fraction of loading the index (the commit loads and verifies the
        whole generation under the lock anyway); one that cannot be read so is opened the full
        way (open_index: the newest intact generation, typed errors).
        """
        current = current_generation(self.index_dir)
        if current is not None:
            try:
                manifest = load_manifest(current)
            except (OSError, UnicodeDecodeError, CorruptIndexError) as exc:
                log.info("manifest not read directly (%s); opening the index", exc)
            else:
                if (manifest.embedder, manifest.dim) == (self.embedder.name, self.embedder.dim):
                    return manifest
        try:
            return open_index(self.index_dir, self.embedder).manifest
        except IndexNotFoundError:
            return None

    def _options(self, store: Manifest | None, *, progress: bool = False) -> IngestOptions:
        # Keep the index's own chunking so a batch never re-chunks the corpus.
        if store is None:
            return replace(self.options, progress=progress)
        params = ChunkingParams(**store.chunking)
        return replace(self.options, params=params, progress=progress)


def _claimed_elsewhere(old: ArticleEntry | None, batch_keys: set[str]) -> bool:
    """Whether a stored article comes from a file outside this batch that still exists."""
    if old is None or not old.path or path_key(old.path) in batch_keys:
        return False
    return os.path.lexists(old.path)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def watch_folders(
    sync: FolderSync,
    stop: threading.Event,
    on_batch: Callable[[WatchBatch], None],
    *,
    on_idle: Callable[[], None] | None = None,
    ready: Callable[[], None] | None = None,
    initial: bool = True,
) -> None:
    """Apply changes under `sync.roots` as they happen, until `stop` is set.

    Runs in the calling thread (one writer: batches never overlap). The watch starts first,
    then (with `initial`) the folders are synced once, so a file written meanwhile is not
    missed; the report of that sync is the first batch (`WatchBatch.initial`). `ready` is
    called after it; `on_idle` at least every `wake_s` between batches (the feed poller of
    `rag watch` runs there).
    """
    import watchfiles

    watch = sync.watch
    events = watchfiles.watch(
        *[r.resolve() for r in sync.roots],
        watch_filter=None,  # FolderSync picks the files (hidden and unsupported ones are ignored)
        debounce=watch.debounce_ms,
        step=50,
        stop_event=stop,
        rust_timeout=int(watch.wake_s * 1000),
        yield_on_timeout=True,
        raise_interrupt=False,
    )
    changed: set[Path] = set()
    removed: set[Path] = set()
    retry_at = 0.0
    started = False
    for raw in events:  # the first yield comes once the watch is set up (within wake_s)
        for change, name in raw:
            path = sync.as_given(Path(name))
            (removed if change == watchfiles.Change.deleted else changed).add(path)
            (changed if change == watchfiles.Change.deleted else removed).discard(path)
        if not started:
            started = True
            if initial:
                first = sync.initial()
                changed |= {Path(p) for p in first.waiting}
                on_batch(first)
            if ready is not None:
                ready()
        if (changed or removed) and time.monotonic() >= retry_at and not stop.is_set():
            try:
                batch = sync.apply(changed, removed)
            except (IndexStoreError, ValueError, OSError) as exc:  # kept: retried after a pause
                log.error("watch batch failed; retrying later", extra={"error": str(exc)})
                batch = WatchBatch(error=str(exc))
                retry_at = time.monotonic() + watch.error_backoff_s
            else:
                changed, removed = {Path(p) for p in batch.waiting}, set()
            on_batch(batch)
        if on_idle is not None and not stop.is_set():
            on_idle()
        if stop.is_set():
            break
