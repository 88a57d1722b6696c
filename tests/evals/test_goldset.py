"""The shipped gold set is valid, its evidence is real corpus text, and bad files are rejected."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from newsrag.evals.errors import GoldFormatError
from newsrag.evals.goldset import load_gold, missing_evidence, parse_question
from newsrag.index import load_paths

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "evals" / "gold" / "news.jsonl"

GOOD = {
    "id": "q1",
    "question": "How much?",
    "answers": ["$15 billion"],
    "evidence": ["invest $15 billion"],
    "answerable": True,
    "type": "single",
}


def test_shipped_gold_set_is_valid_and_covers_every_type() -> None:
    questions = load_gold(GOLD)
    counts = Counter(q.type for q in questions)
    assert len(questions) >= 40
    assert counts["unanswerable"] >= 10
    assert counts["multi"] >= 1 and counts["conflict"] >= 1
    assert len({q.id for q in questions}) == len(questions)


def test_every_evidence_quote_occurs_in_the_cleaned_corpus() -> None:
    articles = load_paths([ROOT / "corpus"]).articles
    assert missing_evidence(load_gold(GOLD), articles) == []


def test_conflict_questions_quote_both_sources() -> None:
    articles = load_paths([ROOT / "corpus"]).articles
    for question in (q for q in load_gold(GOLD) if q.type == "conflict"):
        holders = {
            a.id
            for a in articles
            for quote in question.evidence
            if " ".join(quote.split()) in " ".join(a.text.split())
        }
        assert len(holders) >= 2, question.id


def test_missing_evidence_names_quotes_not_in_the_articles() -> None:
    articles = load_paths([ROOT / "corpus"]).articles
    bad = json.dumps({**GOOD, "evidence": ["is going to   invest\n$15 billion", "not there"]})
    question = parse_question(bad)
    assert missing_evidence([question], articles) == [("q1", "not there")]


def _write(tmp_path: Path, *records: dict[str, object]) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answerable": False}, "unanswerable"),
        ({"type": "unanswerable"}, "unanswerable"),
        ({"type": "other"}, "'type' must be one of"),
        ({"answers": []}, "need answers and evidence"),
        ({"evidence": "invest"}, "list of non-empty strings"),
        ({"id": ""}, "'id' must be a non-empty string"),
        ({"extra": 1}, "unknown fields ['extra']"),
    ],
)
def test_invalid_records_are_rejected(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(GoldFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_gold(_write(tmp_path, {**GOOD, **change}))


def test_unanswerable_record_with_empty_lists_is_valid(tmp_path: Path) -> None:
    record = {**GOOD, "answers": [], "evidence": [], "answerable": False, "type": "unanswerable"}
    [question] = load_gold(_write(tmp_path, record))
    assert question.answerable is False and question.answers == ()


def test_duplicate_ids_and_bad_json_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(GoldFormatError, match=r"gold.jsonl:2: duplicate id 'q1' \(line 1\)"):
        load_gold(_write(tmp_path, GOOD, GOOD))
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(GoldFormatError, match=r"broken.jsonl:2: not JSON"):
        load_gold(path)
