"""Folder watch (issue 17): batches add, update and remove; half-written files wait; the loop
sees real file-system events and stops when told."""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from newsrag.index import SentenceTransformerEmbedder, open_index, watch
from newsrag.index.ingest import IngestReport
from newsrag.index.loaders import LoadResult, load_one, merge_loaded
from newsrag.index.store import ArticleEntry, Manifest
from newsrag.index.tables import Run
from newsrag.index.watch import FolderSync, PathIndex, WatchBatch, WatchOptions, watch_folders
from tests.index.hashing import HashingEmbedder

EVENT_BOUND_S = 20.0  # a dropped file shows up in a batch within this (debounce + settle + embed)


def article(doc_id: str, title: str, body: str) -> str:
    """A Markdown article with front matter."""
    return f"---\nid: {doc_id}\ntitle: {title}\nsource: Test Wire\n---\n{body}\n"


OTTERS = article(
    "otters", "River otters return", "Wildlife officers counted river otters along the canal."
)
KITES = article("kites", "Kite festival moves", "The kite festival moves to the northern dunes.")
BEES = article("bees", "Rooftop bees thrive", "Rooftop hives in the old town doubled their honey.")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A watched folder with two articles."""
    root = tmp_path / "inbox"
    root.mkdir()
    (root / "otters.md").write_text(OTTERS, encoding="utf-8")
    (root / "kites.md").write_text(KITES, encoding="utf-8")
    return root


def make_sync(folder: Path, index_dir: Path, embedder: SentenceTransformerEmbedder, **kw: object):
    """A FolderSync with no settle wait unless asked (tests drive the timing themselves)."""
    watch = WatchOptions(debounce_ms=100, settle_ms=int(kw.pop("settle_ms", 0)), wake_s=0.2)
    return FolderSync([folder], index_dir, embedder, watch=watch, **kw)  # type: ignore[arg-type]


def ids(index_dir: Path, embedder: SentenceTransformerEmbedder) -> set[str]:
    """The article ids the live generation holds."""
    return set(open_index(index_dir, embedder).articles)


def test_a_batch_adds_updates_and_removes_in_one_generation(
    folder: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    sync = make_sync(folder, index_dir, embedder)
    first = sync.initial().report
    assert sorted(first.added) == ["kites", "otters"]
    (folder / "otters.md").write_text(OTTERS.replace("canal", "harbour canal"), encoding="utf-8")
    (folder / "bees.md").write_text(BEES, encoding="utf-8")
    (folder / "kites.md").unlink()
    batch = sync.apply([folder / "otters.md", folder / "bees.md"], [folder / "kites.md"])
    report = batch.report
    assert (report.added, report.updated, report.removed) == (["bees"], ["otters"], ["kites"])
    assert report.chunks_embedded == 2  # the two fresh articles only
    store = open_index(index_dir, embedder)
    assert set(store.articles) == {"otters", "bees"}
    assert "harbour canal" in store.articles["otters"].text
    assert store.path is not None and store.path.name == report.generation
    again = sync.apply([folder / "otters.md"])  # touched, same content: nothing written
    assert again.report.unchanged == ["otters"] and not again.report.changed


def test_records_dropped_from_a_jsonl_file_and_removed_folders_are_pruned(
    folder: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    feed = folder / "wire" / "day.jsonl"
    feed.parent.mkdir()
    records = [
        {"id": f"wire-{i}", "title": f"Wire story {i}", "body": f"Harbour story number {i}."}
        for i in range(3)
    ]
    feed.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    sync = make_sync(folder, index_dir, embedder)
    sync.initial()
    feed.write_text(json.dumps(records[0]), encoding="utf-8")
    assert sorted(sync.apply([feed]).report.removed) == ["wire-1", "wire-2"]
    shutil.rmtree(folder / "wire")
    assert sync.apply([], [folder / "wire"]).report.removed == ["wire-0"]
    assert ids(index_dir, embedder) == {"kites", "otters"}


def test_a_file_still_being_written_is_retried_not_half_read(
    folder: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    growing = folder / "bees.md"
    half = BEES[: len(BEES) // 2]

    def writer_keeps_writing(seconds: float) -> None:  # the settle pause: the writer goes on
        with growing.open("a", encoding="utf-8") as handle:
            handle.write(BEES[len(half) :])

    sync = make_sync(folder, index_dir, embedder, settle_ms=200, sleep=writer_keeps_writing)
    growing.write_text(half, encoding="utf-8")
    first = sync.initial()  # the first sync waits for it too
    assert first.waiting == [str(growing)] and sorted(first.report.added) == ["kites", "otters"]
    growing.write_text(half, encoding="utf-8")
    batch = sync.apply([growing])
    assert batch.waiting == [str(growing)] and batch.report.added == []
    assert "bees" not in ids(index_dir, embedder)
    sync_after = make_sync(folder, index_dir, embedder, settle_ms=200, sleep=lambda s: None)
    done = sync_after.apply([growing])  # size and mtime held still: read whole
    assert done.waiting == [] and done.report.added == ["bees"]
    assert "doubled their honey" in open_index(index_dir, embedder).articles["bees"].text


def test_a_broken_file_keeps_its_old_article_and_a_stolen_id_fails(
    folder: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    sync = make_sync(folder, index_dir, embedder)
    sync.initial()
    (folder / "otters.md").write_text("   \n", encoding="utf-8")
    (folder / "copy.md").write_text(KITES.replace("northern", "southern"), encoding="utf-8")
    report = sync.apply([folder / "otters.md", folder / "copy.md"]).report
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert reasons["otters.md"] == "empty file"
    assert reasons["copy.md"].startswith("duplicate article id 'kites' (also in ")
    store = open_index(index_dir, embedder)
    assert set(store.articles) == {"kites", "otters"}
    assert "northern" in store.articles["kites"].text


def test_the_first_sync_prunes_files_removed_while_nothing_watched(
    folder: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    make_sync(folder, index_dir, embedder).initial()
    (folder / "kites.md").unlink()
    report = make_sync(folder, index_dir, embedder).initial().report
    assert report.removed == ["kites"]
    assert ids(index_dir, embedder) == {"otters"}


def test_a_moved_file_keeps_its_article_under_the_new_path(
    folder: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    make_sync(folder, index_dir, embedder).initial()
    (folder / "kites.md").rename(folder / "kites-2026.md")  # while watched: one batch
    sync = make_sync(folder, index_dir, embedder)
    moved = sync.apply([folder / "kites-2026.md"], [folder / "kites.md"]).report
    assert moved.updated == ["kites"] and moved.removed == []
    (folder / "otters.md").rename(folder / "otters-old.md")  # while nothing watched
    assert make_sync(folder, index_dir, embedder).initial().report.removed == []
    store = open_index(index_dir, embedder)
    assert Path(str(store.articles["kites"].path)).name == "kites-2026.md"
    assert Path(str(store.articles["otters"].path)).name == "otters-old.md"
    (folder / "kites-2026.md").unlink()
    assert sync.apply([], [folder / "kites-2026.md"]).report.removed == ["kites"]


def test_the_watch_loop_applies_real_events_and_stops_when_told(
    folder: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    sync = make_sync(folder, index_dir, embedder, settle_ms=100)
    batches: queue.Queue[WatchBatch] = queue.Queue()
    ready = threading.Event()
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_folders, args=(sync, stop, batches.put), kwargs={"ready": ready.set}
    )
    thread.start()
    try:
        assert ready.wait(EVENT_BOUND_S)
        initial = batches.get(timeout=1)
        assert initial.initial and sorted(initial.report.added) == ["kites", "otters"]
        (folder / ".bees.md.swp").write_text(BEES, encoding="utf-8")  # hidden: ignored
        (folder / "notes.bin").write_bytes(b"\x00\x01")  # unsupported: ignored
        (folder / "bees.md").write_text(BEES, encoding="utf-8")
        assert "bees" in wait_for(batches, lambda b: b.report.added)
        (folder / "bees.md").unlink()
        assert "bees" in wait_for(batches, lambda b: b.report.removed)
        assert ids(index_dir, embedder) == {"kites", "otters"}
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def wait_for(batches: queue.Queue[WatchBatch], pick) -> list[str]:  # type: ignore[no-untyped-def]
    """The first non-empty `pick(batch)` among the next batches (bounded in time)."""
    deadline = time.monotonic() + EVENT_BOUND_S
    while time.monotonic() < deadline:
        try:
            batch = batches.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        assert batch.error is None, batch.error
        assert not batch.report.failed, batch.report.failed
        if pick(batch):
            return list(pick(batch))
    raise AssertionError(f"no such batch within {EVENT_BOUND_S} s")


def fake_manifest(folder: Path, n: int, generation: int, extra: tuple[str, ...] = ()) -> Manifest:
    """A manifest of `n` articles a0.. (one file each under `folder`) plus `extra`, whose
    articles table has one run per generation (as index.tables writes them)."""
    names = [f"a{i}" for i in range(n)] + list(extra)
    articles = {d: ArticleEntry(f"h{d}", 1, str(folder / f"{d}.md")) for d in names}
    runs = [Run("tables/articles-000001.json", tuple(names[:n]))]
    if extra:
        runs.append(Run(f"tables/articles-{generation:06d}.json", extra))
    return Manifest(
        1, generation, "hashing-test", 64, {}, "flat", "", articles, runs={"articles": tuple(runs)}
    )


class CountingArticles(dict):  # type: ignore[type-arg]
    """A manifest's articles that count how often they are walked whole."""

    walks = 0

    def items(self):  # type: ignore[no-untyped-def,override]
        CountingArticles.walks += 1
        return super().items()

    def values(self):  # type: ignore[no-untyped-def,override]
        CountingArticles.walks += 1
        return super().values()

    def __iter__(self):  # type: ignore[no-untyped-def]
        CountingArticles.walks += 1
        return super().__iter__()


