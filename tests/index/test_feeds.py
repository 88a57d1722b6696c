"""News feeds (issue 17), against a feed server on 127.0.0.1: RSS and Atom entries become
articles with their metadata, teasers are completed from the linked page, a second poll is a
conditional GET, seen entries are skipped, hosts are paced, and hostile servers fail alone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsrag.index import SentenceTransformerEmbedder, open_index
from newsrag.index.errors import FeedError
from newsrag.index.feed_state import load_state
from newsrag.index.feeds import FeedOptions, ingest_feeds
from newsrag.index.fetching import Fetcher, FetchLimits, HostPacer
from tests.index.feed_server import FeedServer, feed_server

BODY = (
    "The harbour authority opened a new ferry terminal on the east quay on Monday. "
    "Officials said the terminal will handle four thousand passengers a day and cut waiting "
    "times for commuters from the islands. Construction took two years and came in under "
    "budget, the authority said, crediting a mild winter. Local traders welcomed the extra "
    "footfall, while residents asked for more bicycle parking near the gates."
)
PAGE = f"""<html><head><title>Glass bridge opens</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Glass bridge opens over the gorge</h1>
<p>Engineers opened a glass footbridge across the river gorge on Tuesday after three years of
work, the county council said in a statement.</p>
<p>The bridge is 180 metres long and can carry two thousand walkers at once. Tickets go on sale
next week and the council expects the first summer to bring a record number of visitors.</p>
<p>{BODY}</p></article><footer>Contact us</footer></body></html>"""


def rss(url: str, n_items: int = 2) -> bytes:
    """An RSS 2.0 feed: a full entry, and a teaser linking to /bridge.html."""
    items = [
        f"""<item><guid>urn:test:ferry</guid><title>Ferry terminal opens</title>
<link>{url}/ferry.html</link><author>desk@example.org (Ana Ruiz)</author>
<pubDate>Mon, 30 Nov 2026 07:30:00 GMT</pubDate><category>Transport</category>
<description><![CDATA[<p>{BODY}</p>]]></description></item>""",
        f"""<item><guid>urn:test:bridge</guid><title>Glass bridge opens</title>
<link>{url}/bridge.html</link><pubDate>Tue, 01 Dec 2026 06:00:00 GMT</pubDate>
<description>A new bridge. Read more.</description></item>""",
    ][:n_items]
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Herald</title>
<link>{url}/</link><description>News</description>{"".join(items)}</channel></rss>""".encode()


