"""The official `openai` client against /v1/models and /v1/chat/completions on a real uvicorn:
answers keep their [n] markers, end with a Sources block that names each one, carry each
marker's span as an annotation, and the citations ride beside the choices."""

from __future__ import annotations

import re
from pathlib import Path

import openai
import pytest

from tests.api.conftest import LiveServer, ServerFactory, llm_settings
from tests.api.test_ask import QUESTION, cite_fact
from tests.rag.llm_double import LLMDouble, cut, reply

MARKER = re.compile(r"\[(\d+)\]")


def client_for(server: LiveServer, api_key: str = "unused") -> openai.OpenAI:
    """The official client pointed at the service."""
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key, max_retries=0, timeout=30)


def assert_markers_cited(text: str, citations: list[dict[str, object]]) -> None:
    markers = {int(m) for m in MARKER.findall(text)}
    assert markers, text
    assert markers <= {int(str(c["marker"])) for c in citations}
    assert any("15 billion" in str(c["text"]) for c in citations)


def test_models_lists_the_served_ids(corpus_server: LiveServer) -> None:
    models = client_for(corpus_server).models.list()
    assert [m.id for m in models.data] == ["newsrag", "newsrag-extractive"]
    for name in ("newsrag", "newsrag-extractive"):  # every listed id answers
        completion = client_for(corpus_server).chat.completions.create(
            model=name, messages=[{"role": "user", "content": QUESTION}]
        )
        assert completion.model == name
        assert (completion.model_extra or {})["rag"]["mode"] == "extractive"


def test_unknown_model_is_openais_model_not_found(corpus_server: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client_for(corpus_server).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    assert caught.value.code == "model_not_found"
    assert caught.value.type == "invalid_request_error"
    assert "gpt-4o" in caught.value.message and "newsrag" in caught.value.message


def test_any_model_name_when_the_setting_allows_it(
    start_server: ServerFactory, corpus_index_dir: Path
) -> None:
    from tests.api.conftest import api_settings

    server = start_server(api_settings(corpus_index_dir, accept_any_model=True))
    completion = client_for(server).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.model == "gpt-4o"
    assert "15 billion" in (completion.choices[0].message.content or "")


def test_completion_keeps_markers_and_citations(corpus_server: LiveServer) -> None:
    completion = client_for(corpus_server).chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": QUESTION}]
    )
    text = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra or {}
    assert_markers_cited(text, extra["citations"])
    assert extra["rag"]["mode"] == "extractive" and extra["rag"]["answerable"] is True
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_stream_deltas_then_citations_in_the_last_chunk(corpus_server: LiveServer) -> None:
    stream = client_for(corpus_server).chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    extra = last.model_extra or {}
    assert_markers_cited(text, extra["citations"])
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_llm_stream_and_follow_up_history(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble
) -> None:
    def script(request: dict[str, object]) -> str:
        prompt = "\n".join(m["content"] for m in request["messages"])  # type: ignore[attr-defined]
        if "<passage" in prompt:
            return cite_fact(request)
        return QUESTION  # the rewrite of the follow-up into a standalone question

    llm_double.script(reply(script))
    server = start_server(llm_settings(corpus_index_dir, llm_double))
    client = client_for(server)
    stream = client.chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    content = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(content) >= 2  # tokens arrive as the model writes them
    text = "".join(content)
    assert "$15 billion" in text
    assert_markers_cited(text, (chunks[-1].model_extra or {})["citations"])

    followup = client.chat.completions.create(
        model="newsrag",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Tell me about Alibaba's research plans."},
            {"role": "assistant", "content": "Alibaba is building research hubs [1]."},
            {"role": "user", "content": "And how much money will it put in?"},
        ],
    )
    # The earlier turns reached the rewriting step, and the answer is about the rewritten question.
    assert any("research plans" in llm_double.prompt_text(i) for i in range(llm_double.calls))
    extra = followup.model_extra or {}
    assert_markers_cited(followup.choices[0].message.content or "", extra["citations"])


def test_cut_stream_ends_with_a_cited_degraded_answer(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble
) -> None:
    llm_double.script(cut("Alibaba will invest fifteen billion dollars in new hubs [1].", 3))
    server = start_server(llm_settings(corpus_index_dir, llm_double))
    chunks = list(
        client_for(server).chat.completions.create(
            model="newsrag", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    extra = chunks[-1].model_extra or {}
    assert extra["rag"]["degraded"] is True
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    answer, _, _ = text.partition("\n\nSources:\n")
    assert answer.endswith(extra["rag"]["answer"])  # the extractive answer follows the cut text
    assert_markers_cited(extra["rag"]["answer"], extra["citations"])


def test_client_sees_api_errors(start_server: ServerFactory, corpus_index_dir: Path) -> None:
    from tests.api.conftest import api_settings

    server = start_server(api_settings(corpus_index_dir, api_key="k1"))
    with pytest.raises(openai.AuthenticationError) as caught:
        client_for(server, api_key="wrong").models.list()
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.UnprocessableEntityError):
        client_for(server, api_key="k1").chat.completions.create(
            model="newsrag", messages=[{"role": "assistant", "content": "no question"}]
        )


# --- sources for clients that keep only the text (issue 16) ---------------------------------


def source_lines(content: str) -> tuple[str, list[str]]:
    """The answer part and the Sources block's lines of a message's content."""
    answer, heading, block = content.partition("\n\nSources:\n")
    assert heading, f"no Sources block in {content!r}"
    return answer, block.splitlines()


def test_content_ends_with_sources_and_annotations_mark_each_marker(
    corpus_server: LiveServer,
) -> None:
    completion = client_for(corpus_server).chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": QUESTION}]
    )
    message = completion.choices[0].message
    content = message.content or ""
    extra = completion.model_extra or {}
    answer, lines = source_lines(content)
    assert answer == extra["rag"]["answer"]
    cited = {int(c["marker"]): c for c in extra["citations"]}
    assert [int(line[3 : line.index("]")]) for line in lines] == list(cited)
    for line, citation in zip(lines, cited.values(), strict=True):
        # "- [1] Title — Source, date": the shipped corpus has no urls and some no source/date.
        assert line.startswith(f"- [{citation['marker']}] {citation['title']} — ")
        assert (citation["source"] or "unknown source") in line
    annotations = message.annotations or []
    assert {int(m) for m in MARKER.findall(answer)} == {
        int(content[a.url_citation.start_index : a.url_citation.end_index].strip("[]"))
        for a in annotations
    }
    for annotation in annotations:
        span = annotation.url_citation
        assert annotation.type == "url_citation" and span.end_index <= len(answer)
        number = int(content[span.start_index : span.end_index].strip("[]"))
        assert span.title == cited[number]["title"]
        # No article url in the corpus: the annotation points at the served article text.
        article = corpus_server.client.get(span.url.removeprefix(corpus_server.url))
        assert article.status_code == 200
        assert str(cited[number]["text"]) in article.json()["text"]


