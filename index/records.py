"""Records owned by the index layer: what was loaded, what was chunked, what a search found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Article:
    """One cleaned news article; `text` is what chunk offsets point into."""

    id: str
    title: str
    text: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None  # ISO date (YYYY-MM-DD) or datetime, or None when unknown
    author: str | None = None
    category: str | None = None
    path: str | None = None  # file it came from, for messages


@dataclass(frozen=True, slots=True)
class Chunk:
    """A window of an article: `article.text[start:end] == text`."""

    id: str  # f"{doc_id}#{ordinal}"
    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int
    n_tokens: int  # word pieces of the embedded input (title + text), specials included
    title: str = ""
    source: str | None = None
    published_at: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk returned by a search; higher `score` is better."""

    chunk: Chunk
    score: float
    rank: int  # 1-based within the result list
    scores: dict[str, float] = field(default_factory=dict)  # per-backend scores, e.g. dense, bm25
