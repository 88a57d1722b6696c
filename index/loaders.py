"""Loaders: files (.txt, .md, .html, .json, .jsonl) to cleaned Articles, with per-file errors."""

from __future__ import annotations

import json
import logging
import os
import re
import stat as stat_module
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import yaml

from newsrag.index.cleaning import clean_text
from newsrag.index.errors import ArticleLoadError
from newsrag.index.records import Article

log = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(\n|\Z)", re.DOTALL)
_ID_SAFE = re.compile(r"[^\w.\-]+")
# An HTML page needs a line of at least this many words to hold an article.
PROSE_MIN_WORDS = 8
# .json/.jsonl files hold many articles and may be this many times an article's limit.
COLLECTION_FACTOR = 20
_SCALARS = (str, int, float, bool, date)


@dataclass(frozen=True, slots=True)
class LoadLimits:
    """What one input may cost (issue 14): bigger inputs fail alone, with a message saying so."""

    max_article_bytes: int = 5_000_000  # a file of one article, or one record's text
    max_title_chars: int = 500  # longer titles are cut at a word

    def __post_init__(self) -> None:
        if self.max_article_bytes < 1 or self.max_title_chars < 1:
            raise ValueError("max_article_bytes and max_title_chars must be >= 1")


# libyaml's scanner when PyYAML has it: the pure-Python one took 57 ms for a 6,000-word title
# line (ingest 1.18x a 60-word title's time; issue 14's target is +10 %).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Front matter holds a few scalar fields; anything nested deeper is refused before it is built.
MAX_FRONT_MATTER_DEPTH = 32
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def parse_front_matter(text: str) -> object:
    """The YAML document `text`, refused (ArticleLoadError) when it has aliases or nests deeply.

    Checked on the parser's events first (a flat stream, no recursion): `*ref` can make a
    few hundred bytes expand to gigabytes, and deep nesting would recurse while building.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_YAML_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise ArticleLoadError("aliases (*name) are not allowed in YAML front matter")
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_FRONT_MATTER_DEPTH:
                    raise ArticleLoadError("YAML front matter is nested too deeply")
            elif isinstance(event, _CLOSE):
                depth -= 1
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(exc):  # libyaml's own limit (1,000 levels)
            raise ArticleLoadError("YAML front matter is nested too deeply") from exc
        raise ArticleLoadError(f"malformed YAML front matter: {exc}") from exc


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Record field names for .json/.jsonl articles; the first present name wins."""

    id: tuple[str, ...] = ("id", "_id", "doc_id", "uuid")
    title: tuple[str, ...] = ("title", "headline")
    body: tuple[str, ...] = ("body", "text", "content", "article")
    source: tuple[str, ...] = ("source", "outlet", "publisher", "site")
    url: tuple[str, ...] = ("url", "link")
    published_at: tuple[str, ...] = ("published_at", "published", "date", "published_date")
    author: tuple[str, ...] = ("author", "authors", "byline")
    category: tuple[str, ...] = ("category", "section", "topic")


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A file (or one record of it) that could not be loaded, and why."""

    path: str
    reason: str


@dataclass(slots=True)
class LoadResult:
    """Articles read from some paths, plus what failed and what was skipped."""

    articles: list[Article] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)
    skipped: list[LoadFailure] = field(default_factory=list)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files under `paths` (recursively, sorted), hidden files excluded.

    Dangling symlinks are yielded too, so that reading them reports them by name.
    """
    for name, _ in walk_files(paths):
        yield Path(name)


def walk_files(paths: Iterable[Path]) -> Iterator[tuple[str, os.stat_result | None]]:
    """`iter_files` as (path, stat) pairs: stat follows symlinks, None when it fails (a
    dangling link, a file gone meanwhile). One os.scandir per folder and one stat per file:
    the entries' types come from the folder listing, and nothing is opened."""
    for path in paths:
        if path.is_dir():
            yield from _walk(str(path))
        else:
            yield str(path), _stat(str(path))


