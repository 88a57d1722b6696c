"""Whether an LLM answer answers the question, by the extractive answerer's own gates (issue 15).

Citation verification says a sentence is stated by a passage; it does not say the sentence
answers this question. Each supported sentence of the model's answer is scored as a candidate
in the passage it cites, with the question's one analysis (`Question`) and the same Scorer and
`ExtractiveAnswerer.answers` gate that pick extractive answers: the asked type's value, the
names, time and source, the relation, not a question itself, not a past role. A passage about
another year or organisation therefore fails an LLM answer exactly as it fails an extractive one.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsrag.index import Hit
from newsrag.rag.candidates import Candidate, Scorer, term_weights
from newsrag.rag.extractive import ExtractiveAnswerer
from newsrag.rag.matching import TermMatcher, stem_words
from newsrag.rag.questions import Question
from newsrag.rag.records import AnswerSentence
from newsrag.rag.short_answers import candidate_values
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
