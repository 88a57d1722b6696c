"""A question's topic as a noun phrase, and when a rewritten follow-up may be shown (invented
names and questions only)."""

from __future__ import annotations

import time

import pytest

from newsrag.rag.followup import rewrite_followup
from newsrag.rag.phrasing import differs_meaningfully, reads_as_question, topic_phrase


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        # modal / do-support: the inversion undone, the verb a gerund
        ("How much will Zorbix spend on its ferry fleet?", "Zorbix spending on its ferry fleet"),
        ("When did Zorbix announce the merger?", "Zorbix announcing the merger"),
        (
            "What will the Quill Institute be at the forefront of?",
            "the Quill Institute being at the forefront",
        ),
        ("What will the bakery plan for May?", "the bakery planning for May"),
        ("What did they say?", "them saying"),
        ("How many bakers does Zorbix have in Oslo?", "Zorbix in Oslo"),
        # be / have: a participle is the verb, otherwise the words are the noun phrase
        ("Who is the mayor of Port Vell?", "the mayor of Port Vell"),
        ("Why was Mira Tall fined?", "Mira Tall being fined"),
        ("Where is Zorbix building ferries?", "Zorbix building ferries"),
        ("How much has Zorbix invested in docks?", "Zorbix having invested in docks"),
        ("Which towns will the new ferries be in?", "the new ferries"),
        # the wh-phrase is the subject
        ("How many people work at Zorbix?", "people working at Zorbix"),
        ("Who founded Zorbix?", "who founded Zorbix"),
        # not a wh-question, or no subject to be found
        ("Zorbix builds ferries.", None),
        ("How?", None),
    ],
)  # fmt: skip
def test_topic_phrase(question: str, topic: str | None) -> None:
    assert topic_phrase(question) == topic


def history(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": "x [1]."}]


@pytest.mark.parametrize(
    ("anchor", "followup", "expected"),
    [
        (
            "What will the Quill Institute be at the forefront of?",
            "Who said that?",
            "Who said that, regarding the Quill Institute being at the forefront?",
        ),
        (
            "How much will Zorbix spend on its ferry fleet?",
            "and how many crews?",
            "How many crews, regarding Zorbix spending on its ferry fleet?",
        ),
        ("Who founded Zorbix?", "and when?", "When, regarding who founded Zorbix?"),
    ],
)
def test_elliptical_followups_become_sentences(anchor: str, followup: str, expected: str) -> None:
    rewritten = rewrite_followup(followup, history(anchor), None)
    assert rewritten == expected
    assert reads_as_question(rewritten) and differs_meaningfully(followup, rewritten)


def test_a_possessive_of_the_earlier_name_is_no_new_name() -> None:
    # "its" becomes "Port Vell's": not "what about <another place>?"
    rewritten = rewrite_followup(
        "and its harbour?", history("Who is the mayor of Port Vell?"), None
    )
    assert "Port Vell's harbour" in rewritten and "mayor of Port Vell" in rewritten


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Who said that, regarding the Quill Institute being at the forefront?", True),
        ("When did Zorbix announce the merger?", True),
        ("Who said that (the Quill Institute be at the forefront of)?", False),  # a fragment
        ("How many crews (Zorbix spend on its fleet)?", False),
        ("Who said that of?", False),  # a stranded preposition
        ("who said that?", False),
        ("Who said that", False),
        ("Who said the the thing?", False),
        ("Who? When?", False),
    ],
)
def test_reads_as_question(text: str, ok: bool) -> None:
    assert reads_as_question(text) is ok


def test_differs_meaningfully() -> None:
    assert not differs_meaningfully("and how many crews?", "How many crews?")
    assert not differs_meaningfully("when did zorbix open", "When did Zorbix open?")
    assert differs_meaningfully("When did it open?", "When did Zorbix open?")
    assert differs_meaningfully("What about Quill?", "How much will Quill spend?")


def test_topic_phrase_is_linear() -> None:
    def seconds(n: int) -> float:
        question = "How much will the " + "big " * n + "bakery spend on ferries?"
        start = time.perf_counter()
        topic_phrase(question)
        return time.perf_counter() - start

    small = min(seconds(500) for _ in range(5))  # questions are capped far below this
    large = min(seconds(5_000) for _ in range(5))
    assert large <= 15 * small
