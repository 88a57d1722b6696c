"""Chunking: sentence-aware, token-bounded windows with overlap and exact character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from newsrag.index.records import Article, Chunk

CountTokens = Callable[[list[str]], list[int]]

# A sentence ends at . ! ? (plus closing quotes/brackets) before whitespace and a likely
# sentence start, or at a line break. Abbreviations and decimals are handled below.
# Linear by construction (issue 14): a match starts only at the first mark of a run (the
# lookbehind), and the possessive quantifiers never give characters back, so a run of
# "!!!!" or of spaces is scanned once instead of once per position.
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s++[\"'“‘(\[]?[A-Z0-9])|(?<!\n)\n++")
# The longest abbreviation above (in characters, dots included); a longer word before a dot
# cannot be one, so no more than this is ever looked at.
_ABBREVIATION_CHARS = 8
# A chunk's text is also bounded in characters: a tokenizer reads an over-long "word" as one
# [UNK], so a token budget alone would let one window hold megabytes of text.
MAX_CHUNK_CHARS = 4096
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
    """Whether the word just before `dot` is an abbreviation (looks back a few characters)."""
    start = dot
    limit = max(0, dot - _ABBREVIATION_CHARS - 1)
    while start > limit and _word_char(text[start - 1]):
        start -= 1
    if start == dot or (start == limit and start > 0 and _word_char(text[start - 1])):
        return False  # no word, or one longer than any abbreviation
    token = text[start:dot].casefold()
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "._"


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _longest_fit(lo: int, hi: int, fits: Callable[[int], bool]) -> int:
    """The largest n in [lo, hi] with fits(n), given fits(lo) and fits monotone (decreasing).

    Galloping from lo (1, 2, 4, ... past it), then bisecting: the probes cost about twice the
    piece that fits, however long the rest of the text is (issue 14: no O(n) probe per piece).
    """
    good, step = lo, 1
    bad = hi + 1
    while good + step <= hi:
        if fits(good + step):
            good += step
            step *= 2
        else:
            bad = good + step
            break
    while bad - good > 1:
        mid = (good + bad) // 2
        if fits(mid):
            good = mid
        else:
            bad = mid
    return good


def _split_long(
    text: str, span: tuple[int, int], budget: int, count: CountTokens
) -> list[tuple[int, int]]:
    """Cut a span that exceeds `budget` tokens at word boundaries (never mid-word if avoidable)."""
    start, end = span
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    pieces: list[tuple[int, int]] = []
    i = 0
    while i < len(words):

        def fits(j: int, i: int = i) -> bool:  # words[i:j] within budget and the char cap
            lo, hi = words[i][0], words[j - 1][1]
            return hi - lo <= MAX_CHUNK_CHARS and count([text[lo:hi]])[0] <= budget

        # Every word is at least one token, so no piece holds more than `budget` words.
        j = _longest_fit(i + 1, min(len(words), i + budget), fits) if fits(i + 1) else i
        if j == i:  # one word alone is over budget: cut inside it
            piece = _split_word(text, words[i], budget, count)
            pieces.append(piece)
            if piece[1] < words[i][1]:
                words[i] = (piece[1], words[i][1])  # the rest of the word starts a new piece
            else:
                i += 1
            continue
        pieces.append((words[i][0], words[j - 1][1]))
        i = j
    return pieces


def _split_word(
    text: str, span: tuple[int, int], budget: int, count: CountTokens
) -> tuple[int, int]:
    """The longest prefix of one huge 'word' within budget and the char cap (at least 1 char)."""
    start, end = span
    hi = min(end, start + MAX_CHUNK_CHARS)
    return (start, _longest_fit(start + 1, hi, lambda n: count([text[start:n]])[0] <= budget))


def _sentence_units(
    text: str, budget: int, count: CountTokens
) -> tuple[list[tuple[int, int]], list[int]]:
    spans = split_sentences(text)
    sizes = _count_all(count, [text[s:e] for s, e in spans])

    def small(span: tuple[int, int], size: int) -> bool:
        return size <= budget and span[1] - span[0] <= MAX_CHUNK_CHARS

    if all(small(span, size) for span, size in zip(spans, sizes, strict=True)):
        return spans, sizes  # nothing to cut: the sentences are the units
    units: list[tuple[int, int]] = []
    for span, size in zip(spans, sizes, strict=True):
        units.extend([span] if small(span, size) else _split_long(text, span, budget, count))
    return units, _count_all(count, [text[s:e] for s, e in units])


# Texts counted per tokenizer call: one call over a long article's every sentence builds
# millions of short-lived objects at once, and the garbage collector's passes over them made
# chunking superlinear (measured: 1.7 -> 5.1 us a character from 2 KB to 2 MB of text).
_COUNT_BATCH = 256


def _count_all(count: CountTokens, texts: list[str]) -> list[int]:
    sizes: list[int] = []
    for i in range(0, len(texts), _COUNT_BATCH):
        sizes.extend(count(texts[i : i + _COUNT_BATCH]))
    return sizes


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
        while j < len(units) and (
            j == i or (total + sizes[j] <= target and units[j][1] - units[i][0] <= MAX_CHUNK_CHARS)
        ):
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
    sizes = _count_all(count, [embed_input(title, t) for t in texts])
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
    """The title's first words that fit `max_tokens` (cut at a word, never mid-passage).

    Every word is at least one token, so only the first `max_tokens` words can fit: a
    10,000-word title costs what a short one does (issue 14).
    """
    words = title.split(maxsplit=max_tokens)[:max_tokens]
    if not words:
        return ""
    specials = count([""])[0]

    def fits(n: int) -> bool:
        return n == 0 or count([" ".join(words[:n])])[0] - specials <= max_tokens

    return " ".join(words[: _longest_fit(0, len(words), fits)])