def _walk(folder: str) -> Iterator[tuple[str, os.stat_result | None]]:
    """Depth first, names sorted (the order of sorted(Path.rglob)), hidden names and symlinked
    folders not entered, unreadable folders left out (as rglob does)."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)
                continue
            if entry.is_file(follow_symlinks=False):
                yield entry.path, _stat(entry.path)
                continue
            if not entry.is_symlink():
                continue  # a fifo, socket or device
        except OSError:
            continue
        st = _stat(entry.path)
        if st is None or stat_module.S_ISREG(st.st_mode):  # dangling, or a link to a file
            yield entry.path, st


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def load_paths(
    paths: Iterable[Path], fields: FieldMap | None = None, limits: LoadLimits | None = None
) -> LoadResult:
    """Load every supported file under `paths`; failures are collected, never raised."""
    fields = fields or FieldMap()
    limits = limits or LoadLimits()
    return merge_loaded(load_one(path, fields, limits) for path in iter_files(paths))


def load_one(path: Path, fields: FieldMap, limits: LoadLimits | None = None) -> LoadResult:
    """One file's articles, failures or skip; repeated ids are left to `merge_loaded`."""
    result = LoadResult()
    if path.suffix.lower() not in SUPPORTED:
        log.warning("skipping unsupported file %s", path, extra={"path": str(path)})
        result.skipped.append(LoadFailure(str(path), f"unsupported extension {path.suffix!r}"))
        return result
    try:
        result.articles = list(load_file(path, fields, result.failures, limits or LoadLimits()))
    except ArticleLoadError as exc:
        result.failures.append(LoadFailure(str(path), str(exc)))
    except RecursionError:  # a backstop: every parser below catches its own
        result.failures.append(LoadFailure(str(path), "data nested too deeply"))
    return result


def merge_loaded(results: Iterable[LoadResult]) -> LoadResult:
    """Per-file results joined in order; an article id seen before fails (the first wins)."""
    merged = LoadResult()
    seen: dict[str, str] = {}
    for result in results:
        merged.failures.extend(result.failures)
        merged.skipped.extend(result.skipped)
        for article in result.articles:
            if article.id in seen:
                merged.failures.append(
                    LoadFailure(
                        str(article.path),
                        f"duplicate article id {article.id!r} (also in {seen[article.id]})",
                    )
                )
                continue
            seen[article.id] = str(article.path)
            merged.articles.append(article)
    return merged


def load_file(
    path: Path,
    fields: FieldMap,
    failures: list[LoadFailure],
    limits: LoadLimits | None = None,
) -> list[Article]:
    """Articles in one file; raises ArticleLoadError when the whole file is unusable."""
    limits = limits or LoadLimits()
    suffix = path.suffix.lower()
    collection = suffix in (".json", ".jsonl")
    raw = _read_text(path, limits.max_article_bytes * (COLLECTION_FACTOR if collection else 1))
    if collection:
        return _load_records(path, raw, fields, failures, limits)
    if suffix in (".html", ".htm"):
        return [_load_html(path, raw, limits)]
    meta: dict[str, object] = {}
    body = raw
    if suffix in (".md", ".markdown"):
        meta, body = _split_front_matter(path, raw)
    elif suffix == ".txt":
        meta, body = _split_front_matter(path, raw) if raw.startswith("---") else ({}, raw)
    return [_make_article(path, meta, body, limits, default_id=path.stem, title_from_body=True)]


