"""The gate over every eval set: set discovery and skipping, the summary, margins flagged thin,
the perturbed embedder, and `rag eval --sets` end to end (retrieval-only answerer double)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import newsrag.evals.runner
from newsrag.evals.metrics import score_question
from newsrag.evals.perturb import CROSS_CPU_DISTANCE, PerturbedEmbedder
from newsrag.evals.report import Report, RunInfo, render_markdown
from newsrag.evals.runner import QuestionRun
from newsrag.evals.suite import (
    EvalSet,
    SetResult,
    SuiteResult,
    gate_sets,
    summary_rows,
    verdict_changes,
    write_summary,
)
from newsrag.index import SentenceTransformerEmbedder
from newsrag.rag.pipeline import AnswerPipeline
from newsrag.rag.records import Answer
from tests.evals.doubles import retrieval_only_answerer
from tests.evals.helpers import answer, citation, gold, invoke_eval

ROOT = Path(__file__).resolve().parents[2]
INFO = RunInfo("g.jsonl", "0" * 64, "corpus", "extractive", 5, None, "2026-01-01T00:00:00")


def _run(qid: str, *, right: bool, margin: float | None) -> QuestionRun:
    question = gold(qid, ("Lisbon",), ("held in Lisbon",))
    text = "The summit was held in Lisbon." if right else "The summit was held in Porto."
    reply = answer(
        f"{'Lisbon' if right else 'Porto'} [1].",
        citations=(citation(1, "d#0", text),),
        passages=("d#0",),
    )
    reply = replace(reply, margin=margin)
    return QuestionRun(question, reply, score_question(question, reply, [text], [text]))


def _rgb_folder(root: Path, case: str) -> Path:
    folder = root / "rgb-en-fact-dev" / case
    (folder / "corpus").mkdir(parents=True)
    body = "The harbour festival of Veloria opened on 3 May 2021 with a parade of 40 boats."
    record = {"id": "vel1", "title": "", "source": "web", "body": body}
    (folder / "corpus" / "rgb.jsonl").write_text(json.dumps(record) + "\n", "utf-8")
    question = {
        "id": "v1",
        "question": "When did the harbour festival of Veloria open?",
        "answers": ["3 May 2021"],
        "evidence": ["opened on 3 May 2021"],
        "answerable": True,
        "type": "single",
    }
    (folder / "gold.jsonl").write_text(json.dumps(question) + "\n", "utf-8")
    return folder


def test_sets_are_found_in_the_datasets_folder_and_skipped_with_a_note(tmp_path: Path) -> None:
    sets, skipped = gate_sets(tmp_path / "absent", "extractive")
    assert [s.name for s in sets] == ["news"]
    assert skipped == [
        f"rgb-{c}: {tmp_path / 'absent' / 'rgb-en-fact-dev' / c} not found; skipped"
        for c in ("answer", "reject", "conflict")
    ]
    _rgb_folder(tmp_path, "answer")
    sets, skipped = gate_sets(tmp_path, "extractive", names=["rgb-answer", "rgb-reject"])
    [answer_set] = sets
    assert answer_set.name == "rgb-answer" and len(skipped) == 1
    assert answer_set.thresholds == ROOT / "evals" / "sets" / "rgb-answer.toml"
    assert answer_set.baseline == ROOT / "evals" / "sets" / "rgb-answer.baseline.json"
    assert gate_sets(tmp_path, "llm", names=["rgb-answer"])[0][0].baseline.name == (
        "rgb-answer.baseline-llm.json"
    )
    with pytest.raises(ValueError, match="unknown eval set rgb-typo"):
        gate_sets(tmp_path, "extractive", names=["rgb-typo"])


def test_every_shipped_set_has_thresholds_and_a_baseline() -> None:
    from newsrag.evals.gate import load_baseline, load_rules

    for case in ("answer", "reject", "conflict"):
        rules = load_rules(ROOT / "evals" / "sets" / f"rgb-{case}.toml")
        assert any(r.min is not None or r.max is not None for r in rules), case
        baseline = load_baseline(ROOT / "evals" / "sets" / f"rgb-{case}.baseline.json")
        assert baseline is not None and len(baseline.questions) == 50, case
        for rule in rules:  # floors sit at (or below) what the baseline measured
            value = baseline.metrics.get(rule.metric)
            assert value is not None, rule.metric
            assert rule.min is None or rule.min <= value + 1e-9, (case, rule.metric)
            assert rule.max is None or rule.max >= value - 1e-9, (case, rule.metric)


def test_thin_answers_are_flagged_in_report_json_and_md() -> None:
    runs = (_run("a", right=True, margin=0.004), _run("b", right=True, margin=0.2))
    report = Report(INFO, runs, ks=(1, 3, 5), thin_margin=0.01)
    data = report.to_dict()
    assert data["thin"] == ["a"] and data["thin_margin"] == 0.01
    rows = {q["id"]: q for q in data["questions"]}  # type: ignore[attr-defined]
    assert (rows["a"]["margin"], rows["a"]["thin"]) == (0.004, True)
    assert (rows["b"]["margin"], rows["b"]["thin"]) == (0.2, False)
    markdown = render_markdown(report, None)
    assert "- THIN a (PASS): margin 0.0040: question a?" in markdown
    assert "- margin: 0.0040 THIN (within 0.01)" in markdown
    assert "- margin: 0.2000\n" in markdown
    unknown = render_markdown(Report(INFO, (_run("c", right=True, margin=None),), ks=(5,)), None)
    assert "- no margins reported by this answerer" in unknown
    assert "- margin: not reported" in unknown


def test_summary_has_one_row_per_set_and_the_skipped_ones(tmp_path: Path) -> None:
    good = Report(INFO, (_run("a", right=True, margin=0.5),), ks=(1, 3, 5))
    bad = Report(INFO, (_run("a", right=False, margin=0.001),), ks=(1, 3, 5))
    item = EvalSet("news", Path("g"), Path("c"), Path("t"), Path("b"))
    result = SuiteResult(
        (SetResult(item, good, None), SetResult(item, bad, None)), ("rgb-reject: x not found",)
    )
    rows = summary_rows(result)
    assert rows[0][:3] == ["set", "questions", "hit@5"]
    assert rows[1][:4] == ["news", "1", "1.000", "1.000"] and rows[2][3] == "0.000"
    assert rows[2][-3] == "1"  # thin
    assert rows[3][0] == "rgb-reject" and rows[3][-1] == "skipped"
    json_path, md_path = write_summary(result, tmp_path)
    data = json.loads(json_path.read_text("utf-8"))
    assert [s["name"] for s in data["sets"]] == ["news", "news"]
    assert data["sets"][1]["thin"] == ["a"] and data["skipped"] == ["rgb-reject: x not found"]
    assert md_path.read_text("utf-8").startswith("# Eval summary: PASSED")
    assert verdict_changes(good, bad) == ("a",) and verdict_changes(good, good) == ()


def test_perturbed_embedder_moves_each_vector_by_the_distance_the_same_way_each_time(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = ["Alibaba opened a data centre.", "The fine was $2.8 billion."]
    shaken = PerturbedEmbedder(embedder, distance=0.05, seed=3)
    plain = embedder.embed_passages(texts)
    moved = shaken.embed_passages(texts)
    assert moved.dtype == np.float32 and moved.shape == plain.shape
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(moved - plain, axis=1), 0.05, atol=1e-4)
    assert np.array_equal(moved, shaken.embed_passages(texts))  # deterministic
    assert np.allclose(shaken.embed_query(texts[1]), moved[1], atol=1e-6)
    other = PerturbedEmbedder(embedder, distance=0.05, seed=4).embed_passages(texts)
    assert not np.allclose(other, moved, atol=1e-3)  # the seed picks the direction
    assert np.allclose(PerturbedEmbedder(embedder, distance=0).embed_passages(texts), plain)
    assert shaken.name == f"{embedder.name}+perturbed-0.05-s3" and shaken.dim == embedder.dim
    with pytest.raises(ValueError, match="distance"):
        PerturbedEmbedder(embedder, distance=2.5)
    assert 0 < CROSS_CPU_DISTANCE < 0.5


@pytest.fixture
def suite_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The retrieval-only answerer for `rag eval --sets`."""

    def fake(pipeline: AnswerPipeline) -> Callable[[str], Answer]:
        assert pipeline.store is not None
        return retrieval_only_answerer(pipeline.store)

    monkeypatch.setattr(newsrag.evals.runner, "pipeline_answerer", fake)
    for name in ("RAG_LLM_BASE_URL", "RAG_EVAL_JUDGE_BASE_URL", "RAG_K"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _suite(root: Path, embedder: SentenceTransformerEmbedder, *args: str) -> tuple[int, str]:
    """`rag eval` with the shared test embedder handed in (no model load)."""
    base = ["eval", "--index-dir", str(root / "index"), "--out", str(root / "out")]
    code, output = invoke_eval([*base, *args], embedder)
    return code, " ".join(output.split())


def test_sets_run_one_report_each_and_skip_what_is_absent(
    suite_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    _rgb_folder(suite_dir / "data", "answer")
    code, output = _suite(
        suite_dir,
        embedder,
        *("--sets", "rgb-answer,rgb-reject", "--datasets", str(suite_dir / "data")),
        *("--perturb-distance", "0"),
    )
    assert code == 0, output
    assert "skipped rgb-reject:" in output and "every gate passed" in output
    report = json.loads((suite_dir / "out" / "rgb-answer" / "report.json").read_text("utf-8"))
    assert report["metrics"]["overall"]["answer_accuracy"] == 1.0
    summary = json.loads((suite_dir / "out" / "summary.json").read_text("utf-8"))
    assert [s["name"] for s in summary["sets"]] == ["rgb-answer"] and summary["passed"]
    assert summary["skipped"][0].startswith("rgb-reject:") and summary["robustness"] is None
    code, output = _suite(suite_dir, embedder, "--sets", "nope")
    assert code == 2 and "unknown eval set nope" in output


def test_the_first_set_runs_again_with_perturbed_vectors(
    suite_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    _rgb_folder(suite_dir / "data", "answer")
    args = ["--sets", "rgb-answer", "--datasets", str(suite_dir / "data")]
    code, output = _suite(suite_dir, embedder, *args, "--perturb-distance", "0.05")
    assert code == 0, output
    assert "perturbation check: rgb-answer with every vector moved by 0.05" in output
    assert "all 1 verdicts unchanged" in output
    summary = json.loads((suite_dir / "out" / "summary.json").read_text("utf-8"))
    assert summary["robustness"] == {
        "set": "rgb-answer",
        "distance": 0.05,
        "checked": 1,
        "changed": [],
    }
    assert (suite_dir / "out" / "rgb-answer-perturbed" / "report.json").is_file()
