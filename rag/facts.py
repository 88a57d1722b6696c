"""Checkable facts in text: amounts, numbers, dates, capitalised names, content terms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from newsrag.rag.lexicon import (
    FUNCTION_WORDS,
    MONTHS,
    NUMBER_WORDS,
    OPENERS,
    ORDINAL_WORDS,
    SCALE_WORDS,
    SEASONS,
    STOPWORDS,
    WEEKDAYS,
    stem,
)

# A number, not glued to a word ("COVID-19", "A380"), with an optional currency and scale.
_QUANTITY = re.compile(
    r"(?<![\w.])(?<![A-Za-z]-)(?P<cur>US\$|\$|£|€|¥|RMB\s?|USD\s?)?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<pct>%|percent\b|per cent\b)"
    r"|\s?(?P<scale>thousand|million|billion|trillion|mln|mn|bn|tn|[kmbt])\b)?",
    re.IGNORECASE,
)
_NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
_ORDINAL_WORD = re.compile(r"\b(" + "|".join(ORDINAL_WORDS) + r")\b", re.IGNORECASE)
_MONTH_ABBR = {m[:3]: m for m in MONTHS} | {"sept": "september"}
# Dates that pin a time down; "this year", "ago" or "today" alone do not answer "when".
_DATE_WORDS = re.compile(r"\b(" + "|".join(MONTHS + WEEKDAYS) + r"|(?:19|20)\d\d)\b", re.IGNORECASE)
_CAP_WORD = r"(?:[A-Z][\w’'&.\-]*[\w]|[A-Z](?:\.(?=\s+[A-Z]))?)"  # "B." of "Niels B. Smith"
_CAP_SPAN = re.compile(rf"{_CAP_WORD}(?:\s+(?:of\s+|de\s+|the\s+)?{_CAP_WORD})*")
_WORD = re.compile(r"[a-z0-9]+(?:[.'’][a-z0-9]+)*")
_ACRONYM = re.compile(r"^[A-Z]{2,5}$")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number as written, with its normalised value and kind."""

    text: str
    value: float
    kind: str  # "money", "percent", "number"
    scaled: bool  # carries a scale word (million, bn, ...)


def quantities(text: str) -> list[Quantity]:
    """Numbers, amounts and percentages in `text` ('$15b' and '15 billion' both give 1.5e10)."""
    return list(_quantities(text))


@lru_cache(maxsize=16384)
def _quantities(text: str) -> tuple[Quantity, ...]:
    """quantities(), once per text."""
    found: list[Quantity] = []
    for m in _QUANTITY.finditer(text):
        value = float(m.group("num").replace(",", ""))
        scale = (m.group("scale") or "").casefold()
        if scale in ("m", "b", "t", "k") and not m.group("cur"):
            scale = ""  # "5 m" is more often metres than millions without a currency sign
        value *= SCALE_WORDS.get(scale, 1.0)
        kind = "percent" if m.group("pct") else "money" if m.group("cur") else "number"
        found.append(Quantity(m.group().strip(), value, kind, bool(scale)))
    for m in _NUMBER_WORD.finditer(text):
        found.append(
            Quantity(m.group(), float(NUMBER_WORDS[m.group().casefold()]), "number", False)
        )
    return tuple(found)


def ordinals(text: str) -> set[float]:
    """Ordinal numbers in `text` ('fourth' and '4th' both give 4.0)."""
    found = {float(ORDINAL_WORDS[m.group().casefold()]) for m in _ORDINAL_WORD.finditer(text)}
    found |= {float(m.group(1)) for m in re.finditer(r"\b(\d{1,3})(?:st|nd|rd|th)\b", text)}
    return found


def values(text: str) -> set[float]:
    """Normalised values of every quantity and ordinal in `text` (rounded for float noise)."""
    return {round(q.value, 6) for q in quantities(text)} | ordinals(text)


def numbers_supported(claim: str, evidence: str) -> bool:
    """Whether every number of `claim` occurs (by value) in `evidence`."""
    wanted = {round(q.value, 6) for q in quantities(claim) if q.kind != "number" or q.value > 12}
    wanted |= {round(q.value, 6) for q in quantities(claim) if q.kind == "number" and q.scaled}
    return wanted <= values(evidence)