def test_planning_a_batch_costs_the_batch_not_the_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "bees.md").write_text(BEES, encoding="utf-8")
    calls = []
    real_key = watch.path_key
    monkeypatch.setattr(watch, "path_key", lambda p: calls.append(p) or real_key(p))
    looked_at = {}
    for n in (1_000, 10_000):
        sync = make_sync(folder, tmp_path / "index", HashingEmbedder())  # type: ignore[arg-type]
        sync._plan(LoadResult(), [], set(), fake_manifest(folder, n, 1), IngestReport())
        later = fake_manifest(folder, n, 2, extra=("x",))  # another writer added one
        later = replace(later, articles=CountingArticles(later.articles))
        CountingArticles.walks = 0
        calls.clear()
        ready = [folder / "bees.md"]
        loaded = merge_loaded(load_one(p, sync.options.fields) for p in ready)
        gone = {real_key(folder / "a3.md"), real_key(folder / "x.md")}  # two files removed
        fresh, remove = sync._plan(loaded, ready, gone, later, IngestReport())
        assert [a.id for a in fresh] == ["bees"] and remove == ["a3", "x"]
        assert CountingArticles.walks == 0  # the corpus is not walked
        looked_at[n] = (len(calls), sync._paths.rows_read)  # type: ignore[union-attr]
    assert looked_at[1_000][0] == looked_at[10_000][0] < 20  # paths compared: the batch's
    assert looked_at[10_000][1] - 10_000 == looked_at[1_000][1] - 1_000 == 1  # rows: the run's


def test_the_path_index_follows_any_later_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    old = fake_manifest(folder, 5, 2, extra=("x", "y"))
    articles = dict(old.articles)
    del articles["a1"], articles["x"]  # a rebuild: one fresh run, removed keys not named
    articles["y"] = ArticleEntry("h", 1, str(folder / "moved" / "y.md"))
    rebuilt = Manifest(
        1,
        3,
        "hashing-test",
        64,
        {},
        "flat",
        "",
        articles,
        runs={"articles": (Run("tables/articles-000003.json", tuple(sorted(articles))),)},
    )
    for start, end in ((old, rebuilt), (rebuilt, old)):  # forwards, and back to an older one
        moved = PathIndex(start).advance(end)
        fresh = PathIndex(end)
        keys = {watch.path_key(folder / f"{d}.md") for d in [*old.articles, "moved/y"]}
        for key in keys:
            assert moved.ids([key]) == fresh.ids([key]), key
        assert moved.ids([], [watch.path_key(folder)]) == set(end.articles)
        assert moved.ids([], [watch.path_key(folder / "moved")]) == fresh.ids(
            [], [watch.path_key(folder / "moved")]
        )
