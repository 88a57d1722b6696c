"""Follow-up rewriting and the chat loop, driven with plain read/write callables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from newsrag.rag.chat import run_chat
from newsrag.rag.followup import is_followup, named_entities, rewrite_followup
from newsrag.rag.records import Answer, Citation
from tests.rag.conftest import ModelFactory
from tests.rag.llm_double import LLMDouble, reply, status

ALIBABA = "How much will Alibaba invest in its overseas research hubs?"
HISTORY = [
    {"role": "user", "content": ALIBABA},
    {"role": "assistant", "content": "Alibaba will invest $15 billion [1]."},
]


def test_named_entities_skip_question_words_and_pronouns() -> None:
    assert named_entities(ALIBABA) == ["Alibaba"]
    assert named_entities("Who is the CEO of Alibaba Cloud?") == ["CEO of Alibaba Cloud"]
    assert named_entities("Tell me about Amazon and JD.com") == ["Amazon", "JD.com"]
    assert named_entities("and how many researchers?") == []
    assert named_entities("What did He say to Tesla") == ["Tesla"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("and how many researchers?", True),
        ("What about Tencent?", True),
        ("When did it announce the plan?", True),
        ("how many were hired", True),
        (ALIBABA, False),
        ("How many active buyers did Pinduoduo have?", False),
    ],
)
def test_is_followup(question: str, expected: bool) -> None:
    assert is_followup(question) is expected


def test_standalone_questions_are_left_alone() -> None:
    other = "How many active buyers did Pinduoduo have?"
    assert rewrite_followup(other, HISTORY, None) == other
    assert rewrite_followup("and how many researchers?", [], None) == "and how many researchers?"


def test_elliptical_followup_carries_the_earlier_subject() -> None:
    rewritten = rewrite_followup("and how many researchers?", HISTORY, None)
    assert rewritten.lower().startswith("how many researchers")
    assert "Alibaba" in rewritten and "research hubs" in rewritten


def test_pronoun_is_replaced_by_the_earlier_entity() -> None:
    assert rewrite_followup("When did it announce the plan?", HISTORY, None) == (
        "When did Alibaba announce the plan?"
    )
    assert "Alibaba's" in rewrite_followup("and what are its research areas?", HISTORY, None)


def test_what_about_asks_the_earlier_question_of_a_new_name() -> None:
    assert rewrite_followup("What about Tencent?", HISTORY, None) == (
        "How much will Tencent invest in its overseas research hubs?"
    )


def test_chains_of_followups_keep_the_anchor() -> None:
    history = [
        *HISTORY,
        {"role": "user", "content": "and how many researchers?"},
        {"role": "assistant", "content": "100 researchers [1]."},
    ]
    assert "Alibaba" in rewrite_followup("and where?", history, None)


def test_llm_rewrite_uses_the_model(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(reply('"How many researchers is Alibaba hiring for its research hubs?"'))
    model = make_model()
    rewritten = rewrite_followup("and how many researchers?", HISTORY, model)
    assert rewritten == "How many researchers is Alibaba hiring for its research hubs?"
    assert llm_double.calls == 1
    prompt = llm_double.prompt_text()
    assert "standalone" in prompt and ALIBABA in prompt and "and how many researchers?" in prompt


def test_llm_rewrite_falls_back_when_the_model_fails(
    llm_double: LLMDouble, make_model: ModelFactory
) -> None:
    llm_double.script(status(500))
    rewritten = rewrite_followup("and how many researchers?", HISTORY, make_model(max_retries=1))
    assert "Alibaba" in rewritten
    assert llm_double.calls == 2


def test_llm_is_not_called_without_history(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    assert rewrite_followup(ALIBABA, [], make_model()) == ALIBABA
    assert llm_double.calls == 0


# --- run_chat with fake read/write/ask --------------------------------------------------------


@dataclass(frozen=True)
class Event:
    kind: str
    text: str = ""
    answer: Answer | None = None


def make_answer(question: str, text: str, *, answerable: bool = True) -> Answer:
    citation = Citation(
        marker=1,
        chunk_id="a#0",
        doc_id="a",
        title="Alibaba to invest $15b",
        source="Benzinga",
        published_at="2021-06-15",
        text="Alibaba is going to invest $15 billion to expand overseas research hubs.",
        start=0,
        end=70,
    )
    return Answer(
        question=question,
        answer=text,
        answerable=answerable,
        refusal_reason=None if answerable else "no_relevant_passages",
        mode="extractive",
        degraded=False,
        citations=(citation,) if answerable else (),
        timings_ms={"total": 1.0},
    )


class Script:
    """Fake terminal: lines to read (exceptions allowed), everything written."""

    def __init__(self, *lines: str | type[BaseException]) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []
        self.output: list[str] = []

    def read(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.lines:
            raise EOFError
        line = self.lines.pop(0)
        if isinstance(line, type):
            raise line()
        return line

    def write(self, text: str) -> None:
        self.output.append(text)

    @property
    def text(self) -> str:
        return "".join(self.output)


class FakeAsk:
    """Records questions and the history it was given; streams the answer word by word."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, str]]]] = []

    def __call__(self, question: str, history: list[dict[str, str]]) -> Iterator[Event]:
        self.calls.append((question, history))
        text = f"Answer {len(self.calls)} [1]."
        for word in text.split(" "):
            yield Event("token", word + " ")
        yield Event("answer", answer=make_answer(question, text))


