"""Sources in a form every OpenAI client keeps: a "Sources" block at the end of the message
content, and OpenAI-style `url_citation` annotations giving each marker's span.

Generic clients (the `llm` CLI, LangChain's ChatOpenAI, Open WebUI) keep only the message text,
so an answer whose `[1]` is explained nowhere else would leave the user guessing; the block
names each source in one line. Clients that render `citations` themselves turn it off
(`RAG_CHAT_SOURCES_BLOCK=false`, or `"sources_block": false` in a request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from newsrag.api.openai_schemas import Annotation, UrlCitation
from newsrag.rag.records import Citation

SOURCES_HEADING = "Sources:"
_BLOCK_START = f"\n\n{SOURCES_HEADING}\n"
_ITEM = "- ["  # a Markdown list item, so clients that render Markdown keep one line per source
_MARKER = re.compile(r"\[(\d{1,4})\]")


def source_line(citation: Citation) -> str:
    """'- [1] Title — Source, 2021-06-15, https://...' (date 'undated' when unknown)."""
    date = (citation.published_at or "")[:10] or "undated"
    parts = [citation.source or "unknown source", date]
    if citation.url:
        parts.append(citation.url)
    flag = " (does not support the answer)" if not citation.supported else ""
    title = " ".join(citation.title.split()) or citation.doc_id
    return f"{_ITEM}{citation.marker}] {title} — {', '.join(parts)}{flag}"


def sources_block(citations: Sequence[Citation]) -> str:
    """The block appended to a message's content; '' when the answer cites nothing."""
    if not citations:
        return ""
    return _BLOCK_START + "\n".join(source_line(c) for c in citations)


def strip_sources_block(text: str) -> str:
    """An earlier assistant message without the block this service appended to it."""
    at = text.rfind(_BLOCK_START)
    if at == -1:
        return text
    lines = text[at + len(_BLOCK_START) :].strip().splitlines()
    if lines and all(line.startswith(_ITEM) for line in lines):
        return text[:at]
    return text


def marker_annotations(
    content: str, citations: Sequence[Citation], document_url: Callable[[str], str], end: int
) -> list[Annotation]:
    """A url_citation for every known [n] in content[:end]: content[start:end] is the marker.

    The url is the article's own when it has one, else this service's /v1/documents/{id}
    (the cleaned article the passage offsets point into). Indices count code points.
    """
    by_marker = {c.marker: c for c in citations}
    annotations = []
    for match in _MARKER.finditer(content, 0, end):
        citation = by_marker.get(int(match.group(1)))
        if citation is None:
            continue
        annotations.append(
            Annotation(
                url_citation=UrlCitation(
                    start_index=match.start(),
                    end_index=match.end(),
                    title=citation.title or citation.doc_id,
                    url=citation.url or document_url(citation.doc_id),
                    marker=citation.marker,
                    chunk_id=citation.chunk_id,
                )
            )
        )
    return annotations
