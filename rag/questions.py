"""What a question asks for (an amount, a count, a person, a date, a place, an entity)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rag.facts import (
    MONTHS,
    NUMBER_WORDS,
    WEEKDAYS,
    content_stems,
    entity_spans,
    entity_words,
    has_date,
    quantities,
)

AnswerType = Literal["amount", "count", "person", "date", "place", "entity", "other"]
# Which answer types must be present in a sentence for it to answer the question.
STRICT_TYPES = frozenset({"amount", "count", "person", "date", "place"})

_COUNT = (
    r"\bhow many\b|\bwhat (?:is the )?number of\b"
    r"|\bhow large (?:a|is the) (?:staff|team|workforce)"
)
_AMOUNT = (
    r"\bhow much\b|\bwhat (?:amount|sum|price|percentage|share|value|valuation)\b"
    r"|\bby how\b|\bhow (?:big|large|expensive|high|low)\b"
    r"|^\s*what (?:is|was|were|are) (?:the |its |their |\w+['’]s )?"
    r"(?:annual |total |net |yearly )?(?:revenue|sales|profit|income|loss|cost|price|valuation"
    r"|market value|worth|budget|fine|salary|turnover)"
)
_DATE = (
    r"^\s*when\b|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b"
    r"|\bon what (?:day|date)\b|\bin what year\b"
)
_PERSON = (
    r"^\s*(?:who|whom|whose)\b|\bwhich (?:person|executive|official|analyst|founder)\b"
    r"|\b(?:name|named) (?:of )?the (?:executive|person|official|founder|chief)"
)
_PLACE = (
    r"^\s*where\b|\b(?:which|what) (?:country|countries|city|cities|region|regions|place"
    r"|places|nation|nations|location|locations|state|continent)\b|\bin which (?:country|city)"
)
_PATTERNS: tuple[tuple[AnswerType, str], ...] = (
    ("count", _COUNT),
    ("amount", _AMOUNT),
    ("date", _DATE),
    ("person", _PERSON),
    ("place", _PLACE),
    ("entity", r"^\s*(?:what|which)\b|\bname the\b"),
)
# Words that make a capitalised span an organisation, product or place rather than a person.
_NOT_PERSON = (
    frozenset(
        """group holding holdings ltd inc corp co company bank cloud academy capital ventures
        fund funds financial post times news journal morning daily street market markets
        exchange administration ministry regulation state states government university
        institute center centre project festival pandemic quarter east west north south
        southeast northeast southwest northwest central middle new united kingdom republic
        island islands city county province valley asia africa europe america ai""".split()  # noqa: SIM905
    )
    | frozenset(MONTHS)
    | frozenset(WEEKDAYS)
)
_PLACE_CUE = re.compile(
    r"\b(?:in|at|from|across|to|near|into|throughout|outside|inside|based in|headquartered in)"
    r"\s+(?:the\s+)?([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*)"
)


@dataclass(frozen=True, slots=True)
class Question:
    """A question with what it asks for and the terms and names it is about."""

    text: str
    answer_type: AnswerType
    stems: frozenset[str]  # content terms, stemmed
    entities: frozenset[str]  # casefolded words of its capitalised names
    values: frozenset[float]  # numbers the question itself states
    counted: str | None = None  # "how many researchers" -> "researcher"


def analyse(question: str) -> Question:
    """Classify a question by the wh-phrase and collect its content terms and names."""
    lowered = question.casefold()
    answer_type: AnswerType = "other"
    for kind, pattern in _PATTERNS:
        if re.search(pattern, lowered):
            answer_type = kind
            break
    return Question(
        text=question,
        answer_type=answer_type,
        stems=frozenset(content_stems(question)),
        entities=frozenset(entity_words(question)),
        values=frozenset(
            round(q.value, 6)
            for q in quantities(question)
            if q.text[:1].isdigit() or q.kind != "number"
        ),
        counted=_counted_noun(lowered) if answer_type == "count" else None,
    )


def _counted_noun(lowered: str) -> str | None:
    match = re.search(r"\bhow many\s+([a-z][a-z-]+)", lowered)
    if not match:
        return None
    noun = match.group(1)
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def counts_the_noun(sentence: str, question: Question) -> bool:
    """Whether a number in `sentence` counts what the question counts ('100 researchers')."""
    if not question.counted:
        return False
    number = r"(?:\d[\d,.]*|" + "|".join(NUMBER_WORDS) + r")"
    pattern = rf"\b{number}\s+(?:[a-z-]+\s+){{0,2}}?{re.escape(question.counted)}"
    return re.search(pattern, sentence.casefold()) is not None


def person_names(text: str) -> list[str]:
    """Spans that look like people's names: 2-3 capitalised words, no organisation words."""
    names = []
    parts = [p for span in entity_spans(text) for p in re.split(r"\s+(?:of|de|the)\s+", span)]
    for span in parts:
        words = [re.sub(r"[’']s$", "", w) for w in span.split()]
        if span.startswith(("Officer ", "President ", "Chairman ", "Director ")):
            words = words[1:]
        if not 2 <= len(words) <= 3 or any(w.isupper() for w in words):
            continue
        if any(w.casefold().strip(".") in _NOT_PERSON for w in words):
            continue
        names.append(" ".join(words))
    return names


def places(text: str) -> list[str]:
    """Capitalised names that follow a place preposition ('in Israel', 'across Southeast Asia')."""
    return [m.group(1) for m in _PLACE_CUE.finditer(text)]


def slot_values(sentence: str, question: Question) -> set[str]:
    """The values of the asked-for type in `sentence` that the question does not already state."""
    kind = question.answer_type
    if kind in ("amount", "count"):
        found = quantities(sentence)
        if kind == "amount":
            found = [q for q in found if q.kind in ("money", "percent") or q.scaled]
        else:
            found = [
                q
                for q in found
                if q.kind == "number"
                and (q.value.is_integer() or q.scaled)
                and q.value != 1  # "one year ago" does not answer "how many"
                and not 1900 <= q.value <= 2100
            ]
        return {f"{q.value:g}" for q in found if round(q.value, 6) not in question.values}
    if kind == "person":
        names = person_names(sentence)
        return {n for n in names if not set(n.casefold().split()) <= question.entities}
    if kind == "place":
        return {p for p in places(sentence) if not _known(p, question)}
    if kind == "date":
        return {"date"} if has_date(sentence) else set()
    if kind == "entity":
        return {e for e in entity_spans(sentence) if not _known(e, question)}
    return set()


def _known(span: str, question: Question) -> bool:
    """Whether the question already names this span ('Israel' in 'which Israeli city')."""
    return all(
        any(
            w == e or (len(w) >= 4 and e.startswith(w)) or (len(e) >= 4 and w.startswith(e))
            for e in question.entities
        )
        for w in re.findall(r"\w+", span.casefold())
    )
