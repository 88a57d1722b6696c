"""The value a question asks for, as a short answer; which value the evidence supports most.

A candidate sentence holds values of the asked type (rag.questions.slot_values). Here each
becomes a short answer ("Olga Tokarczuk", "November 15, 2020", "$1 billion"), dates take the
year from their passage when the sentence leaves it out, and the passing candidates vote: the
value stated by the most (and best-scored) passages wins, so one noisy sentence does not
outrank several that agree.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace

from newsrag.rag.constraints import (
    dateline_of,
    nearest_year,
    passage_year,
    published_date,
    weekday_date,
    years_in,
)
from newsrag.rag.extractive.candidates import Candidate
from newsrag.rag.facts import DateSpan, quantities, stem
from newsrag.rag.lexicon import CHANGE_VERBS
from newsrag.rag.questions import (
    Question,
    asked_dates,
    asks_difference,
    asks_several,
    contestants,
    passive_agent,
    person_names,
    roles_of,
    work_titles,
)

# Types whose values are short spans worth a short answer and a vote ("what is the name of"
# questions take any capitalised span: too loose to vote on).
VOTED = frozenset({"person", "date", "place", "work"})
# Types that lead with their value but do not vote: articles legitimately give several.
SHORT_ONLY = frozenset({"amount", "count", "role"})
# Only candidates this close to the best one vote: agreement among strong answers.
CLOSE_BEHIND = 0.9


@dataclass(frozen=True, slots=True)
class Value:
    """One value a candidate states: its text as an answer and a key to compare it by."""

    text: str
    key: str
    complete: bool = True  # the sentence states all of it (a date its year, not its passage)


def candidate_values(asked: Question, cand: Candidate) -> list[Value]:
    """The values of the asked type in a candidate sentence, in the order they appear."""
    kind, text = asked.answer_type, cand.text
    if kind == "date":
        year = _year_for(cand)
        found = []
        dates = asked_dates(text, asked, dateline_of(cand.sentence.chunk))
        dates.sort(key=lambda d: _distance(text, text.find(d.text), asked, len(d.text)))
        for d in dates:
            chunk = cand.sentence.chunk
            day = None if d.month else weekday_date(d.text, text, published_date(chunk))
            if day is not None:  # "on Sunday", in an article of a known date
                named = DateSpan(d.text, day.month, day.day, day.year)
                key = f"{day.year}-{day.month:02d}-{day.day:02d}"
                found.append(Value(named.with_year(day.year), key, complete=False))
                continue
            if d.relative is not None:  # "this year" counts from the article's own date
                published = passage_year(cand.sentence.chunk)
                filled = published + d.relative if published else None
                key = f"{filled or '?'}-rel-{d.text.casefold()}"
                found.append(Value(d.with_year(published), key, complete=filled is not None))
                continue
            dated = year if d.year is not None or not d.month else _nearest_year(cand, d, year)
            filled = d.year or dated
            key = f"{filled or '?'}-{d.month:02d}-{d.day or 0:02d}"
            found.append(Value(d.with_year(dated), key, complete=d.year is not None))
        return found
    if kind in ("amount", "count"):
        wanted = cand.values
        numbers = [q for q in quantities(text) if f"{q.value:g}" in wanted]
        if asked.answer_type == "amount" and asked.stems & CHANGE_VERBS:
            # "how much did shares fall": the change ("0.5% lower"), not the level reached.
            numbers = [q for q in numbers if q.kind == "percent"] or numbers
        elif asked.answer_type == "amount" and not _PERCENT.search(asked.text):
            numbers = [q for q in numbers if q.kind == "money"] or numbers  # "how much": money
        # The value nearest to the words that say what is asked ("... market value is $460
        # billion - with ... $476 billion for rival Amazon": Amazon's is the second).
        numbers.sort(key=lambda q: _distance(text, text.find(q.text), asked, len(q.text)))
        return [Value(q.text, f"{q.value:g}") for q in numbers]
    if kind in ("person", "place"):
        # The name nearest the words asked ("London was chosen to host ... in Moscow";
        # "Jo Park has spoken about 'Film' director Ann Lee": Ann Lee directed it).
        agent = passive_agent(text, asked) if kind == "person" else None
        if agent is not None:
            spans = [agent]
        else:
            spans = contestants(text, asked) if kind == "person" else list(cand.values)
        # "Who won": a person's name before another (a team, or the film she won for).
        people = set(person_names(text)) if kind == "person" else set()
        spans.sort(
            key=lambda v: (
                v not in people if people else False,
                # A place is where the clause says the asked thing is ("a research center
                # in Norvik, and last year it opened sales offices in Ostland").
                -_clause_terms(text, text.find(v), asked) if kind == "place" else 0,
                _distance(text, text.find(v), asked, len(v), clauses=False),
                text.find(v),
            )
        )
    elif kind == "work":
        spans = work_titles(text)
    elif kind == "role":  # the apposition or copula's complement first, then a title before
        spans = roles_of(text, asked.identity) if asked.identity else []
    else:
        spans = sorted(cand.values, key=lambda v: text.find(v))
    return [Value(s, _name_key(s)) for s in spans if s in cand.values or _inside(s, cand.values)]


# Questions asking for a share or change ("market share", "by how much"); a share price is
# money.
_PERCENT = re.compile(
    r"\b(?:percent|percentage|per cent|share(?!\s+prices?\b)|rate|by how much)\b|%", re.I
)
_TOKEN = re.compile(r"[\w$€£%.,]+")


def _distance(
    text: str, at: int, asked: Question, length: int = 0, *, clauses: bool = True
) -> tuple[int, int]:
    """How far the value at position `at` sits from the thing asked: (clause, words).

    clause: 0 when the value shares its clause (text between commas, semicolons and dashes)
    with a name word of the question the sentence uses once, else 1 ("announced the Lumo 4
    in May, adding the Lumo 4a in August": August is the 4a's). words: words between `at`
    and the nearest word of the question's terms or names. Words the sentence uses once
    locate the asked thing better than repeated ones; the value's own words (from `at`,
    `length` characters) do not count. `clauses=False` for names, which an apposition puts
    in another clause than what they are ("Jo Park, the director of Film").
    """
    if at < 0:
        return (1, 10**6)
    wanted = asked.stems | {stem(w) for w in asked.entities}
    found = [
        (m.start(), stem(m.group().strip(".,").casefold()))
        for m in _TOKEN.finditer(text)
        if not at <= m.start() < at + length
    ]
    hits = [(p, w) for p, w in found if w in wanted]
    if not hits:
        return (0, 0)
    counts = Counter(w for _, w in hits)
    distinct = [p for p, w in hits if counts[w] == 1] or [p for p, _ in hits]
    nearest = min(distinct, key=lambda p: abs(p - at))
    lo, hi = sorted((nearest, at))
    named = {stem(w.casefold()) for n in asked.names for w in n.split()} | {
        stem(w) for w in asked.entities
    }
    own = _clause(text, at)
    shares = any(counts[w] == 1 and w in named and _clause(text, p) == own for p, w in hits)
    return (0 if shares or not named or not clauses else 1, len(text[lo:hi].split()))


def _clause_terms(text: str, at: int, asked: Question) -> int:
    """How many of the question's words (names aside) the clause at position `at` uses."""
    if at < 0:
        return 0
    start, end = 0, len(text)  # the clause: between the breaks around `at` (one pass)
    for m in _CLAUSE_BREAK.finditer(text):
        if m.end() <= at:
            start = m.end()
        else:
            end = m.start()
            break
    names = {stem(w) for w in asked.entities}
    words = {stem(m.group().strip(".,").casefold()) for m in _TOKEN.finditer(text, start, end)}
    return len(words & (asked.stems - names))


