"""A test double of the answer layer: real hybrid retrieval, the top passage as the answer.

It lets runner, report and CLI tests run before (and independently of) the real answerer;
the end-to-end test in test_runner.py uses the real `rag.pipeline.AnswerPipeline`.
"""

from __future__ import annotations

from collections.abc import Callable

from newsrag.index import IndexStore
from newsrag.rag.records import Answer, Citation
from newsrag.rag.retrieval import HybridRetriever


def retrieval_only_answerer(
    store: IndexStore, *, refuse: Callable[[str], bool] = lambda q: False
) -> Callable[[str], Answer]:
    """Answers with the best passage, cited as [1]; refuses when `refuse(question)`."""
    retriever = HybridRetriever(store)

    def ask(question: str) -> Answer:
        hits = retriever.search(question, 5)
        top = hits[0].chunk
        cite = Citation(1, top.id, top.doc_id, top.title, top.source, None, top.text, 0, 1)
        refused = refuse(question)
        return Answer(
            question=question,
            answer="Not in the articles." if refused else f"{top.text} [1]",
            answerable=not refused,
            refusal_reason="no_relevant_passages" if refused else None,
            mode="extractive",
            degraded=False,
            citations=() if refused else (cite,),
            timings_ms={"retrieve": 1.0, "generate": 0.0, "total": 2.0},
            passages=tuple(h.chunk.id for h in hits),
        )

    return ask
