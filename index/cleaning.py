"""Cleaning: strip what is not article content before chunking.

Rules are general (line-level patterns and scores, each with tests), not lists of known
strings: comment prompts, donation and subscription appeals, marketing lines, copyright
footers, "See also"/related-link lines, duplicated title lines and invisible Unicode.
"""

from __future__ import annotations

import re
import unicodedata

_KEEP_CONTROL = {"\n", "\t"}

_COMMENT_PROMPT = re.compile(
    r"^\s*(please\s+)?(enter|leave|post|add|write|submit)\s+(a\s+|your\s+)?"
    r"(comment|reply|name|e-?mail|website)\b"
    r"|^\s*(leave a reply|post a comment|\d+\s+comments?|comments?|add comment)\s*[!.:]?\s*$"
    r"|save my name,? e-?mail|you must be logged in to (post|comment)",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(
    r"©|\(c\)\s*\d{4}|\bcopyright\s+(©\s*)?\d{4}|\ball rights reserved\b", re.IGNORECASE
)
_RELATED = re.compile(
    r"^\s*(see also|related(\s+(articles?|stories|posts|coverage|news|reading))?|read more|"
    r"also read|read also|recommended( for you)?|more from [\w .]+|you may also like|"
    r"trending( now)?|most popular|don'?t miss)\s*[:\-–—|]",
    re.IGNORECASE,
)
# Words of appeals and marketing; a line needs one of these *and* to address the reader.
_APPEAL_TERMS = re.compile(
    r"\b(donat\w*|gifts?|contribution|paypal|patreon|subscribe\w*|subscription|newsletter|"
    r"sign up|signup|become a (member|subscriber|patron)|membership|offer us a hand|"
    r"support (us|our journalism|independent)|free reports?|alerts?|free trial|"
    r"click here|download (our|the) app|follow us|share this( article)?|"
    r"unlimited access|ad-?free|premium access|trade confidently)\b",
    re.IGNORECASE,
)
_READER = re.compile(r"\b(you|your|yours|us|we|our)\b", re.IGNORECASE)
_EMAIL_SHIELD = re.compile(r"\[email\s*protected\]", re.IGNORECASE)
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_WORD = re.compile(r"\w+")


def strip_invisible(text: str) -> str:
    """Drop zero-width, bidi, tag and control characters; unify line ends and odd spaces."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in _KEEP_CONTROL:
            out.append(ch)
        elif cat in ("Cf", "Cc", "Cs", "Co", "Cn"):
            continue  # format (ZWSP, bidi, tags, BOM), control, surrogate, private, unassigned
        elif cat in ("Zs", "Zl", "Zp"):
            out.append(" " if cat == "Zs" else "\n")
        else:
            out.append(ch)
    return "".join(out)


def boilerplate_reason(line: str) -> str | None:
    """Name the rule that marks `line` as non-article content, or None to keep it."""
    if _COMMENT_PROMPT.search(line):
        return "comment_prompt"
    if _RELATED.search(line):
        return "related_link"
    if _COPYRIGHT.search(line):
        return "copyright"
    if _EMAIL_SHIELD.search(line):
        return "appeal"
    if _APPEAL_TERMS.search(line) and _READER.search(line) and _word_count(line) <= 60:
        return "appeal"
    return None


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


def drop_boilerplate_lines(lines: list[str], title: str = "") -> list[str]:
    """Remove boilerplate lines, duplicated titles and consecutive duplicate lines."""
    title_key = _normal(title)
    flagged = [boilerplate_reason(line) is not None for line in lines]
    content = [i for i, line in enumerate(lines) if line.strip()]
    for pos, i in enumerate(content):
        if flagged[i]:
            continue
        prev_flag = pos > 0 and flagged[content[pos - 1]]
        next_flag = pos + 1 < len(content) and flagged[content[pos + 1]]
        # A short line inside an appeal block, or a sign-off right after one.
        if (prev_flag and next_flag and _word_count(lines[i]) <= 30) or (
            prev_flag and _is_short_sign_off(lines[i])
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