def _read_text(path: Path, max_bytes: int) -> str:
    try:
        size = path.stat().st_size
        if size > max_bytes:  # refused before reading: a huge file costs one stat
            raise ArticleLoadError(
                f"file is {size:,} bytes, over the limit of {max_bytes:,} (RAG_MAX_ARTICLE_BYTES)"
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may grow between stat and read
    except OSError as exc:
        raise ArticleLoadError(f"unreadable: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise ArticleLoadError(f"file is over the limit of {max_bytes:,} bytes")
    if not data.strip():
        raise ArticleLoadError("empty file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleLoadError(f"not UTF-8 text (bad byte at offset {exc.start})") from exc


def _split_front_matter(path: Path, raw: str) -> tuple[dict[str, object], str]:
    match = _FRONT_MATTER.match(raw)
    if not match:
        return {}, raw
    meta = parse_front_matter(match.group(1)) or {}
    if not isinstance(meta, dict):
        raise ArticleLoadError("front matter is not a mapping of fields")
    return meta, raw[match.end() :]


def _load_records(
    path: Path, raw: str, fields: FieldMap, failures: list[LoadFailure], limits: LoadLimits
) -> list[Article]:
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ArticleLoadError(f"malformed JSON: {exc}") from exc
        except RecursionError as exc:
            raise ArticleLoadError("JSON is nested too deeply") from exc
        records = data if isinstance(data, list) else [data]
        numbered = [(i, r) for i, r in enumerate(records, 1)]
    else:
        numbered = []
        for i, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                numbered.append((i, json.loads(line)))
            except json.JSONDecodeError as exc:
                failures.append(LoadFailure(f"{path}:{i}", f"malformed JSON line: {exc.msg}"))
            except RecursionError:
                failures.append(LoadFailure(f"{path}:{i}", "JSON line is nested too deeply"))
    articles = []
    for i, record in numbered:
        try:
            articles.append(_record_article(path, i, record, fields, limits))
        except ArticleLoadError as exc:
            failures.append(LoadFailure(f"{path}:{i}", str(exc)))
    if not articles and not failures:
        raise ArticleLoadError("no article records")
    return articles


def _pick(record: dict[str, object], names: tuple[str, ...]) -> object:
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return value
    return None


def _record_article(
    path: Path, i: int, record: object, fields: FieldMap, limits: LoadLimits
) -> Article:
    if not isinstance(record, dict):
        raise ArticleLoadError("record is not a JSON object")
    body = _pick(record, fields.body)
    if not isinstance(body, str):
        raise ArticleLoadError(f"record has no text field (looked for {', '.join(fields.body)})")
    size = len(body.encode("utf-8", "surrogatepass"))
    if size > limits.max_article_bytes:
        raise ArticleLoadError(
            f"article text is {size:,} bytes, over the limit of {limits.max_article_bytes:,} "
            "(RAG_MAX_ARTICLE_BYTES)"
        )
    meta = {name: _pick(record, getattr(fields, name)) for name in FieldMap.__slots__}
    return _make_article(
        path, meta, body, limits, default_id=f"{path.stem}-{i}", title_from_body=False
    )


def _load_html(path: Path, raw: str, limits: LoadLimits) -> Article:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False)
    except Exception as exc:  # a parser failure on one page must not stop the run
        raise ArticleLoadError(f"HTML extraction failed: {type(exc).__name__}: {exc}") from exc
    if doc is None or not getattr(doc, "text", None):
        raise ArticleLoadError("no article text found in HTML")
    if not _has_prose(doc.text):
        # trafilatura falls back to whatever text there is: menus, sign-in links, footers.
        raise ArticleLoadError("no article text found in HTML (only navigation or boilerplate)")
    meta = {
        "title": doc.title,
        "source": doc.sitename,
        "url": doc.url,
        "published_at": doc.date,
        "author": doc.author,
        "category": ", ".join(doc.categories) if doc.categories else None,
    }
    return _make_article(path, meta, doc.text, limits, default_id=path.stem, title_from_body=False)


def _has_prose(text: str, min_words: int = PROSE_MIN_WORDS) -> bool:
    """Whether any line reads like a sentence (menus and link lists are a few words a line)."""
    return any(len(line.split()) >= min_words for line in text.splitlines())


def _make_article(
    path: Path,
    meta: dict[str, object],
    body: str,
    limits: LoadLimits,
    *,
    default_id: str,
    title_from_body: bool,
) -> Article:
    fields = {name: _text(name, meta.get(name)) for name in _TEXT_FIELDS}
    title = fields["title"]
    if not title and title_from_body:
        title = _title_from_first_line(body)
    title = cap_title(title, limits.max_title_chars)
    text = clean_text(body, title=title or "")
    if not text:
        raise ArticleLoadError("no article text left after cleaning")
    raw_id = (fields["id"] or default_id)[:MAX_ID_CHARS]
    return Article(
        id=_ID_SAFE.sub("-", raw_id).strip("-") or default_id,
        title=title
        or cap_title(_title_from_first_line(text), limits.max_title_chars)
        or default_id,
        text=text,
        source=fields["source"],
        url=fields["url"],
        published_at=normalise_date(meta.get("published_at")),
        author=fields["author"],
        category=fields["category"],
        path=str(path),
    )


_TEXT_FIELDS = ("id", "title", "source", "url", "author", "category")
# Ids name files and URLs; a longer one is cut (the default id is a file name, always shorter).
MAX_ID_CHARS = 200


def cap_title(title: str | None, max_chars: int) -> str | None:
    """A title of at most `max_chars`, cut at the last space before the limit when there is one."""
    if title is None or len(title) <= max_chars:
        return title
    cut = title[: max_chars + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > max_chars // 2 else cut[:max_chars]).rstrip() or None


def _text(name: str, value: object) -> str | None:
    """A metadata field as one line of text; only scalars (or a flat list of them) are taken."""
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value):
        value = ", ".join(str(v) for v in value)
    elif not isinstance(value, _SCALARS):
        raise ArticleLoadError(
            f"field {name!r} must be text or a list of texts, not a {type(value).__name__}"
        )
    text = " ".join(str(value).split())
    return text or None


def _title_from_first_line(body: str) -> str | None:
    # A first line that reads like a headline: short and not ending as a sentence.
    for line in body.splitlines():
        line = line.strip()
        if line:
            words = line.split()
            return line if len(words) <= 20 and not line.endswith((".", "!", "?")) else None
    return None


def normalise_date(value: object) -> str | None:
    """ISO date (YYYY-MM-DD) from a date, datetime or ISO string; None when unparseable."""
    if value is None or value == "":
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())[:10]
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        log.warning("unparseable published_at %r ignored", text, extra={"value": text})
        return None
