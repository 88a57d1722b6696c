"""Citation markers ([1], [1, 2], [1][2], [1-3]) and their verification against shown passages."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import pairwise

from newsrag.index import Hit, split_sentences
from newsrag.rag.records import Answer, AnswerSentence, Citation
from newsrag.rag.support import MEANING_THRESHOLD, SentenceVectors, check_support

# One bracket group: numbers separated by commas/semicolons, or ranges with - or –.
MARKER_GROUP = re.compile(r"\s*\[\s*(\d{1,4}(?:\s*(?:[,;]|[-–])\s*\d{1,4})*)\s*\]")
_MAX_RANGE = 20  # "[1-999]" is noise, not a citation of 999 passages
_TRAILING_PUNCT = re.compile(r"[.!?…]+[\"'”’)]*$")


def parse_group(body: str) -> list[int]:
    """Numbers of one marker body: '1, 2' -> [1, 2]; '1-3' -> [1, 2, 3]."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", body.strip()):
        bounds = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x]
        if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= _MAX_RANGE:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers


def parse_markers(text: str) -> list[int]:
    """Every marker number in `text`, in order of first appearance, without repeats."""
    found: list[int] = []
    for match in MARKER_GROUP.finditer(text):
        found.extend(parse_group(match.group(1)))
    return list(dict.fromkeys(found))


def strip_markers(text: str) -> str:
    """`text` without marker groups (and without the space before them)."""
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER_GROUP.sub("", text)).strip()


def format_markers(markers: tuple[int, ...]) -> str:
    """' [1][2]' for (1, 2); '' for none."""
    return (" " + "".join(f"[{n}]" for n in markers)) if markers else ""


def attach_markers(sentence: str, markers: tuple[int, ...]) -> str:
    """Put markers before the sentence's closing punctuation: 'It rose [1].'."""
    end = _TRAILING_PUNCT.search(sentence)
    cut = end.start() if end else len(sentence)
    return sentence[:cut].rstrip() + format_markers(markers) + sentence[cut:]


