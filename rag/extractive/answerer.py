"""ExtractiveAnswerer: answers with the retrieved sentences that answer the question, or refuses."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from newsrag.index import Chunk, Hit
from newsrag.rag.citations import attach_markers, citation_for
from newsrag.rag.constraints import dateline_end, dateline_of, passage_year
from newsrag.rag.extractive.candidates import (
    Candidate,
    Scorer,
    described,
    passage_facts,
    term_weights,
    two_sided,
)
from newsrag.rag.extractive.conflicts import find_conflict, find_twin_conflict, redated
from newsrag.rag.extractive.matching import TermMatcher, stem_words
from newsrag.rag.extractive.short_answers import candidate_values, vote
from newsrag.rag.facts import content_stems, terms
from newsrag.rag.followup import rewrite_deterministic
from newsrag.rag.lexicon import REPORTING_VERBS
from newsrag.rag.questions import (
    STRICT_TYPES,
    Question,
    analyse,
    asks_reason,
    question_parts,
)
from newsrag.rag.records import AnswerSentence, Citation
from newsrag.rag.support import Sentence, SentenceVectors, passage_sentences

CONFLICT_PREFIX = "Sources disagree:"
# Said for the part of a two-part question the articles do not answer, before that part.
MISSING_PART = "The articles do not say:"
# Weighted share of the question's asking terms (not its names) that an answer sentence must
# hold, word or synonym: the nearest sentence of the right type ("811 million buyers") does not
# answer a question about something the articles never mention ("net profit").
MIN_COVERAGE = 0.05
# ... unless the sentence as a whole restates the question in other words (MiniLM cosine).
RESTATES = 0.65
_REFERS_BACK = re.compile(
    r"^[\"“]?(?:it|its|he|she|they|their|his|her|this|these|the (?:company|firm|group|unit"
    r"|business|retailer|giant|maker|bank|start-?up|platform|service|carrier|brand))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Extract:
    """An extractive answer (or a refusal when `sentences` is empty)."""

    text: str
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    conflict: bool
    short_answer: str | None = None  # the value asked, when the type has one
    near_miss: bool = False  # a refusal: close passages that do not satisfy the question
    margin: float | None = None  # distance of the decisive gating score to its threshold

    @property
    def answerable(self) -> bool:
        """Whether any sentence answers the question."""
        return bool(self.sentences)


class ExtractiveAnswerer:
    """Picks the sentence(s) that answer the question, by meaning, terms and answer type."""

    def __init__(
        self,
        *,
        min_similarity: float = 0.4,
        min_score: float = 0.45,
        max_sentences: int = 2,
        min_words: int = 4,
        min_coverage: float = MIN_COVERAGE,
        soft_top: int = 20,
    ) -> None:
        if not 0 <= min_similarity <= 1 or max_sentences < 1:
            raise ValueError("min_similarity must be in [0, 1] and max_sentences >= 1")
        self.min_similarity = min_similarity
        self.min_score = min_score
        self.max_sentences = max_sentences
        self.min_words = min_words
        self.min_coverage = min_coverage
        self.soft_top = soft_top

    def rank(
        self,
        question: str,
        hits: list[Hit],
        vectors: SentenceVectors,
        asked: Question | None = None,
    ) -> list[Candidate]:
        """Every sentence of the hits, best answer first (`asked`: analyse(question), if known)."""
        asked = asked if asked is not None else analyse(question)
        pool: dict[tuple[str, str], tuple[Sentence, int]] = {}
        for marker, hit in enumerate(hits, start=1):
            # The same sentence under two datelines is two reports (of two dates): both kept.
            dateline = dateline_of(hit.chunk)
            for sentence in answer_units(hit.chunk, self.min_words):
                key = (" ".join(sentence.text.split()).casefold(), dateline)
                if key not in pool:
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
        vectors.embed([question, *texts, *titled])  # one model call for both lists below
        similarities = np.maximum(
            vectors.similarity(question, texts), vectors.similarity(question, titled)
        )
        scorer = Scorer(asked, term_weights(asked, texts), hits)
        exact = sorted(
            (
                scorer.candidate(sentence, marker, float(sim), None)
                for (sentence, marker), sim in zip(pool.values(), similarities, strict=True)
            ),
            key=lambda c: -c.score,
        )
        # Synonyms are looked for in the leading sentences only: each word costs an embedding.
        matcher = TermMatcher(vectors, stem_words(question))
        head, tail = exact[: self.soft_top], exact[self.soft_top :]
        matcher.prepare([c.text for c in head])
        soft = [scorer.candidate(c.sentence, c.marker, c.similarity, matcher) for c in head]
        return sorted(soft, key=lambda c: -c.score) + tail

    def answers(self, question: Question, candidate: Candidate) -> bool:
        """Whether a candidate answers the question rather than merely being near it."""
        if question.answer_type in STRICT_TYPES and not candidate.values:
            return False
        return (
            candidate.names_ok
            and candidate.on_topic
            and candidate.in_scope
            and candidate.constrained_ok
            and candidate.similarity >= self.floor(question, candidate)
            and candidate.score >= self.min_score
            and (
                candidate.coverage >= self.min_coverage
                # A contest's result is its role word: "winner" does not restate "runner-up".
                or (candidate.similarity >= RESTATES and not question.contest)
            )
        )

    def floor(self, question: Question, candidate: Candidate | None = None) -> float:
        """The least similarity a sentence needs to answer `question`.

        "Who is Mara Quist?" says little but the name, so a sentence stating what she is
        ("Mara Quist, the League's commissioner, said ...") reads 0.3-0.4 to it; there the
        role stated next to the asked name is the evidence, and half the usual floor does.
        So for "what did SOURCE report" and a sentence citing the source, and for "why" when a
        sentence uses the words asked (synonyms at most for a few:
        REASON_COVERAGE) and states a reason ("was fined ... for hiding safety reports"): a
        long sentence reads little like a short question.
        """
        if question.answer_type == "role":
            return self.min_similarity / 2
        if (  # "What did Reuters report?": a sentence the source is cited for, on every term
            candidate is not None
            and question.source is not None
            and question.relation in REPORTING_VERBS
            and candidate.source == "match"
            and candidate.coverage >= 1.0
        ):
            return self.min_similarity / 2
        if (
            candidate is not None
            and asks_reason(question.text)
            and candidate.coverage >= REASON_COVERAGE
            and REASON_CUE.search(candidate.text)
        ):
            return self.min_similarity / 2
        return self.min_similarity

    def slack(self, candidate: Candidate, question: Question | None = None) -> float:
        """How far a candidate's scores sit from the gates: > 0 passes them, < 0 misses."""
        floor = self.floor(question, candidate) if question is not None else self.min_similarity
        gates = [
            candidate.similarity - floor,
            candidate.score - self.min_score,
            max(candidate.coverage - self.min_coverage, candidate.similarity - RESTATES),
        ]
        return min(gates)

    def near(self, question: Question, candidate: Candidate) -> bool:
        """About the asked thing (names, meaning) but not answering it: a near miss."""
        return (
            candidate.names_ok
            and not candidate.asks
            and candidate.similarity >= self.floor(question, candidate)
            and (not candidate.constrained_ok or not self.answers(question, candidate))
        )

    def answer(
        self,
        question: str,
        hits: list[Hit],
        vectors: SentenceVectors,
        ranked: list[Candidate] | None = None,
        asked: Question | None = None,
    ) -> Extract:
        """Cited sentences that answer `question`, or an empty Extract (a refusal).

        `ranked`: `rank(question, hits, vectors)` when the caller already has it; `asked`:
        `analyse(question)` when the caller already has it.
        """
        parts = question_parts(question)
        if len(parts) > 1:
            return self._answer_parts(parts, hits, vectors)
        asked = asked if asked is not None else analyse(question)
        if ranked is None:
            ranked = self.rank(question, hits, vectors, asked)
        passing = [c for c in ranked if self.answers(asked, c)]
        if not passing:
            # No passage gives the asked head title: another head title of the same body
            # stands for it ("Mara Quist ... League Commissioner" for "president of the League").
            titled = [replace(c, relates=True, coverage=1.0) for c in ranked if c.head_title]
            passing = [c for c in titled if self.answers(asked, c)]
        if not passing:
            return self._refusal(asked, ranked, hits)
        best, value = vote(asked, passing)
        if best is not passing[0]:
            passing = [best, *(c for c in passing if c is not best)]
        # A copy of a passing sentence with only its date's year changed disagrees on the date.
        stated = passing + [
            c
            for c in ranked
            if redated(asked.time, c) and self.answers(asked, replace(c, time="match"))
        ]
        values = {id(c): (v.key, v.text) for c in stated for v in candidate_values(asked, c)[:1]}
        other = find_twin_conflict(best, stated, values, asked.answer_type) or find_conflict(
            asked, passing, vectors, best
        )
        chosen = [best, other] if other else self._select(asked, passing)
        sentences = tuple(AnswerSentence(c.text, (c.marker,), True) for c in chosen)
        quoted = " ".join(attach_markers(s.text, s.markers) for s in sentences)
        short = value.text if value is not None else None
        lead = f"{attach_markers(short, (best.marker,))}. " if short else ""
        if other:
            rival = values.get(id(other))
            says = f" (another gives {rival[1]})" if rival and short else ""
            text = f"{lead}{CONFLICT_PREFIX}{says} {quoted}"
        else:
            text = f"{lead}{quoted}"
        markers = sorted({c.marker for c in chosen})
        citations = tuple(citation_for(n, hits[n - 1]) for n in markers)
        margin = min(self.slack(c, asked) for c in chosen)
        return Extract(
            text, sentences, citations, other is not None, short_answer=short, margin=margin
        )

    def _answer_parts(self, parts: list[str], hits: list[Hit], vectors: SentenceVectors) -> Extract:
        """Each part of a two-part question answered on its own, or said to be missing.

        A pronoun of a later part points at the first part's subject ("Who directed Film and
        when was it released?": when was Film released). All parts unanswered: the first
        part's refusal.
        """
        first = [{"role": "user", "content": parts[0]}]
        extracts = [
            (
                part,
                self.answer(part if i == 0 else rewrite_deterministic(part, first), hits, vectors),
            )
            for i, part in enumerate(parts)
        ]
        answered = [e for _, e in extracts if e.answerable]
        if not answered:
            return extracts[0][1]
        text = " ".join(
            e.text if e.answerable else f"{MISSING_PART} {part}" for part, e in extracts
        )
        sentences = tuple(dict.fromkeys(s for e in answered for s in e.sentences))
        cited = {c.marker: c for e in answered for c in e.citations}
        shorts = [e.short_answer for e in answered if e.short_answer]
        margins = [e.margin for e in answered if e.margin is not None]
        return Extract(
            text,
            sentences,
            tuple(cited[n] for n in sorted(cited)),
            any(e.conflict for e in answered),
            short_answer="; ".join(shorts) if shorts else None,
            margin=min(margins) if margins else None,
        )

    def _refusal(self, asked: Question, ranked: list[Candidate], hits: list[Hit]) -> Extract:
        """A refusal; a near miss when close passages fail the question's time, names or type."""
        close = [c for c in ranked[: self.soft_top] if self.near(asked, c)]
        # How far the nearest candidate is from passing (negative: below a gate).
        margin = max((self.slack(c, asked) for c in ranked[: self.soft_top]), default=None)
        if not close:
            return Extract("", (), (), conflict=False, margin=margin)
        markers = list(dict.fromkeys(c.marker for c in close))[:3]
        text = near_miss_text(asked, [c for c in close if c.marker in markers], markers)
        citations = tuple(citation_for(n, hits[n - 1], supported=False) for n in markers)
        return Extract(text, (), citations, False, near_miss=True, margin=margin)

    def _bridges(self, asked: Question, first: Candidate, cand: Candidate) -> bool:
        """Whether a second sentence resolves what the first leaves open.

        A described subject ("the company that runs the X Lab") is resolved by a sentence that
        names the description's names the first passage lacks; a comparison by any other side.
        """
        if not described(asked):
            return True
        missing = asked.entities - passage_facts(first.sentence.chunk).words
        return bool(missing & set(terms(cand.text, keep_stopwords=True)))

    def _select(self, asked: Question, passing: list[Candidate]) -> list[Candidate]:
        """The best sentence, plus others close behind that add question terms it lacks."""
        chosen = [passing[0]]
        covered = set(asked.stems & content_stems(passing[0].text))
        both = two_sided(asked)  # "compared with", "two", "the company whose ..."
        for cand in passing[1:]:
            floor = (0.7 if both else 0.9) * passing[0].score
            if len(chosen) >= self.max_sentences or cand.score < floor:
                break
            if (
                both
                and cand.doc_id != chosen[0].doc_id
                and cand.values - chosen[0].values
                and self._bridges(asked, chosen[0], cand)
            ):
                chosen.append(cand)
                continue
            if asked.answer_type in STRICT_TYPES and (not both or described(asked)):
                # One amount, date or name answers; a second would only blur it (a described
                # subject takes a second sentence only to resolve the description, above).
                break
            gain = (asked.stems & content_stems(cand.text)) - covered
            if gain:
                chosen.append(cand)
                covered |= gain
        return chosen


