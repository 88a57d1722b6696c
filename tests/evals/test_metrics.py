"""Metrics on hand-made answers with known values, and properties of normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsrag.evals.metrics import (
    QuestionScore,
    contains,
    normalise,
    score_question,
    strip_markers,
    summarise,
    summarise_by_type,
)
from tests.evals.helpers import answer, citation, gold

OTHER = "Alibaba shares closed lower on Tuesday."
HUB = "Alibaba is going to invest $15 billion to expand overseas research hubs."
ISRAEL = "It is part of a $ 15 billion program."
PHIL = "It will launch its first data center in the Philippines."
PHIL_QUOTE = "first data center in the Philippines"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$15 Billion", "15 billion"),
        ("  $2.8   billion. ", "2.8 billion"),
        ("10-20% of the capital", "10-20 of the capital"),
        ("25,000 engineers, and", "25,000 engineers and"),
        ("The Jack Ma-led company", "the jack ma led company"),
        ("“6.18”", "6.18"),
        ("Alibaba’s DAMO", "alibaba s damo"),
        ("ends in 2014.", "ends in 2014"),
    ],
)
def test_normalise_examples(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@given(st.text())
def test_normalise_is_idempotent_and_tidy(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert once == once.strip() and "  " not in once
    assert not any(ch.isspace() and ch != " " for ch in once)


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)))
def test_normalise_ignores_ascii_case_and_spacing(text: str) -> None:
    assert normalise(text.upper()) == normalise(text.lower())
    assert normalise(" \n".join(text.split(" "))) == normalise(text)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False))
def test_money_keeps_its_digits_and_separators(amount: object) -> None:
    written = f"{amount:,}"
    assert normalise(f"${written}") == written
    assert contains(f"It costs ${written}.", written)


@given(st.integers(min_value=1, max_value=10**6))
def test_contains_matches_whole_numbers_only(n: int) -> None:
    assert contains(f"about {n} people", str(n))
    assert not contains(f"about {n}0 people", str(n))


@given(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True))
def test_contains_ignores_surrounding_punctuation(word: str) -> None:
    assert contains(f"(“{word}”).", word)
    assert not contains("", word)


def test_strip_markers_removes_only_citation_markers() -> None:
    assert strip_markers("It hired 100 researchers [1][2, 3].").split() == [
        "It",
        "hired",
        "100",
        "researchers",
        ".",
    ]
    assert not contains(strip_markers("Not stated [100]."), "100")


def _scores() -> list[QuestionScore]:
    hub = gold("s1", ("$15 billion",), ("invest $15 billion", "a $ 15 billion program"))
    phil = gold("m1", ("Philippines",), (PHIL_QUOTE, "no such quote"), "multi")
    cited = (citation(1, "a#0", HUB), citation(2, "x#0", OTHER))
    return [
        score_question(
            hub,
            answer("Alibaba will invest $15 billion [1].", citations=cited, total_ms=10),
            [OTHER, HUB, ISRAEL],
            [HUB, OTHER],
        ),
        score_question(phil, answer("", answerable=False, total_ms=20), [PHIL, OTHER], []),
        score_question(gold("u1"), answer("", answerable=False, total_ms=30), [OTHER], []),
        score_question(gold("u2"), answer("Shares fell [1].", total_ms=40), [OTHER], [OTHER]),
    ]


def test_question_scores_record_ranks_citations_and_refusals() -> None:
    hub, phil, refused, answered = _scores()
    assert hub.evidence_ranks == (2, 3) and phil.evidence_ranks == (1, None)
    assert hub.citation_holds == (True, False) and hub.evidence_cited == (True, False)
    assert hub.answer_correct is True and phil.answer_correct is False
    assert (hub.refused, phil.refused, refused.refused, answered.refused) == (
        False,
        True,
        True,
        False,
    )
    assert refused.answer_correct is None and refused.evidence_ranks == ()
    assert [s.passed for s in _scores()] == [True, False, True, False]
    assert phil.checks() == {"answer": False, "not_refused": False, "cited_evidence": False}


def test_summary_values_match_the_definitions() -> None:
    values = summarise(_scores())
    assert values["hit@1"] == 0.5  # only m1 has evidence at rank 1
    assert values["hit@3"] == 1.0 and values["hit@5"] == 1.0
    assert values["evidence_recall@5"] == 0.75  # 3 of 4 quotes in the top 5
    assert values["mrr@10"] == 0.75  # (1/2 + 1/1) / 2
    assert values["answer_accuracy"] == 0.5
    assert values["citation_precision"] == 0.5  # 1 of 2 citations holds evidence
    assert values["citation_recall"] == 0.25  # 1 of 4 quotes cited
    assert values["refusal_accuracy"] == 0.5
    assert values["false_refusal_rate"] == 0.5
    assert values["latency_p50_ms"] == 25.0
    assert values["latency_p95_ms"] == pytest.approx(38.5)


def test_summary_by_type_leaves_undefined_metrics_empty() -> None:
    by_type = summarise_by_type(_scores())
    assert list(by_type) == ["single", "multi", "unanswerable"]
    assert by_type["single"]["answer_accuracy"] == 1.0
    assert by_type["multi"]["false_refusal_rate"] == 1.0
    assert by_type["unanswerable"]["answer_accuracy"] is None
    assert by_type["single"]["refusal_accuracy"] is None
    assert summarise([])["hit@5"] is None


def test_evidence_beyond_k_and_mrr_cutoff() -> None:
    quote = "first data center in the Philippines"
    passages = [OTHER] * 10 + [PHIL]
    score = score_question(gold("s", ("Philippines",), (quote,)), answer("x"), passages, [])
    assert score.evidence_ranks == (11,)
    assert not score.hit(10) and score.reciprocal_rank() == 0.0 and score.hit(11)
