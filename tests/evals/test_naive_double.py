"""The naive model TEST DOUBLE of `rag eval --mode llm-naive-double`, over real HTTP."""

from __future__ import annotations

from newsrag.evals.naive_double import MODEL_NAME, naive_double_server, naive_reply
from newsrag.index import Chunk, Hit
from newsrag.rag.llm import OpenAIChatModel
from newsrag.rag.prompts import build_answer_messages


def _hit(doc: str, text: str) -> Hit:
    chunk = Chunk(
        id=f"{doc}#0",
        doc_id=doc,
        ordinal=0,
        text=text,
        start=0,
        end=len(text),
        n_tokens=20,
        title="Harbour notes",
        source="Gazette",
        published_at="2021-05-03",
    )
    return Hit(chunk=chunk, score=1.0, rank=1)


HITS = [
    _hit("a", "Dr. Ada Lind won the 2020 Harbour Regatta. She sailed alone."),
    _hit("b", "Ole Brandt won in 2019."),
]


def test_the_double_repeats_the_first_sentence_of_passage_one_with_a_marker() -> None:
    messages, _ = build_answer_messages("Who won?", HITS, max_context_tokens=500)
    assert naive_reply(messages[-1]["content"]) == "Dr. Ada Lind won the 2020 Harbour Regatta [1]."
    assert naive_reply("no passages here") == ""


def test_the_double_answers_the_openai_client_on_loopback() -> None:
    messages, _ = build_answer_messages("Who won?", HITS[::-1], max_context_tokens=500)
    with naive_double_server() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        model = OpenAIChatModel(
            base_url=base_url,
            model=MODEL_NAME,
            api_key=None,
            timeout_s=5,
            max_retries=0,
            deadline_s=10,
        )
        assert model.complete(messages) == "Ole Brandt won in 2019 [1]."