def answer_units(chunk: Chunk, min_words: int) -> list[Sentence]:
    """The chunk's sentences of at least `min_words` words; shorter ones joined to what follows.

    A table or a results page splits into fragments ("Netherlands. Runner-up. 11. Goals."):
    alone each says nothing, together they state a fact. A short run still short at the end
    of the chunk is left out.
    """
    units: list[Sentence] = []
    pending: Sentence | None = None
    for sentence in passage_sentences(chunk):
        if pending is not None:
            start = pending.start - chunk.start
            end = sentence.end - chunk.start
            sentence = Sentence(chunk.text[start:end], chunk, pending.start, sentence.end)
            pending = None
        if len(sentence.text.split()) >= min_words:
            if not _subheading(sentence, chunk):
                units.append(sentence)
        elif dateline_end(sentence.text) < len(sentence.text.rstrip(" .…")):
            pending = sentence  # a dateline alone ("Mar 4, 2018 ...") dates, it states nothing
    return units


# The share of a why-question's words a reason sentence uses (a synonym counts 0.8).
REASON_COVERAGE = 0.75
# "Why ...", "What was the reason for ...".
# Words that state a reason or cause ("because", "for hiding", "stems from").
REASON_CUE = re.compile(
    r"\b(?:because|due to|owing to|thanks to|as a result of|in order to|stems? (?:mainly )?from"
    r"|driven by|spurred by|for (?:[a-z]+ )?[a-z]+ing|over [a-z]+ing)\b",
    re.I,
)
# A sub-heading: a short line of its own with no closing punctuation ("Results so far").
SUBHEADING_WORDS = 6


