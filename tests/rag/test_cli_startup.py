"""A fast start (issue 13): what `rag --help` and `rag ask` import, and the export's progress line.

Timings are bench/startup.py's job; these check the causes: the onnx-int8 path never imports
torch, transformers or sentence-transformers, `--help` imports none of the heavy libraries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import newsrag.index.backends
import newsrag.index.embedding
from newsrag.index.backends import cached_digest, current_exports, default_cache_dir
from newsrag.index.embedding import bundled_model_path
from newsrag.rag.cli import app

TORCH = {"torch", "transformers", "sentence_transformers"}
# What `rag --help` must not load: each costs 0.05-0.9 s of a start.
HEAVY = TORCH | {"numpy", "faiss", "bm25s", "scipy", "onnxruntime", "openai", "pydantic"}
DRIVER = """\
import json, sys
from newsrag.rag.cli import main
sys.argv = ["rag", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted({name.split(".")[0] for name in sys.modules})
sys.stderr.write("\\nMODULES " + json.dumps({"code": code, "modules": loaded}) + "\\n")
"""


def run_cli(*args: str, index_dir: Path | None = None) -> tuple[dict[str, object], str]:
    """`rag ARGS` in a fresh interpreter: its exit code and top-level modules, and its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["HF_HUB_OFFLINE"] = "1"
    if index_dir is not None:
        env["RAG_INDEX_DIR"] = str(index_dir)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    marker = done.stderr.rsplit("\nMODULES ", 1)
    assert len(marker) == 2, done.stderr
    return json.loads(marker[1]), done.stdout


def test_help_imports_no_heavy_library() -> None:
    report, out = run_cli("--help")
    assert report["code"] == 0 and "ingest" in out and "eval" in out and "serve" in out
    assert HEAVY.isdisjoint(report["modules"]), HEAVY & set(report["modules"])  # type: ignore[arg-type]


def test_ask_on_the_default_backend_imports_no_torch(corpus_index_dir: Path) -> None:
    report, out = run_cli(
        "ask", "--json", "How much will Alibaba invest?", index_dir=corpus_index_dir
    )
    assert report["code"] == 0 and "$15 billion" in json.loads(out)["answer"]
    loaded = set(report["modules"])  # type: ignore[arg-type]
    assert TORCH.isdisjoint(loaded), TORCH & loaded
    assert {"bm25s", "scipy", "openai"}.isdisjoint(loaded)  # BM25 scored without bm25s; no LLM


def test_the_first_use_export_says_what_it_does(
    corpus_index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh cache holding the fp32 export only, so what is left is the int8 quantisation;
    # its real run is tests/index/test_embedding_backends.py's. Here it links the file made.
    real = default_cache_dir() / cached_digest(bundled_model_path(), default_cache_dir())
    fp32, int8 = current_exports()
    folder = tmp_path / "cache" / real.name
    folder.mkdir(parents=True)
    (folder / fp32).symlink_to(real / fp32)
    monkeypatch.setattr(newsrag.index.embedding, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(
        newsrag.index.backends, "_quantize", lambda source, target: _link(real / int8, target)
    )
    result = CliRunner().invoke(app, ["stats", "--json", "--index-dir", str(corpus_index_dir)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "quantising the exported embedder to int8", lines
    assert lines[1].startswith("embedder ready for onnx-int8 in "), lines
    assert (
        json.loads(result.stdout)["model"]
        == f"all-MiniLM-L6-v2@{newsrag.index.backends.backend_label('onnx-int8')}"
    )
    again = CliRunner().invoke(app, ["stats", "--json", "--index-dir", str(corpus_index_dir)])
    assert again.exit_code == 0 and again.stderr == ""  # cached: nothing to say


def _link(source: Path, target: Path) -> None:
    target.unlink()
    target.symlink_to(source)
