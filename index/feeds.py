"""News feeds (issue 17): RSS/Atom entries to Articles, ingested like files, each entry once.

Each entry's link, title, source (the entry's own `<source>` or the feed's title), author and
published date become the article's metadata; its text is the entry's content or summary, or,
when that is only a teaser (fewer than `min_entry_words` words) and the entry links a page,
the page's main text (trafilatura, as for .html files). What was read is remembered in
`feeds.json` in the index folder (written atomically, after the commit): each feed's ETag and
Last-Modified (the next poll is a conditional GET; 304 = nothing to do) and the ids of the
entries already ingested (skipped next time), kept by index.feed_state. Fetches go through
index.fetching (timeouts, a byte cap, a per-host rate limit); a feed or entry that fails is
reported with its reason and the others go on.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from newsrag.index.cleaning import clean_text
from newsrag.index.embedding import Embedder
from newsrag.index.errors import FeedError
from newsrag.index.feed_state import MAX_SEEN, FeedState, load_state, save_state
from newsrag.index.fetching import Fetcher, FetchLimits
from newsrag.index.ingest import IngestOptions, IngestReport, ingest_loaded
from newsrag.index.loaders import LoadFailure, LoadLimits, LoadResult, cap_title, merge_loaded
from newsrag.index.records import Article

log = logging.getLogger(__name__)

_ID_SAFE = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """How feeds are read."""

    fetch: FetchLimits = field(default_factory=FetchLimits)
    fetch_pages: bool = True  # read the linked page when the entry holds only a teaser
    min_entry_words: int = 60  # an entry with fewer words of text is a teaser
    max_entries: int = 500  # entries read from one feed per poll (the first ones)


@dataclass(slots=True)
class FeedOutcome:
    """What happened to one feed in one poll."""

    source: str
    status: Literal["read", "not_modified", "failed"]
    new: int = 0  # entries turned into articles
    seen: int = 0  # entries skipped, ingested before
    error: str | None = None


@dataclass(slots=True)
class FeedReport:
    """Per-feed outcomes and the ingest that committed their new entries."""

    feeds: list[FeedOutcome]
    ingest: IngestReport


@dataclass(slots=True)
class _Read:
    outcome: FeedOutcome
    articles: list[Article]
    keys: dict[str, str]  # article id -> entry key, marked seen once committed
    state: FeedState | None  # the state to remember (None: keep the old one)
    failures: list[LoadFailure]


def ingest_feeds(
    sources: Iterable[str],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
    feed_options: FeedOptions | None = None,
) -> FeedReport:
    """Poll each feed (URL or file) once and ingest its new entries in one generation."""
    options = options or IngestOptions()
    feed_options = feed_options or FeedOptions()
    states = load_state(index_dir)
    reads: dict[str, _Read] = {}
    with Fetcher(feed_options.fetch) as fetcher:
        for source in dict.fromkeys(sources):
            reads[source] = read_feed(
                source, states.get(source, FeedState()), fetcher, feed_options, options.limits
            )
    loaded = merge_loaded(LoadResult(articles=r.articles) for r in reads.values())
    loaded.failures.extend(f for r in reads.values() for f in r.failures)
    report = IngestReport(failed=list(loaded.failures))
    if loaded.articles:
        report = ingest_loaded(loaded, index_dir, embedder, options)
    committed = {a.id for a in loaded.articles}
    updates = {}
    for source, read in reads.items():
        if read.state is not None:
            keys = [k for d, k in read.keys.items() if d in committed]
            read.state.seen = (read.state.seen + keys)[-MAX_SEEN:]
            updates[source] = read.state
    if updates:
        save_state(index_dir, updates)
    return FeedReport([r.outcome for r in reads.values()], report)


def read_feed(
    source: str,
    state: FeedState,
    fetcher: Fetcher,
    options: FeedOptions,
    limits: LoadLimits,
) -> _Read:
    """One feed's new entries as Articles (never raises for what the feed or a page holds)."""
    try:
        body, fresh_state = _fetch_feed(source, state, fetcher)
    except FeedError as exc:
        return _Read(FeedOutcome(source, "failed", error=str(exc)), [], {}, None, [])
    if body is None:
        return _Read(FeedOutcome(source, "not_modified"), [], {}, None, [])
    try:
        parsed = _parse(source, body)
    except FeedError as exc:
        return _Read(FeedOutcome(source, "failed", error=str(exc)), [], {}, None, [])
    outcome = FeedOutcome(source, "read")
    seen = set(state.seen)
    fresh_state.seen = list(state.seen)
    articles: list[Article] = []
    keys: dict[str, str] = {}
    failures: list[LoadFailure] = []
    feed_title = _text(parsed.feed.get("title"))
    for entry in parsed.entries[: options.max_entries]:
        key = _entry_key(entry)
        if key in seen:
            outcome.seen += 1
            continue
        seen.add(key)
        try:
            article = _entry_article(entry, key, source, feed_title, fetcher, options, limits)
        except FeedError as exc:
            failures.append(LoadFailure(f"{source} entry {entry.get('link') or key}", str(exc)))
            continue
        articles.append(article)
        keys[article.id] = key
    outcome.new = len(articles)
    # Validators are kept only when every entry was read: a failed one is fetched again.
    if failures:
        fresh_state.etag = fresh_state.last_modified = None
    return _Read(outcome, articles, keys, fresh_state, failures)


