"""Candidate answer sentences and how each is scored against the question."""

from __future__ import annotations

import math
import re
from collections.abc import Set
from dataclasses import dataclass

from newsrag.index import Chunk, Hit, split_sentences
from newsrag.rag.constraints import (
    Status,
    dateline_of,
    is_question,
    ordinal_status,
    other_organisation,
    past_holder,
    past_role,
    present_tense,
    source_status,
)
from newsrag.rag.constraints import time_status as time_of
from newsrag.rag.extractive.matching import SYNONYM_CREDIT, TermMatcher, stem_words, weighted_share
from newsrag.rag.facts import content_stems, entity_words, named_spans, stem, terms
from newsrag.rag.facts import values as values_in
from newsrag.rag.lexicon import (
    DEMONYM_ENDINGS,
    HEAD_TITLES,
    HOW_ADVERBS,
    META_WORDS,
    PEOPLE_WORDS,
    ROLE_NOUNS,
    SCALE_WORDS,
    TYPE_NOUNS,
    event_family,
    states_event,
)
from newsrag.rag.questions import (
    TITLE_WORDS,
    Question,
    counted_words,
    counts_the_noun,
    holds_role_of,
    slot_values,
    states_result,
    won_as_idiom,
)
from newsrag.rag.support import Sentence

