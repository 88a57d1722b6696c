"""rag.records: the Answer JSON contract, SearchFilters' checks and matching, AnswerRequest."""

from __future__ import annotations

import dataclasses
import json

import pytest

from newsrag.index import Chunk
from newsrag.rag.records import (
    Answer,
    AnswerEvent,
    AnswerRequest,
    AnswerSentence,
    Citation,
    SearchFilters,
)


def chunk(source: str | None = "Harbour Post", published_at: str | None = "2021-05-02") -> Chunk:
    text = "Lumo Freight opened a depot in Tarvik."
    return Chunk("lumo#0", "lumo", 0, text, 0, len(text), 10, "Depot", source, published_at)


def answer() -> Answer:
    citation = Citation(1, "lumo#0", "lumo", "Depot", "Harbour Post", "2021-05-02", "text", 0, 4)
    return Answer(
        question="Where did Lumo Freight open a depot?",
        answer="In Tarvik [1].",
        answerable=True,
        refusal_reason=None,
        mode="extractive",
        degraded=False,
        citations=(citation,),
        timings_ms={"retrieve": 1.5},
        sentences=(AnswerSentence("In Tarvik [1].", (1,), True),),
        passages=("lumo#0",),
        short_answer="Tarvik",
    )


def test_answer_to_dict_is_plain_json_with_nested_records_as_objects() -> None:
    data = answer().to_dict()
    assert json.loads(json.dumps(data)) == {
        "question": "Where did Lumo Freight open a depot?",
        "answer": "In Tarvik [1].",
        "answerable": True,
        "refusal_reason": None,
        "mode": "extractive",
        "degraded": False,
        "citations": [
            {
                "marker": 1,
                "chunk_id": "lumo#0",
                "doc_id": "lumo",
                "title": "Depot",
                "source": "Harbour Post",
                "published_at": "2021-05-02",
                "text": "text",
                "start": 0,
                "end": 4,
                "supported": True,
                "url": None,
            }
        ],
        "timings_ms": {"retrieve": 1.5},
        "sentences": [{"text": "In Tarvik [1].", "markers": [1], "supported": True}],
        "dropped_markers": 0,
        "conflict": False,
        "standalone_question": None,
        "passages": ["lumo#0"],
        "short_answer": "Tarvik",
        "margin": None,
    }


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer().answer = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SearchFilters().source = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "last week"}, "since must be a date YYYY-MM-DD, got 'last week'"),
        ({"until": "2021-02-30"}, "until must be a date YYYY-MM-DD, got '2021-02-30'"),
        ({"since": "2024-01-02", "until": "2024-01-01"}, "since 2024-01-02 is after until"),
    ],
)
def test_bad_filters_say_what_is_wrong(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchFilters(**kwargs)


def test_filters_are_active_when_any_restriction_is_set() -> None:
    assert not SearchFilters().active
    assert SearchFilters(source="Harbour Post").active
    assert SearchFilters(since="2021-01-01").active
    assert SearchFilters(until="2021-01-01").active


def test_the_source_matches_regardless_of_case_and_surrounding_space() -> None:
    assert SearchFilters(source="  harbour POST ").matches(chunk())
    assert not SearchFilters(source="Harbour").matches(chunk())
    assert not SearchFilters(source="Harbour Post").matches(chunk(source=None))


def test_the_date_range_is_inclusive_and_reads_the_day_of_a_timestamp() -> None:
    day = chunk(published_at="2021-05-02T23:59:00Z")
    assert SearchFilters(since="2021-05-02", until="2021-05-02").matches(day)
    assert SearchFilters(since="2021-05-01").matches(day)
    assert not SearchFilters(since="2021-05-03").matches(day)
    assert not SearchFilters(until="2021-05-01").matches(day)


def test_a_chunk_of_unknown_date_fails_any_date_restriction_only() -> None:
    for published_at in (None, "", "2021"):
        undated = chunk(published_at=published_at)
        assert not SearchFilters(since="2000-01-01").matches(undated)
        assert not SearchFilters(until="2100-01-01").matches(undated)
        assert SearchFilters(source="harbour post").matches(undated)
        assert SearchFilters().matches(undated)


def test_an_answer_request_checks_k_and_defaults_to_the_pipeline() -> None:
    request = AnswerRequest("Who?")
    assert (request.history, request.k, request.filters, request.no_llm) == ((), None, None, False)
    assert AnswerRequest("Who?", k=1).k == 1
    for k in (0, -3):
        with pytest.raises(ValueError, match=f"k must be >= 1, got {k}"):
            AnswerRequest("Who?", k=k)


def test_an_answer_event_is_a_token_or_the_final_answer() -> None:
    token = AnswerEvent("token", "In ")
    assert (token.kind, token.text, token.answer) == ("token", "In ", None)
    final = AnswerEvent("answer", answer=answer())
    assert final.text == "" and final.answer is not None and final.answer.short_answer == "Tarvik"
