"""`rag eval` through typer's CliRunner: reports, baseline update, gate exit codes, LLM mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import newsrag.evals.runner
from newsrag.evals.gate import load_rules
from newsrag.index import Embedder
from newsrag.rag.pipeline import AnswerPipeline
from newsrag.rag.records import Answer
from tests.evals.doubles import retrieval_only_answerer
from tests.evals.helpers import invoke_eval
from tests.rag.llm_double import LLMDouble, reply

ROOT = Path(__file__).resolve().parents[2]
GOLD = [
    {
        "id": "fine",
        "question": "How large was the fine imposed on Alibaba in April?",
        "answers": ["$2.8 billion"],
        "evidence": ["fined a record $2.8 billion in April"],
        "answerable": True,
        "type": "single",
    },
    {
        "id": "bread",
        "question": "How do I bake sourdough bread?",
        "answers": [],
        "evidence": [],
        "answerable": False,
        "type": "unanswerable",
    },
]


@pytest.fixture
def workdir(tmp_path: Path, corpus_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Gold file and a copy of the corpus index for the command."""
    (tmp_path / "gold.jsonl").write_text("\n".join(json.dumps(r) for r in GOLD) + "\n", "utf-8")
    shutil.copytree(corpus_index_dir, tmp_path / "index")
    for name in ("RAG_LLM_BASE_URL", "RAG_EVAL_JUDGE_BASE_URL", "RAG_K"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _use_answerer(monkeypatch: pytest.MonkeyPatch, refuse: Callable[[str], bool]) -> None:
    def fake(pipeline: AnswerPipeline) -> Callable[[str], Answer]:
        assert pipeline.store is not None
        return retrieval_only_answerer(pipeline.store, refuse=refuse)

    monkeypatch.setattr(newsrag.evals.runner, "pipeline_answerer", fake)


EvalRun = Callable[..., tuple[int, str]]


@pytest.fixture
def run(workdir: Path, embedder: Embedder) -> EvalRun:
    """`rag eval` on the workdir with the shared test embedder handed in (no model load)."""
    return lambda *extra: _eval(workdir, embedder, *extra)


def _eval(workdir: Path, embedder: Embedder, *extra: str) -> tuple[int, str]:
    args = [
        "eval",
        "--gold",
        str(workdir / "gold.jsonl"),
        "--index-dir",
        str(workdir / "index"),
        "--out",
        str(workdir / "out"),
        "--baseline",
        str(workdir / "baseline.json"),
        *extra,
    ]
    return invoke_eval(args, embedder)


def test_eval_writes_reports_updates_baseline_and_gates_flips(
    workdir: Path, run: EvalRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_answerer(monkeypatch, refuse=lambda q: "bread" in q)
    code, output = run("--update-baseline", "--k", "5")
    assert code == 0, output
    report = json.loads((workdir / "out" / "report.json").read_text("utf-8"))
    assert report["info"]["k"] == 5 and report["gate"]["passed"] is True
    assert report["metrics"]["overall"]["refusal_accuracy"] == 1.0
    assert (workdir / "out" / "report.md").read_text("utf-8").startswith("# Eval report")
    baseline = json.loads((workdir / "baseline.json").read_text("utf-8"))
    assert baseline["questions"]["bread"]["checks"] == {"refusal": True}

    _use_answerer(monkeypatch, refuse=lambda q: False)  # a regression: stops refusing
    code, output = run("--k", "5")
    assert code == 1
    assert "FLIP bread: pass → fail (refusal)" in " ".join(output.split())
    floor = {r.metric: r for r in load_rules(ROOT / "evals" / "thresholds.toml")}
    expected = (
        f"refusal_accuracy = 0.000 is below its threshold {floor['refusal_accuracy'].min:.3f}"
    )
    assert expected in " ".join(output.split())
    unchanged = json.loads((workdir / "baseline.json").read_text("utf-8"))
    assert unchanged == baseline  # never updated without --update-baseline


def test_json_flag_prints_the_report(run: EvalRun, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_answerer(monkeypatch, refuse=lambda q: "bread" in q)
    code, output = run("--json")
    assert code == 0, output
    data = json.loads(output)
    assert [q["id"] for q in data["questions"]] == ["fine", "bread"]
    assert data["gate"]["notes"] == ["no baseline: thresholds only"]


def test_llm_mode_without_endpoint_says_so_and_exits_cleanly(workdir: Path, run: EvalRun) -> None:
    code, output = run("--mode", "llm")
    assert code == 0
    assert "no LLM endpoint configured" in output
    assert not (workdir / "out").exists()


def test_bad_gold_file_and_bad_mode_exit_with_usage_errors(workdir: Path, run: EvalRun) -> None:
    (workdir / "gold.jsonl").write_text('{"id": "x"}\n', "utf-8")
    code, output = run()
    assert code == 2 and "missing fields" in output
    code, output = run("--mode", "chat")
    assert code == 2 and "--mode must be one of extractive, llm, llm-naive-double" in output


def test_rag_entry_point_registers_the_eval_command() -> None:
    rag = Path(sys.executable).with_name("rag")
    result = subprocess.run(
        [str(rag), "eval", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    for flag in ("--gold", "--corpus", "--mode", "--k", "--json", "--out", "--baseline"):
        assert flag in result.stdout
    assert "--update-baseline" in result.stdout and "--index-dir" in result.stdout


def test_llm_mode_runs_the_same_eval_against_the_configured_endpoint(
    run: EvalRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    def script(request: dict[str, object]) -> str:
        prompt = json.dumps(request["messages"])
        if "bread" in prompt:
            return "INSUFFICIENT_CONTEXT"
        return "Alibaba was fined a record $2.8 billion in April [1]."

    with LLMDouble([reply(script)]) as double:
        monkeypatch.setenv("RAG_LLM_BASE_URL", double.base_url)
        monkeypatch.setenv("RAG_LLM_MODEL", "scripted-double")
        code, output = run("--mode", "llm", "--json")
        assert double.requests, "the endpoint was never called"
    assert code in (0, 1), output
    report = json.loads(output)
    assert report["info"]["mode"] == "llm" and report["info"]["model"] == "scripted-double"
    fine = report["questions"][0]
    assert fine["mode"] == "llm" and not fine["degraded"]
    assert fine["checks"]["answer"] is True
    assert report["questions"][1]["answerable"] is False  # bread: refused


def test_naive_double_mode_serves_the_test_double_and_labels_the_report(run: EvalRun) -> None:
    code, output = run("--mode", "llm-naive-double", "--json")
    assert code in (0, 1), output
    report = json.loads(output)
    assert report["info"]["mode"] == "llm-naive-double"
    assert "TEST DOUBLE" in report["info"]["model"]
    fine = report["questions"][0]
    # The double never refuses: an answer reached the pipeline's verification, or the relevance
    # gate refused before calling it; either way the pipeline ran in LLM mode.
    assert fine["mode"] in ("llm", "extractive") and fine["answerable"] is True
    assert report["questions"][1]["answerable"] is False  # bread: nothing relevant


def test_a_bad_judge_setting_ends_eval_with_one_line_before_any_run(
    workdir: Path, run: EvalRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EVAL_JUDGE_TIMEOUT_S", "soon")
    code, output = run()
    assert code == 1
    assert "RAG_EVAL_JUDGE_TIMEOUT_S=soon: Input should be a valid number" in output
    assert "Traceback" not in output and not (workdir / "out" / "report.json").exists()
