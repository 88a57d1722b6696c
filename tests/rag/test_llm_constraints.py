"""The LLM path holds to the question's constraints (scripted OpenAI-compatible TEST DOUBLE).

A naive model that never refuses and repeats the first sentence of the top passage must not
get a near miss (another year) or a counterfactual copy through as a verified answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsrag.index import IndexStore, SentenceTransformerEmbedder
from newsrag.rag.pipeline import AnswerPipeline
from newsrag.rag.prompts import constraints_note
from newsrag.rag.questions import analyse
from newsrag.rag.records import Answer, AnswerRequest
from newsrag.rag.retrieval import HybridRetriever
from newsrag.rag.vectors import CachedEmbedder
from tests.rag.articles import store_of
from tests.rag.conftest import ModelFactory
from tests.rag.llm_double import LLMDouble, Request, reply

PASSAGE = re.compile(
    r'<passage id="(\d+)">\n\[\d+\] \([^)]*\) Title: [^\n]*\n(.*?)\n</passage>', re.S
)

NEAR_MISSES = [
    {
        "id": "r19",
        "title": "Harbour Regatta 2019",
        "body": "Ole Brandt won the 2019 Harbour Regatta after a tight final race on Sunday.",
        "published_at": "2019-06-02",
    },
    {
        "id": "r20",
        "title": "Harbour Regatta 2020",
        "body": "Ada Lind won the 2020 Harbour Regatta in strong winds off the north pier.",
        "published_at": "2020-06-07",
    },
]
WITH_ANSWER = [
    *NEAR_MISSES,
    {
        "id": "r17",
        "title": "Harbour Regatta 2017",
        "body": "Mara Quist won the 2017 Harbour Regatta after a tight final race on Sunday.",
        "published_at": "2017-06-04",
    },
]


# The asked year's regatta is covered, but no passage says who won it: close, not answering.
NO_WINNER = [
    *NEAR_MISSES,
    {
        "id": "r17-report",
        "title": "Harbour Regatta 2017",
        "body": "Who won the 2017 Harbour Regatta stays open while the jury hears a protest.",
        "published_at": "2017-06-04",
    },
]
# A counterfactual twin: the same report with the winner changed, beside the true one.
TWINS = [
    WITH_ANSWER[2],
    {
        "id": "r17-twin",
        "title": "Harbour Regatta 2017",
        "body": "Lena Holm won the 2017 Harbour Regatta after a tight final race on Sunday.",
        "published_at": "2017-06-04",
    },
]

# Two articles agree on the date; a third gives another one in other words (no twin, no vote).
DATES = [
    {
        "id": "d1",
        "title": "Harbour Regatta 2017",
        "body": "The 2017 Harbour Regatta was held on June 4, 2017 off the north pier.",
        "published_at": "2017-06-05",
    },
    {
        "id": "d2",
        "title": "Regatta day",
        "body": "Crowds lined the quay as the 2017 Harbour Regatta was held on June 4, 2017.",
        "published_at": "2017-06-06",
    },
    {
        "id": "d3",
        "title": "Club newsletter",
        "body": "Our newsletter wrongly said the 2017 Harbour Regatta was held on June 11, 2017.",
        "published_at": "2017-07-01",
    },
]


def cite(word: str, claim: str) -> Callable[[Request], str]:
    """A scripted reply: `claim` cited to the shown passage that holds `word`."""

    def respond(body: Request) -> str:
        shown = dict(PASSAGE.findall(body["messages"][-1]["content"]))
        return claim.format(n=next(k for k, text in shown.items() if word in text))

    return respond


def naive(body: Request) -> str:
    """Repeat the first sentence of passage [1] and cite it: never refuses, never checks."""
    first = dict(PASSAGE.findall(body["messages"][-1]["content"]))["1"]
    return first.split(". ")[0].rstrip(".") + " [1]."


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> dict[str, IndexStore]:
    root: Path = tmp_path_factory.mktemp("regatta")
    sets = {
        "near": NEAR_MISSES,
        "answer": WITH_ANSWER,
        "no_winner": NO_WINNER,
        "twins": TWINS,
        "dates": DATES,
    }
    for name in sets:
        (root / name).mkdir()
    return {name: store_of(articles, root / name, embedder) for name, articles in sets.items()}


WINNER = "Who won the 2017 Harbour Regatta?"
WHEN = "When was the 2017 Harbour Regatta held?"


@dataclass(frozen=True)
class Regatta:
    """The regatta stores, the scripted LLM double and a pipeline over them, per test."""

    stores: dict[str, IndexStore]
    embedder: SentenceTransformerEmbedder
    double: LLMDouble
    make_model: ModelFactory

    def ask(
        self, name: str, respond: str | Callable[[Request], str], question: str = WINNER
    ) -> Answer:
        """Script the double to answer with `respond`, then ask `question` over store `name`."""
        self.double.script(reply(respond))
        retriever = HybridRetriever(self.stores[name])
        model = self.make_model()
        pipeline = AnswerPipeline(retriever, CachedEmbedder(self.embedder), model, k=4)
        return pipeline.answer(AnswerRequest(question))


@pytest.fixture
def regatta(
    stores: dict[str, IndexStore],
    embedder: SentenceTransformerEmbedder,
    llm_double: LLMDouble,
    make_model: ModelFactory,
) -> Regatta:
    return Regatta(stores, embedder, llm_double, make_model)


def test_the_prompt_states_the_asked_time_and_names(regatta: Regatta) -> None:
    regatta.ask("answer", naive)
    prompt = regatta.double.requests[-1]["messages"][-1]["content"]
    assert "time: 2017" in prompt and "Harbour Regatta" in prompt


def test_a_naive_model_over_near_misses_is_not_passed_through(regatta: Regatta) -> None:
    answer = regatta.ask("near", naive)
    assert not answer.answerable
    assert "Ole Brandt" not in answer.answer and "Ada Lind" not in answer.answer
    # Only other years were retrieved: a near miss that says what they cover, the model unasked.
    assert answer.refusal_reason == "near_miss" and answer.mode == "llm"
    assert regatta.double.calls == 0
    assert "2019" in answer.answer and "not for 2017" in answer.answer
    assert answer.citations and not any(c.supported for c in answer.citations)


def test_a_naive_model_answering_from_a_near_miss_is_refused_as_one(regatta: Regatta) -> None:
    # The 2017 report makes the passages relevant, so the model is asked; it answers from 2019.
    answer = regatta.ask(
        "no_winner", cite("Ole Brandt", "Ole Brandt won the 2019 Harbour Regatta [{n}].")
    )
    assert regatta.double.calls == 1
    assert not answer.answerable and "Ole Brandt won" not in answer.answer
    assert answer.refusal_reason == "near_miss" and answer.degraded
    assert answer.short_answer is None


def test_a_verified_sentence_without_the_asked_value_falls_back(regatta: Regatta) -> None:
    # Stated by the right passage, about the right year, but it names no winner.
    claim = "The 2017 Harbour Regatta ended after a tight final race on Sunday [{n}]."
    answer = regatta.ask("answer", cite("Mara Quist", claim))
    assert answer.answerable and answer.degraded and answer.mode == "extractive"
    assert answer.short_answer == "Mara Quist"


def test_an_llm_answer_that_holds_keeps_llm_mode_and_gets_its_short_answer(
    regatta: Regatta,
) -> None:
    answer = regatta.ask(
        "answer", cite("Mara Quist", "Mara Quist won the 2017 Harbour Regatta [{n}].")
    )
    assert answer.answerable and answer.mode == "llm" and not answer.degraded
    assert answer.short_answer == "Mara Quist"
    assert answer.answer == "Mara Quist won the 2017 Harbour Regatta [1]."


def test_a_naive_model_answering_from_a_counterfactual_twin_is_flagged(regatta: Regatta) -> None:
    claim = "Lena Holm won the 2017 Harbour Regatta after a tight final race on Sunday [{n}]."
    answer = regatta.ask("twins", cite("Lena Holm", claim))
    assert regatta.double.calls == 1
    # One side of a disagreement: the extractive answer says sources disagree and cites both.
    assert answer.conflict and answer.degraded and answer.mode == "extractive"
    assert "Mara Quist" in answer.answer and "Lena Holm" in answer.answer
    assert len({c.doc_id for c in answer.citations if c.supported}) == 2


def test_an_llm_answer_citing_both_sides_of_a_conflict_is_kept_and_flagged(
    regatta: Regatta,
) -> None:
    def both(body: Request) -> str:
        true = cite("Mara Quist", "Mara Quist won the 2017 Harbour Regatta [{n}].")(body)
        twin = cite(
            "Lena Holm", "Another report says Lena Holm won the 2017 Harbour Regatta [{n}]."
        )
        return f"Sources disagree. {true} {twin(body)}"

    answer = regatta.ask("twins", both)
    assert answer.mode == "llm" and not answer.degraded and answer.conflict
    assert "Mara Quist" in answer.answer and "Lena Holm" in answer.answer


def test_a_model_refusal_over_close_passages_says_what_they_cover(regatta: Regatta) -> None:
    answer = regatta.ask("no_winner", "INSUFFICIENT_CONTEXT")
    assert regatta.double.calls == 1 and not answer.answerable
    assert answer.refusal_reason == "near_miss" and answer.mode == "llm"


def test_a_naive_model_citing_the_wrong_year_falls_back_to_what_holds(regatta: Regatta) -> None:
    def wrong_year(body: Request) -> str:
        shown = dict(PASSAGE.findall(body["messages"][-1]["content"]))
        n = next(k for k, text in shown.items() if "2019" in text)
        return f"Ole Brandt won the regatta [{n}]."

    answer = regatta.ask("answer", wrong_year)
    assert "Ole Brandt" not in answer.answer
    assert answer.answerable and answer.degraded and answer.mode == "extractive"
    assert answer.short_answer == "Mara Quist"


def test_the_constraints_note_states_quarters_relative_and_latest_times() -> None:
    asked = analyse("What did Lumo Freight report as revenue in the second quarter of 2021?")
    note = constraints_note(asked.time, asked.names, asked.source)
    assert "time: 2021, the second quarter" in note and "Lumo Freight" in note
    assert "another time, event, organisation or source" in note
    latest = analyse("Who is the current chair of Ostrava Rail?")
    assert "the most recent" in constraints_note(latest.time, latest.names, None)
    last = analyse("How much did Ostrava Rail spend last year?")
    assert "last year (counted from each passage's date)" in constraints_note(
        last.time, last.names, None
    )
    assert constraints_note(analyse("how are you").time, (), None) == ""


def test_an_llm_answer_giving_another_value_than_the_best_supported_is_replaced(
    regatta: Regatta,
) -> None:
    claim = "The 2017 Harbour Regatta was held on June 11, 2017 [{n}]."
    answer = regatta.ask("dates", cite("June 11", claim), WHEN)
    assert regatta.double.calls == 1
    assert answer.answerable and answer.degraded and answer.mode == "extractive"
    assert answer.short_answer is not None and "June 4" in answer.short_answer
    # The same model giving the best-supported date keeps its answer.
    kept = regatta.ask(
        "dates", cite("off the north pier", "It was held on June 4, 2017 [{n}]."), WHEN
    )
    assert kept.mode == "llm" and not kept.degraded and kept.short_answer is not None
    assert "June 4" in kept.short_answer
