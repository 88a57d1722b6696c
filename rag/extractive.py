"""ExtractiveAnswerer: answers with the retrieved sentences that answer the question, or refuses."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from index import Hit
from rag.citations import attach_markers, citation_for
from rag.conflicts import find_conflict
from rag.facts import content_stems, terms
from rag.facts import values as values_in
from rag.questions import STRICT_TYPES, Question, analyse, counts_the_noun, slot_values
from rag.records import AnswerSentence, Citation
from rag.support import Sentence, SentenceVectors, passage_sentences

CONFLICT_PREFIX = "Sources disagree:"
_TWO_SIDED = re.compile(r"\b(?:compar\w*|versus|vs\.?|both|two|differ\w*)\b", re.IGNORECASE)
_ADJECTIVAL = ("an", "ese", "ish", "ian", "eli")
_REFERS_BACK = re.compile(
    r"^[\"“]?(?:it|its|he|she|they|their|his|her|this|these|the (?:company|firm|group|unit"
    r"|business|retailer|giant|maker|bank|start-?up|platform|service|carrier|brand))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A passage sentence scored as an answer to the question."""

    sentence: Sentence
    marker: int  # 1-based position of its passage among the hits
    similarity: float  # embedding cosine to the question
    overlap: float  # share of the question's content terms in the sentence
    context: float  # share of them in the passage and its title
    names_ok: bool  # the question's names all occur in the sentence's passage or title
    values: frozenset[str]  # values of the asked-for type the sentence states
    score: float

    @property
    def text(self) -> str:
        """The sentence, whitespace collapsed."""
        return " ".join(self.sentence.text.split())

    @property
    def doc_id(self) -> str:
        """The article the sentence comes from."""
        return self.sentence.chunk.doc_id


@dataclass(frozen=True, slots=True)
class Extract:
    """An extractive answer (or a refusal when `sentences` is empty)."""

    text: str
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    conflict: bool

    @property
    def answerable(self) -> bool:
        """Whether any sentence answers the question."""
        return bool(self.sentences)


def term_weights(asked: Question, sentences: list[str]) -> dict[str, float]:
    """IDF of the question's terms over the candidate sentences: rare terms say more."""
    n = len(sentences)
    bags = [content_stems(s) for s in sentences]
    return {t: math.log(1 + n / (1 + sum(t in b for b in bags))) for t in asked.stems}


