"""`rag watch` and `rag ingest --feed` through the real CLI (issue 17): a watched folder and a
polled feed reach the index, Ctrl-C stops cleanly, and bad arguments get one-line errors."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from newsrag.rag.cli_watch import parse_duration
from tests.index.feed_server import FeedServer, feed_server
from tests.index.test_feeds import atom, rss
from tests.processes import ROOT, RagProcesses

RAG = Path(sys.executable).with_name("rag")
BOUND_S = 60.0  # start-up (model load) plus a batch, on a busy machine
ARTICLE = "---\nid: otters\ntitle: River otters return\n---\nOtters were seen along the canal.\n"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A feed server with an RSS and an Atom feed."""
    with feed_server() as srv:
        srv.routes["/rss.xml"] = (rss(srv.url, n_items=1), "application/rss+xml")
        srv.routes["/atom.xml"] = (atom(srv.url), "application/atom+xml")
        yield srv


class Lines:
    """Lines of a child's stdout and stderr, read by two threads; waits are bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        for stream in (process.stdout, process.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str] | None) -> None:
        for line in stream or ():
            self.queue.put(line)

    def until(self, wanted: str, bound_s: float = BOUND_S) -> str:
        """The first line containing `wanted`."""
        deadline = time.monotonic() + bound_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if wanted in line:
                return line
        raise AssertionError(f"no line with {wanted!r} in {bound_s} s; saw {self.seen[-10:]}")

    def rest(self) -> str:
        """What has been printed so far, all of it."""
        time.sleep(0.2)
        while not self.queue.empty():
            self.seen.append(self.queue.get_nowait())
        return "".join(self.seen)


def test_watch_applies_files_and_feeds_and_stops_on_ctrl_c(
    tmp_path: Path, server: FeedServer
) -> None:
    inbox, index_dir = tmp_path / "inbox", tmp_path / "index"
    inbox.mkdir()
    args = [str(RAG), "watch", str(inbox), "--index-dir", str(index_dir), "--json"]
    args += ["--feed", f"{server.url}/rss.xml", "--every", "1s", "--settle-ms", "100"]
    env = {**os.environ, "RAG_FEED_HOST_INTERVAL_S": "0"}
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = Lines(process)
    try:
        lines.until("watching")
        feeds = json.loads(lines.until('"event": "feeds"'))
        assert len(feeds["added"]) == 1 and feeds["feeds"][0]["status"] == "read"
        (inbox / "otters.md").write_text(ARTICLE, encoding="utf-8")
        batch = json.loads(lines.until('"added": ["otters"]'))
        assert batch["event"] == "batch" and batch["chunks_embedded"] == 1
        polled = len(server.requests)
        lines.until('"event": "feeds"')  # polled again a second later: a conditional GET
        assert server.requests[polled][1]["If-None-Match"] == server.etag("/rss.xml")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    printed = lines.rest()
    assert "stopping after the current batch" in printed and "stopped after" in printed
    assert "Traceback" not in printed


def test_ingest_reads_feeds_and_a_second_run_is_not_modified(
    rag_processes: RagProcesses, tmp_path: Path, server: FeedServer
) -> None:
    index_dir = tmp_path / "index"
    feeds = ["--feed", f"{server.url}/rss.xml", "--feed", f"{server.url}/atom.xml"]
    env = {"RAG_FEED_HOST_INTERVAL_S": "0"}
    first = rag_processes.run("ingest", *feeds, "--index-dir", index_dir, "--json", env=env)
    assert first.code == 0, first.stderr
    assert len(json.loads(first.stdout)["added"]) == 2
    second = rag_processes.run("ingest", *feeds, "--index-dir", index_dir, env=env)
    assert second.code == 0, second.stderr
    assert "not modified since the last poll" in second.stderr
    assert "0 added" in second.stdout
    saved = tmp_path / "saved.xml"
    saved.write_bytes(rss(server.url).replace(b"urn:test:", b"urn:saved:"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "otters.md").write_text(ARTICLE, encoding="utf-8")
    both = rag_processes.run(
        "ingest", inbox, "--feed", saved, "--index-dir", index_dir, "--json", env=env
    )
    assert both.code == 0, both.stderr
    assert len(json.loads(both.stdout)["added"]) == 3  # the file and the two saved entries
    broken = rag_processes.run(
        "ingest", "--feed", f"{server.url}/nope.xml", "--index-dir", index_dir, env=env
    )
    assert broken.code == 1 and "HTTP 404" in broken.stderr and "Traceback" not in broken.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["watch"], "give folders to watch, --feed URL, or both"),
        (["watch", "{tmp}", "--every", "10m"], "--every goes with --feed"),
        (["watch", "--feed", "x.xml", "--every", "soon"], "not a duration: 'soon'"),
        (["watch", "{tmp}/none"], "not a folder"),
        (["ingest"], "give files or folders to ingest, --feed URL, or both"),
        (["ingest", "--feed", "x.xml", "--prune"], "--feed does not go with --prune or --ray"),
        (["serve", "--watch", "{tmp}/none"], "--watch needs a folder"),
    ],
)
def test_bad_arguments_get_one_line(
    rag_processes: RagProcesses, tmp_path: Path, args: list[str], message: str
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = rag_processes.run(*argv, "--index-dir", tmp_path / "index")
    assert done.code == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_durations_read_as_people_write_them() -> None:
    assert [parse_duration(t) for t in ("90", "30s", "10m", "1h", "1h30m", "2.5s")] == [
        90,
        30,
        600,
        3600,
        5400,
        2.5,
    ]
    for bad in ("", "m", "10 minutes", "-5"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)
