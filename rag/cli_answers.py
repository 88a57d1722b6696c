"""The answer commands of `rag`: search, ask and chat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from newsrag.index import IndexStoreError
from newsrag.rag.cli_common import (
    IndexDir,
    JsonFlag,
    console,
    err,
    fail,
    loading_status,
    note,
    settings_from,
)


def register(app: typer.Typer) -> None:
    """Add search, ask and chat to the `rag` app."""
    app.command("search")(search_command)
    app.command("ask")(ask_command)
    app.command("chat")(chat_command)


KOption = Annotated[int | None, typer.Option("--k", min=1, max=100, help="Passages to retrieve.")]
SourceOption = Annotated[str | None, typer.Option("--source", help="Only this source.")]
SinceOption = Annotated[str | None, typer.Option("--since", help="Published on/after YYYY-MM-DD.")]
UntilOption = Annotated[str | None, typer.Option("--until", help="Published on/before YYYY-MM-DD.")]


def search_command(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    index_dir: IndexDir = None,
    k: KOption = None,
    source: SourceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the passages hybrid retrieval ranks highest, with their provenance."""
    from rich.markup import escape

    from newsrag.rag.pipeline import open_pipeline
    from newsrag.rag.records import AnswerRequest, SearchFilters
    from newsrag.rag.retrieval import hit_to_dict

    settings = settings_from(index_dir, k=k)
    try:
        filters = SearchFilters(source=source, since=since, until=until)
        pipeline = open_pipeline(settings, model=None, progress=note)
        hits = pipeline.search(AnswerRequest(query, filters=filters))
    except (IndexStoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        results = [hit_to_dict(hit) for hit in hits]
        print(json.dumps({"query": query, "results": results}, indent=2, ensure_ascii=False))
        return
    if not hits:
        console.print("no passages found")
    for hit in hits:
        chunk = hit.chunk
        where = _provenance(chunk.source, chunk.published_at)
        console.print(
            f"[bold]{hit.rank}.[/bold] {hit.score:.4f}  [bold]{escape(chunk.title)}[/bold]  "
            f"[dim]{escape(where)}  {escape(chunk.id)}[/dim]",
            soft_wrap=True,
        )
        console.print(escape(" ".join(chunk.text.split())), soft_wrap=True)
        console.print()


def ask_command(
    question: Annotated[str, typer.Argument(help="The question.")],
    index_dir: IndexDir = None,
    k: KOption = None,
    source: SourceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Answer extractively.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question with cited passages (or say the articles do not hold the answer)."""
    from rich.markup import escape

    from newsrag.rag.pipeline import FROM_SETTINGS, open_pipeline
    from newsrag.rag.records import AnswerRequest, SearchFilters

    settings = settings_from(index_dir, k=k)
    try:
        request = AnswerRequest(
            question, filters=SearchFilters(source=source, since=since, until=until)
        )
        answer = open_pipeline(
            settings, model=None if no_llm else FROM_SETTINGS, progress=note
        ).answer(request)
    except (IndexStoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return
    if answer.degraded:
        err.print("[yellow]the LLM failed; this is the extractive answer[/yellow]")
    console.print(escape(answer.answer), soft_wrap=True)
    if not answer.answerable:
        console.print(f"[dim]({answer.refusal_reason})[/dim]")
    cited = [c for c in answer.citations if c.supported]
    if cited:
        console.print("\n[bold]Sources[/bold]")
    for c in cited:
        console.print(
            f"[bold]\\[{c.marker}][/bold] {escape(c.title)} "
            f"[dim]({escape(_provenance(c.source, c.published_at))})[/dim]",
            soft_wrap=True,
        )
        console.print("    " + escape(" ".join(c.text.split())), soft_wrap=True)


def _provenance(source: str | None, published_at: str | None) -> str:
    return f"{source or 'unknown source'}, {(published_at or '')[:10] or 'undated'}"


def chat_command(
    index_dir: IndexDir = None,
    k: Annotated[
        int | None, typer.Option("--k", min=1, max=100, help="Passages per question.")
    ] = None,
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="Answer extractively even if an LLM is configured.")
    ] = False,
    source: Annotated[str | None, typer.Option(help="Only passages from this source.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only articles from this date (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only articles up to this date (YYYY-MM-DD).")
    ] = None,
    history_file: Annotated[
        Path | None, typer.Option(help="Prompt history file (default ~/.local/state/rag/history).")
    ] = None,
) -> None:
    """Chat with the corpus: streamed cited answers, follow-ups, /help for commands."""
    from collections.abc import Iterator

    from newsrag.rag.chat import run_chat, terminal_io
    from newsrag.rag.pipeline import FROM_SETTINGS, open_pipeline
    from newsrag.rag.records import AnswerEvent, AnswerRequest, SearchFilters

    settings = settings_from(index_dir, k=k)
    try:
        filters = SearchFilters(source=source, since=since, until=until)
        with loading_status("Loading the embedding model and the index…"):
            pipeline = open_pipeline(
                settings, model=None if no_llm else FROM_SETTINGS, progress=note
            )
    except (IndexStoreError, ValueError) as exc:
        raise fail(str(exc)) from None

    def ask(question: str, history: list[dict[str, str]]) -> Iterator[AnswerEvent]:
        return pipeline.stream(AnswerRequest(question, tuple(history), filters=filters))

    read, write = terminal_io(history_file or Path.home() / ".local/state/rag/history")
    model = pipeline.model
    mode = f"LLM {model.name}" if model else "extractive answers (no LLM)"
    articles = len(pipeline.store.articles) if pipeline.store is not None else 0
    write(f"rag chat · {articles} articles · {mode} · /help for commands, Ctrl-D exits\n")
    run_chat(ask, read, write)