def name_present(name: str, present: set[str]) -> bool:
    """Whether a question's name occurs, allowing inflections ('Chinese' ~ 'China')."""
    for part in re.findall(r"[a-z0-9]+", name):
        if part in present or len(part) < 2 or part.endswith(_ADJECTIVAL):
            continue  # "American", "Chinese": a modifier the passage may leave implicit
        short = [
            t
            for t in present
            if len(t) >= 4 and _shared_prefix(part, t) >= min(len(part), len(t)) - 1
        ]
        if len(part) < 5 or not short:
            return False
    return True


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class ExtractiveAnswerer:
    """Picks the sentence(s) that answer the question, by meaning, terms and answer type."""

    def __init__(
        self,
        *,
        min_similarity: float = 0.4,
        min_score: float = 0.45,
        max_sentences: int = 2,
        min_words: int = 4,
    ) -> None:
        if not 0 <= min_similarity <= 1 or max_sentences < 1:
            raise ValueError("min_similarity must be in [0, 1] and max_sentences >= 1")
        self.min_similarity = min_similarity
        self.min_score = min_score
        self.max_sentences = max_sentences
        self.min_words = min_words

    def rank(self, question: str, hits: list[Hit], vectors: SentenceVectors) -> list[Candidate]:
        """Every sentence of the hits, best answer first."""
        asked = analyse(question)
        pool: dict[str, tuple[Sentence, int]] = {}
        for marker, hit in enumerate(hits, start=1):
            for sentence in passage_sentences(hit.chunk):
                key = " ".join(sentence.text.split()).casefold()
                if len(key.split()) >= self.min_words and key not in pool:
                    pool[key] = (sentence, marker)
        if not pool:
            return []
        texts = [s.text for s, _ in pool.values()]
        # A sentence that refers back ("The company, based in Leeds, ...") is also scored
        # under its headline, which names the subject; the closer of the two counts.
        titled = [
            f"{s.chunk.title}. {s.text}" if _REFERS_BACK.match(s.text) else s.text
            for s, _ in pool.values()
        ]
        similarities = np.maximum(
            vectors.similarity(question, texts), vectors.similarity(question, titled)
        )
        weights = term_weights(asked, [s.text for s, _ in pool.values()])
        candidates = [
            self._candidate(asked, sentence, marker, float(sim), weights)
            for (sentence, marker), sim in zip(pool.values(), similarities, strict=True)
        ]
        return sorted(candidates, key=lambda c: -c.score)

    def answers(self, question: Question, candidate: Candidate) -> bool:
        """Whether a candidate answers the question rather than merely being near it."""
        if question.answer_type in STRICT_TYPES and not candidate.values:
            return False
        return (
            candidate.names_ok
            and candidate.similarity >= self.min_similarity
            and candidate.score >= self.min_score
        )

    def answer(self, question: str, hits: list[Hit], vectors: SentenceVectors) -> Extract:
        """Cited sentences that answer `question`, or an empty Extract (a refusal)."""
        asked = analyse(question)
        passing = [c for c in self.rank(question, hits, vectors) if self.answers(asked, c)]
        if not passing:
            return Extract("", (), (), conflict=False)
        other = find_conflict(asked, passing, vectors)
        chosen = [passing[0], other] if other else self._select(asked, passing)
        sentences = tuple(AnswerSentence(c.text, (c.marker,), True) for c in chosen)
        text = " ".join(attach_markers(s.text, s.markers) for s in sentences)
        if other:
            text = f"{CONFLICT_PREFIX} {text}"
        markers = sorted({c.marker for c in chosen})
        citations = tuple(citation_for(n, hits[n - 1]) for n in markers)
        return Extract(text, sentences, citations, conflict=other is not None)

    def _candidate(
        self,
        asked: Question,
        sentence: Sentence,
        marker: int,
        sim: float,
        weights: dict[str, float],
    ) -> Candidate:
        chunk = sentence.chunk
        total = sum(weights.values()) or 1.0
        overlap = sum(w for t, w in weights.items() if t in content_stems(sentence.text)) / total
        around = content_stems(f"{chunk.title} {chunk.text}")
        context = sum(w for t, w in weights.items() if t in around) / total
        passage = f"{chunk.title} {chunk.source or ''} {chunk.published_at or ''} {chunk.text}"
        present = set(terms(passage, keep_stopwords=True))
        names_ok = all(name_present(name, present) for name in asked.entities)
        names_ok = names_ok and asked.values <= values_in(passage)
        values = frozenset(slot_values(sentence.text, asked))
        typed = 1.0 if values else 0.0
        if values and asked.counted and not counts_the_noun(sentence.text, asked):
            typed = 0.5  # a count, but of something else
        score = 0.6 * sim + 0.25 * overlap + 0.1 * context + 0.15 * typed
        return Candidate(sentence, marker, sim, overlap, context, names_ok, values, score)

    def _select(self, asked: Question, passing: list[Candidate]) -> list[Candidate]:
        """The best sentence, plus others close behind that add question terms it lacks."""
        chosen = [passing[0]]
        covered = set(asked.stems & content_stems(passing[0].text))
        two_sided = bool(_TWO_SIDED.search(asked.text))  # "compared with", "both", "two"
        for cand in passing[1:]:
            floor = (0.7 if two_sided else 0.9) * passing[0].score
            if len(chosen) >= self.max_sentences or cand.score < floor:
                break
            if two_sided and cand.doc_id != chosen[0].doc_id and cand.values - chosen[0].values:
                chosen.append(cand)
                continue
            gain = (asked.stems & content_stems(cand.text)) - covered
            if gain:
                chosen.append(cand)
                covered |= gain
        return chosen
