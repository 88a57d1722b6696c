"""Whether an LLM answer answers the question, by the extractive answerer's own gates (issue 15).

Citation verification says a sentence is stated by a passage; it does not say the sentence
answers this question. Each supported sentence of the model's answer is scored as a candidate
in the passage it cites, with the question's one analysis (`Question`) and the same Scorer and
`ExtractiveAnswerer.answers` gate that pick extractive answers: the asked type's value, the
names, time and source, the relation, not a question itself, not a past role. A passage about
another year or organisation therefore fails an LLM answer exactly as it fails an extractive one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsrag.index import Hit
from newsrag.rag.extractive.answerer import Extract, ExtractiveAnswerer
from newsrag.rag.extractive.candidates import Candidate, Scorer, term_weights
from newsrag.rag.extractive.matching import TermMatcher, stem_words
from newsrag.rag.extractive.short_answers import CLOSE_BEHIND, candidate_values
from newsrag.rag.questions import Question
from newsrag.rag.records import AnswerSentence, Citation
from newsrag.rag.support import Sentence, SentenceVectors


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """The supported sentences of an LLM answer, each scored as a candidate answer."""

    claims: tuple[Candidate, ...]  # one per supported sentence (for each, its first citation)
    answering: tuple[Candidate, ...]  # those that pass the extractive answer gate

    @property
    def holds(self) -> bool:
        """Some sentence answers the question and none contradicts its time, source or names."""
        return bool(self.answering) and all(c.constrained_ok for c in self.claims)

    def agrees(self, asked: Question, short_answer: str | None, best_score: float | None) -> bool:
        """Whether the answer gives the passages' best-supported answer (issue 15 item 5).

        `short_answer` and `best_score`: the extractive answer's value and its best passing
        candidate's score (None when it refuses). With a value, the model must state it; without
        one, its best sentence must score close behind the best extractive one (CLOSE_BEHIND,
        the closeness the value vote counts as agreement among strong answers).
        """
        if best_score is None:
            return True
        mine = self.short_answer(asked)
        if short_answer is not None and mine is not None:
            a, b = _folded(short_answer), _folded(mine)
            return bool(a and b) and (a in b or b in a)
        return max(c.score for c in self.answering) >= CLOSE_BEHIND * best_score

    def short_answer(self, asked: Question) -> str | None:
        """The asked value the first answering sentence states ("Mara Quist"), if any."""
        for claim in self.answering:
            values = candidate_values(asked, claim)
            if values:
                return values[0].text
        return None


def check_claims(
    asked: Question,
    sentences: tuple[AnswerSentence, ...],
    shown: list[Hit],
    pool: list[str],
    vectors: SentenceVectors,
    extractor: ExtractiveAnswerer,
) -> ClaimCheck:
    """Score each supported sentence in its cited passage and apply the extractive gate.

    `pool`: the retrieved sentences (their term weights are the ones the extractive ranking
    used); `shown`: the passages the model saw, marker n at position n - 1.
    """
    supported = [s for s in sentences if s.supported and s.markers]
    if not supported:
        return ClaimCheck((), ())
    texts = [s.text for s in supported]
    scorer = Scorer(asked, term_weights(asked, [*pool, *texts]), shown)
    matcher = TermMatcher(vectors, stem_words(asked.text))
    matcher.prepare(texts)
    similarities = vectors.similarity(asked.text, texts)  # (len(texts),)
    claims = []
    for sentence, similarity in zip(supported, similarities, strict=True):
        marker = sentence.markers[0]
        chunk = shown[marker - 1].chunk
        # The claim sits in the passage it cites: the passage's title, date and names count.
        placed = Sentence(sentence.text, chunk, chunk.start, chunk.start)
        claims.append(scorer.candidate(placed, marker, float(similarity), matcher))
    answering = tuple(c for c in claims if extractor.answers(asked, c))
    return ClaimCheck(tuple(claims), answering)


def replaced_because(
    asked: Question,
    claims: ClaimCheck,
    cited: tuple[Citation, ...],
    extract: Extract,
    best_score: float | None,
) -> str | None:
    """Why the extractive answer replaces a verified LLM answer (None: the LLM answer stands).

    It answers nothing or contradicts the question's time, source or names; it gives one side
    where the sources disagree (the extractive answer cites both); or it gives another value
    than the best-supported one.
    """
    if not claims.holds:
        return "fails the question's constraints"
    if extract.conflict:
        have = {c.chunk_id for c in cited if c.supported}
        if not {c.chunk_id for c in extract.citations} <= have:
            return "gives one side of a conflict"
        return None
    if not claims.agrees(asked, extract.short_answer, best_score):
        return "not the best-supported answer"
    return None


def _folded(value: str) -> str:
    """A value compared by its words and digits only ("$ 15 billion" ~ "$15 billion")."""
    return "".join(re.findall(r"[^\W_]+", value.casefold()))
