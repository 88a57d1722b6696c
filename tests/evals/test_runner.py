"""The runner and reports over the shipped corpus index: double answerer, then the real one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from newsrag.evals.gate import evaluate_gate, load_rules
from newsrag.evals.goldset import GoldQuestion, load_gold
from newsrag.evals.report import Report, RunInfo, render_markdown, write_report
from newsrag.evals.runner import chunk_texts, pipeline_answerer, run_questions
from newsrag.index import IndexStore
from newsrag.rag.pipeline import AnswerPipeline
from newsrag.rag.records import Answer
from newsrag.rag.retrieval import HybridRetriever
from tests.evals.doubles import retrieval_only_answerer
from tests.evals.helpers import answer, citation

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    GoldQuestion(
        "fine",
        "How large was the fine imposed on Alibaba in April?",
        ("$2.8 billion",),
        ("fined a record $2.8 billion in April",),
        True,
        "single",
    ),
    GoldQuestion(
        "phil",
        "Where will Alibaba Cloud launch its first data center?",
        ("Philippines",),
        ("launch its first data center in the Philippines",),
        True,
        "single",
    ),
    GoldQuestion("bread", "How do I bake sourdough bread?", (), (), False, "unanswerable"),
]
INFO = RunInfo("tiny.jsonl", "0" * 64, "corpus", "extractive", 5, None, "2026-01-01T00:00:00")


def _report(store: IndexStore, refuse: bool = False) -> Report:
    ask = retrieval_only_answerer(store, refuse=lambda q: refuse and "bread" in q)
    return Report(INFO, tuple(run_questions(TINY, ask, chunk_texts(store))), ks=(1, 3, 5))


def test_runner_scores_passages_looked_up_in_the_store(corpus_store: IndexStore) -> None:
    report = _report(corpus_store)
    fine, phil, bread = report.runs
    assert fine.score.hit(5) and phil.score.hit(5)
    assert fine.answer.passages[0] in chunk_texts(corpus_store)
    assert report.overall["hit@5"] == 1.0
    assert report.overall["refusal_accuracy"] == 0.0  # the double never refuses
    assert not bread.score.passed
    assert report.by_type["unanswerable"]["false_refusal_rate"] is None


def test_reports_are_written_and_show_changes_against_the_baseline(
    corpus_store: IndexStore, tmp_path: Path
) -> None:
    rules = load_rules(ROOT / "evals" / "thresholds.toml")
    before = _report(corpus_store, refuse=True)
    baseline = before.snapshot()
    after = _report(corpus_store, refuse=False)
    after = replace(after, gate=evaluate_gate(after.snapshot(), rules, baseline))
    assert after.gate is not None and [f.id for f in after.gate.flips] == ["bread"]
    json_path, md_path = write_report(after, tmp_path, baseline)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["gate"]["flips"] == [
        {
            "id": "bread",
            "failed_checks": ["refusal"],
            "moved": [{"metric": "refusal_accuracy", "before": 1.0, "after": 0.0, "delta": -1.0}],
            "margin": None,
            "baseline_margin": None,
            "thin": False,
        }
    ]
    assert [q["id"] for q in data["questions"]] == ["fine", "phil", "bread"]
    assert data["metrics"]["overall"]["refusal_accuracy"] == 0.0
    markdown = md_path.read_text(encoding="utf-8")
    assert "## Gate: FAILED" in markdown
    assert (
        "- FLIP bread: pass → fail (refusal); moved: refusal_accuracy 1.000 → 0.000 (-1.000); "
        "margin – (baseline –), not thin" in markdown
    )
    assert "### bread FAIL (unanswerable)" in markdown
    assert "- vs baseline: FLIPPED pass → fail; checks: refusal ✓→✗" in markdown
    assert render_markdown(after, None).count("new (not in the baseline)") == 3


def test_real_pipeline_end_to_end_on_a_tiny_gold_file(corpus_store: IndexStore) -> None:
    pipeline = AnswerPipeline(HybridRetriever(corpus_store), corpus_store.dense.embedder, None)
    ask = pipeline_answerer(pipeline)
    runs = run_questions([TINY[0], TINY[2]], ask, chunk_texts(corpus_store))
    fine, bread = runs
    assert [r.answer.mode for r in runs] == ["extractive"] * 2
    assert all(set(r.answer.passages) <= set(chunk_texts(corpus_store)) for r in runs)
    assert fine.answer.answerable and "$2.8 billion" in fine.answer.answer
    assert fine.score.hit(5) and fine.score.evidence_ranks[0] is not None and fine.score.passed
    assert not bread.answer.answerable and bread.score.passed
    report = Report(INFO, tuple(runs), ks=(1, 3, 5, 8))
    assert report.overall["answer_accuracy"] == 1.0 and report.overall["refusal_accuracy"] == 1.0
    assert report.overall["citation_precision"] == 1.0 and report.overall["hit@5"] == 1.0


def test_shipped_gold_set_loads_for_the_runner() -> None:
    questions = load_gold(ROOT / "evals" / "gold" / "news.jsonl")
    assert {q.type for q in questions} == {"single", "multi", "conflict", "unanswerable"}


def test_cited_passage_text_wins_over_the_store_window() -> None:
    merged = "It has already opened its third data center in Indonesia. And one in the Philippines."
    question = GoldQuestion(
        "p", "Where?", ("Philippines",), ("in the Philippines",), True, "single"
    )

    def ask(text: str) -> Answer:
        cite = citation(1, "doc#1", merged)
        return answer("In the Philippines [1].", citations=(cite,), passages=("doc#0", "doc#1"))

    [run] = run_questions([question], ask, {"doc#0": "Other text.", "doc#1": merged[:57]})
    assert run.score.evidence_ranks == (2,)
    assert run.score.citation_holds == (True,) and run.score.passed