_CLAUSE_BREAK = re.compile(r"[,;—–]|\s-\s")


def _clause(text: str, at: int) -> int:
    """The index of the clause of `text` that position `at` falls in."""
    return len(_CLAUSE_BREAK.findall(text, 0, at))


def _inside(span: str, values: frozenset[str]) -> bool:
    return any(span in v or v in span for v in values)


def _name_key(name: str) -> str:
    """A name compared by its words in any order: "Liu Yifei" is "Yifei Liu"."""
    return " ".join(sorted(name.casefold().replace("’", "'").removesuffix("'s").split()))


def _nearest_year(cand: Candidate, date: DateSpan, year: int | None) -> int | None:
    """The year of a date the sentence gives without one (constraints.nearest_year), unless
    the sentence names one year of its own."""
    if year is None or len(years_in(cand.text, names=False)) == 1:
        return year
    chunk = cand.sentence.chunk
    return nearest_year(cand.text, date.month, date.day, published_date(chunk), year)


def _year_for(cand: Candidate) -> int | None:
    """The year a date of this sentence falls in when it gives none: its passage's year."""
    chunk = cand.sentence.chunk
    years = years_in(cand.text, names=False)  # "Cyberpunk 2077" names a game, not a year
    if len(years) == 1:
        return next(iter(years))
    return passage_year(chunk)


