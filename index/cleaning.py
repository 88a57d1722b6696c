"""Cleaning: strip what is not article content before chunking.

Rules are general (line-level patterns and scores, each with tests), not lists of known
strings: comment prompts, donation and subscription appeals, marketing lines, copyright
footers, "See also"/related-link lines, duplicated title lines and invisible Unicode.
"""

from __future__ import annotations

import re
import unicodedata

_KEEP_CONTROL = {"\n", "\t"}
# Controls that separate lines or words: dropping them would glue two words together.
_BREAK_CONTROLS = {"\x0b": "\n", "\x0c": "\n", "\x1c": "\n", "\x1d": "\n", "\x1e": "\n"}
_BREAK_CONTROLS |= {"\x1f": " ", "\x85": "\n"}

# Each rule also has a word cap: boilerplate lines are short, and a long paragraph that
# merely contains a matching phrase is article text. Quantifiers next to an overlapping class
# are possessive (`++`, `*+`) so that no pattern backtracks over a long line (issue 14).
_COMMENT_PROMPT = re.compile(
    r"^\s*(please\s+)?(enter|leave|post|add|write|submit)\s+(a\s+|your\s+)?"
    r"(comment|reply|name|e-?mail|website)\b"
    r"|^\s*+(leave a reply|post a comment|\d+\s+comments?|comments?|add comment)\s*+[!.:]?\s*+$"
    r"|save my name,? e-?mail|you must be logged in to (post|comment)",
    re.IGNORECASE,
)
_COMMENT_MAX_WORDS = 15
_COPYRIGHT = re.compile(
    r"©|\(c\)\s*\d{4}|\bcopyright\s+(©\s*)?\d{4}|\ball rights reserved\b", re.IGNORECASE
)
_COPYRIGHT_MAX_WORDS = 40
# A label, then a separator. Dashes only after unambiguous labels: "Most popular — and most
# criticised — was ..." is a sentence.
_RELATED = re.compile(
    r"^\W*(see also|related(\s+(articles?|stories|posts|coverage|news|reading|content))?|"
    r"read more|also read|read also|further reading|more on this( story)?)\s*[:\-–—|»›]"
    r"|^\W*(recommended( for you)?|more from [\w .]++|you (may|might) also like|trending( now)?|"
    r"most (popular|read)|don'?t miss|editor'?s picks?)\s*[:|»›]",
    re.IGNORECASE,
)
_RELATED_MAX_WORDS = 30
# Appeals and marketing are scored (see `_appeal_score`): an appeal asks the reader ("you")
# for something for the publisher ("us", "our"), often in the imperative, and is never
# reported speech. Plural nouns like "subscribers" or "donations" are news words.
_APPEAL_TERMS = re.compile(
    r"\b(donate|donating|donation to us|contribution|paypal|patreon|subscribe|subscribing|"
    r"subscription|newsletter|sign up|signup|become a (member|subscriber|patron)|"
    r"membership|offer us a hand|help us|support us|support (our|independent) journalism|"
    r"free reports?|free trial|click here|download (our|the) app|follow us|"
    r"share this( article)?|unlimited access|ad-?free|premium access|trade confidently)\b",
    re.IGNORECASE,
)
_SECOND_PERSON = re.compile(r"\b(you|your|yours|yourself)\b", re.IGNORECASE)
_PUBLISHER = re.compile(r"\b(us|our|ours)\b", re.IGNORECASE)
_IMPERATIVE = re.compile(
    r"^\W*(please\s+)?(subscribe|donate|support|sign up|join|become|click|follow|download|"
    r"share|get|try|trade|register|give)\b",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(
    r"\b(said|says|told|according to|announced|reported|wrote|added)\b", re.IGNORECASE
)
_APPEAL_MIN_SCORE = 3
_APPEAL_MAX_WORDS = 60
_EMAIL_SHIELD = re.compile(r"\[email\s*protected\]", re.IGNORECASE)
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_WORD = re.compile(r"\w+")


def strip_invisible(text: str) -> str:
    """Drop zero-width, bidi, tag and control characters; unify line ends and odd spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Each distinct character is looked up once (an article has ~100), then one translate.
    table = {ord(ch): _visible(ch) for ch in set(text)}
    # Composed only now: a removed character may have stood between a letter and its accent.
    return unicodedata.normalize("NFC", text.translate(table))


def _visible(ch: str) -> str:
    """What `ch` becomes in clean text: itself, a space or line break, or nothing."""
    if ch in _KEEP_CONTROL:
        return ch
    if ch in _BREAK_CONTROLS:
        return _BREAK_CONTROLS[ch]
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Cc", "Cs", "Co", "Cn"):
        return ""  # format (ZWSP, bidi, tags, BOM), control, surrogate, private, unassigned
    if cat in ("Zs", "Zl", "Zp"):
        return " " if cat == "Zs" else "\n"
    return ch


def boilerplate_reason(line: str) -> str | None:
    """Name the rule that marks `line` as non-article content, or None to keep it."""
    words = _word_count(line)
    if _COMMENT_PROMPT.search(line) and words <= _COMMENT_MAX_WORDS:
        return "comment_prompt"
    if _RELATED.search(line) and words <= _RELATED_MAX_WORDS:
        return "related_link"
    if _COPYRIGHT.search(line) and words <= _COPYRIGHT_MAX_WORDS:
        return "copyright"
    if _EMAIL_SHIELD.search(line) and words <= _APPEAL_MAX_WORDS:
        return "appeal"
    if words <= _APPEAL_MAX_WORDS and _appeal_score(line) >= _APPEAL_MIN_SCORE:
        return "appeal"
    return None


def _appeal_score(line: str) -> int:
    if _ATTRIBUTION.search(line):
        return 0
    terms = {m.group().casefold() for m in _APPEAL_TERMS.finditer(line)}
    if not terms:
        return 0
    return (
        min(len(terms), 2)
        + bool(_SECOND_PERSON.search(line))
        + bool(_PUBLISHER.search(line))
        + bool(_IMPERATIVE.search(line))
    )


def _word_count(line: str) -> int:
    return len(_WORD.findall(line))


def _normal(line: str) -> str:
    return " ".join(_WORD.findall(line.casefold()))


def _is_short_sign_off(line: str) -> bool:
    # "Thank you." after an appeal: a few words, no digits, ends like a sentence.
    stripped = line.strip()
    return (
        _word_count(stripped) <= 3
        and not any(c.isdigit() for c in stripped)
        and stripped[-1:] in ".!"
    )


# Rules whose blocks swallow a short neighbouring line ("It means we can ...", "Thank you.").
_BLOCK_REASONS = frozenset({"appeal", "comment_prompt"})


def drop_boilerplate_lines(lines: list[str], title: str = "") -> list[str]:
    """Remove boilerplate lines, duplicated titles and consecutive duplicate lines."""
    title_key = _normal(title)
    reasons = [boilerplate_reason(line) for line in lines]
    flagged = [r is not None for r in reasons]
    content = [i for i, line in enumerate(lines) if line.strip()]
    for pos, i in enumerate(content):
        if flagged[i]:
            continue
        prev_appeal = pos > 0 and reasons[content[pos - 1]] in _BLOCK_REASONS
        next_appeal = pos + 1 < len(content) and reasons[content[pos + 1]] in _BLOCK_REASONS
        # A short line inside an appeal block, or a sign-off right after one.
        if (prev_appeal and next_appeal and _word_count(lines[i]) <= 30) or (
            prev_appeal and _is_short_sign_off(lines[i])
        ):
            flagged[i] = True
    kept: list[str] = []
    last_key = None
    for line, bad in zip(lines, flagged, strict=True):
        key = _normal(line)
        if bad or (key and key == title_key) or (key and key == last_key):
            continue
        kept.append(line)
        if key:
            last_key = key
    return kept


def clean_text(raw: str, *, title: str = "") -> str:
    """Return the article body without boilerplate or invisible characters."""
    text = strip_invisible(raw)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    kept = drop_boilerplate_lines(lines, title)
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()