def test_stream_sends_sources_as_the_last_content_delta(corpus_server: LiveServer) -> None:
    client = client_for(corpus_server)
    messages = [{"role": "user", "content": QUESTION}]
    whole = client.chat.completions.create(model="newsrag", messages=messages)  # type: ignore[arg-type]
    chunks = list(client.chat.completions.create(model="newsrag", messages=messages, stream=True))  # type: ignore[arg-type]
    contents = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert contents[-1].startswith("\n\nSources:\n- [")
    assert "".join(contents) == whole.choices[0].message.content  # same text either way
    last = (chunks[-1].model_extra or {}), chunks[-1].choices[0].delta.model_extra or {}
    spans = [a["url_citation"] for a in last[1]["annotations"]]
    text = "".join(contents)
    assert spans and all(
        text[s["start_index"] : s["end_index"]] == f"[{s['marker']}]" for s in spans
    )


def test_sources_block_off_per_request_and_by_setting(
    corpus_server: LiveServer, start_server: ServerFactory, corpus_index_dir: Path
) -> None:
    from tests.api.conftest import api_settings

    messages = [{"role": "user", "content": QUESTION}]
    off = client_for(corpus_server).chat.completions.create(
        model="newsrag",
        messages=messages,
        extra_body={"sources_block": False},  # type: ignore[arg-type]
    )
    content = off.choices[0].message.content or ""
    assert "Sources:" not in content and MARKER.search(content)
    assert (off.model_extra or {})["citations"]  # the structured citations stay

    quiet = start_server(api_settings(corpus_index_dir, chat_sources_block=False))
    plain = client_for(quiet).chat.completions.create(model="newsrag", messages=messages)  # type: ignore[arg-type]
    assert "Sources:" not in (plain.choices[0].message.content or "")
    asked = client_for(quiet).chat.completions.create(
        model="newsrag",
        messages=messages,
        extra_body={"sources_block": True},  # type: ignore[arg-type]
    )
    source_lines(asked.choices[0].message.content or "")  # the request wins over the setting


def test_a_source_with_a_url_names_it_in_the_block_and_the_annotation(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    from tests.api.conftest import api_settings

    server = start_server(api_settings(tmp_path / "index"))
    article = (
        "---\nid: kite-fest\ntitle: Kite festival moves to Brighton\nsource: Coast Wire\n"
        "published_at: 2024-05-02\nurl: https://news.example/kites\n---\n"
        "The national kite festival will move to Brighton beach in August 2025, organisers said.\n"
    )
    added = server.client.post("/v1/documents", files=[("files", ("kites.md", article))])
    assert added.status_code == 200, added.text
    completion = client_for(server).chat.completions.create(
        model="newsrag",
        messages=[{"role": "user", "content": "Where will the national kite festival move?"}],
    )
    content = completion.choices[0].message.content or ""
    lines = source_lines(content)[1]
    assert lines == [
        "- [1] Kite festival moves to Brighton — Coast Wire, 2024-05-02, https://news.example/kites"
    ]
    annotations = completion.choices[0].message.annotations or []
    answer, _ = source_lines(content)
    assert len(annotations) == len(MARKER.findall(answer)) >= 1  # one per marker in the answer
    assert {a.url_citation.url for a in annotations} == {"https://news.example/kites"}
    assert (completion.model_extra or {})["citations"][0]["url"] == "https://news.example/kites"


def test_earlier_answers_reach_the_rewriter_without_their_sources_block() -> None:
    from newsrag.api.completions import query_of_chat
    from newsrag.api.openai_schemas import ChatCompletionRequest
    from newsrag.rag.settings import Settings

    earlier = "Alibaba will invest $15 billion [1].\n\nSources:\n- [1] Alibaba hubs — Wire, undated"
    own = "It said:\n\nSources:\nnot a list this service wrote"
    body = ChatCompletionRequest.model_validate(
        {
            "messages": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": earlier},
                {"role": "user", "content": "Quote me:\n\nSources:\n- [1] mine"},
                {"role": "assistant", "content": own},
                {"role": "user", "content": "And how many researchers?"},
            ]
        }
    )
    query = query_of_chat(body, Settings.model_validate({}))
    contents = [m["content"] for m in query.history]
    assert contents[1] == "Alibaba will invest $15 billion [1]."
    assert contents[2].endswith("- [1] mine")  # a user's text is never cut
    assert contents[3] == own  # only the block this service appends is removed