def vote(asked: Question, passing: list[Candidate]) -> tuple[Candidate, Value | None]:
    """The candidate holding the best-supported value, and that value.

    Support of a value: the sum, over distinct articles, of the best score of a candidate
    stating it. Types without extractable values keep the best-scored candidate.
    """
    if asked.answer_type not in VOTED:
        # Amounts and counts: the best sentence's own value leads ("$15 billion [1]. ..."),
        # without a vote; open "what is the name" spans are too loose to lead with.
        # "How much bigger is X than Y": the sentence gives both figures, neither is the answer.
        leads = asked.answer_type in SHORT_ONLY and not asks_difference(asked.text)
        own = candidate_values(asked, passing[0]) if leads else []
        return passing[0], (own[0] if own else None)
    support: dict[str, dict[str, float]] = defaultdict(dict)
    holders: dict[str, tuple[Candidate, Value]] = {}
    floor = CLOSE_BEHIND * passing[0].score
    for cand in (c for c in passing if c.score >= floor):
        for value in candidate_values(asked, cand)[:1]:  # the first value a sentence states
            per_doc = support[value.key]
            per_doc[cand.doc_id] = max(per_doc.get(cand.doc_id, 0.0), cand.score)
            # Quote the sentence that states the value whole ("November 17, 2019" over
            # "November 17" dated by its passage), then the best scored.
            rank = (value.complete, cand.score)
            held = holders.get(value.key)
            if held is None or rank > (held[1].complete, held[0].score):
                holders[value.key] = (cand, value)
    if not holders:
        return passing[0], None
    best = max(holders, key=lambda k: (sum(support[k].values()), holders[k][0].score))
    if asked.answer_type == "date" and best.endswith("-00") and best[5:7] != "00":
        finer = _finer_date(asked, passing, best[:8])
        if finer is not None:
            return finer
    cand, value = holders[best]
    if asked.answer_type != "date" and asks_several(asked.text):
        # "Which countries ...": the list the winning name opens, not its first item.
        value = replace(value, text=listed(cand.text, value.text))
    return cand, value


# Names joined to a first one: ", Ostland, the Harbour Isles and Lumoria".
_NAME = r"(?:the\s+)?[A-Z][\w.&’'-]*(?:\s+(?:of\s+)?[A-Z][\w.&’'-]*)*"
_MORE = re.compile(rf"(?:,\s*(?:and\s+)?{_NAME})*(?:,?\s+(?:and|or)\s+{_NAME})?")


def listed(text: str, first: str) -> str:
    """`first` with the names coordinated after it in `text` ("Norvik, Ostland, the Harbour
    Isles and Lumoria"), or `first` alone when none follows."""
    at = text.find(first)
    if at < 0:
        return first
    more = _MORE.match(text, at + len(first))
    if not more or not more.group(0):
        return first
    names = first + more.group(0)
    return names if re.search(r"\b[A-Z]\.[A-Z]\.$", names) else names.rstrip(".")


def _finer_date(
    asked: Question, passing: list[Candidate], month: str
) -> tuple[Candidate, Value] | None:
    """A passing sentence that gives the chosen month's day ("August 2021" -> "August 17,
    2021"): the same answer, stated more precisely. The best-scored one, if any."""
    for cand in passing:  # best first
        for value in candidate_values(asked, cand)[:1]:
            if value.key.startswith(month) and not value.key.endswith("-00") and value.complete:
                return cand, value
    return None


def values_key(asked: Question, cand: Candidate) -> str | None:
    """The key of the first value a candidate states (None when it states none)."""
    found = candidate_values(asked, cand)
    return found[0].key if found else None


__all__ = ["Value", "candidate_values", "values_key", "vote"]
