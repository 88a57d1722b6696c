"""Chunking: sentence-aware, token-bounded windows with overlap and exact character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from newsrag.index.records import Article, Chunk

CountTokens = Callable[[list[str]], list[int]]

# A sentence ends at . ! ? (plus closing quotes/brackets) before whitespace and a likely
# sentence start, or at a line break. Abbreviations and decimals are handled below.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n+")
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "inc",
        "ltd",
        "co",
        "corp",
        "plc",
        "llc",
        "no",
        "vs",
        "etc",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "gov",
        "sen",
        "rep",
        "gen",
        "col",
        "lt",
        "u.s",
        "u.k",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "fig",
        "approx",
        "dept",
        "est",
    }
)


@dataclass(frozen=True, slots=True)
class ChunkingParams:
    """How articles are cut; stored in the manifest so a change forces re-chunking."""

    max_tokens: int = 256  # the embedder's limit, specials included
    target_tokens: int = 160  # aim for windows about this long
    overlap_tokens: int = 32  # carry up to this many tokens of trailing sentences over
    max_title_tokens: int = 32  # title words embedded with every chunk

    def __post_init__(self) -> None:
        if not self.max_tokens >= 16:
            raise ValueError(f"max_tokens must be >= 16, got {self.max_tokens}")
        if not 0 < self.target_tokens <= self.max_tokens:
            raise ValueError("target_tokens must be in (0, max_tokens]")
        if not 0 <= self.overlap_tokens < self.target_tokens:
            raise ValueError("overlap_tokens must be in [0, target_tokens)")
        if not 0 <= self.max_title_tokens <= self.max_tokens // 2:
            raise ValueError("max_title_tokens must be in [0, max_tokens // 2]")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of sentences in `text`, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end() if match.group().strip() else match.start()
        if match.group().startswith(".") and _is_abbreviation(text, match.start()):
            continue
        _add_span(text, start, end, spans)
        start = match.end()
    _add_span(text, start, len(text), spans)
    return spans


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([\w.]+)$", text[:dot])
    if not word:
        return False
    token = word.group(1).casefold()
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _split_long(
    text: str, span: tuple[int, int], budget: int, count: CountTokens
) -> list[tuple[int, int]]:
    """Cut a span that exceeds `budget` tokens at word boundaries (never mid-word if avoidable)."""
    start, end = span
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    pieces: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        lo, hi = i + 1, len(words)  # largest j with words[i:j] within budget
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count([text[words[i][0] : words[mid - 1][1]]])[0] <= budget:
                lo = mid
            else:
                hi = mid - 1
        piece = (words[i][0], words[lo - 1][1])
        if count([text[piece[0] : piece[1]]])[0] > budget:
            piece = _split_word(text, piece, budget, count)
            pieces.append(piece)
            words[i] = (piece[1], words[i][1])  # the rest of the word starts a new piece
            continue
        pieces.append(piece)
        i = lo
    return pieces


def _split_word(
    text: str, span: tuple[int, int], budget: int, count: CountTokens
) -> tuple[int, int]:
    """The longest prefix of one huge 'word' within budget (at least one character)."""
    start, end = span
    lo, hi = start + 1, end
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count([text[start:mid]])[0] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return (start, lo)


def _sentence_units(
    text: str, budget: int, count: CountTokens
) -> tuple[list[tuple[int, int]], list[int]]:
    spans = split_sentences(text)
    sizes = count([text[s:e] for s, e in spans]) if spans else []
    if all(size <= budget for size in sizes):
        return spans, sizes  # nothing to cut: the sentences are the units
    units: list[tuple[int, int]] = []
    for span, size in zip(spans, sizes, strict=True):
        units.extend([span] if size <= budget else _split_long(text, span, budget, count))
    return units, count([text[s:e] for s, e in units])


def embed_input(title: str, text: str) -> str:
    """What the embedder sees for a chunk: its (short) title, then the passage."""
    return f"{title}\n{text}" if title else text


def chunk_text(
    text: str, params: ChunkingParams, count: CountTokens, *, reserved: int = 0
) -> list[tuple[int, int]]:
    """Spans of `text` whose embedded size (plus `reserved` tokens) stays within the limit."""
    overhead = count([""])[0] + reserved  # special tokens plus the title prefix
    hard = params.max_tokens - overhead
    if hard < 1:
        raise ValueError("title and special tokens leave no room for text")
    target = min(params.target_tokens, hard)
    units, sizes = _sentence_units(text, hard, count)

    def window_end(i: int) -> int:
        """One past the last unit of the window that starts at unit `i`."""
        j, total = i, 0
        while j < len(units) and (j == i or total + sizes[j] <= target):
            total += sizes[j]
            j += 1
        while j - 1 > i and count([text[units[i][0] : units[j - 1][1]]])[0] > hard:
            j -= 1  # joined text can tokenize longer than its parts
        return j

    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j = window_end(i)
        windows.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        back, carried = j, 0
        while back - 1 > i and carried + sizes[back - 1] <= params.overlap_tokens:
            back -= 1
            carried += sizes[back]
        # Overlap only when the next window still reaches past this one; otherwise (a long
        # sentence follows) it would be a redundant window inside this one.
        i = back if back < j and window_end(back) > j else j
    return windows


def chunk_article(article: Article, params: ChunkingParams, count: CountTokens) -> list[Chunk]:
    """Cut an article into chunks; every chunk's embedded input fits `params.max_tokens`."""
    title = short_title(article.title, params.max_title_tokens, count)
    reserved = count([embed_input(title, "x")])[0] - count(["x"])[0] if title else 0
    spans = chunk_text(article.text, params, count, reserved=reserved)
    texts = [article.text[s:e] for s, e in spans]
    sizes = count([embed_input(title, t) for t in texts]) if texts else []
    return [
        Chunk(
            id=f"{article.id}#{ordinal}",
            doc_id=article.id,
            ordinal=ordinal,
            text=chunk,
            start=start,
            end=end,
            n_tokens=size,
            title=article.title,
            source=article.source,
            published_at=article.published_at,
            url=article.url,
        )
        for ordinal, ((start, end), chunk, size) in enumerate(zip(spans, texts, sizes, strict=True))
    ]


def short_title(title: str, max_tokens: int, count: CountTokens) -> str:
    # Titles are cut explicitly, at a word, so passage text is never the part truncated.
    words = title.split()
    while words and count([" ".join(words)])[0] - count([""])[0] > max_tokens:
        words.pop()
    return " ".join(words)