def test_run_chat_streams_answers_and_keeps_history() -> None:
    term, ask = Script(ALIBABA, "and how many researchers?"), FakeAsk()
    run_chat(ask, term.read, term.write)
    assert [q for q, _ in ask.calls] == [ALIBABA, "and how many researchers?"]
    assert ask.calls[0][1] == []
    assert ask.calls[1][1] == [
        {"role": "user", "content": ALIBABA},
        {"role": "assistant", "content": "Answer 1 [1]."},
    ]
    assert "Answer 1 [1]." in term.text and "Answer 2 [1]." in term.text
    assert "[1] Alibaba to invest $15b · Benzinga, 2021-06-15" in term.text
    assert term.prompts == [">>> "] * 3  # the third read ends the loop with EOF


def test_run_chat_commands() -> None:
    term, ask = (
        Script("/sources", ALIBABA, "/sources", "/reset", "/bogus", "/help", "/exit", "x?"),
        FakeAsk(),
    )
    run_chat(ask, term.read, term.write)
    out = term.text
    assert out.startswith("No answer yet.")
    assert "expand overseas research hubs" in out  # /sources shows the passage
    assert "Conversation cleared." in out
    assert "Unknown command /bogus" in out
    assert "/sources" in out and "Ctrl-D" in out  # help
    assert len(ask.calls) == 1  # /exit stopped before "x?"


def test_reset_forgets_the_conversation() -> None:
    term, ask = Script(ALIBABA, "/reset", "and how many researchers?"), FakeAsk()
    run_chat(ask, term.read, term.write)
    assert ask.calls[1][1] == []


def test_multiline_block() -> None:
    term, ask = Script('"""', "first line", 'second line"""', '"""one line"""'), FakeAsk()
    run_chat(ask, term.read, term.write)
    assert [q for q, _ in ask.calls] == ["first line\nsecond line", "one line"]
    assert term.prompts[1:3] == ["... ", "... "]


def test_ctrl_c_at_prompt_clears_and_continues() -> None:
    term, ask = Script(KeyboardInterrupt, "", ALIBABA), FakeAsk()
    run_chat(ask, term.read, term.write)
    assert len(ask.calls) == 1


def test_ctrl_c_cancels_the_answer_in_progress() -> None:
    closed: list[bool] = []

    def ask(question: str, history: list[dict[str, str]]) -> Iterator[Event]:
        try:
            yield Event("token", "Partial ")
            if question == "slow?":
                raise KeyboardInterrupt  # what SIGINT does while the stream is read
            yield Event("answer", answer=make_answer(question, "Done [1]."))
        finally:
            closed.append(True)

    history_seen: list[list[dict[str, str]]] = []

    def recording_ask(question: str, history: list[dict[str, str]]) -> Iterator[Event]:
        history_seen.append(history)
        return ask(question, history)

    term = Script("slow?", "fast?")
    run_chat(recording_ask, term.read, term.write)
    assert "[cancelled]" in term.text
    assert history_seen[1] == []  # the cancelled turn is not remembered
    assert closed == [True, True]


def test_verified_answer_is_shown_when_it_differs_from_the_stream() -> None:
    def ask(question: str, history: list[dict[str, str]]) -> Iterator[Event]:
        yield Event("token", "Alibaba invests $15 billion [1]. It also buys the moon [1].")
        yield Event("answer", answer=make_answer(question, "Alibaba invests $15 billion [1]."))

    term = Script(ALIBABA)
    run_chat(ask, term.read, term.write)
    assert "Verified answer: Alibaba invests $15 billion [1]." in term.text


def test_refusal_without_tokens_is_written() -> None:
    def ask(question: str, history: list[dict[str, str]]) -> Iterator[Event]:
        yield Event("answer", answer=make_answer(question, "No answer.", answerable=False))

    term = Script("What is the capital of Australia?")
    run_chat(ask, term.read, term.write)
    assert "No answer." in term.text and "no_relevant_passages" in term.text


@pytest.mark.parametrize(
    ("question", "rewritten", "shown"),
    [
        ("When did it open?", "When did Zorbix open?", True),
        ("and how many crews?", "How many crews, regarding Zorbix spending on ferries?", True),
        ("and how many crews?", "How many crews?", False),  # says nothing more
        ("Who said that?", "Who said that (the Quill Institute be at the forefront of)?", False),
        ("and when?", None, False),
    ],
)
def test_the_rewritten_followup_is_shown_only_when_it_helps(
    question: str, rewritten: str | None, shown: bool
) -> None:
    from dataclasses import replace

    def ask(q: str, history: list[dict[str, str]]) -> Iterator[Event]:
        yield Event(
            "answer", answer=replace(make_answer(q, "Text [1]."), standalone_question=rewritten)
        )

    term = Script(question)
    run_chat(ask, term.read, term.write)
    assert (f"(read as: {rewritten})" in term.text) is shown
    assert ("read as:" in term.text) is shown