def atom(url: str) -> bytes:
    """An Atom feed of one entry whose source element names another outlet."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Aggregator</title><id>urn:agg</id>
<updated>2026-11-29T10:00:00Z</updated>
<entry><id>urn:test:atom-1</id><title>Tram line extended</title>
<link href="{url}/tram.html"/><updated>2026-11-29T10:00:00Z</updated>
<published>2026-11-28T09:00:00Z</published><author><name>Li Wei</name></author>
<source><title>City Courier</title><id>urn:cc</id></source>
<content type="html">&lt;p&gt;{BODY.replace("ferry terminal", "tram line")}&lt;/p&gt;</content>
</entry></feed>""".encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A feed server with an RSS feed, an Atom feed and one article page."""
    with feed_server() as srv:
        srv.routes["/rss.xml"] = (rss(srv.url), "application/rss+xml")
        srv.routes["/atom.xml"] = (atom(srv.url), "application/atom+xml")
        srv.routes["/bridge.html"] = (PAGE.encode(), "text/html; charset=utf-8")
        yield srv


FAST = FeedOptions(fetch=FetchLimits(timeout_s=2.0, host_interval_s=0.0))


def test_entries_become_articles_with_their_metadata(
    server: FeedServer, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    feeds = [f"{server.url}/rss.xml", f"{server.url}/atom.xml"]
    report = ingest_feeds(feeds, index_dir, embedder, feed_options=FAST)
    assert [(f.status, f.new) for f in report.feeds] == [("read", 2), ("read", 1)]
    assert len(report.ingest.added) == 3 and not report.ingest.failed
    by_url = {a.url: a for a in open_index(index_dir, embedder).articles.values()}
    ferry = by_url[f"{server.url}/ferry.html"]
    assert (ferry.title, ferry.source, ferry.published_at) == (
        "Ferry terminal opens",
        "Harbour Herald",
        "2026-11-30",
    )
    assert ferry.author == "desk@example.org (Ana Ruiz)" and ferry.category == "Transport"
    assert "four thousand passengers" in ferry.text
    bridge = by_url[f"{server.url}/bridge.html"]  # a teaser: the text comes from the page
    assert "180 metres long" in bridge.text and "Contact us" not in bridge.text
    tram = by_url[f"{server.url}/tram.html"]
    assert (tram.source, tram.author, tram.published_at) == ("City Courier", "Li Wei", "2026-11-28")
    assert "/ferry.html" not in server.paths()  # a full entry needs no page fetch
    assert ferry.id.startswith("127.0.0.1-ferry-")


def test_a_second_poll_is_conditional_and_seen_entries_are_skipped(
    server: FeedServer, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    feed = f"{server.url}/rss.xml"
    ingest_feeds([feed], index_dir, embedder, feed_options=FAST)
    state = json.loads((index_dir / "feeds.json").read_text())
    assert state["feeds"][feed]["etag"] == server.etag("/rss.xml")
    again = ingest_feeds([feed], index_dir, embedder, feed_options=FAST)
    assert again.feeds[0].status == "not_modified" and not again.ingest.changed
    assert server.requests[-1][1]["If-None-Match"] == server.etag("/rss.xml")
    # The feed changes (one entry more): the old entries are skipped, the new one is read.
    body = rss(server.url).replace(
        b"</channel>",
        f"<item><guid>urn:test:new</guid><title>Night market returns</title>"
        f"<link>{server.url}/market.html</link><description>{BODY}</description>"
        f"</item></channel>".encode(),
    )
    server.routes["/rss.xml"] = (body, "application/rss+xml")
    third = ingest_feeds([feed], index_dir, embedder, feed_options=FAST)
    assert (third.feeds[0].new, third.feeds[0].seen) == (1, 2)
    assert len(third.ingest.added) == 1 and third.ingest.chunks_embedded >= 1
    assert set(load_state(index_dir)[feed].seen) == {
        "urn:test:ferry",
        "urn:test:bridge",
        "urn:test:new",
    }


def test_a_failed_page_fails_its_entry_alone_and_is_retried(
    server: FeedServer, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    del server.routes["/bridge.html"]
    feed = f"{server.url}/rss.xml"
    report = ingest_feeds([feed], index_dir, embedder, feed_options=FAST)
    assert report.ingest.added and len(report.ingest.added) == 2  # the teaser kept as it is
    no_text = server.routes["/rss.xml"][0].replace(b"A new bridge. Read more.", b"")
    server.routes["/rss.xml"] = (no_text, "application/rss+xml")
    (index_dir / "feeds.json").unlink()
    report = ingest_feeds([feed], index_dir, embedder, feed_options=FAST)
    (failure,) = report.ingest.failed
    assert "bridge.html" in failure.path and "HTTP 404" in failure.reason
    assert load_state(index_dir)[feed].etag is None  # not cached: the entry is tried again
    assert "urn:test:bridge" not in load_state(index_dir)[feed].seen


def test_hostile_feeds_fail_alone_with_a_reason(
    server: FeedServer, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    server.routes["/page.xml"] = (PAGE.encode(), "text/html")
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-leak-this", encoding="utf-8")
    xxe = f"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>
<rss version="2.0"><channel><title>Entity test</title><item><guid>urn:test:xxe</guid>
<title>Entity story</title><link>{server.url}/xxe.html</link>
<description>Secret: &x; {BODY}</description></item></channel></rss>"""
    server.routes["/xxe.xml"] = (xxe.encode(), "application/rss+xml")
    options = FeedOptions(fetch=FetchLimits(timeout_s=1.0, max_bytes=1_000_000, host_interval_s=0))
    names = ("slow", "huge", "page.xml", "missing.xml", "rss.xml", "xxe.xml")
    feeds = [f"{server.url}/{p}" for p in names]
    started = time.monotonic()
    report = ingest_feeds(
        [*feeds, "ftp://127.0.0.1/x"], tmp_path / "i", embedder, feed_options=options
    )
    assert time.monotonic() - started < 15  # the drip is cut off by the transfer deadline
    errors = [f.error for f in report.feeds]
    assert "timed out" in errors[0] or "transfer took over" in errors[0]
    assert "over the limit of 1,000,000 bytes" in errors[1]
    assert "not an RSS or Atom feed" in errors[2]
    assert "HTTP 404" in errors[3]
    assert errors[4] is None and report.feeds[4].new == 2
    assert errors[5] is None and report.feeds[5].new == 1  # read, its entity not resolved
    assert "not an http(s) address" in errors[6]
    texts = [a.text for a in open_index(tmp_path / "i", embedder).articles.values()]
    assert len(texts) == 3 and not any("do-not-leak-this" in t for t in texts)


def test_a_feed_file_is_read_like_an_address(
    server: FeedServer, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    path = tmp_path / "saved.xml"
    path.write_bytes(atom(server.url))
    report = ingest_feeds([str(path)], tmp_path / "index", embedder, feed_options=FAST)
    assert report.feeds[0].new == 1 and len(report.ingest.added) == 1
    assert (
        ingest_feeds([str(path)], tmp_path / "index", embedder, feed_options=FAST).feeds[0].seen
        == 1
    )


def test_the_pacer_spaces_requests_to_one_host() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = HostPacer(2.0, clock=lambda: now[0], sleep=sleep)
    assert [pacer.wait("a.test"), pacer.wait("b.test")] == [0, 0]
    assert pacer.wait("a.test") == 2.0  # the second request to a.test waits its turn
    now[0] += 5
    assert pacer.wait("a.test") == 0 and slept == [2.0]


def test_the_fetcher_paces_real_requests(server: FeedServer) -> None:
    with Fetcher(FetchLimits(timeout_s=2.0, host_interval_s=0.3)) as fetcher:
        for _ in range(4):  # the first one opens the connection (its delay is its own)
            fetcher.get(f"{server.url}/rss.xml")
    gaps = [b - a for a, b in zip(server.times[1:], server.times[2:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.25
    with pytest.raises(FeedError, match="HTTP 404"), Fetcher(FetchLimits(timeout_s=2.0)) as f:
        f.get(f"{server.url}/nothing")
