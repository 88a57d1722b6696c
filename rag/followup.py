"""Follow-up questions ("and how many researchers?") rewritten into standalone ones.

By the LLM when there is one; otherwise deterministically, carrying the names and the subject
of earlier user turns. The deterministic rewrite stays a sentence: an elliptical follow-up gets
the earlier question's topic as a noun phrase ("..., regarding Corvex investing in its research
hubs?"), built by undoing the question's inversion (topic_phrase); only when that fails does it
fall back to a bracketed clause that helps retrieval but is never shown (reads_as_question).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from newsrag.rag.errors import LLMError
from newsrag.rag.facts import entity_spans
from newsrag.rag.lexicon import POSSESSIVES, PRONOUNS, QUESTION_OPENERS
from newsrag.rag.phrasing import topic_phrase
from newsrag.rag.prompts import build_rewrite_messages, sanitize_model_text

if TYPE_CHECKING:
    from newsrag.rag.llm import ChatModel

log = logging.getLogger(__name__)

Message = dict[str, str]

_CONNECTOR = re.compile(
    r"^\s*(?:and\s+what\s+about|what\s+about|how\s+about|and\s+also|and|also|but|"
    r"what\s+of|same\s+for)\b[\s,]*",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][\w&'’.-]*[\w]|[A-Za-z]|\d[\w.,%$]*")


def named_entities(text: str) -> list[str]:
    """The names in text, in order: facts.entity_spans, without an opening question word.

    One name detector serves the answerer and follow-ups; an imperative opener ("Tell",
    "Show") is a question word here, not a name.
    """
    spans = entity_spans(text)
    opening = _WORD.search(text)
    if spans and opening and opening.group().lower() in QUESTION_OPENERS:
        first = spans[0].split()
        if first[0] == opening.group():
            rest = " ".join(first[1:])
            spans = [rest, *spans[1:]] if rest else spans[1:]
    return spans


def is_followup(question: str) -> bool:
    """Whether a question leans on earlier turns: a connector, a leading pronoun, or no name."""
    if _CONNECTOR.match(question) or not named_entities(question):
        return True
    words = [w.lower() for w in _WORD.findall(question)]
    rest = [w for w in words if w not in QUESTION_OPENERS]
    return bool(rest) and words.index(rest[0]) <= 3 and rest[0] in PRONOUNS


def _bare(name: str) -> str:
    return re.sub(r"['’]s$", "", name)


def _subject_clause(question: str) -> str:
    """A question without its opening question words and final mark: the subject it is about."""
    words = question.strip().rstrip("?.! ").split()
    while words and words[0].lower().strip(",") in QUESTION_OPENERS:
        words.pop(0)
    return " ".join(words)


def _replace_pronouns(question: str, entity: str) -> str:
    def swap(match: re.Match[str]) -> str:
        return f"{entity}'s" if match.group().lower() in POSSESSIVES else entity

    return re.sub(r"\b(?:it|its|they|them|their|he|him|his|she|her)\b", swap, question, flags=re.I)


def rewrite_deterministic(question: str, history: list[Message]) -> str:
    """Standalone question without an LLM: carry the names and subject of earlier user turns."""
    turns = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if not turns or not is_followup(question):
        return question
    anchor = next((t for t in reversed(turns) if named_entities(t)), turns[-1])
    anchor_entities = named_entities(anchor)
    core = _CONNECTOR.sub("", question).strip().rstrip("?.! ")
    if not core:
        return anchor
    if anchor_entities and PRONOUNS & {w.lower() for w in _WORD.findall(core)}:
        core = _replace_pronouns(core, anchor_entities[0])
    names = named_entities(core)
    # "What about Tencent?" swaps in a name the earlier question did not hold ("its" made
    # "Acme's" is no new name).
    known = {e.casefold() for e in anchor_entities}
    new = [e for e in names if _bare(e).casefold() not in known]
    starts_with_question = core.split()[0].lower() in QUESTION_OPENERS
    if new and not starts_with_question and anchor_entities:
        # "what about Tencent?": the earlier question, asked about the new name.
        return anchor.replace(anchor_entities[0], new[0], 1)
    if names and not _CONNECTOR.match(question):
        return core[0].upper() + core[1:] + "?"
    head = core[0].upper() + core[1:]
    topic = topic_phrase(anchor)
    if topic:
        return f"{head}, regarding {topic}?"
    # Not a sentence, and never shown (reads_as_question); the words still steer retrieval.
    return f"{head} ({_subject_clause(anchor)})?"


def rewrite_followup(question: str, history: list[Message], model: ChatModel | None) -> str:
    """A standalone version of question: by the LLM when given, else deterministically."""
    if not any(m.get("role") == "user" for m in history):
        return question
    if model is None:
        return rewrite_deterministic(question, history)
    try:
        reply = model.complete(build_rewrite_messages(question, history))
    except LLMError as exc:
        log.warning("LLM rewrite failed; rewriting deterministically", extra={"error": str(exc)})
        return rewrite_deterministic(question, history)
    lines = sanitize_model_text(reply).strip().strip("\"'“”").splitlines()
    rewritten = lines[0].strip() if lines else ""
    if not rewritten or len(rewritten) > max(4 * len(question), 300):
        return rewrite_deterministic(question, history)
    return rewritten