def split_cited(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Answer sentences (markers stripped) with the markers each carries."""
    pieces = [text[s:e] for s, e in split_sentences(text)]
    merged: list[str] = []
    for piece in pieces:
        leading = re.match(rf"(?:{MARKER_GROUP.pattern})+", piece)
        if merged and leading:  # "... billion. [1] Next" puts [1] after the split
            merged[-1] += " " + leading.group()
            piece = piece[leading.end() :].strip()
        if piece:
            merged.append(piece)
    return [(strip_markers(p), tuple(parse_markers(p))) for p in merged if strip_markers(p)]


@dataclass(frozen=True, slots=True)
class Verification:
    """An answer after its citations were checked."""

    text: str  # supported sentences only, with their (valid) markers
    sentences: tuple[AnswerSentence, ...]  # every sentence, supported or not
    citations: tuple[Citation, ...]  # every marker any sentence carries, flagged
    dropped_markers: int  # markers pointing at no shown passage, removed
    recited: int  # sentences moved to a passage that supports them

    @property
    def supported(self) -> bool:
        """Whether at least one sentence survived."""
        return any(s.supported for s in self.sentences)


def verify_citations(
    text: str,
    shown: list[Hit],
    vectors: SentenceVectors,
    *,
    threshold: float = MEANING_THRESHOLD,
) -> Verification:
    """Check each sentence against its cited passages; re-cite or drop the unsupported ones."""
    sentences: list[AnswerSentence] = []
    dropped = recited = 0
    supporting: set[int] = set()
    for claim, markers in split_cited(text):
        valid = tuple(n for n in markers if 1 <= n <= len(shown))
        dropped += len(markers) - len(valid)
        ok = bool(valid) and _supports(claim, valid, shown, vectors, threshold)
        if not ok:
            better = _find_support(claim, shown, vectors, threshold, skip=valid)
            if better is not None:
                valid, ok, recited = (better,), True, recited + 1
        if ok:
            valid = _contributing(claim, valid, shown, vectors, threshold)
            supporting.update(valid)
        sentences.append(AnswerSentence(claim, valid, ok))
    kept = [attach_markers(s.text, s.markers) for s in sentences if s.supported]
    cited = dict.fromkeys(n for s in sentences for n in s.markers)
    citations = tuple(citation_for(n, shown[n - 1], n in supporting) for n in sorted(cited))
    return Verification(" ".join(kept), tuple(sentences), citations, dropped, recited)


def citation_for(marker: int, hit: Hit, supported: bool = True) -> Citation:
    """The Citation record of a shown passage."""
    chunk = hit.chunk
    return Citation(
        marker=marker,
        chunk_id=chunk.id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        source=chunk.source,
        published_at=chunk.published_at,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        supported=supported,
        url=chunk.url,
    )


def _supports(
    claim: str, markers: tuple[int, ...], shown: list[Hit], vectors: SentenceVectors, t: float
) -> bool:
    chunks = [shown[n - 1].chunk for n in markers]
    return check_support(claim, chunks, vectors, threshold=t).supported


def _find_support(
    claim: str,
    shown: list[Hit],
    vectors: SentenceVectors,
    t: float,
    *,
    skip: tuple[int, ...],
) -> int | None:
    best: tuple[float, int] | None = None
    for n, hit in enumerate(shown, start=1):
        if n in skip:
            continue
        check = check_support(claim, [hit.chunk], vectors, threshold=t)
        if check.supported and (best is None or check.meaning > best[0]):
            best = (check.meaning, n)
    return None if best is None else best[1]


def _contributing(
    claim: str, markers: tuple[int, ...], shown: list[Hit], vectors: SentenceVectors, t: float
) -> tuple[int, ...]:
    """Markers whose passage alone supports the claim, or all when only their union does."""
    if len(markers) < 2:
        return markers
    alone = tuple(n for n in markers if _supports(claim, (n,), shown, vectors, t))
    return alone or markers


class Renumbering:
    """Marker numbers in order of first appearance: the first cited passage is [1], and so on."""

    def __init__(self) -> None:
        self.numbers: dict[int, int] = {}

    def number(self, marker: int) -> int:
        """The new number of `marker` (the next free one when first seen)."""
        return self.numbers.setdefault(marker, len(self.numbers) + 1)

    def apply(self, text: str) -> str:
        """`text` with every marker group renumbered ("[5][2]" -> "[1][2]" at first sight)."""
        return MARKER_GROUP.sub(self._group, text)

    def _group(self, match: re.Match[str]) -> str:
        lead = match.group()[: match.start(1) - match.start()].split("[")[0]
        new = dict.fromkeys(self.number(n) for n in parse_group(match.group(1)))
        return lead + "".join(f"[{n}]" for n in new)


def renumber(answer: Answer) -> Answer:
    """Markers 1..n in order of first appearance in the text; sentences and citations follow.

    Citations no sentence of the text shows (unsupported ones) come after, in their order.
    """
    numbering = Renumbering()
    text = numbering.apply(answer.answer)
    for sentence in answer.sentences:
        for marker in sentence.markers:
            numbering.number(marker)
    for citation in answer.citations:
        numbering.number(citation.marker)
    if all(old == new for old, new in numbering.numbers.items()):
        return answer
    sentences = tuple(
        replace(s, markers=tuple(numbering.number(m) for m in s.markers)) for s in answer.sentences
    )
    citations = tuple(
        sorted(
            (replace(c, marker=numbering.number(c.marker)) for c in answer.citations),
            key=lambda c: c.marker,
        )
    )
    return replace(answer, answer=text, sentences=sentences, citations=citations)


def sentence_pieces(answer: Answer) -> list[str]:
    """The answer text cut after each of its sentences (joined, they give the text back)."""
    text = answer.answer
    cuts: list[int] = []
    position = 0
    for sentence in answer.sentences:
        at = text.find(attach_markers(sentence.text, sentence.markers), position)
        if at >= 0:
            position = at + len(attach_markers(sentence.text, sentence.markers))
            cuts.append(position)
    bounds = [0, *[c for c in cuts if c < len(text)], len(text)]
    return [text[a:b] for a, b in pairwise(bounds) if text[a:b]]
