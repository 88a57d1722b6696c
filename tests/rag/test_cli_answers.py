"""rag.cli_answers: `rag ask` and `rag search` through the entry point (chat: test_chat_cli)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

RAG = Path(sys.executable).parent / "rag"


def run_rag(
    *args: str, index_dir: Path, vector_cache: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env |= {"HF_HUB_OFFLINE": "1", "RAG_INDEX_DIR": str(index_dir)}
    # Each test's vectors stay apart from the user's ~/.cache (conftest's folder by default).
    env["RAG_VECTOR_CACHE_DIR"] = str(
        vector_cache if vector_cache is not None else os.environ["RAG_VECTOR_CACHE_DIR"]
    )
    return subprocess.run(
        [str(RAG), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_ask_json_answers_with_a_cited_amount(corpus_index_dir: Path) -> None:
    done = run_rag(
        "ask", "--json", "How much will Alibaba invest in its overseas research hubs?",
        index_dir=corpus_index_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["answerable"] is True and answer["mode"] == "extractive"
    assert "$15 billion" in answer["answer"]
    assert any("$15 billion" in c["text"] and c["supported"] for c in answer["citations"])
    assert set(answer["timings_ms"]) == {"retrieve", "generate", "total"}


def test_a_second_ask_embeds_nothing_the_first_one_embedded(
    corpus_index_dir: Path, tmp_path: Path
) -> None:
    question = "How many engineers and scientists work at Alibaba?"
    first = run_rag("ask", "--json", question, index_dir=corpus_index_dir, vector_cache=tmp_path)
    assert first.returncode == 0, first.stderr
    (cache_file,) = tmp_path.glob("*.sqlite")  # one file, named by the embedder and its dim
    assert "all-MiniLM-L6-v2" in cache_file.name and cache_file.name.endswith("-384.sqlite")
    with sqlite3.connect(cache_file) as db:
        rows = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert rows > 20  # the question, the passages' sentences and the compared words
    second = run_rag("ask", "--json", question, index_dir=corpus_index_dir, vector_cache=tmp_path)
    assert second.returncode == 0, second.stderr
    with sqlite3.connect(cache_file) as db:
        # Every vector the new process embeds is stored: no new row, nothing re-embedded.
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == rows
    assert json.loads(second.stdout)["answer"] == json.loads(first.stdout)["answer"]


def test_ask_json_refuses_off_topic(corpus_index_dir: Path) -> None:
    done = run_rag("ask", "--json", "What is the capital of Australia?", index_dir=corpus_index_dir)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["answerable"] is False and answer["refusal_reason"] == "no_relevant_passages"
    assert answer["citations"] == []


def test_ask_text_and_search(corpus_index_dir: Path) -> None:
    from typer.testing import CliRunner

    from newsrag.rag.cli import app

    runner = CliRunner()
    env = {"RAG_INDEX_DIR": str(corpus_index_dir), "HF_HUB_OFFLINE": "1"}
    ask = runner.invoke(
        app, ["ask", "--no-llm", "How many engineers and scientists work at Alibaba?"], env=env
    )
    assert ask.exit_code == 0, ask.output
    assert "25,000" in ask.output and "Sources" in ask.output and "[1]" in ask.output
    found = runner.invoke(app, ["search", "--json", "--k", "3", "Pinduoduo buyers"], env=env)
    assert found.exit_code == 0, found.output
    results = json.loads(found.stdout)["results"]
    assert [r["rank"] for r in results] == [1, 2, 3]
    assert "Pinduoduo" in results[0]["text"] and results[0]["source"] == "Benzinga"
    bad = runner.invoke(app, ["search", "--since", "yesterday", "cloud"], env=env)
    assert bad.exit_code == 1 and "since" in bad.output