def _fetch_feed(source: str, state: FeedState, fetcher: Fetcher) -> tuple[bytes | None, FeedState]:
    if "://" not in source:  # a file (an address of another scheme is refused by the fetcher)
        path = Path(source)
        try:
            with path.open("rb") as handle:
                body = handle.read(fetcher.limits.max_bytes + 1)
        except OSError as exc:
            raise FeedError(f"{source}: unreadable: {exc.strerror or exc}") from None
        if len(body) > fetcher.limits.max_bytes:
            raise FeedError(f"{source}: over the limit of {fetcher.limits.max_bytes:,} bytes")
        return body, FeedState()
    got = fetcher.get(source, etag=state.etag, last_modified=state.last_modified)
    if got.not_modified:
        return None, state
    return got.body, FeedState(etag=got.etag, last_modified=got.last_modified)


def _parse(source: str, body: bytes) -> Any:
    import feedparser

    # A stream, never a string: feedparser fetches a string that looks like an address.
    parsed = feedparser.parse(io.BytesIO(body))
    if not parsed.entries and not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        detail = f" ({type(problem).__name__}: {problem})" if problem else ""
        raise FeedError(f"{source}: not an RSS or Atom feed{detail}")
    return parsed


def _entry_key(entry: Any) -> str:
    """The entry's stable id: its guid/id, else its link, else a hash of what it says."""
    for name in ("id", "link"):
        value = entry.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:2000]
    payload = f"{entry.get('title', '')}\n{entry.get('summary', '')}".encode()
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def _entry_article(
    entry: Any,
    key: str,
    source: str,
    feed_title: str | None,
    fetcher: Fetcher,
    options: FeedOptions,
    limits: LoadLimits,
) -> Article:
    link = _text(entry.get("link"))
    title = cap_title(_text(entry.get("title")), limits.max_title_chars)
    text = _entry_text(entry)
    page_error = None
    if len(text.split()) < options.min_entry_words and link and options.fetch_pages:
        try:
            text = _page_text(link, fetcher, limits) or text
        except FeedError as exc:
            page_error = str(exc)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_article_bytes:
        raise FeedError(
            f"article text is {size:,} bytes, over the limit of {limits.max_article_bytes:,}"
        )
    body = clean_text(text, title=title or "")
    if not body:
        reason = f"; the linked page failed: {page_error}" if page_error else ""
        raise FeedError(f"no article text in the entry{reason}")
    origin = entry.get("source") or {}
    return Article(
        id=_article_id(key, link, source),
        title=title or cap_title(body.split("\n", 1)[0], limits.max_title_chars) or key,
        text=body,
        source=_text(origin.get("title")) or feed_title or urlsplit(link or source).hostname,
        url=link,
        published_at=_published(entry),
        author=_text(entry.get("author")),
        category=_text(", ".join(t.get("term", "") for t in entry.get("tags", []) if t.get("term")))
        or None,
        path=link or source,
    )


def _entry_text(entry: Any) -> str:
    """The longest of the entry's content values and its summary, as plain text."""
    values = [c.get("value", "") for c in entry.get("content", []) if isinstance(c, dict)]
    values.append(entry.get("summary", "") or "")
    best = max((v for v in values if isinstance(v, str)), key=len, default="")
    return _html_text(best)


def _html_text(value: str) -> str:
    if "<" not in value:
        return value
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(value, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return ""
    for block in root.iter("p", "br", "div", "li", "h1", "h2", "h3", "h4", "blockquote"):
        block.tail = "\n" + (block.tail or "")
    return str(root.text_content())


def _page_text(url: str, fetcher: Fetcher, limits: LoadLimits) -> str | None:
    """The main text of a linked page (trafilatura), None when it holds none."""
    import trafilatura

    page = fetcher.get(url, max_bytes=limits.max_article_bytes)
    try:
        doc = trafilatura.bare_extraction(page.body, url=page.url, include_comments=False)
    except Exception as exc:  # a parser failure on one page must not stop the feed
        raise FeedError(f"{url}: HTML extraction failed: {type(exc).__name__}") from None
    text = getattr(doc, "text", None) if doc is not None else None
    return text if isinstance(text, str) and text.strip() else None


def _published(entry: Any) -> str | None:
    for name in ("published_parsed", "updated_parsed"):
        value = entry.get(name)
        if value:
            try:
                return datetime(*value[:6]).date().isoformat()
            except (TypeError, ValueError):
                continue
    return None


def _article_id(key: str, link: str | None, source: str) -> str:
    """Readable and stable: host, the link's last path segment, and a hash of the entry id."""
    parts = urlsplit(link or (source if "://" in source else ""))
    host = (parts.hostname or Path(source).stem or "feed").removeprefix("www.")
    slug = parts.path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0][:60]
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    raw = "-".join(p for p in (host, slug, digest) if p)
    return _ID_SAFE.sub("-", raw).strip("-")


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None
