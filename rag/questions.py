"""What a question asks for (an amount, a count, a person, a date, a place, an entity)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from newsrag.rag.constraints import (
    TimeAsked,
    asked_source,
    asked_time,
    dateline_end,
    series_picks,
    years_in,
)
from newsrag.rag.facts import (
    DateSpan,
    content_stems,
    date_spans,
    entity_spans,
    entity_words,
    is_month,
    month_number,
    named_spans,
    quantities,
    relative_periods,
    stem,
)
from newsrag.rag.lexicon import (
    AFTER_MEASURE,
    AUXILIARIES,
    CLAUSE_VERBS,
    DETERMINERS,
    EVENT_NOUNS,
    FUNCTION_WORDS,
    HOW_ADVERBS,
    IRREGULAR_PAST,
    MONTHS,
    NAMED_LIKE_PEOPLE,
    NOT_PERSON,
    NUMBER_WORDS,
    ORGANISATION_RELATIONS,
    ORGANISATION_VERBS,
    PHRASE_ENDS,
    PREPOSITIONS,
    RESULT_WORDS,
    ROLE_NOUNS,
    ROLE_QUALIFIERS,
    SEASONS,
    SINGULAR_IN_S,
    STOPWORDS,
    TITLE_WORDS,
    WEEKDAYS,
    WH_WORDS,
    event_family,
)

AnswerType = Literal[
    "amount", "count", "person", "date", "place", "work", "role", "entity", "other"
]
# Which answer types must be present in a sentence for it to answer the question.
STRICT_TYPES = frozenset({"amount", "count", "person", "date", "place", "work", "role"})
# "Who is Mara Quist?": a name alone after the copula asks what that person is (a "role").
_IDENTITY = re.compile(
    r"^\s*(?i:who)\s+(?i:is|was)\s+([A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*){0,3})\s*\??\s*$"
)

_COUNT = (
    r"\bhow many\b|\bwhat (?:is the )?number of\b"
    r"|\bhow large (?:a|is the) (?:staff|team|workforce)"
)
# Nouns that name a money measure ("what was its revenue", "how much did it earn in profit").
_MEASURES = (
    r"(?:revenue|sales|profit|income|loss|cost|price|valuation|market value|worth|budget|fine"
    r"|penalty|salary|turnover|spending|market share)"
)
# Nouns that keep a measure a measure after it ("revenue growth", "price target").
_MEASURE_TAILS = (
    r"(?:growth|rate|margin|margins|figure|figures|total|forecast|target|estimate|estimates)"
)
_AMOUNT = (
    r"\bhow much\b|\bwhat (?:amount|sum|price|percentage|share|value|valuation)\b"
    r"|\bby how\b|\bhow (?:big|large|expensive|high|low)\b"
    r"|^\s*what (?:is|was|were|are) (?:the |its |their |\w+['’]s )?"
    rf"(?:[\w&'’-]+ ){{0,4}}?{_MEASURES}\b"
)
# "What is Acme's biggest revenue driver?": a lower-case word after the measure that is
# no function word or participle is the noun the measure qualifies: a thing is asked.
_QUALIFIED_MEASURE = re.compile(
    r"^\s*(?i:what)\s+(?i:is|was|were|are)\s+(?:the |its |their |[\w&.-]+['’]s )?"
    rf"(?:[\w&'’-]+ ){{0,4}}?{_MEASURES}(?:\s+{_MEASURE_TAILS})?\s+([a-z][a-z-]*)\b"
)
# Any other cue of an amount ("how much", "what percentage"): those stay amounts.
_AMOUNT_CUE = re.compile(_AMOUNT.rsplit("|^", 1)[0])


def _qualifies_another_noun(question: str) -> bool:
    match = _QUALIFIED_MEASURE.match(question)
    if match is None or _AMOUNT_CUE.search(question.casefold()):
        return False
    word = match.group(1)
    if word in STOPWORDS | PREPOSITIONS | AFTER_MEASURE or re.fullmatch(_MEASURE_TAILS, word):
        return False
    return not word.endswith(("ed", "ing"))


_DATE = (
    r"^\s*(?:(?:since|until|till|by|from)\s+)?when\b"
    r"|^\s*what (?:is|was|are|were|will be) the (?:[a-z]+ ){0,2}date\b"
    r"|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b"
    r"|\bon what (?:day|date)\b|\bin what year\b"
)
_PERSON = (
    r"^\s*(?:who|whom|whose)\b|\b(?:which|what) (?:[a-z]+ )?(?:person|executive|official|analyst"
    r"|founder|actor|actress|director|player|singer|writer|author|artist|athlete|golfer|coach"
    r"|politician|leader|minister|president|ceo|chief|winner|laureate)\b"
    r"|\b(?:name|named) (?:of )?the (?:executive|person|official|founder|chief)"
)
_PLACE = (
    r"^\s*where\b|\b(?:which|what) (?:[a-z]+ )?(?:country|countries|city|cities|region"
    r"|regions|place|places|nation|nations|location|locations|state|continent)\b"
    r"|\bin which (?:country|city)"
)
# Titles of works: "what movie won ...", "which film ...", "the name of the album".
_WORK = (
    r"^\s*(?:what|which)\s+(?:[a-z]+\s+)?(?:movie|movies|film|films|book|novel|song|album|show"
    r"|series|play|musical|game|video game|documentary|painting|opera)\b"
)
# "What was Acme's total revenue in ...", "How big was the penalty Norvik ...": the noun
# phrase after the copula, up to a preposition, a capitalised name or the end.
_FOCUS = re.compile(
    r"^\s*(?i:what|how (?:big|large|high|much|low|expensive))\s+(?:is|was|are|were)\s+"
    r"(?:the |its |their |(?:[A-Z][\w&.-]* )*[\w&.-]+['’]s )?"
    r"((?:(?:[a-z][\w&-]*|[A-Z][A-Z&]+) ){0,3}?(?:[a-z][\w&-]*|[A-Z][A-Z&]+))"
    r"(?=\s+(?:of|for|in|on|at|by|to|from|according|that|which|last|this|next|during|over"
    r"|since|per|each|every|[a-z]+ed\b|[A-Z][a-z])"
    r"|\s*[?.]|\s*$)"
)
# "How much did it earn in profit?", "... spend on marketing costs?": the measure named after
# the verb, when the question does not put it after a copula.
_MEASURE_AFTER = re.compile(
    rf"\bhow much\b.*\b(?:in|on|as)\s+(?:[a-z-]+\s+){{0,2}}?({_MEASURES})\b"
)
# "How many data centers does ...": the counted phrase, up to a verb or preposition.
_HOW_MANY = re.compile(
    r"\bhow many\s+((?:[a-z-]+\s+){0,3}?[a-z-]+)(?=\s+(?:is|are|was|were|will|does|do|did|has"
    r"|have|had|can|could|would|should|in|on|at|of|for|to|from|across)\b|\s*[^\w\s-]|\s*$)"
)
_PATTERNS: tuple[tuple[AnswerType, str], ...] = (
    ("count", _COUNT),
    ("amount", _AMOUNT),
    ("date", _DATE),
    ("person", _PERSON),
    ("place", _PLACE),
    ("work", _WORK),
    ("entity", r"^\s*(?:what|which)\b|\bname the\b"),
)
_NOT_NAME = NOT_PERSON | TITLE_WORDS
# A number written in digits or words.
_NUMBER = r"(?:\d[\d,.]*|" + "|".join(NUMBER_WORDS) + r")"
# "the Jack Ma-led company": the name before a participle suffix.
_LED = re.compile(r"-(?:led|backed|owned|founded|run|controlled)$")
# A capitalised name after a preposition ("the Philippines", "Southeast Asia"), captured.
_NAME_AFTER = r"\s+(?:the\s+)?([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*)"
_PLACE_CUE = re.compile(
    r"\b(?:in|at|from|across|to|near|into|throughout|outside|inside|based in|headquartered in)"
    + _NAME_AFTER
)
# Places that scope a figure: "employees in Israel", not "invest to Asia" or "work at Acme".
_SCOPE_CUE = re.compile(r"\b(?:in|across|throughout|inside|within)" + _NAME_AFTER)


@dataclass(frozen=True, slots=True)
class Question:
    """A question with what it asks for and the terms and names it is about."""

    text: str
    answer_type: AnswerType
    stems: frozenset[str]  # content terms, stemmed
    entities: frozenset[str]  # casefolded words of its capitalised names
    values: frozenset[float]  # numbers the question itself states
    counted: str | None = None  # "how many researchers" -> "researcher"
    measured: tuple[
        str, ...
    ] = ()  # "how many data centers" -> data, centers; "net profit" -> profit
    scopes: tuple[str, ...] = ()  # places a figure is asked for: "staff in Israel" -> Israel
    time: TimeAsked = field(
        default_factory=TimeAsked
    )  # years, quarter, "latest" the question is about
    source: str | None = None  # "according to Reuters" -> reuters
    names: tuple[str, ...] = ()  # the question's capitalised names, as written
    year_only: bool = False  # "what year": a year alone answers
    modifiers: frozenset[str] = frozenset()  # demonyms used as adjectives: "American rival"
    relation: str | None = None  # the verb asked: "who directed" -> directed, "when ... premiere"
    # Words of names that only say where a thing appears ("... on Nintendo Switch", "on
    # Netflix"): the medium, not the subject; a passage naming the subject may leave them out.
    media: frozenset[str] = frozenset()
    contest: bool = False  # "who won", "who was the runner-up": a team or country answers too
    ordinals: frozenset[tuple[str, int]] = frozenset()  # "the first season" -> (season, 1)
    role_of: tuple[str, str] | None = None  # "who is the CEO of Acme" -> ("CEO", "Acme")
    identity: str | None = None  # "who is Mara Quist" -> "Mara Quist" (a "role" is asked)


def analyse(question: str) -> Question:
    """Classify a question by the wh-phrase and collect its content terms and names."""
    lowered = question.casefold()
    answer_type: AnswerType = "other"
    for kind, pattern in _PATTERNS:
        if re.search(pattern, lowered):
            answer_type = kind
            break
    identity = identity_of(question)
    if identity is not None:
        answer_type = "role"
    elif answer_type == "person" and (
        _ORG_RELATION.match(question) or _organisation_verb(question)
    ):
        answer_type = "entity"  # "Who are Acme's rivals?": organisations answer
    elif _REASON.match(question):
        answer_type = "other"  # "What was the reason for the fine?" asks why
    elif answer_type == "amount" and _qualifies_another_noun(question):
        answer_type = "entity"
    measured = _measured(question, answer_type)
    time = asked_time(question)
    # Years are the time constraint (rag.constraints), not figures or terms a passage must state.
    years = {str(y) for y in time.years}
    return Question(
        text=question,
        answer_type=answer_type,
        stems=frozenset(content_stems(question)) - years,
        entities=frozenset(entity_words(question)),
        values=frozenset(
            round(q.value, 6)
            for q in quantities(question)
            if (q.text[:1].isdigit() or q.kind != "number") and int(q.value) not in time.years
        ),
        counted=_singular(measured[-1]) if answer_type == "count" and measured else None,
        measured=measured,
        scopes=_scopes(question, answer_type),
        time=time,
        source=asked_source(question),
        names=tuple(re.sub(r"[’']s$", "", n) for n in named_spans(question)),
        modifiers=frozenset(m.group(1).casefold() for m in _MODIFIER.finditer(question)),
        media=_media_words(question),
        ordinals=series_picks(question),
        role_of=_role_of(question),
        identity=identity,
        # "Who won ...": a team may have; "which player won ...": a person did.
        contest=bool(re.match(r"\s*who\b", lowered) and _CONTEST.search(lowered)),
        relation=asked_relation(question),
        year_only=bool(re.search(r"\b(?:what|which|in what) year\b", lowered)),
    )


# "Who directed ...", "Which city hosted ...", "What movie won ...": the verb after the wh-phrase.
_WH_VERB = re.compile(r"^\s*(?:who|(?:what|which)\s+[a-z]+)\s+([a-z]+)\b", re.IGNORECASE)
# The agent of a participle and the word after it: "... owned by Acme Group reported".
_AFTER_AGENT = re.compile(
    r"\s+by\s+(?:the\s+)?[A-Z][\w&’'.-]*(?:\s+(?:of\s+)?[A-Z][\w&’'.-]*){0,4}\s+([a-z]+)\b"
)
# The subject of a do-question: a name (with what it owns: "Acme's new labs"), a pronoun,
# or "the" and its noun phrase.
_SUBJECT = (
    r"(?:[A-Z][\w&’'.-]*(?:\s+[A-Z][\w&’'.-]*){0,3}(?:['’]s(?:\s+[\w-]+){1,3}?)?"
    r"|it|they|the(?:\s+[\w-]+){1,3}?)"
)
# "Which firm did Acme invest in?", "What did Lumo launch?": the verb after the subject that
# do-support puts last, before an optional preposition.
_DO_VERB = re.compile(
    r"^\s*(?i:what|which)\b[^?]*?\b(?i:did|does|do|will|has|have|had)\s+"
    rf"{_SUBJECT}\s+([a-z]+)"
    r"(?:\s+(?:in|on|for|to|with|from|at|by|into|about|over|against))?\s*\?*\s*$"
)
# "Who did Acme partner with (last year)?": the verb right after the subject is asked.
_WHO_DID = re.compile(
    r"^\s*(?i:who|whom)\s+(?i:did|does|do|will|would|has|have|had|can|could)\s+"
    rf"{_SUBJECT}\s+([a-z]+)\b"
)
# "When was Lumo 6 announced?", "When does The Show premiere?": the verb right after the name.
_WHEN_VERB = re.compile(
    r"^\s*(?:when|where)\s+(?:is|was|are|were|does|did|do|will|has|have|had)\b.*"
    r"\b(?-i:[A-Z0-9])[\w!’'-]*\s+([a-z]+)\s*\?*\s*$",
    re.IGNORECASE,
)


# "Who is the CEO of Acme?", "Who was the director of 'Film'?": a role held in a named thing.
_ROLE_OF = re.compile(
    r"^\s*(?i:who\s+(?:is|was|are|were)\s+(?:the\s+)?(?:new\s+|current\s+|present\s+)?)"
    r"([A-Za-z][A-Za-z-]+)\s+(?:of|at)\s+(?:the\s+)?[\"“']?([A-Z][^?\"”]*?)[\"”']?"
    r"(?:\s+in\s+(?:19|20)\d\d)?\s*\??\s*$"
)


def _role_of(question: str) -> tuple[str, str] | None:
    match = _ROLE_OF.match(question)
    return (match.group(1), match.group(2).strip()) if match else None


def holds_role_of(sentence: str, role: str, name: str, question: str | None = None) -> bool:
    """Whether a sentence states the role the question asks of the named thing.

    The role must be stated (the word, or its verb: 'directed' for 'director'). Used as a
    title before a person ('Director Jo Park believed that Film ...') it must be tied to the
    thing: within eight words, with no new clause between when the thing comes after.
    """
    tokens = [t.strip("’'") for t in re.findall(r"[\w’'-]+", sentence)]
    words = [w.casefold() for w in tokens]
    role_stem = stem(role.casefold())
    verb = re.sub(r"(?:or|er)$", "", role.casefold())  # director -> direct, producer -> produc
    if len(verb) >= 4 and any(
        w.startswith(verb) and w.endswith(("ed", "s")) and stem(w) != role_stem for w in words
    ):
        return True
    name_words = {w.strip("’'").casefold() for w in re.findall(r"[\w’'-]+", name)} - STOPWORDS
    asked_words = {w.casefold().strip("?,.") for w in (question or "").split()}
    names = [i for i, w in enumerate(words) if w in name_words]
    for i, word in enumerate(words):
        if stem(word) != role_stem:
            continue
        title = tokens[i][:1].isupper() and i + 1 < len(tokens) and tokens[i + 1][:1].isupper()
        if _role_of_other(tokens, words, i, name_words):
            continue  # "the presidents of Concacaf", asked of Fifa: another body's role
        if i and words[i - 1] in ROLE_QUALIFIERS and words[i - 1] not in asked_words:
            continue  # "the video director", asked for the director: another job
        if not title:
            return True  # "CEO of Acme", "Acme's director, Jo Park,": the role as described
        for j in names:  # the thing before the title ("Acme ... CEO Jo Park") is its subject
            if abs(i - j) <= 8 and (j < i or not set(words[i:j]) & CLAUSE_VERBS):
                return True
    return False


def _role_of_other(tokens: list[str], words: list[str], i: int, name_words: set[str]) -> bool:
    """Whether the role word at `i` is said of something else: "president of Concacaf" (a
    name after "of" sharing no word with the asked name), "director of music videos"."""
    at = i + 1
    if at < len(words) and words[at] == "of":
        if name_words & set(words[at + 1 : at + 6]):
            return False  # "CEO of e-commerce giant Acme": the asked body itself
        at += 1
        if at < len(words) and words[at] == "the":
            at += 1
        if at < len(tokens) and tokens[at][:1].isupper():
            return words[at] not in name_words
        # "a director of music videos": the role of something the sentence names in words
        return at < len(tokens) and tokens[at][:1].islower() and words[at] not in DETERMINERS
    return False


def question_parts(question: str) -> list[str]:
    """The questions a two-part question asks, each whole; `[question]` for a single one.

    "Who directed Film and when was it released?" asks "Who directed Film?" and "When was it
    released?"; "When and where was the summit held?" asks "When was the summit held?" and
    "Where was the summit held?". A pronoun of the second part still points at the first's
    subject; the caller resolves it.
    """
    text = question.strip()
    joined = _WH_AND_WH.match(text)
    if joined:
        rest = text[joined.end() :]
        first, second = joined.group(1), joined.group(2)
        return [f"{first.capitalize()} {rest}", f"{second.capitalize()} {rest}"]
    split = _AND_WH.search(text)
    if not split or not _WH_START.match(text):
        return [text]
    head = text[: split.start()].rstrip(" ,")
    tail = text[split.start() :].lstrip(" ,")
    tail = re.sub(r"^(?:and\s+)", "", tail, flags=re.IGNORECASE)
    if len(head.split()) < 3 or len(tail.split()) < 3:
        return [text]
    return [f"{head.rstrip('?')}?", f"{tail[0].upper()}{tail[1:].rstrip('?')}?"]


# A wh-word, "how" with its adverb ("how much", "how long"): lexicon.WH_WORDS, HOW_ADVERBS.
_WH = (
    r"(?:"
    + "|".join(sorted(WH_WORDS - HOW_ADVERBS - {"how"}))
    + r"|how(?:\s+(?:"
    + "|".join(sorted(HOW_ADVERBS))
    + r"))?)"
)
# "When and where was ...": two wh-words sharing one clause.
_WH_AND_WH = re.compile(rf"^({_WH})\s+and\s+({_WH})\s+", re.IGNORECASE)
_WH_START = re.compile(rf"^{_WH}\b", re.IGNORECASE)
# "... and when was it released?", "..., and who ...": a second wh-clause.
_AND_WH = re.compile(rf",?\s+and\s+(?={_WH}\s+\w)", re.IGNORECASE)


def asked_relation(question: str) -> str | None:
    """The verb a question asks about, when its form shows one (else None)."""
    match = _WH_VERB.match(question)
    if match:
        verb = match.group(1).casefold()
        if verb not in AUXILIARIES and (verb.endswith("ed") or verb in IRREGULAR_PAST):
            # "Which paper owned by Acme reported ...": a participle with its agent describes
            # the noun; the verb after the agent is what is asked.
            later = _AFTER_AGENT.match(question, match.end(1))
            if later is None:
                return verb
            main = later.group(1)
            past = main.endswith("ed") or main in IRREGULAR_PAST
            return main if past and main not in AUXILIARIES else None
        match = _DO_VERB.match(question) or _WHO_DID.match(question)
        return match.group(1) if match and match.group(1) not in STOPWORDS else None
    match = _WHEN_VERB.match(question)
    if match and match.group(1).islower() and match.group(1) not in STOPWORDS:
        return match.group(1).casefold()
    match = _DO_VERB.match(question) or _WHO_DID.match(question)
    return match.group(1) if match and match.group(1) not in STOPWORDS else None


_ORGANISATION_STEMS = frozenset(stem(w) for w in ORGANISATION_VERBS)


def _organisation_verb(question: str) -> bool:
    """Whether a who-question asks what an organisation did with another ("Who did Acme
    partner with?", "Whom has Lumo invested in?"; lexicon.ORGANISATION_VERBS)."""
    match = _WHO_DID.match(question)
    return match is not None and stem(match.group(1)) in _ORGANISATION_STEMS


def _scopes(question: str, answer_type: AnswerType) -> tuple[str, ...]:
    """Places that scope an asked figure ('how many staff in Israel'); not dates ('in April')."""
    if answer_type not in ("amount", "count", "date"):
        return ()
    dates = {*MONTHS, *WEEKDAYS}
    found = (m.group(1).casefold() for m in _SCOPE_CUE.finditer(question))
    return tuple(p for p in found if not set(p.split()) <= dates)


def _measured(question: str, answer_type: AnswerType) -> tuple[str, ...]:
    """Words naming what is counted or measured ('how many data centers' -> data, centers)."""
    if answer_type == "count":
        match = _HOW_MANY.search(question.casefold())
    elif answer_type == "amount":
        match = _FOCUS.match(question) or _MEASURE_AFTER.search(question.casefold())
    else:
        match = None
    if not match:
        return ()
    words = match.group(1).casefold().split()
    if answer_type == "amount":
        words = words[-1:]  # the head: "total revenue" is measured as revenue
    plurals = [i for i, w in enumerate(words) if _singular(w) != w]
    if answer_type == "count" and plurals:
        words = words[: plurals[-1] + 1]  # "engineers and scientists work at": up to the noun
    return tuple(w for w in words if w not in STOPWORDS)


def _singular(noun: str) -> str:
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


# "In which countries ...", "Which US states ...": the word after the wh-word, and the next
# one when the first is a capitalised modifier.
_WH_WORDS = re.compile(r"\b(?i:which|what)\s+([\w-]+)(?:\s+([a-z-]+))?")


def asks_several(question: str) -> bool:
    """Whether the question asks for several things ("which countries", "what US states")."""
    match = _WH_WORDS.search(question)
    if match is None or match.group(1).casefold() in STOPWORDS:
        return False
    first, second = match.group(1), match.group(2)
    if first[:1].isupper():  # "Which US states", "Which Norvik funds"
        return second is not None and _plural(second)
    return _plural(first.casefold())


def _plural(word: str) -> bool:
    return word not in STOPWORDS | SINGULAR_IN_S and _singular(word) != word


def counts_the_noun(sentence: str, question: Question) -> bool:
    """Whether a number in `sentence` counts what the question counts ('100 researchers')."""
    if not question.counted:
        return False
    pattern = rf"\b{_NUMBER}\s+(?:[a-z-]+\s+){{0,2}}?{re.escape(question.counted)}"
    return re.search(pattern, sentence.casefold()) is not None


def counted_words(sentence: str) -> list[str]:
    """The nouns that numbers count: the head of the phrase after each ('8 research centres')."""
    heads: list[str] = []
    for m in re.finditer(rf"\b{_NUMBER}\s+((?:[a-z-]+\s+){{0,2}}[a-z-]+)", sentence.casefold()):
        run: list[str] = []
        for word in m.group(1).split():
            if word in PHRASE_ENDS:
                break
            run.append(word)
        heads.extend(run[-1:])
    return heads


def headline(text: str) -> bool:
    """Whether `text` is set in title case (every content word capitalised), as headlines are."""
    words = [w for w in re.findall(r"[A-Za-z][\w’'-]*", text) if w.casefold() not in FUNCTION_WORDS]
    if len(words) < 4:
        return False
    return all(w[0].isupper() for w in words)  # no lowercase content word at all


def person_names(text: str) -> list[str]:
    """Spans that look like people's names: 2-3 capitalised words, no organisation words."""
    names = []
    parts = [p for span in entity_spans(text) for p in re.split(r"\s+(?:of|de|the)\s+", span)]
    if headline(text):
        return []  # a title-case headline capitalises every word: its "names" are not names
    for span in parts:
        words = [_LED.sub("", re.sub(r"[’']s$", "", w)) for w in span.split()]
        # The name is the run of plain words at the end: "IT Ministry Anusha Rehman".
        run: list[str] = []
        for word in reversed(words):
            initial = len(word.strip(".")) == 1  # "Niels B. Christiansen"
            if (word.isupper() and not initial) or word.casefold().strip(".") in _NOT_NAME:
                break
            run.insert(0, word)
        plain = not any(_lower_part(w) or w.casefold() in STOPWORDS for w in run)
        if 2 <= len(run) <= 3 and plain:  # "Apocalypse Now" has a common word: not a person
            names.append(" ".join(run))
    return names


def contestants(text: str, question: Question) -> list[str]:
    """People's names; for a contest ("who won"), any other name too: teams and countries win.

    A name after "in" is a place ("a teacher in Las Vegas"), not a person; nor is a quoted
    title, or the subtitle of a title of the series the question asks about.
    """
    quoted = {q.strip() for q in _QUOTED.findall(text)}  # titles of works, not people
    names = [
        n
        for n in person_names(text)
        if not re.search(rf"\bin\s+{re.escape(n)}", text)
        and not _subtitle(n, text, question)
        and n not in quoted
    ]
    if not question.contest or headline(text):
        return names
    others = [
        e
        for e in entity_spans(text)
        if not _known(e, question)
        and not any(e in n for n in names)
        and not set(e.casefold().split()) & NAMED_LIKE_PEOPLE  # "British Open" is what is won
        and not _describing(e, text)
        # Not winners: "Against" opening a sentence, "Asian-born", a quoted film title.
        and not set(e.casefold().split()) <= STOPWORDS
        and not any(_lower_part(w) for w in e.split())
        and e not in quoted
        and not re.search(rf"[@#]{re.escape(e)}", text)  # a social media handle
    ]
    return names + others


def _subtitle(name: str, text: str, question: Question) -> bool:
    """Whether `name` is the subtitle of a title of the series the question asks about: "Who
    directed Harbour Quest: Low Tide?" over "... directed Harbour Quest: High Water" (not
    "at the Awards: Mara Quist wins ...", where the question writes no such title)."""
    return any(
        m.group(1).casefold() in question.entities
        for m in re.finditer(rf"(\w+):\s+{re.escape(name)}\b", text)
    ) and bool(re.search(r"\w:\s+[A-Z]", question.text))


# "Japanese" in "the first Japanese man to win": a demonym describes the winner.
_DEMONYM = re.compile(r"[A-Z][a-z]+(?:an|ese|ish|ian|eli|i)")


def _describing(span: str, text: str) -> bool:
    """Whether `span` is a demonym used as an adjective in `text` ("Japanese man")."""
    return bool(_DEMONYM.fullmatch(span) and re.search(rf"\b{re.escape(span)}\s+[a-z]", text))


# Who won, who came second: results of a contest, which teams and countries win as people do.
_CONTEST = re.compile(
    r"\b(?:won|win|wins|winner|winners|runner-?ups?|runners-up|champions?|beat|defeated"
    r"|finished|placed|came (?:first|second|third|last))\b"
)


# "took home the award", "picked up the prize": winning said as an idiom.
_RESULT_IDIOM = re.compile(r"\b(?:took|takes|take|taking)\s+home\b|\bpicked\s+up\b", re.I)


def states_result(text: str) -> bool:
    """Whether `text` states a contest's result ("won", "winner", "runner-up", "beat", "took
    home")."""
    words = set(re.findall(r"[a-z]+", text.casefold()))
    return bool(words & RESULT_WORDS) or won_as_idiom(text)


def won_as_idiom(text: str) -> bool:
    """Whether `text` says someone won in an idiom ("took home the prize", "picked up")."""
    return bool(_RESULT_IDIOM.search(text))


def _lower_part(word: str) -> bool:
    """'Thirteen-year-old': a hyphenated word with a lowercase part is no part of a name."""
    return "-" in word and any(p[:1].islower() for p in word.split("-"))


def places(text: str) -> list[str]:
    """Capitalised names that follow a place preposition ('in Israel', 'across Southeast Asia')."""
    return [m.group(1) for m in _PLACE_CUE.finditer(text)]


def slot_values(sentence: str, question: Question, dateline: str = "") -> set[str]:
    """The values of the asked-for type in `sentence` that the question does not already state.

    A month or weekday alone ("July", "Mar.") is part of a date, never a name asked for.
    `dateline`: the date line opening the sentence's passage (see `reported_on`).
    """
    return {v for v in _slot_values(sentence, question, dateline) if not is_month(v)}


def _slot_values(sentence: str, question: Question, dateline: str = "") -> set[str]:
    kind = question.answer_type
    if kind in ("amount", "count"):
        found = quantities(sentence)
        if kind == "amount":
            found = [q for q in found if q.kind in ("money", "percent") or q.scaled]
            if _MONEY.search(question.text):  # "how much money": a share or count is none
                found = [q for q in found if q.kind == "money"]
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
        agent = passive_agent(sentence, question)
        if agent is not None:  # "X was fined ... by the Y Authority": Y fined X
            return set() if _known(agent, question) else {agent}
        names = contestants(sentence, question)
        return {
            n
            for n in names
            if not set(n.casefold().split()) <= question.entities
            and not agent_of_other_verb(sentence, n, question)
        }
    if kind == "place":
        spots = places(sentence)
        if _NAMED_PLACE.search(question.text):  # "London was chosen to host": any name
            people = person_names(sentence)
            spots += [e for e in entity_spans(sentence) if e not in spots and e not in people]
            spots += [_before_event(e) for e in spots]  # "the 2012 Leeds Games": Leeds
        return {
            p
            for p in spots
            if not _known(p, question)
            and not headline(sentence)
            and not set(p.casefold().split()) & EVENT_NOUNS  # "Summer Olympics" is no place
            and not _describes(p, question)
        }
    if kind == "date":
        return {
            _date_key(d.month, d.day, d.year) if d.relative is None else f"rel:{d.text.casefold()}"
            for d in asked_dates(sentence, question, dateline)
        }
    if kind == "work":
        return {t for t in work_titles(sentence) if not _known(t, question)}
    if kind == "entity":
        return {e for e in entity_spans(sentence) if not _known(e, question)}
    if kind == "role":
        return set(roles_of(sentence, question.identity)) if question.identity else set()
    return set()


# "Who are Acme's main rivals?", "Who is the owner of Lumo?": what one organisation is to
# another.
_ORG_RELATION = re.compile(
    r"^\s*(?i:who)\s+(?i:is|are|was|were)\s+(?:the\s+)?(?:[\w&.-]+['’]s\s+)?(?:[a-z]+\s+)?"
    rf"(?:{'|'.join(sorted(ORGANISATION_RELATIONS))})\b"
)
# "What was the reason for ...", "What was the fine for?": a why-question. (Not "What is
# the firm known for?": a participle before "for" asks what, not why.)
_REASON = re.compile(
    r"^\s*(?i:what)\s+(?:is|was|are|were)\s+the\s+(?:main\s+)?(?:reasons?|causes?|purpose"
    r"|motives?)\b"
    r"|^\s*(?i:what)\s+(?:is|was|are|were)\s+(?:the|its|their|this|that)\s+"
    r"(?:(?![\w-]*(?:ed|wn)\s)[\w-]+\s+){1,3}for\s*\?*\s*$"
)
_WHY_WORD = re.compile(r"^\s*why\b", re.IGNORECASE)


# "How much bigger is X's value than Y's?": the difference of two figures, which no sentence
# states as one value.
_DIFFERENCE = re.compile(
    r"\bhow (?:much|many)\s+(?:more|less|fewer|bigger|larger|higher|lower|smaller|greater"
    r"|longer|shorter|older|younger)\b.*\bthan\b",
    re.IGNORECASE,
)


def asks_difference(question: str) -> bool:
    """Whether `question` asks how far one figure is from another ("how much more ... than")."""
    return bool(_DIFFERENCE.search(question))


def asks_reason(question: str) -> bool:
    """Whether `question` asks why ("Why ...", "What was the reason for ...", "What was the
    fine for?")."""
    return bool(_WHY_WORD.match(question) or _REASON.match(question))


_WORD = re.compile(r"[A-Za-z][\w&.’'-]*[\w&]|[A-Za-z]")
# A word that opens a sentence is capitalised whatever it is: not evidence of a name.
_NEXT_CAPITAL = re.compile(r" ([A-Z][\w&.’'-]*[\w&]|[A-Z])")
_OPENING = re.compile(r"(?:^|[.!?]\s+|\n\s*)$")


def truecase(question: str, texts: Iterable[str]) -> str:
    """`question` typed in lower case, with the words that `texts` write as names written so.

    "how much did acme invest in north ostland" over passages that write "Acme" and "North
    Ostland" -> "how much did Acme invest in North Ostland": names are what the analysis
    reads from capitals. A word counts as a name when the texts write it capitalised (not
    opening a sentence) more often than in lower case; it takes its most frequent written
    form ("nvk" -> "NVK"). A capitalised word followed by another capitalised word is part of
    a longer name ("New York"): it counts only when the question has that next word too. A
    question with any capital after its first letter is left as typed.
    """
    if any(ch.isupper() for ch in question[1:]):
        return question
    wanted = {m.group(0).casefold() for m in _WORD.finditer(question)} - STOPWORDS - WH_WORDS
    if not wanted:
        return question
    typed = {m.group(0).casefold() for m in _WORD.finditer(question)}
    forms: dict[str, Counter[str]] = {w: Counter() for w in wanted}
    for text in texts:
        for m in _WORD.finditer(text):
            word = m.group(0)
            key = word.casefold()
            if key not in forms:
                continue
            if word[0].isupper():
                if _OPENING.search(text[: m.start()][-3:]):
                    continue
                # "New" of "New York" is part of a longer name: evidence for "new" only
                # where the question has the name's next word too.
                after = _NEXT_CAPITAL.match(text, m.end())
                if after and after.group(1).casefold() not in typed:
                    continue
            forms[key][word] += 1

    def written(m: re.Match[str]) -> str:
        seen = forms.get(m.group(0).casefold())
        if not seen:
            return m.group(0)
        lower = seen.get(m.group(0).casefold(), 0)
        capitalised = [(n, w) for w, n in seen.items() if w[0].isupper()]
        if not capitalised or sum(n for n, _ in capitalised) <= lower:
            return m.group(0)
        return max(capitalised)[1]

    return _WORD.sub(written, question)


_CONTRACTED = re.compile(r"\b((?i:what|who|where|when|how|which))['’]s\b")
# "Tell me about X", "Give me the price of X", "Explain why X": a request for what a question
# asks.
_REQUEST = re.compile(
    r"^\s*(?:please\s+)?(?:(?:can|could|would)\s+you\s+)?(?:tell|give|show)\s+me\s+"
    r"(?:about\s+)?(?P<a>.+?)[\s.?!]*$"
    r"|^\s*(?:please\s+)?(?:explain|describe)\s+(?P<b>.+?)[\s.?!]*$",
    re.IGNORECASE,
)


def as_question(text: str) -> str:
    """`text` as the question it asks: "what's" read "what is"; a request read as a question
    ("Tell me about Project X" -> "What is Project X?", "Explain why X ..." -> "Why X ...?");
    an award category typed in lower case named as one ("who won best actress" -> "who won
    Best Actress": the category is a name a passage must give, not "best supporting actor")."""
    text = _named_categories(_CONTRACTED.sub(r"\1 is", text))
    match = _REQUEST.match(text)
    if match is None:
        return text
    rest = match.group("a") or match.group("b")
    if _WH_START.match(rest):
        return rest[0].upper() + rest[1:] + "?"
    return f"What is {rest}?"


# "best supporting actor" in "who won best supporting actor at ...": an award's category.
_CATEGORY = re.compile(
    r"\bbest\s+(?:[a-z]+\s+){0,2}?[a-z]+(?=\s+(?:at|in|for|of|on|during|award|awards|oscar"
    r"|oscars|prize|this|last|\d)\b|\s*[?.,]|\s*$)"
)


def _named_categories(text: str) -> str:
    """Award categories of a contest question written as names ("Best Supporting Actor")."""
    if not states_result(text) and not re.search(r"\bnominat", text, re.IGNORECASE):
        return text
    return _CATEGORY.sub(lambda m: m.group(0).title(), text)


def identity_of(question: str) -> str | None:
    """The person a "who is NAME?" question asks about, or None ("who is the CEO" asks for
    a person, and so does "who is CEO of Acme": a title is no name)."""
    m = _IDENTITY.match(question)
    if m is None:
        return None
    name = re.sub(r"[’']s$", "", m.group(1).rstrip(".")).strip()
    words = name.casefold().split()
    if not words or words[0] in TITLE_WORDS or set(words) & NOT_PERSON:
        return None
    return name


# After the name: an apposition up to a comma, a stop or a reporting verb ("Mara Quist, the
# League's commissioner, said"), or the copula's complement ("Quist is a Norvik lawyer").
_ROLE_AFTER = re.compile(
    r"^(?:,\s+|\s+(?:is|was|has been|became)\s+)((?:a|an|the)\s+[^,;:.()]{2,80}?|[^,;:.()]{2,80}?)"
    r"(?=\s*[,;:.()]|\s+(?:said|says|told|added|noted|wrote|explained|who|which|and\s+(?:is|was|has))\b"
    r"|\s*$)"
)
# Before the name: the title words just before it ("League Commissioner Mara Quist").
_ROLE_BEFORE = re.compile(r"((?:[A-Z][\w&’'.-]*\s+|(?:of|the|for)\s+){0,4}[A-Z][\w&.-]*)\s+$")


def roles_of(sentence: str, name: str) -> list[str]:
    """What `sentence` says the person `name` (or their surname) is, best first.

    An apposition or copula complement after the name comes first, then title words before
    it; each must hold a title or role word (lexicon TITLE_WORDS, ROLE_NOUNS).
    """
    parts = name.split()
    forms = [name] + ([parts[-1]] if len(parts) > 1 else [])
    after: list[str] = []
    before: list[str] = []
    for form in forms:
        for m in re.finditer(rf"(?<![\w-]){re.escape(form)}(?![\w-])", sentence):
            tail = _ROLE_AFTER.match(sentence[m.end() :])
            if tail and _is_role(tail.group(1)):
                after.append(tail.group(1).strip())
            head = _ROLE_BEFORE.search(sentence[: m.start()])
            if head and _is_role(head.group(1).split()[-1]):
                before.append(head.group(1).strip())
        if after or before:
            break  # the full name's roles; the surname's only when the full name has none
    return list(dict.fromkeys(r for r in after + before if not set(r.split()) & set(parts)))


def _is_role(phrase: str) -> bool:
    words = {w.casefold().strip("’'") for w in re.findall(r"[\w’'-]+", phrase)}
    return bool(words & (TITLE_WORDS | ROLE_NOUNS))


def passive_agent(sentence: str, question: Question) -> str | None:
    """The name after "by" when the sentence states the asked verb of "who <verb>ed" in the
    passive: "The Acme-led firm was fined $3 million in May by the Norvik Market Authority"
    answers "who fined" with the authority, not a name that only modifies the subject."""
    verb = question.relation
    if verb is None or not re.match(
        rf"\s*who\s+(?:ha[sd]\s+|have\s+)?{verb}\b", question.text, re.I
    ):
        return None
    wanted = stem(verb)
    for m in _PASSIVE_BY.finditer(sentence):
        if stem(m.group(1).casefold()) == wanted:
            return re.sub(r"(?:\s+(?:of|for|and|the|de))?\.?$", "", m.group(2))
    return None


# "was fined a record $3 million in May by Norvik’s Market Authority", "as reported by the
# Norvik Post": the verb, then its agent.
_PASSIVE_BY = re.compile(
    r"\b(?:is|are|was|were|been|being|be|as)\s+(?:\w+\s+){0,2}?(\w+ed)\b(?:[^.;,:]|[.,](?=\d)){0,80}?\bby\s+"
    r"(?:the\s+)?([A-Z][\w’'.&-]*(?:\s+(?:(?:of|for|and|the|de)\s+)?[A-Z][\w’'.&-]*)*)"
)


# "directed by X", "written by X and Y": X is the agent of that verb.
_BY_AGENT = re.compile(r"\b([a-z]+ed)\s+by\s+(?:[A-Z][\w.’'-]*\s+){0,3}?(?:and\s+)?$")


def agent_of_other_verb(sentence: str, name: str, question: Question) -> bool:
    """Whether `name` is the agent of a verb the question does not ask about.

    "... directed by Jo Park and starring ..." does not answer "who is starring"; it answers
    "who directed" and "who is the director" (the agent noun of the verb).
    """
    at = sentence.find(name)
    if at < 0:
        return False
    m = _BY_AGENT.search(sentence[max(0, at - 80) : at])
    if not m:
        return False
    verb = stem(m.group(1))
    return not any(s.startswith(verb) or verb.startswith(s) for s in question.stems)


def _date_key(month: int, day: int | None, year: int | None) -> str:
    return f"{year or '?'}-{month:02d}-{day or 0:02d}"


def asked_dates(sentence: str, question: Question, dateline: str = "") -> list[DateSpan]:
    """The dates in a sentence that can answer a 'when' question (not a leading dateline).

    "What year" is answered by a year alone; otherwise a date needs a day, or a month and a
    year. Dates the question itself gives are not answers.
    """
    body = sentence[dateline_end(sentence) :]
    spans = [d for d in date_spans(body) if d.day is not None or d.year is not None]
    if not spans:  # a year alone, or a month or weekday ("the December quarter")
        reported = reported_on(body, question, dateline)
        if reported:
            return reported[:1]
        if question.year_only:
            years = sorted(years_in(body) - question.time.years)
            return [DateSpan(str(y), 0, None, y) for y in years]
        periods = relative_periods(body)
        if periods:
            return periods[:1]
        words = _MONTH_OR_DAY.findall(body)
        if not words and not _ASKS_DATE.search(question.text):
            # "When did X start ...": "active since 2014" says when it started; "what is the
            # date" needs a date, and "in 2019" alone does not date a "when" (too vague).
            years = [int(y) for y in _SINCE_YEAR.findall(body) if int(y) not in question.time.years]
            return [DateSpan(str(y), 0, None, y) for y in years[:1]]
        # A month alone is that month (its year from the passage: "in April" -> "April
        # 2021"); a weekday stays as written.
        return [DateSpan(w, month_number(w), None, None) for w in words[:1]]
    asked = set(date_spans(question.text))
    if not _SUPERSEDED.search(question.text):
        spans = [d for d in spans if not _superseded(body, d)]
    if question.time.years:
        spans = [d for d in spans if not _of_other_edition(body, d, spans, question.time.years)]
    return [d for d in spans if d not in asked]


def _of_other_edition(
    body: str, date: DateSpan, spans: list[DateSpan], asked: frozenset[int]
) -> bool:
    """Whether a date belongs to another year's edition that the sentence also names.

    "2020 Harbour Regatta. 2021 Harbour Regatta. Date: June 14, 2020": the sentence names the 2020
    edition beside the asked 2021 one, and the date carries 2020, so it dates the 2020 edition.
    A date whose year the sentence names nowhere else is kept ("the 2020 Games were held in
    July 2021": postponed, not another edition).
    """
    if date.year is None or date.year in asked:
        return False
    rest = body
    for span in spans:
        rest = rest.replace(span.text, " ")
    return date.year in years_in(rest)


def reported_on(sentence: str, question: Question, dateline: str) -> list[DateSpan]:
    """The dateline's date, when the sentence reports the asked event as just done.

    "Oct 19, 2021 ... Acme has officially announced its new Lumo 6": a news report in the
    present perfect ("has announced", "have unveiled") or of "today" dates its event by its
    dateline. Only the asked relation (or a word of its event family) counts.
    """
    if question.relation is None or not dateline:
        return []
    family = event_family(question.relation) or frozenset({stem(question.relation)})
    for m in _JUST_DONE.finditer(sentence):
        if stem((m.group(1) or m.group(2)).casefold()) in family:
            return [d for d in date_spans(dateline) if d.year is not None and d.day is not None]
    return []


# "has announced", "have officially unveiled", "announced today", "is launching today".
_JUST_DONE = re.compile(
    r"\b(?:has|have)\s+(?:(?:now|just|officially|finally|formally)\s+){0,2}(\w+)"
    r"|\b(\w+ed)\s+(?:\w+\s+){0,4}?today\b",
    re.IGNORECASE,
)


# "The original release date was ...", "initially set for ...", "delayed from ...": a date the
# sentence itself says no longer holds (unless the question asks for the original one).
_SUPERSEDED = re.compile(
    r"\b(?:original|originally|initial|initially|previous|previously|formerly|earlier|once"
    r"|delayed from|postponed from|pushed back from|moved from|brought forward from)\b",
    re.IGNORECASE,
)


def _superseded(text: str, date: DateSpan) -> bool:
    """Whether the words just before a date (up to 6) mark it as superseded."""
    at = text.find(date.text)
    if at < 0:
        return False
    before = " ".join(text[:at].split()[-6:])
    return bool(_SUPERSEDED.search(before))


_MONEY = re.compile(r"\bmoney\b", re.IGNORECASE)
_ASKS_DATE = re.compile(r"\bdates?\b", re.IGNORECASE)
_SINCE_YEAR = re.compile(r"\bsince\s+((?:19|20)\d\d)\b(?![-–/]|\s+[A-Z])")


_MONTH_OR_DAY = re.compile(r"\b(?:" + "|".join([*MONTHS, *WEEKDAYS]) + r")\b", re.IGNORECASE)


# "on Nintendo Switch", "on Netflix": a name after "on" is where the thing appears.
_ON_NAME = re.compile(r"\bon\s+(?:the\s+)?([A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)")


def _media_words(question: str) -> frozenset[str]:
    """Words of the names a question puts after "on" (the medium), when it names another thing.

    "What is the release date for Odyssey on Switch?": a passage about Odyssey's release
    answers it without naming Switch. A question whose only name follows "on" keeps it.
    """
    media = {w for m in _ON_NAME.finditer(question) for w in entity_words(m.group(1))}
    return frozenset(media) if entity_words(question) - media else frozenset()


# A capitalised demonym before a lowercase word modifies it ("American online rival", "Chinese
# regulators"): a passage may leave it implicit. Before a name or at the end it names a place.
_MODIFIER = re.compile(r"\b([A-Z][a-z]+(?:an|ese|ish|ian|eli|i))\s+(?=[a-z])")
# "Which city hosted ...": the place may be the sentence's subject, with no preposition.
_NAMED_PLACE = re.compile(r"\b(?:which|what) (?:city|country|nation|town|state)\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“]([^\"”]{2,80})[\"”]")


_BEFORE_WHO = re.compile(r"([A-Z][\w.’'-]*(?:\s+[A-Z][\w.’'-]*)*),?\s+who\b")


def work_titles(sentence: str) -> list[str]:
    """Titles a sentence names: quoted phrases, else capitalised spans (owner's name cut off)."""
    quoted = [q.strip() for q in _QUOTED.findall(sentence) if q.strip()[:1].isupper()]
    owners = (re.split(r"[’']s\s+", s)[-1] for s in entity_spans(sentence))
    spans = [s for s in owners if not re.search(r"[’']s$", s)]  # "Disney's": an owner
    # "Mara Quist, who stars in ...": "who" says the span is a person, not a work.
    people = {m.group(1) for m in _BEFORE_WHO.finditer(sentence)}
    return quoted + [
        s
        for s in spans
        if s not in quoted
        and s not in people
        and not set(s.casefold().split()) <= STOPWORDS  # "Against all odds, ..."
        and not set(s.casefold().split()) <= NAMED_LIKE_PEOPLE  # "an Oscar": an award
    ]


def _before_event(span: str) -> str:
    """The words of a span before an event word ("Leeds Olympic Games" -> "Leeds"), if any."""
    words = span.split()
    for i, word in enumerate(words):
        if word.casefold() in EVENT_NOUNS:
            lead = words[:i]
            if lead and not {w.casefold() for w in lead} & SEASONS:
                return " ".join(lead)
            break
    return span


def _describes(span: str, question: Question) -> bool:
    """Whether a capitalised span uses the question's own words: a title ("A Host City
    Perspective", asked "which city hosted"), not the name asked for."""
    asking = question.stems - {stem(w) for w in question.entities}
    return any(stem(w) in asking for w in re.findall(r"[a-z]+", span.casefold()))


def _known(span: str, question: Question) -> bool:
    """Whether the question already names this span ('Israel' in 'which Israeli city').

    Words the question uses in any case count too ("olympic games"), and an owner's
    possessive is its name ("Acme’s" for a question naming Acme).
    """
    span = re.sub(r"[’']s\b", "", span)
    words = set(re.findall(r"\w+", span.casefold()))
    if words and words <= set(re.findall(r"\w+", question.text.casefold())):
        return True
    if words and {stem(w) for w in words} <= question.stems:  # "Olympics", asked "olympic"
        return True
    return all(
        any(
            w == e or (len(w) >= 4 and e.startswith(w)) or (len(e) >= 4 and w.startswith(e))
            for e in question.entities
        )
        for w in re.findall(r"\w+", span.casefold())
    )