_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
# "November 15, 2020", "Nov. 15", "15 November 2020", "November 2020", "19th October 2021".
_DATE_SPAN = re.compile(
    rf"\b(?:(?P<m1>{_MONTH_NAME})\s+(?P<d1>{_DAY})(?:,?\s+(?P<y1>(?:19|20)\d\d))?"
    rf"|(?P<d2>{_DAY})\s+(?:of\s+)?(?P<m2>{_MONTH_NAME})(?:,?\s+(?P<y2>(?:19|20)\d\d))?"
    rf"|(?P<m3>{_MONTH_NAME})\s+(?P<y3>(?:19|20)\d\d))(?![\w])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DateSpan:
    """A calendar date as written, with its parts (year None when the text leaves it out)."""

    text: str
    month: int
    day: int | None
    year: int | None
    relative: int | None = None  # "this year": 0, "next year": 1, "last year": -1

    def with_year(self, year: int | None) -> str:
        """The date written out ("October 19, 2021"), the year from `year` if the text has none.

        A period relative to the article ("by the end of this year") gets its year named:
        "by the end of 2021" in an article of 2021.
        """
        if self.relative is not None:
            if year is None:
                return self.text
            return _RELATIVE_YEAR_WORDS.sub(str(year + self.relative), self.text, count=1)
        year = self.year or year
        if not self.month:
            return self.text  # a bare year or month word, as written
        month = MONTHS[self.month - 1].capitalize()
        if self.day is None:
            return f"{month} {year}" if year else month
        return f"{month} {self.day}, {year}" if year else f"{month} {self.day}"


def date_spans(text: str) -> list[DateSpan]:
    """Calendar dates in `text` (a month with a day or a year), in order."""
    found = []
    for m in _DATE_SPAN.finditer(text):
        month = m.group("m1") or m.group("m2") or m.group("m3")
        key = month.casefold().rstrip(".")[:4]
        number = _MONTH_NUMBER.get(key) or _MONTH_NUMBER.get(key[:3])
        if number is None or (
            month.casefold().rstrip(".") == "may"
            and not m.group("y1")
            and not m.group("y3")
            and m.group("d1") is None
        ):
            continue
        day = m.group("d1") or m.group("d2")
        year = m.group("y1") or m.group("y2") or m.group("y3")
        day_number = int(re.sub(r"\D", "", day)) if day else None
        if day_number is not None and not 1 <= day_number <= 31:
            continue
        found.append(DateSpan(m.group().strip(), number, day_number, int(year) if year else None))
    return found


_MONTH_NUMBER = {m[:3]: i for i, m in enumerate(MONTHS, start=1)} | {"sept": 9}


def month_number(word: str) -> int:
    """1-12 for a month's name or abbreviation ("December", "Dec", "Sept"), else 0 (a
    weekday)."""
    key = word.casefold().rstrip(".")
    return _MONTH_NUMBER.get(key) or _MONTH_NUMBER.get(key[:3], 0)


# A period named against the article's own date: "by the end of this year", "early next year",
# "later this year", "in the second half of next year", "this summer".
_RELATIVE_YEAR_WORDS = re.compile(
    r"\b(?:this|next|last) year\b|\bthis (?=" + "|".join(sorted(SEASONS)) + ")", re.I
)
# Only a bounded period answers "when" ("by the end of this year", "later this year"); a bare
# "this year" ("vendors this year have been ...") dates the sentence, it answers nothing.
_RELATIVE_PERIOD = re.compile(
    r"\b(?:(?:by|before|until|in|at|from)\s+)?"
    r"(?:(?:the\s+)?(?:end|start|beginning|middle|first half|second half|first quarter"
    r"|second quarter|third quarter|fourth quarter|last quarter|(?:early|late) part)\s+of\s+"
    r"|(?:early|earlier|later|late|mid-?)\s*)(?:this|next|last)\s+year\b"
    r"|\b(?:by|until|before)\s+(?:this|next)\s+(?:year|" + "|".join(sorted(SEASONS)) + r")\b",
    re.IGNORECASE,
)
_OFFSET = {"this": 0, "next": 1, "last": -1}


def relative_periods(text: str) -> list[DateSpan]:
    """Periods `text` names against its article's date ("by the end of this year"), in order."""
    found = []
    for m in _RELATIVE_PERIOD.finditer(text):
        phrase = m.group().strip()
        word = re.search(r"\b(this|next|last)\b", phrase, re.I)
        if word is None:
            continue
        offset = _OFFSET[word.group(1).casefold()]
        found.append(DateSpan(phrase, 0, None, None, relative=offset))
    return found


def has_date(text: str) -> bool:
    """Whether `text` names a date, weekday, month or year (not just 'this year')."""
    return bool(_DATE_WORDS.search(text)) or bool(re.search(r"\b\d{4}-\d\d-\d\d\b", text))


def entity_spans(text: str) -> list[str]:
    """Capitalised spans ('Mara Quist', 'Acme Cloud'), sentence openers and pronouns dropped."""
    spans: list[str] = []
    for m in _CAP_SPAN.finditer(text):
        words = m.group().split()
        at_start = not text[: m.start()].strip() or text[: m.start()].rstrip()[-1] in '.!?:"“('
        if at_start and len(words) <= 4 and text[m.end() : m.end() + 1] == ":":
            continue  # a section label opening a sentence ("Why It Matters:"), no name
        # "Here's", "It's": a contraction of a function word opens the sentence, names nothing.
        while words and re.sub(r"[’']s$", "", words[0].casefold().strip("’'")) in FUNCTION_WORDS:
            words.pop(0)
            at_start = False
        if not words or (at_start and len(words) == 1 and _opener(words[0])):
            continue  # a capitalised sentence opener ("Analysts", "Overall") names nothing
        if at_start and len(words) == 1 and _IMPERATIVE.match(text, m.end()):
            continue  # "Discover the ...", "See our ...": a verb opens the sentence
        spans.append(" ".join(words))
    return spans


def named_spans(question: str) -> list[str]:
    """A question's capitalised names, each with the model number that follows it.

    "When was Lumo 5a announced?" names "Lumo 5a", not "Lumo": the number tells one
    product, edition or version from its siblings. A year ("World Cup 2014") or a day after a
    month ("May 4") is not part of a name.
    """
    named = []
    for span in entity_spans(question):
        m = re.search(re.escape(span) + r"\s+((?!(?:19|20)\d\d\b)\d{1,3}[a-z]{0,2})\b", question)
        if m and not _MONTH_WORD.fullmatch(span.split()[-1]):
            span = f"{span} {m.group(1)}"
        named.append(span)
    return named


def is_month(span: str) -> bool:
    """Whether a span is a month or weekday alone ("July", "Mar."): a date's part, no name."""
    return bool(_MONTH_WORD.fullmatch(span))


_MONTH_WORD = re.compile(
    r"(?i:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?"
    r"|(?i:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
)
_IMPERATIVE = re.compile(r"\s+(?:the|a|an|our|your|this|these|how|what|why|more)\b")


def _opener(word: str) -> bool:
    word = word.casefold()
    return word in OPENERS or word.endswith(("ly", "ing", "ed")) or word in NUMBER_WORDS


def entity_words(text: str) -> set[str]:
    """Casefolded words of the entity spans, possessives stripped, function words removed."""
    words: set[str] = set()
    for span in entity_spans(text):
        for word in span.split():
            word = re.sub(r"[’']s$", "", word).strip(".’'-").casefold()
            if word and word not in FUNCTION_WORDS and not word.isdigit():
                words.add(word)
    return words


def entities_supported(claim: str, evidence: str) -> bool:
    """Whether each capitalised name of `claim` occurs in `evidence` (acronyms by initials too)."""
    have = set(terms(evidence, keep_stopwords=True))
    initials = " ".join(
        "".join(w[0] for w in span.split()).casefold() for span in _CAP_SPAN.findall(evidence)
    )
    acronyms = {w.casefold() for s in entity_spans(claim) for w in s.split() if _ACRONYM.match(w)}
    for word in entity_words(claim):
        parts = _WORD.findall(word)
        if all(p in have for p in parts) or (word in acronyms and word in initials):
            continue
        if word in _MONTH_ABBR and _MONTH_ABBR[word] in have:
            continue
        return False
    return True


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Casefolded word tokens (possessives stripped), stopwords dropped unless asked."""
    return list(_terms(text, keep_stopwords))


@lru_cache(maxsize=16384)
def _terms(text: str, keep_stopwords: bool) -> tuple[str, ...]:
    """terms(), once per text: an answer asks for the same sentences' terms many times."""
    words = [w[:-2] if w.endswith(("'s", "’s")) else w for w in _WORD.findall(text.casefold())]
    return tuple(w for w in words if keep_stopwords or (w not in STOPWORDS and len(w) > 1))


def content_stems(text: str) -> set[str]:
    """Stemmed content terms of `text`."""
    return set(_content_stems(text))


@lru_cache(maxsize=16384)
def _content_stems(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in _terms(text, False))