def _subheading(sentence: Sentence, chunk: Chunk) -> bool:
    """Whether `sentence` is a line of its own that labels a section rather than states."""
    text = sentence.text.strip()
    if len(text.split()) > SUBHEADING_WORDS or re.search(r"[.!?:;,\"”’')\]]$", text):
        return False
    before = chunk.text[: sentence.start - chunk.start].rstrip(" \t")
    after = chunk.text[sentence.end - chunk.start :].lstrip(" \t")
    return (not before or before.endswith("\n")) and (not after or after.startswith("\n"))


def near_miss_text(asked: Question, close: list[Candidate], markers: list[int]) -> str:
    """What the close passages do cover, for a refusal: another time, another name, no value."""
    cited = "".join(f"[{n}]" for n in markers)
    asked_years = sorted(asked.time.years)
    if asked_years and all(c.time == "contradict" for c in close):
        years = sorted({y for c in close for y in _years_of(c)} - set(asked_years))
        given = f" for {_listed([str(y) for y in years])}" if years else " for other dates"
        wanted = _listed([str(y) for y in asked_years])
        return f"The articles give this{given} {cited}, not for {wanted}."
    if all(c.other_name for c in close):
        names = _listed(list(asked.names))
        within = "only within the names of other organisations, works or events"
        return f"The articles mention {names} {within} {cited}."
    about = _listed(list(asked.names)) if asked.names else "this subject"
    return f"The articles discuss {about} {cited} but do not state what was asked."


def _years_of(cand: Candidate) -> set[int]:
    from newsrag.rag.constraints import years_in

    years = years_in(cand.text) or years_in(cand.sentence.chunk.text)
    published = passage_year(cand.sentence.chunk)
    return years or ({published} if published else set())


def _listed(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
