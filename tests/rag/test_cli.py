"""rag.cli: `rag ingest / delete / compact / stats / config`, JSON for scripts, clean errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from newsrag.index.backends import backend_label
from newsrag.rag.cli import app

DEFAULT_NAME = f"all-MiniLM-L6-v2@{backend_label('onnx-int8')}"  # the default embedder

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
IDS = ["000_55b3a58e47ab3e3b", "001_6e6788954849d3b3", "004_fa44ad58bdb6b94c"]
SUMMARY_KEYS = {"added", "updated", "unchanged", "removed", "failed", "chunks_embedded", "seconds"}


def rag(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """Run the `rag` app in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def assert_clean_error(result: Result, message: str) -> None:
    """Exit status 1, one line on stderr naming the problem, no traceback anywhere."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not an uncaught exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.output + result.stderr


def test_ingest_json_through_the_console_script_then_nothing_to_embed(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    proc = subprocess.run(
        [Path(sys.executable).parent / "rag", "ingest", CORPUS, "--json", "--index-dir", index_dir],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary) >= SUMMARY_KEYS
    assert sorted(summary["added"]) == IDS
    assert summary["updated"] == summary["unchanged"] == summary["removed"] == []
    assert summary["failed"] == []
    assert summary["chunks_embedded"] == summary["total_chunks"] > 0
    assert summary["generation"] == "gen-000001" and summary["seconds"] > 0
    # `seconds` is the indexing; start-up (interpreter, imports, embedder load) is apart.
    assert summary["startup_seconds"] > 0
    # Quiet: no weight-loading bars, no library debug lines, no progress bar for 3 articles.
    assert "Loading weights" not in proc.stderr and "DEBUG" not in proc.stderr
    assert "Batches" not in proc.stderr and "Traceback" not in proc.stderr

    again = rag("ingest", CORPUS, "--json", "--index-dir", index_dir)
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["chunks_embedded"] == 0 and sorted(second["unchanged"]) == IDS
    assert second["added"] == second["updated"] == []
    assert second["generation"] == "gen-000001"


def test_ingest_prints_a_one_line_summary(tmp_path: Path) -> None:
    result = rag("ingest", CORPUS, "--index-dir", tmp_path / "index")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()  # one line, however narrow the terminal
    assert line.startswith("articles: 3 added, 0 updated, 0 unchanged, 0 removed, 0 failed")
    assert "chunks embedded: " in line and line.endswith("gen-000001")
    assert re.search(r" \| \d+\.\d s indexing, \d+\.\d s start-up \| ", line), line


def test_stats_json_shows_what_the_index_holds(writable_index_dir: Path) -> None:
    result = rag("stats", "--json", "--index-dir", writable_index_dir)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    gen = writable_index_dir / "gen-000001"
    assert stats["articles"] == 3
    assert stats["chunks"] == len((gen / "chunks.jsonl").read_text().splitlines()) > 0
    assert stats["model"] == DEFAULT_NAME and stats["dim"] == 384  # default
    assert stats["generation"] == "gen-000001"
    assert stats["size_bytes"] == sum(p.stat().st_size for p in gen.rglob("*") if p.is_file())


def test_cli_and_library_share_the_default_embedding_backend() -> None:
    from newsrag.index.backends import DEFAULT_BACKEND
    from newsrag.rag.settings import Settings

    assert Settings.model_fields["embed_backend"].default == DEFAULT_BACKEND


def test_stats_table_for_people(writable_index_dir: Path) -> None:
    result = rag("stats", "--index-dir", writable_index_dir)
    assert result.exit_code == 0, result.output
    for label in ("articles", "chunks", "model", "generation", "size_bytes"):
        assert label in result.stdout
    assert "KiB" in result.stdout


def test_delete_removes_an_article(writable_index_dir: Path) -> None:
    result = rag("delete", IDS[1], "--json", "--index-dir", writable_index_dir)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["removed"] == [IDS[1]] and report["chunks_embedded"] == 0
    stats = json.loads(rag("stats", "--json", "--index-dir", writable_index_dir).stdout)
    assert stats["articles"] == 2 and stats["generation"] == "gen-000002"


def test_delete_unknown_id_is_a_clean_error(writable_index_dir: Path) -> None:
    assert_clean_error(
        rag("delete", "nope", "--index-dir", writable_index_dir),
        "no article with id 'nope' in the index",
    )


def test_missing_path_is_a_clean_error(tmp_path: Path) -> None:
    missing = tmp_path / ("a-rather-long-folder-name-" * 4) / "articles"
    assert_clean_error(
        rag("ingest", missing, "--index-dir", tmp_path / "index"),
        f"no such file or folder: {missing}",
    )
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize("command", [["stats"], ["delete", IDS[0]]])
def test_no_index_is_a_clean_error(tmp_path: Path, command: list[str]) -> None:
    index_dir = tmp_path / "nothing-here"
    assert_clean_error(rag(*command, "--index-dir", index_dir), f"no index at {index_dir}")
    assert not index_dir.exists()  # asking did not create it


def test_all_inputs_failing_exits_non_zero_and_names_each_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "empty[red].txt").write_bytes(b"")  # rich markup in a name is printed as is
    (folder / "latin1.md").write_bytes("Caf\u00e9".encode("latin-1"))
    (folder / "notes.pdf").write_bytes(b"%PDF")
    result = rag("ingest", folder, "--index-dir", tmp_path / "index")
    assert result.exit_code == 1
    assert f"failed: {folder / 'empty[red].txt'}: empty file" in result.stderr
    assert f"failed: {folder / 'latin1.md'}: not UTF-8 text" in result.stderr
    assert f"skipped: {folder / 'notes.pdf'}: unsupported extension '.pdf'" in result.stderr
    assert "2 failed" in result.stdout
    assert "Traceback" not in result.output + result.stderr


def test_bad_faiss_kind_is_a_clean_error(tmp_path: Path) -> None:
    assert_clean_error(
        rag("ingest", CORPUS, "--faiss", "annoy", "--index-dir", tmp_path / "index"),
        "--faiss must be one of flat, hnsw",
    )


def test_config_shows_settings_with_secrets_masked() -> None:
    env = {"RAG_LLM_API_KEY": "sk-secret-value", "RAG_INDEX_DIR": "/srv/index"}
    result = rag("config", "--json", env=env)
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)
    assert values["index_dir"] == "/srv/index"
    assert values["llm_api_key"] == "********"
    assert "sk-secret-value" not in result.stdout
    table = rag("config", env=env)
    assert "RAG_INDEX_DIR" in table.stdout and "sk-secret-value" not in table.stdout


@pytest.mark.parametrize("command", [["config"], ["stats"], ["ask", "who?"], ["search", "x"]])
def test_a_bad_setting_is_a_clean_error_in_every_command(command: list[str]) -> None:
    assert_clean_error(
        rag(*command, env={"RAG_K": "0"}),
        "invalid settings: RAG_K=0: Input should be greater than or equal to 1",
    )
