"""`rag watch` (issue 17): keep the index fresh from folders and news feeds until Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from newsrag.index.errors import IndexStoreError
from newsrag.rag.cli_common import IndexDir, console, err, fail, note, settings_from
from newsrag.rag.components import load_embedder

if TYPE_CHECKING:
    from newsrag.index import Embedder, IngestOptions, IngestReport
    from newsrag.index.feeds import FeedOutcome, FeedReport
    from newsrag.index.watch import WatchBatch
    from newsrag.rag.settings import Settings

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_duration(text: str) -> float:
    """Seconds from `90`, `30s`, `10m`, `1h` or `1h30m`; ValueError otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (write e.g. 30s, 10m, 1h)")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


FeedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--feed",
        help="An RSS or Atom feed (http(s) address or file) to read; repeat for more. Each new"
        " entry becomes an article (link, title, source, author, date); entries seen before"
        " are skipped.",
    ),
]


def ingest_feed_sources(
    sources: list[str],
    settings: Settings,
    embedder: Embedder,
    options: IngestOptions,
    before: IngestReport | None,
    as_json: bool,
) -> IngestReport:
    """`rag ingest --feed`: poll each feed once; a failed feed is listed with the failures."""
    from newsrag.index.feeds import ingest_feeds
    from newsrag.index.loaders import LoadFailure

    done = ingest_feeds(sources, settings.index_dir, embedder, options, settings.feed_options())
    report = done.ingest
    for feed in done.feeds:
        if feed.error is not None:
            report.failed.append(LoadFailure(feed.source, feed.error))
        elif not as_json:
            note(f"feed {feed.source}: {_feed_words(feed)}")
    if before is None:
        return report
    for name in ("added", "updated", "unchanged", "removed", "failed", "skipped"):
        getattr(before, name).extend(getattr(report, name))
    before.chunks_embedded += report.chunks_embedded
    before.tokens_embedded += report.tokens_embedded
    before.seconds = round(before.seconds + report.seconds, 3)
    if report.generation is not None:
        before.generation, before.total_chunks = report.generation, report.total_chunks
    return before


def _feed_words(feed: FeedOutcome) -> str:
    if feed.status == "not_modified":
        return "not modified since the last poll"
    return f"{feed.new} new entries, {feed.seen} seen before"


def register(app: typer.Typer) -> None:
    """Add `watch` to the `rag` app."""
    app.command("watch")(watch_command)


