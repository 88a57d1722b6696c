"""What any answer must satisfy beyond its type: the time asked, the source named, the names.

A question is analysed once (rag.questions.analyse) and these checks run against a candidate
sentence and the passage around it. Each check answers "match", "unknown" or "contradict":
evidence that contradicts the question is a near miss (another year, another organisation),
never an answer. All rules are general English and news conventions (datelines, quarters,
organisation names); tests use invented articles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from newsrag.index import Chunk
from newsrag.rag.facts import date_spans, month_number, relative_periods
from newsrag.rag.lexicon import (
    DETERMINERS,
    EVENT_PARTS,
    IRREGULAR_PAST,
    KIND_NOUNS,
    MEMBER_NOUNS,
    MONTHS,
    NOT_SERIES,
    OBJECT_FORMS,
    ORDINAL_WORDS,
    ORGANISATION_HEADS,
    PREPOSITIONS,
    STOPWORDS,
    WEEKDAYS,
    stem,
)

Status = Literal["match", "unknown", "contradict"]

# A year as a word of its own: not part of a longer number, an id or a name ("Cyberpunk 2077",
# "Wonder Woman 1984": a year glued to a capitalised word names a thing, it does not date it).
_YEAR = re.compile(r"(?<![\w$£€.,/-])((?:1[5-9]|20)\d\d)(?![\w.,]\d|\d)")
_NAME_BEFORE = re.compile(r"[A-Z][\w’'!:&-]*\s+$")
# Relative time words of a question, resolved against the newest evidence.
_LATEST = re.compile(
    r"\b(?:new|newest|latest|current|currently|now|present|today|recent|recently|incumbent)\b",
    re.IGNORECASE,
)
# "Over the past year" is the twelve months before, not the calendar year before: not one.
_RELATIVE_YEAR = re.compile(r"\b(this|last|next|previous)\s+year\b", re.IGNORECASE)
_OFFSETS = {"this": 0, "last": -1, "previous": -1, "next": 1}
_ORDINAL_QUARTER = {"first": 1, "second": 2, "third": 3, "fourth": 4}
_QUARTER = re.compile(
    r"\b(?:q([1-4])|([1-4])q|(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter)\b",
    re.IGNORECASE,
)
# "According to Reuters", "what did the Financial Times report": the source the question names.
_SOURCE = re.compile(
    r"\baccording to (?:the )?((?:[A-Z][\w&.’'-]*\s?)+)|\b(?:did|does|has) (?:the )?"
    r"((?:[A-Z][\w&.’'-]*\s?)+)\s(?:report|say|write|publish)",
)
# A dateline that opens a news snippet or article: "Oct 10, 2019 ...", "March 3, 2021 -".
_DATELINE = re.compile(
    r"^\s*(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+"
    r"((?:19|20)\d\d)|\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
    r"\.?,?\s+((?:19|20)\d\d))\s*(?:\.\.\.|…|[-–—:])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class TimeAsked:
    """The time a question is about: explicit years, a quarter, or "the latest"."""

    years: frozenset[int] = frozenset()
    quarter: int | None = None  # 1-4
    latest: bool = False  # "the new CEO", "currently": the newest evidence is preferred
    relative: int | None = None  # "last year": -1, "this year": 0 (against each article's year)
    reference: int | None = None  # the newest article's year, for an undated passage

    @property
    def constrained(self) -> bool:
        """Whether evidence can contradict this time."""
        return bool(self.years) or self.quarter is not None or self.relative is not None


def years_in(text: str, *, names: bool = True) -> set[int]:
    """Years named in `text` (not inside numbers or ids).

    `names=False` leaves out a year glued to a capitalised word ("Cyberpunk 2077", "Wonder
    Woman 1984"): in a question that names a thing; in a passage ("Athens 1896") it dates it.
    """
    found = set()
    for m in _YEAR.finditer(text):
        if not names and _NAME_BEFORE.search(text[max(0, m.start() - 40) : m.start()]):
            continue
        found.add(int(m.group(1)))
    return found


def quarter_in(text: str) -> set[int]:
    """Quarters named in `text` ('Q2', 'second quarter', '2Q') as numbers 1-4."""
    found = set()
    for m in _QUARTER.finditer(text):
        word = (m.group(1) or m.group(2) or m.group(3) or "").casefold()
        number = _ORDINAL_QUARTER.get(word) or int(word[0])
        found.add(number)
    return found


_WH = re.compile(r"\b(?:how|what|which|who|whom|whose|when|where|why)\b", re.IGNORECASE)


def _asked_clause(question: str) -> str:
    """The clause of `question` that holds its wh-word, when a semicolon, colon or full stop
    sets a premise apart ("Acme opened a lab last year; where has it now opened one?")."""
    parts = re.split(r"[;:]|\.\s", question)
    if len(parts) == 1:
        return question
    return next((p for p in parts if _WH.search(p)), question)


def asked_time(question: str) -> TimeAsked:
    """The time constraint of a question."""
    # "X opened offices last year; which ... now?": the time words of the asked clause.
    relative = _RELATIVE_YEAR.search(_asked_clause(question))
    offset = None
    if relative:
        offset = _OFFSETS[relative.group(1).casefold()]
    quarters = quarter_in(question)
    # In a parenthesis a year qualifies the title before it ("God of War (2018)").
    qualified = {int(y) for y in _YEAR_IN_PARENS.findall(question)}
    return TimeAsked(
        years=frozenset(years_in(_YEAR_IN_PARENS.sub(" ", question), names=False) | qualified),
        quarter=min(quarters) if len(quarters) == 1 else None,
        latest=bool(_LATEST.search(question)) and offset is None,
        relative=offset,
    )


_YEAR_IN_PARENS = re.compile(r"\s*\(((?:19|20)\d\d)\)")


def passage_year(chunk: Chunk) -> int | None:
    """The year a passage was published: its published_at, else a dateline opening its text."""
    if chunk.published_at and chunk.published_at[:4].isdigit():
        return int(chunk.published_at[:4])
    match = _DATELINE.match(chunk.text)
    if match:
        return int(match.group(1) or match.group(2))
    return None


def dateline_end(text: str) -> int:
    """Where a leading dateline ('Oct 10, 2019 ...') ends in `text` (0 when there is none)."""
    match = _DATELINE.match(text)
    return match.end() if match else 0


def published_date(chunk: Chunk) -> str | None:
    """The passage's full publication date (YYYY-MM-DD): its published_at, else its dateline's
    ("Nov 7, 2022 ..."); None when neither gives a day."""
    if _iso_date(chunk.published_at) is not None:
        return (chunk.published_at or "")[:10]
    line = dateline_of(chunk)
    for span in date_spans(line) if line else []:
        if span.year and span.month and span.day:
            return f"{span.year:04d}-{span.month:02d}-{span.day:02d}"
    return None


def _iso_date(text: str | None) -> date | None:
    """The date a YYYY-MM-DD prefix of `text` gives; None when it gives none (or no real day)."""
    if not text or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:  # "2021-13-40"
        return None


def dateline_of(chunk: Chunk) -> str:
    """The date line opening a passage ('Oct 10, 2019 ...'), or ''."""
    return chunk.text[: dateline_end(chunk.text)]


def time_status(time: TimeAsked, sentence: str, chunk: Chunk) -> Status:
    """Whether a sentence (in its passage) is about the asked time.

    The sentence's own years decide first; then the passage's; a passage that names no year
    is dated by its publication (an event is reported in its year or the next). An undated
    one cannot tell, unless every asked year is after `time.reference` (the newest article's).
    """
    if not time.constrained:
        return "unknown"
    if time.quarter is not None:
        quarters = quarter_in(sentence) or quarter_in(chunk.text)
        if quarters and time.quarter not in quarters:
            return "contradict"
    if time.relative is not None and not time.years:
        return _relative_status(time.relative, sentence, chunk, time.reference)
    if not time.years:
        return "match" if time.quarter is not None and quarter_in(sentence) else "unknown"
    body = chunk.text[dateline_end(chunk.text) :]
    published = passage_year(chunk)
    for text in (sentence, f"{chunk.title} {body}"):
        years = years_in(text)
        if not years and text is sentence and published is not None:
            # "was fined in April", in an article of June 2021: April 2021.
            years = _yearless_dates(sentence, chunk, published)
        if years & time.years:
            return "match"
        if years:
            return "contradict"
    if published is None:
        # An undated article is no report of a year after the newest article in the index.
        later = time.reference is not None and min(time.years) > time.reference
        return "contradict" if later else "unknown"
    reported = any(y <= published <= y + 1 for y in time.years)
    return "match" if reported else "contradict"


def _relative_status(
    relative: int, sentence: str, chunk: Chunk, reference: int | None = None
) -> Status:
    """ "Last year" (-1), "this year" (0), "next year" (1) counted from the passage's article.

    The sentence's years decide, then its own relative words ("last year it opened ..."),
    then its dates without a year (dated by `nearest_year`); a sentence saying none of these
    is about its article's own time. An undated article counts from `reference` (the newest
    article's year), and cannot tell without one.
    """
    published = passage_year(chunk) or reference
    if published is None:
        return "unknown"
    years = years_in(sentence)
    if not years:
        said = {_OFFSETS[m.group(1).casefold()] for m in _RELATIVE_YEAR.finditer(sentence)}
        said |= {p.relative for p in relative_periods(sentence) if p.relative is not None}
        years = {published + r for r in said}
    if not years:
        years = _yearless_dates(sentence, chunk, published)
    return "match" if published + relative in (years or {published}) else "contradict"


def _yearless_dates(sentence: str, chunk: Chunk, published: int) -> set[int]:
    """The years of the dates `sentence` gives without one ("in April"), in an article of
    `published` (by `nearest_year`: tense against the article's full date)."""
    dates = {(d.month, d.day) for d in date_spans(sentence) if d.month and d.year is None}
    words = set(re.findall(r"[A-Z][a-z]+", sentence))
    dates |= {(month_number(w), None) for w in words if w.casefold() in MONTHS}
    return {
        nearest_year(sentence, month, day, published_date(chunk), published) or published
        for month, day in dates
    }


# A sentence about what is done: its dates without a year lie behind.
_PAST_FORMS = "|".join(sorted(IRREGULAR_PAST | {"was", "were", "had", "did"}))
_PAST = re.compile(rf"(\w+\s+)?\b(?:[a-z]{{2,}}ed|{_PAST_FORMS})\b")


def _past_tense(sentence: str) -> bool:
    """Whether `sentence` has a verb in the past tense; a participle describing a noun ("the
    highly anticipated season", "a limited run") is none."""
    for match in _PAST.finditer(sentence):
        before = (match.group(1) or "").strip().casefold()
        if before in DETERMINERS:
            continue
        # "officially revealed the phone" is a verb; "the highly anticipated season" is not.
        after = re.match(r"\s+(\w+)", sentence[match.end() :])
        if before.endswith("ly") and not (after and after.group(1).casefold() in _OBJECT_START):
            continue
        return True
    return False


# Words that open what follows a verb (its object or a phrase), not a noun a participle
# describes.
_OBJECT_START = DETERMINERS | PREPOSITIONS | frozenset(OBJECT_FORMS.values())


# A sentence about what is still to come: its dates without a year lie ahead.
_FUTURE = re.compile(
    r"\b(?:will|would|shall|is to|are to|plans? to|planned to|expected to|set to|scheduled"
    r"|upcoming|next)\b",
    re.IGNORECASE,
)


def nearest_year(
    sentence: str, month: int, day: int | None, published_at: str | None, year: int | None
) -> int | None:
    """The year of a date `sentence` gives without one, written in an article of `year`.

    That year, unless the article's full date (`published_at`, see `published_date`) says
    otherwise: a past event in a later month than the article's ("opened its Norvik store in
    December", written in June 2021) was the year before; a future one in an earlier month
    ("will open in March", written in June) the year after; a sentence in neither tense
    ("returns with its premiere on February 26", written in November) the date nearest the
    article's.
    """
    written_on = _iso_date(published_at)
    if year is None or written_on is None or written_on.year != year:
        return year
    stated = (month, day or 0)
    written = (written_on.month, written_on.day if day else 0)
    if _FUTURE.search(sentence):
        return year + 1 if stated < written else year
    if _past_tense(sentence):
        return year - 1 if stated > written else year
    # No tense either way ("returns with the season premiere on February 26"): the nearest.
    article = date(year, written[0], min(written[1] or 15, 28))
    return min(
        (year - 1, year, year + 1),
        key=lambda y: (abs((date(y, month, min(day or 15, 28)) - article).days), y != year),
    )


def weekday_date(weekday: str, sentence: str, published: str | None) -> date | None:
    """The date a weekday alone ("on Sunday") names in an article of `published`
    (YYYY-MM-DD): the nearest such day before the article's (or that day), after it for a
    sentence about what is to come. None without a full publication date."""
    written = _iso_date(published)
    if written is None or weekday.casefold() not in WEEKDAYS:
        return None
    ahead = (WEEKDAYS.index(weekday.casefold()) - written.weekday()) % 7
    if _FUTURE.search(sentence):
        return written + timedelta(days=ahead)
    return written - timedelta(days=(7 - ahead) % 7)


def asked_source(question: str) -> str | None:
    """The source a question names ('according to Reuters' -> 'reuters'), casefolded."""
    match = _SOURCE.search(question)
    if not match:
        return None
    name = (match.group(1) or match.group(2) or "").strip().rstrip("?.,")
    return name.casefold() or None


def source_status(source: str | None, chunk: Chunk) -> Status:
    """Whether a passage comes from (or quotes) the source the question names."""
    if source is None:
        return "unknown"
    if chunk.source and source in chunk.source.casefold():
        return "match"
    if source in f"{chunk.title} {chunk.text}".casefold():
        return "match"
    return "contradict"


# "The next X movie", "the upcoming X season": another instalment of a series than X itself.
_INSTALMENT = re.compile(
    r"\b(?:next|upcoming|forthcoming|following|previous|sequel|prequel)\s+", re.IGNORECASE
)


def other_organisation(name: str, sentence: str, question: str = "") -> bool:
    """Whether `name` occurs in `sentence` only inside a longer name of another organisation.

    "president of the Harbour League" is not answered by "president of the Harbour League
    Players Union", nor
    a question about a film by a sentence about its sequel "Film: Subtitle" (unless the
    `question` itself writes the name with a subtitle: "Film: Subtitle" is then its own).
    """
    titled = bool(re.search(re.escape(name) + r"(?:\s+\d+)?\s*:\s*[A-Z]", question))
    # "CEO of Lego": the organisation is the part after the last "of".
    words = re.split(r"\s+(?:of|de)\s+", name)[-1].split()
    if not words:
        return False
    pattern = re.compile(
        # A number the name carries ("Cyberpunk 2077") belongs to it, before any subtitle.
        r"(?i:\b" + r"\s+".join(re.escape(w) for w in words) + r"\b)(?:\s+\d+\b(?!\s*:\s*$))?"
        r"(:\s+[A-Z]|(?:\s+[A-Z][\w&’'-]*)+|\s+(?:"
        + "|".join((*MEMBER_NOUNS, *EVENT_PARTS))
        + r")\b)?"
    )
    if _INSTALMENT.search(sentence) and re.search(
        _INSTALMENT.pattern + r"(?:[\w’'-]+\s+){0,2}?" + r"\s+".join(map(re.escape, words)),
        sentence,
        re.IGNORECASE,
    ):
        return True  # "the next Avengers movie" is another work than "The Avengers"
    found = False
    for m in pattern.finditer(sentence):
        found = True
        tail = (m.group(1) or "").split()
        if tail and (tail[0] in MEMBER_NOUNS or tail[0] in EVENT_PARTS):
            continue  # "president of a Harbour League team"
        subtitle = (m.group(1) or "").startswith(
            ":"
        ) and not titled  # "Avengers: Infinity War" is another work
        if not subtitle and not any(
            w.casefold().strip("’'") in ORGANISATION_HEADS | EVENT_PARTS for w in tail
        ):
            return False  # at least one mention is the name itself
    return found


# Words that put a role in the past: "the former CEO", "ex-president", "the late founder",
# "was the CEO" (asked "who is").
_PAST_ROLE = re.compile(
    r"\b(?:former|ex|late|previous|outgoing|erstwhile|one-time|then|retired|departing"
    # "X was the CEO", "X had been its president", "X served as CEO": held it before.
    r"|(?:was|had been) (?:the|its|their|a|an)|served as(?: the| its| their)?"
    # "stepping down as CEO", "resigned as its chair": leaving it.
    r"|(?:step|steps|stepped|stepping) (?:down|aside) as(?: the| its| their)?"
    r"|(?:resign|resigns|resigned|resigning|retired|retiring) as(?: the| its| their)?)[\s-]+"
    r"((?:[\w’'-]+\s+){0,3}[\w’'-]+)",
    re.IGNORECASE,
)
_PRESENT = re.compile(r"^\s*(?:who|what|which)\b[^?]*?\b(?:is|are)\b|\bcurrent(?:ly)?\b", re.I)


def present_tense(question: str) -> bool:
    """Whether the question asks who or what holds something now ("Who is the CEO ...")."""
    return bool(_PRESENT.search(question))


def past_role(question: str, sentence: str, roles: Iterable[str]) -> bool:
    """Whether a present-tense question's role appears in the sentence only as a past one.

    "Who is the CEO of X?" is not answered by "Y, the former CEO of X"; "the former X
    employee" puts no CEO in the past. `roles`: the question's role words, not its names.
    """
    if not _PRESENT.search(question):
        return False
    wanted = {r.casefold() for r in roles}
    for m in _PAST_ROLE.finditer(sentence):
        words = {w.casefold() for w in re.findall(r"\w+", m.group(1))}
        if words & wanted:
            return True
    return False


def past_holder(value: str, sentence: str, wanted: Iterable[str]) -> bool:
    """Whether `value` (a name) is described by a past role of the asked thing.

    "former Acme executive Jo Park", "Jo Park, the former Acme CEO": Jo Park no longer holds
    a post at Acme. `wanted`: the question's role words and names, casefolded.
    """
    words = {w.casefold() for w in wanted}
    for m in _PAST_ROLE.finditer(sentence):
        if not {w.casefold() for w in re.findall(r"\w+", m.group(1))} & words:
            continue
        at = sentence.find(value, m.start())
        before = sentence[max(0, m.start() - len(value) - 8) : m.start()]
        if 0 <= at <= m.end() + 2 or re.search(
            re.escape(value) + r",?\s+(?:the|a|an)?\s*$", before
        ):
            return True
    return False


def is_question(sentence: str) -> bool:
    """Whether a sentence asks rather than states ('What would ... look like?')."""
    return sentence.rstrip(" \"'”’)").endswith("?")


# Ordinals that pick one of a series: "the first season", "the 93rd Academy Awards", "season
# 4". Another number of the same thing ("the tenth season") is a near miss, not an answer.
_ORDINAL = re.compile(
    r"\b("
    + "|".join(ORDINAL_WORDS)
    + r"|\d{1,3}(?:st|nd|rd|th))\b((?:[\s-]+[A-Za-z][\w’'-]*){1,3})",
    re.IGNORECASE,
)
# "season 4", "Episode 12", "Lumo 6": a word numbered after it (not a date: "Nov 15").
_NUMBERED = re.compile(r"\b([A-Za-z]{3,})\s+(\d{1,3})\b(?![\d,.]\d)")


def series_picks(text: str, *, kinds: bool = True) -> frozenset[tuple[str, int]]:
    """(noun stem, number) pairs a text picks by ordinal: 'the first season' -> (season, 1).

    `kinds=False` leaves out numbered kinds ("type 1", "phase 3").
    """
    if not kinds:
        return frozenset(p for p in series_picks(text) if p[0] not in _KIND_STEMS)
    found: set[tuple[str, int]] = set()
    for m in _ORDINAL.finditer(text):
        word = m.group(1).casefold()
        number = ORDINAL_WORDS.get(word) or int(re.sub(r"\D", "", word))
        for noun in re.findall(r"[A-Za-z][\w’'-]*", m.group(2)):
            if noun.casefold() not in STOPWORDS:
                found.add((stem(noun.casefold()), number))
    for m in _NUMBERED.finditer(text):
        noun = m.group(1).casefold()
        if noun not in STOPWORDS and noun not in NOT_SERIES:
            found.add((stem(noun), int(m.group(2))))
    return frozenset(found)


_KIND_STEMS = frozenset(stem(n) for n in KIND_NOUNS)


def ordinal_status(asked: frozenset[tuple[str, int]], sentence: str, chunk: Chunk) -> Status:
    """Whether a sentence (else its passage) picks the same one of a series as the question."""
    if not asked:
        return "unknown"
    nouns = {noun for noun, _ in asked}
    for text in (sentence, f"{chunk.title} {chunk.text}"):
        stated = {pair for pair in series_picks(text) if pair[0] in nouns}
        if stated & asked:
            return "match"
        if stated:
            return "contradict"
    return "unknown"