_WIN = event_family("won")
# Nouns a count of people may use ("100 researchers", "25,000 engineers").
_PERSON_KINDS = TITLE_WORDS | ROLE_NOUNS | PEOPLE_WORDS
_WHICH_NOUN = re.compile(
    r"^\s*(?:which|what)\s+(?:[a-z-]+\s+)??([a-z-]+)\s+(?:is|was|are|were|will|has|have|had|does|did|do|can)\b"
)
# The question names its subject by a description another passage resolves ("the company
# whose research arm ...", "the company behind Project X"): its names may sit in that passage.
_DESCRIBED = re.compile(
    r"\bthe (?:\w+ )?(?:company|firm|group|business|retailer|giant|maker|bank|start-?up|platform"
    r"|unit|country|city|person|executive|organi[sz]ation)\b,? (?:whose|that|which|who|behind"
    r"|running|with)\b",
    re.IGNORECASE,
)
# A section label opening a sentence ("Background: ...", "Why It Matters: ..."): not its subject.
_LABEL = re.compile(r"^[A-Z][\w’']*(?:\s+[\w’']+){0,3}:\s+")
# Questions about two things at once: each side may come from its own article.
_COMPARED = re.compile(r"\b(?:compar\w*|versus|vs\.?|both)\b", re.IGNORECASE)
_TWO = re.compile(r"\b(?:two|differ\w*)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A passage sentence scored as an answer to the question."""

    sentence: Sentence
    marker: int  # 1-based position of its passage among the hits
    similarity: float  # embedding cosine to the question
    overlap: float  # weighted share of the question's content terms in the sentence
    coverage: float  # the same for the terms that say what is asked (not names)
    context: float  # share of the question's terms in the passage and its title
    names_ok: bool  # the question's names all occur in the passage (or a bridging one)
    on_topic: bool  # it names what is measured or asked for ("profit", "which university")
    in_scope: bool  # it names the places the asked figure is scoped to ("staff in Israel")
    values: frozenset[str]  # values of the asked-for type the sentence states
    score: float
    time: Status = "unknown"  # whether it is about the asked time (constraints.time_status)
    source: Status = "unknown"  # whether its passage is from the source the question names
    other_name: bool = False  # it names the question's name only inside another organisation's
    asks: bool = False  # the sentence is itself a question
    past: bool = False  # it gives the asked role as a past one ("the former CEO")
    relates: bool = True  # it states the verb asked ("directed"), or a related word
    ordinal: Status = "unknown"  # whether it is about the asked one of a series ("season 4")
    head_title: bool = False  # it gives another head title of the asked body ("commissioner")

    @property
    def constrained_ok(self) -> bool:
        """Whether nothing about the sentence contradicts the question's time, source or names."""
        return (
            self.time != "contradict"
            and self.ordinal != "contradict"
            and self.source != "contradict"
            and not self.other_name
            and not self.asks
            and not self.past
            and self.relates
        )

    @property
    def text(self) -> str:
        """The sentence, whitespace collapsed."""
        return " ".join(self.sentence.text.split())

    @property
    def doc_id(self) -> str:
        """The article the sentence comes from."""
        return self.sentence.chunk.doc_id


def term_weights(asked: Question, sentences: list[str]) -> dict[str, float]:
    """IDF of the question's terms over the candidate sentences: rare terms say more.

    In sorted order, so sums over the weights add in one order whatever the hash seed (the
    same scores to the last bit in every process).
    """
    n = len(sentences)
    bags = [content_stems(s) for s in sentences]
    return {t: math.log(1 + n / (1 + sum(t in b for b in bags))) for t in sorted(asked.stems)}


def bridged(asked: Question) -> bool:
    """Whether the question's names may sit in another passage: described subject or comparison."""
    return bool(_DESCRIBED.search(asked.text) or _COMPARED.search(asked.text))


def described(asked: Question) -> bool:
    """Whether the question names its subject by a description ("the company that runs X")."""
    return bool(_DESCRIBED.search(asked.text))


def two_sided(asked: Question) -> bool:
    """Whether an answer may take a sentence from each of two articles."""
    return bridged(asked) or bool(_TWO.search(asked.text))


def key_terms(asked: Question) -> set[str]:
    """Stems of the words that say what is asked: not names, not how the question is put."""
    form = META_WORDS | HOW_ADVERBS | TYPE_NOUNS.get(asked.answer_type, frozenset())
    return {s for s, w in stem_words(asked.text).items() if w not in asked.entities | form}


def asked_noun(asked: Question) -> str | None:
    """The noun of a 'which/what NOUN' question ('which university' -> 'university')."""
    match = _WHICH_NOUN.search(asked.text.casefold())
    if asked.answer_type != "entity" or not match:
        return None
    noun = match.group(1)
    return None if noun in META_WORDS | TYPE_NOUNS["entity"] else noun


def name_present(name: str, present: Set[str]) -> bool:
    """Whether a question's name occurs, allowing inflections ('Chinese' ~ 'China').

    Every part must be there: "Japan", "Iran" or "Jordan" is not named by a passage without
    it; an adjective ("Chinese", "Israeli") is named by its country ("China", "Israel").
    """
    for part in re.findall(r"[a-z0-9]+", name):
        if part in present or len(part) < 2:
            continue
        if part.endswith(DEMONYM_ENDINGS) and any(_demonym_of(part, t) for t in present):
            continue
        if len(part) < 5:
            return False
        # Words of 4+ letters sharing all but the last letter of the shorter: the first too.
        short = [
            t
            for t in present
            if len(t) >= 4
            and t[0] == part[0]
            and _shared_prefix(part, t) >= min(len(part), len(t)) - 1
        ]
        if not short:
            return False
    return True


def _demonym_of(adjective: str, word: str) -> bool:
    """Whether `adjective` is formed from `word` ('chinese': 'china', 'israeli': 'israel')."""
    return (
        len(word) >= 4
        and len(adjective) > len(word)
        and (_shared_prefix(adjective, word) >= len(word) - 1)
    )


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class _PassageFacts:
    """What a passage (with its title and provenance) holds, computed once per passage."""

    stems: frozenset[str]  # content stems of title and text
    words: frozenset[str]  # every word, stopwords kept, for name checks
    values: frozenset[float]  # the numbers it states
    sequence: str  # those words in order, space-padded, for multi-word names


def passage_facts(chunk: Chunk) -> _PassageFacts:
    passage = f"{chunk.title} {chunk.source or ''} {chunk.published_at or ''} {chunk.text}"
    words, sequence = _words_of(passage)
    return _PassageFacts(
        frozenset(content_stems(f"{chunk.title} {chunk.text}")),
        words,
        frozenset(values_in(passage)),
        sequence,
    )


def _words_of(text: str) -> tuple[frozenset[str], str]:
    """The words of `text` (stopwords kept), as a set and in order space-padded, for named_in."""
    words = terms(text, keep_stopwords=True)
    # Initials are left out of the order: "Robyn M. Denholm" names "Robyn Denholm".
    return frozenset(words), f" {' '.join(_no_initials(words))} "


def _no_initials(words: list[str]) -> list[str]:
    """`words` without single letters (initials, "a"): digits stay ("season 4")."""
    return [w for w in words if len(w) > 1 or not w.isalpha()]


def named_in(asked: Question, phrases: list[str], words: Set[str], sequence: str) -> bool:
    """Whether a text (its words, and in order) names everything the question names.

    A multi-word name whose words all occur must occur as the name: "Corvex Cloud" is not
    named by a passage about Corvex's "cloud technology".
    """
    # "American rival": the adjective may be implicit; "on Netflix": the medium may be too.
    required = asked.entities - asked.modifiers - asked.media
    missing = {name for name in required if not name_present(name, words)}
    if missing and not all(
        _loosely_named(span, missing) for span in _spans_missing(asked, missing)
    ):
        return False
    return all(f" {p} " in sequence for p in phrases if set(p.split()) <= words)


def _spans_missing(asked: Question, missing: set[str]) -> list[list[str]]:
    """The words of each question name that has a missing word (a word of no span: alone)."""
    spans = [entity_words(n) for n in asked.names]
    out = [sorted(w) for w in spans if w & missing]
    covered = set().union(*spans) if spans else set()
    return out + [[w] for w in missing - covered]


def _loosely_named(span: list[str], missing: set[str]) -> bool:
    """A long name (3+ words) is named with one word said otherwise: "Best Animated Feature"
    for "Best Animated Film"; shorter names need every word, and a number never goes
    ("Harbour Quest Part III" is not named by "Harbour Quest Part II")."""
    gone = missing & set(span)
    return len(span) >= 3 and len(gone) == 1 and not any(_NUMBERED.fullmatch(w) for w in gone)


# A number or a Roman numeral ("3", "5a", "iii"): what tells one of a series from another.
_NUMBERED = re.compile(r"\d+[a-z]?|(?=[ivxlc]+$)c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})")


def name_phrases(text: str) -> list[str]:
    """The question's multi-word names as casefolded words ('Acme Cloud' -> 'acme cloud').

    A name joined by "of" is said either way round ("CEO of Acme", "Acme CEO"; "University of
    Leeds", "Leeds University"): each side is a phrase, not the whole.
    """
    # "Acme's AR" is two names, the owner's and the thing's: each is a phrase of its own.
    parts = (part for span in named_spans(text) for part in re.split(r"[’']s\s+", span))
    found = (" ".join(_no_initials(terms(part, keep_stopwords=True))) for part in parts)
    sides = (side for p in found for side in _OF.split(p))
    return [p for p in sides if " " in p]


_OF = re.compile(r"\s+(?:of|de)\s+(?:the\s+)?")


class Scorer:
    """Scores sentences for one question: meaning, terms (or synonyms), names and answer type."""

    def __init__(self, asked: Question, weights: dict[str, float], hits: list[Hit]) -> None:
        self.asked = asked
        self.weights = weights
        keys = key_terms(asked)
        self.key_weights = {t: w for t, w in weights.items() if t in keys}
        noun = asked_noun(asked)
        self.noun = stem(noun) if noun else None
        self.bridged = bridged(asked)
        self.everywhere = _words_of(" ".join(f"{h.chunk.title} {h.chunk.text}" for h in hits))
        self.phrases = name_phrases(asked.text)
        # Role words ("CEO", "president"), not the names the role is of ("Acme").
        self.role_words = frozenset(
            t for t in terms(asked.text) if t not in asked.entities or t in TITLE_WORDS
        )
        # What a past role may be of ("former Acme executive"): roles and names, for "who is".
        self.past_words = self.role_words | asked.entities if present_tense(asked.text) else set()
        self._facts: dict[tuple[str, int, int], _PassageFacts] = {}

    def candidate(
        self, sentence: Sentence, marker: int, sim: float, matcher: TermMatcher | None
    ) -> Candidate:
        """The sentence scored; synonyms count only when a matcher is given."""
        asked, chunk = self.asked, sentence.chunk
        if matcher is None:
            have = content_stems(sentence.text)
            credits = {t: 1.0 for t in asked.stems if t in have}
        else:
            credits = matcher.credits(sentence.text)
        won = stem(asked.relation) if asked.relation and asked.contest else None
        if won and not credits.get(won) and won_as_idiom(sentence.text):
            credits = {**credits, won: SYNONYM_CREDIT}  # "took home the award" for "won"
        overlap = weighted_share(credits, self.weights)
        coverage = weighted_share(credits, self.key_weights) if self.key_weights else 1.0
        # "Which university ...": a sentence naming none does not answer; "net profit" is not
        # answered by "811 million buyers", which measures something else.
        on_topic = self._measures(sentence.text, matcher) and (
            self.noun is None or bool(credits.get(self.noun))
        )
        facts = self._facts.get((chunk.id, chunk.start, chunk.end))
        if facts is None:
            facts = self._facts[(chunk.id, chunk.start, chunk.end)] = passage_facts(chunk)
        context = weighted_share({t: 1.0 for t in facts.stems}, self.weights)
        names_ok = named_in(asked, self.phrases, facts.words, facts.sequence) or (
            self.bridged and named_in(asked, self.phrases, *self.everywhere)
        )
        names_ok = names_ok and asked.values <= facts.values
        values = frozenset(slot_values(sentence.text, asked, dateline_of(chunk)))
        if asked.answer_type == "person" and self.past_words:
            values = frozenset(
                v for v in values if not past_holder(v, sentence.text, self.past_words)
            )
        typed = 1.0 if values else 0.0
        if values and asked.counted and not self._counts(sentence.text, matcher):
            typed = 0.0  # a count, but of something else
            if any(h not in SCALE_WORDS for h in counted_words(sentence.text)):
                values = frozenset()  # its numbers count named other things ("8 centres")
        elif values and any(not credits.get(stem(w)) for w in asked.measured):
            typed = 0.75  # names the measure only loosely ("program" for "market value")
        time = time_of(asked.time, sentence.text, chunk)
        if time == "match" and asked.time.constrained:
            typed += 0.1  # the asked year is stated: prefer it over undated evidence
        if asked.relation and stem(asked.relation) in content_stems(sentence.text):
            typed += 0.1  # the asked verb itself ("premieres"), not only a related word
        score = 0.6 * sim + 0.25 * overlap + 0.1 * context + 0.15 * typed
        return Candidate(
            sentence,
            marker,
            sim,
            overlap,
            coverage,
            context,
            names_ok,
            on_topic,
            self._in_scope(sentence.text) or self._scoped_next_to(sentence),
            values,
            score,
            time=time,
            source=source_status(asked.source, chunk),
            other_name=any(other_organisation(n, sentence.text, asked.text) for n in asked.names),
            asks=is_question(sentence.text),
            past=past_role(asked.text, sentence.text, self.role_words),
            ordinal=ordinal_status(asked.ordinals, sentence.text, chunk),
            relates=(
                asked.relation is None or self._relates(asked.relation, sentence.text, matcher)
            )
            and (not asked.contest or states_result(sentence.text))
            and (asked.role_of is None or holds_role_of(sentence.text, *asked.role_of, asked.text)),
            head_title=self._head_title(sentence.text),
        )

    def _head_title(self, text: str) -> bool:
        """Whether `text` gives the asked body's head under another title than the asked one
        ("League Commissioner" for "the president of the League"; lexicon.HEAD_TITLES)."""
        role_of = self.asked.role_of
        if role_of is None or role_of[0].casefold() not in HEAD_TITLES:
            return False
        others = HEAD_TITLES - {role_of[0].casefold()}
        return any(holds_role_of(text, title, role_of[1], self.asked.text) for title in others)

    def _in_scope(self, text: str) -> bool:
        """Whether `text` itself names each place the question scopes its figure to.

        A company-wide "25,000 engineers" does not answer "how many employees in Israel", even
        in a passage about Israel. Described subjects ("the company whose labs in Israel ...")
        name places to find the subject, not to scope the figure: not checked.
        """
        if self.bridged or not self.asked.scopes:
            return True
        words = set(terms(text, keep_stopwords=True))
        return all(name_present(place, words) for place in self.asked.scopes)

    def _scoped_next_to(self, sentence: Sentence) -> bool:
        """Whether the sentence after `sentence` in its passage opens with the scope's name.

        A sentence that opens with a name right after a figure names what the figure is for:
        "... is investing $1 billion in the region. Project X, as the plan is named, ..."
        scopes the figure to Project X. One before it does not ("Norway, as a country of
        engineers, ... . Acme has 25,000 engineers": company-wide), and "In Norway, it runs
        ..." opens with a place, not about it.
        """
        if self.bridged or not self.asked.scopes:
            return False
        chunk = sentence.chunk
        end = sentence.end - chunk.start
        spans = split_sentences(chunk.text)
        around = [s for s in spans if s[0] >= end][:1]
        openers = [
            terms(_LABEL.sub("", chunk.text[a:b].lstrip()), keep_stopwords=True) for a, b in around
        ]
        return all(
            any(words[: len(place.split())] == place.split() for words in openers)
            for place in self.asked.scopes
        )

    def _relates(self, verb: str, text: str, matcher: TermMatcher | None) -> bool:
        """Whether `text` states the asked verb (any form), or a word related to it; a
        contest's "won" is stated by an idiom of winning ("took home the award")."""
        have = content_stems(text)
        if stem(verb) in have:
            return True
        if self.asked.contest and event_family(verb) == _WIN and won_as_idiom(text):
            return True
        family = states_event(verb, have)
        if family is not None:
            return family  # a word of the same event, or only words of other events
        return matcher is not None and matcher.related(verb, text)

    def _measures(self, text: str, matcher: TermMatcher | None) -> bool:
        """Whether `text` names what the question measures (or a word related to it)."""
        if self.asked.counted in PEOPLE_WORDS and self._counts_people(text):
            return True  # "how many people": "100 researchers" names people
        if matcher is None:
            have = content_stems(text)
            return all(stem(w) in have for w in self.asked.measured)
        return all(matcher.related(w, text) for w in self.asked.measured)

    def _counts(self, text: str, matcher: TermMatcher | None) -> bool:
        """Whether a number in `text` counts what the question counts, or a synonym of it."""
        if counts_the_noun(text, self.asked):
            return True
        counted = self.asked.counted
        if counted in PEOPLE_WORDS:  # "how many people": "100 researchers" counts people
            return self._counts_people(text)
        if matcher is None or counted is None:
            return False
        return any(matcher.same(counted, word) for word in counted_words(text))

    @staticmethod
    def _counts_people(text: str) -> bool:
        """Whether a number in `text` counts a kind of person ("100 researchers", "25,000
        engineers and scientists")."""
        kinds = _PERSON_KINDS
        return any(w in kinds or w.removesuffix("s") in kinds for w in counted_words(text))