def watch_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Folders to watch (their files are ingested).")
    ] = None,
    index_dir: IndexDir = None,
    feeds: FeedOption = None,
    every: Annotated[
        str | None,
        typer.Option(
            help="How often each --feed is polled, e.g. 30s, 10m, 1h (default: RAG_FEED_EVERY_S,"
            " 10m)."
        ),
    ] = None,
    debounce_ms: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Changes within this many ms are applied as one batch (default:"
            " RAG_WATCH_DEBOUNCE_MS, 500).",
        ),
    ] = None,
    settle_ms: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="A file is read once its size and mtime stay put this many ms (default:"
            " RAG_WATCH_SETTLE_MS, 300).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object a line per batch and poll.")
    ] = False,
) -> None:
    """Keep the index fresh from folders and feeds until Ctrl-C.

    New, changed and removed files are applied within a second or so of being written
    (batched, one generation a batch); a file still being written is retried. Ctrl-C
    finishes the running batch and stops.
    """
    from newsrag.index import ChunkingParams, IngestOptions
    from newsrag.index.watch import FolderSync, watch_folders

    folders = list(paths or [])
    sources = list(feeds or [])
    if not folders and not sources:
        raise fail("give folders to watch, --feed URL, or both")
    bad = [str(p) for p in folders if not p.is_dir()]
    if bad:
        raise fail(f"not a folder: {', '.join(bad)}")
    if every is not None and not sources:
        raise fail("--every goes with --feed")
    settings = settings_from(index_dir, watch_debounce_ms=debounce_ms, watch_settle_ms=settle_ms)
    try:
        interval = parse_duration(every) if every is not None else settings.feed_every_s
        watch = settings.watch_options()
    except ValueError as exc:
        raise fail(str(exc)) from None
    stop = threading.Event()
    restore = _stop_on_signals(stop)
    show = _Printer(as_json)
    try:
        embedder = load_embedder(settings, progress=note)
        options = IngestOptions(
            params=ChunkingParams(max_tokens=embedder.max_tokens),  # a new index's; else its own
            limits=settings.load_limits(),
            progress=not as_json,
        )
        poll = _FeedPoll(sources, interval, settings, embedder, options, show.feeds)
        if not folders:
            note(f"polling {len(sources)} feed(s) every {interval:g} s (Ctrl-C stops)")
            while not stop.is_set():
                poll()
                stop.wait(1.0)
            return
        sync = FolderSync(folders, settings.index_dir, embedder, options, watch)
        where = ", ".join(str(p) for p in folders)
        watch_folders(
            sync,
            stop,
            show.batch,
            on_idle=poll if sources else None,
            ready=lambda: note(f"watching {where} (Ctrl-C stops)"),
        )
    except KeyboardInterrupt:  # the second Ctrl-C: a generation is published whole or not at all
        raise fail("interrupted; the index holds the last published batch", code=130) from None
    except (IndexStoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot use the index at {settings.index_dir}: {exc.strerror or exc}") from None
    finally:
        restore()
    note(f"stopped after {show.batches} batch(es)")


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C (or SIGTERM) sets `stop`; a second Ctrl-C interrupts at once."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        note("stopping after the current batch (Ctrl-C again to interrupt)")

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


class _FeedPoll:
    """Polls every feed when due (called between batches: one writer at a time)."""

    def __init__(
        self,
        sources: list[str],
        every_s: float,
        settings: Settings,
        embedder: Embedder,
        options: IngestOptions,
        show: Callable[[FeedReport], None],
    ) -> None:
        self.sources = sources
        self.every_s = every_s
        self.settings = settings
        self.embedder = embedder
        self.options = options
        self.show = show
        self.due = 0.0

    def __call__(self) -> None:
        if not self.sources or time.monotonic() < self.due:
            return
        from newsrag.index.feeds import ingest_feeds

        report = ingest_feeds(
            self.sources,
            self.settings.index_dir,
            self.embedder,
            self._options(),
            self.settings.feed_options(),
        )
        self.due = time.monotonic() + self.every_s
        self.show(report)

    def _options(self) -> IngestOptions:
        """The ingest options with the index's own chunking (a poll never re-chunks it)."""
        from dataclasses import replace

        from newsrag.index import ChunkingParams, IndexNotFoundError, open_index

        try:
            store = open_index(self.settings.index_dir, self.embedder)
        except IndexNotFoundError:
            return self.options
        return replace(self.options, params=ChunkingParams(**store.manifest.chunking))


class _Printer:
    """One line per batch or poll (or one JSON object with --json)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.batches = 0

    def batch(self, batch: WatchBatch) -> None:
        self.batches += not batch.initial
        if batch.error is not None:
            self._emit(
                {"event": "error", "error": batch.error},
                f"[red]error:[/red] {escape(batch.error)} (retrying)",
            )
            return
        if batch.waiting and not self.as_json:
            note(f"still being written, retried: {', '.join(batch.waiting)}")
        event = "initial" if batch.initial else "batch"
        self.report(event, batch.report, waiting=batch.waiting)

    def feeds(self, report: FeedReport) -> None:
        for feed in report.feeds:
            if feed.error and not self.as_json:
                err.print(f"[yellow]feed failed:[/yellow] {escape(feed.error)}", soft_wrap=True)
            elif not self.as_json:
                note(f"feed {feed.source}: {_feed_words(feed)}")
        self.report("feeds", report.ingest, feeds=[_feed_dict(f) for f in report.feeds])

    def report(self, event: str, report: IngestReport, **extra: object) -> None:
        if self.as_json:
            self._emit({"event": event, **report.to_dict(), **extra}, "")
            return
        for failure in report.failed:
            err.print(
                f"[yellow]failed:[/yellow] {escape(failure.path)}: {escape(failure.reason)}",
                soft_wrap=True,
            )
        if report.changed or event == "initial":
            console.print(
                f"{time.strftime('%H:%M:%S')} {event}: {len(report.added)} added, "
                f"{len(report.updated)} updated, {len(report.removed)} removed, "
                f"{len(report.failed)} failed | chunks embedded: {report.chunks_embedded} "
                f"(index holds {report.total_chunks}) | {report.generation}",
                soft_wrap=True,
            )

    def _emit(self, payload: dict[str, object], text: str) -> None:
        if self.as_json:
            print(json.dumps(payload), flush=True)
        else:
            console.print(text, soft_wrap=True)


def _feed_dict(feed: FeedOutcome) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(feed)
