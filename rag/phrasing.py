"""English question phrasing for follow-up rewriting: a question's topic as a noun phrase,
and whether a rewrite reads as a question worth showing.

General grammar only (wh-words, auxiliaries, determiners, prepositions): no topic words. The
topic of "How much will Corvex invest in its hubs?" is "Corvex investing in its hubs": the
auxiliary inverted before the subject is undone and the verb becomes a gerund, so that an
elliptical follow-up can carry it as "How many researchers, regarding Corvex investing in its
hubs?". Linear in the question's words.
"""

from __future__ import annotations

import itertools
import re

from newsrag.rag.lexicon import (
    AUXILIARIES,
    BE_FORMS,
    CONNECTOR_WORDS,
    DETERMINERS,
    HAVE_FORMS,
    OBJECT_FORMS,
    PREPOSITIONS,
    WH_WORDS,
)


def _gerund(verb: str) -> str:
    """The -ing form of a base-form English verb: invest -> investing, make -> making,
    plan -> planning, lie -> lying, be -> being."""
    if verb in ("be", "see", "flee", "agree"):
        return verb + "ing"
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "oe", "ye")):
        return verb[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", verb):  # one short syllable: double it
        return verb + verb[-1] + "ing"
    return verb + "ing"


def _ends_phrase(word: str) -> bool:
    lowered = word.lower()
    return (
        lowered in PREPOSITIONS
        or lowered in DETERMINERS
        or word[:1].isupper()
        or not word[:1].isalpha()
    )


def _noun_then_verb(words: list[str]) -> tuple[list[str], str, list[str]] | None:
    """Split 'the company invest in hubs' into (the company, invest, in hubs); None if unsure.

    The subject is a determiner or possessive, then a run of names, a pronoun, or common
    nouns up to the verb: the last lowercase word before a preposition, determiner, name,
    number or the end.
    """
    if not words:
        return None
    first = words[0].lower()
    if first in OBJECT_FORMS:
        return ([OBJECT_FORMS[first]], words[1], words[2:]) if len(words) > 1 else None
    start = 1 if first in DETERMINERS or first.endswith(("'s", "’s")) else 0
    end = start
    while end < len(words) and words[end][:1].isupper():
        end += 1
    if end == start:  # common nouns: the verb is the last word before the phrase ends
        while end < len(words) and not _ends_phrase(words[end]):
            end += 1
        end -= 1
        if end <= start:
            return None
    if end >= len(words) or not words[end].isalpha() or not words[end].islower():
        return None
    return words[:end], words[end], words[end + 1 :]


def topic_phrase(question: str) -> str | None:
    """A question's topic as a noun phrase, its inversion undone; None when unsure.

    'How much will Corvex invest in its hubs?' -> 'Corvex investing in its hubs';
    'What will the Orbit Lab be at the forefront of?' -> 'the Orbit Lab being at the
    forefront'; 'Who is the CEO of Corvex Cloud?' -> 'the CEO of Corvex Cloud'.
    """
    words = question.strip().rstrip("?.! ").split()
    if not words or words[0].lower() not in WH_WORDS:
        return None
    start = 0
    while start < len(words) and words[start].lower() in WH_WORDS:
        start += 1
    at = next(
        (i for i in range(start, min(start + 4, len(words))) if words[i].lower() in AUXILIARIES),
        None,
    )
    if at is None and start == 1 and words[0].lower() in ("who", "what"):
        # "Who founded Acme?": the question is its own topic, as an embedded question.
        return " ".join([words[0].lower(), *words[1:]]) if len(words) > 1 else None
    phrase: list[str] | None
    if at is None:  # the wh-phrase is the subject: "how many people work at X"
        split = _noun_then_verb(words[start:])
        phrase = None if split is None else [*split[0], _gerund(split[1]), *split[2]]
    else:
        phrase = _uninverted(words[at].lower(), words[at + 1 :])
    if phrase is None:
        return None
    while phrase and phrase[-1].lower() in PREPOSITIONS:  # stranded by the wh-word
        phrase.pop()
    if phrase and phrase[-1] == "being":
        phrase.pop()
    return " ".join(phrase) or None


def _uninverted(aux: str, rest: list[str]) -> list[str] | None:
    """The words after an inverted auxiliary as a noun phrase: 'Acme investing in ...'."""
    if aux in BE_FORMS or aux in HAVE_FORMS:
        # A participle after the subject is the verb ("is X building", "was X fined", "has X
        # invested"); otherwise the words are the noun phrase itself ("is the CEO of X").
        at = next((i for i, w in enumerate(rest) if i and w.endswith(("ing", "ed", "en"))), None)
        if at is None:
            return rest
        helper = [] if rest[at].endswith("ing") else ["having" if aux in HAVE_FORMS else "being"]
        return [*rest[:at], *helper, *rest[at:]]
    split = _noun_then_verb(rest)
    if split is None:
        return None
    subject, verb, tail = split
    if verb in HAVE_FORMS or verb == "have":  # "does X have 100 staff": possession needs no verb
        return [*subject, *tail]
    return [*subject, _gerund(verb), *tail]


def reads_as_question(text: str) -> bool:
    """Whether a rewritten question can be shown: one capitalised question, no bracketed
    fragment, no stranded preposition or doubled word before the mark."""
    words = text.rstrip("?").split()
    if len(words) < 2 or not text[:1].isupper() or not text.endswith("?"):
        return False
    if any(c in text for c in "()[]") or text.count("?") > 1:
        return False
    if words[-1].lower().strip(",") in PREPOSITIONS or words[-1].endswith(","):
        return False
    return all(a.lower() != b.lower() for a, b in itertools.pairwise(words))


def differs_meaningfully(question: str, rewritten: str) -> bool:
    """Whether the rewrite says more than the question (not just case, marks or 'and ...')."""

    def core(text: str) -> list[str]:
        words = re.findall(r"[\w'’$%.-]+", text.casefold())
        while words and words[0] in CONNECTOR_WORDS and len(words) > 1:
            if words[0] in ("what", "how") and words[1] not in ("about",):
                break
            words.pop(0)
        return [w.strip(".") for w in words if w.strip(".")]

    return core(question) != core(rewritten)
