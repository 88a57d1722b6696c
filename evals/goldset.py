"""Gold Q&A sets: load and validate the JSONL format of DESIGN.md, check evidence in a corpus."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from newsrag.evals.errors import GoldFormatError
from newsrag.index import Article

QuestionType = Literal["single", "multi", "conflict", "unanswerable"]
QUESTION_TYPES: tuple[QuestionType, ...] = ("single", "multi", "conflict", "unanswerable")
FIELDS = ("id", "question", "answers", "evidence", "answerable", "type")

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class GoldQuestion:
    """One gold question: accepted answer aliases and verbatim evidence quotes."""

    id: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    answerable: bool
    type: QuestionType


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read and validate a gold JSONL file; raises GoldFormatError naming the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldFormatError(f"{path}: cannot read gold file: {exc}") from exc
    questions: list[GoldQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        question = parse_question(line, where)
        if question.id in seen:
            raise GoldFormatError(
                f"{where}: duplicate id {question.id!r} (line {seen[question.id]})"
            )
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise GoldFormatError(f"{path}: no questions")
    return questions


def parse_question(line: str, where: str = "gold") -> GoldQuestion:
    """One validated GoldQuestion from one JSON line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise GoldFormatError(f"{where}: not JSON: {exc.msg}") from exc
    if not isinstance(record, dict):
        raise GoldFormatError(f"{where}: a line must be a JSON object")
    missing = [f for f in FIELDS if f not in record]
    extra = sorted(set(record) - set(FIELDS))
    if missing or extra:
        raise GoldFormatError(f"{where}: missing fields {missing}, unknown fields {extra}")
    for name in ("id", "question"):
        if not isinstance(record[name], str) or not record[name].strip():
            raise GoldFormatError(f"{where}: {name!r} must be a non-empty string")
    answers = _strings(record["answers"], "answers", where)
    evidence = _strings(record["evidence"], "evidence", where)
    answerable, kind = record["answerable"], record["type"]
    if not isinstance(answerable, bool):
        raise GoldFormatError(f"{where}: 'answerable' must be true or false")
    if kind not in QUESTION_TYPES:
        raise GoldFormatError(f"{where}: 'type' must be one of {', '.join(QUESTION_TYPES)}")
    if answerable == (kind == "unanswerable"):
        raise GoldFormatError(f"{where}: type 'unanswerable' if and only if answerable is false")
    if answerable != bool(answers and evidence):
        raise GoldFormatError(
            f"{where}: answerable questions need answers and evidence; unanswerable ones none"
        )
    return GoldQuestion(
        record["id"], record["question"], answers, evidence, answerable, cast(QuestionType, kind)
    )


def _strings(value: object, name: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise GoldFormatError(f"{where}: {name!r} must be a list of non-empty strings")
    return tuple(value)


def squash_space(text: str) -> str:
    """Collapse runs of whitespace to one space (evidence is whitespace-insensitive)."""
    return _SPACE.sub(" ", text).strip()


def missing_evidence(
    questions: Iterable[GoldQuestion], articles: Iterable[Article]
) -> list[tuple[str, str]]:
    """(question id, quote) for every evidence quote found verbatim in no article."""
    texts = [squash_space(a.text) for a in articles]
    return [
        (q.id, quote)
        for q in questions
        for quote in q.evidence
        if not any(squash_space(quote) in text for text in texts)
    ]


def file_digest(path: Path) -> str:
    """sha256 of a file, to tie a report or baseline to the gold set it scored."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
