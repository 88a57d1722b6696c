"""`rag chat` and `rag config` through the real console-script entry point (piped stdin)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

RAG = str(Path(sys.executable).with_name("rag"))
ALIBABA = "How much will Alibaba invest in its overseas research hubs?"
SESSION = f"{ALIBABA}\nand how many researchers?\n/sources\n/exit\n"
PASSAGE = re.compile(r'<passage id="(\d+)">\n(.*?)\n</passage>', re.DOTALL)


def run_rag(
    args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    return subprocess.run(
        [RAG, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "HF_HUB_OFFLINE": "1", **env},
        check=False,
    )


def test_chat_without_llm_answers_a_followup(corpus_index_dir: Path, fresh_home: Path) -> None:
    result = run_rag(
        ["chat", "--index-dir", str(corpus_index_dir)], {"HOME": str(fresh_home)}, SESSION
    )
    assert result.returncode == 0, result.stderr
    assert "Loading the embedding model and the index" in result.stderr  # said while it loads
    out = result.stdout
    assert out.startswith("rag chat · ") and "extractive" in out.splitlines()[0]
    first, second = out.split(">>> and how many researchers?")
    assert "15 billion" in first and re.search(r"\[\d+\]", first)
    assert "read as:" in second and "Alibaba" in second.split("read as:")[1].splitlines()[0]
    followup, sources = second.split(">>> /sources")
    assert re.search(r"\[\d+\]", followup)  # answered (and cited) in the conversation's context
    cited = re.findall(r"^\[(\d+)\] ", followup, re.MULTILINE)
    shown = re.findall(r"^\[(\d+)\] .*\n    \S", sources, re.MULTILINE)
    assert cited and shown == cited  # /sources lists the same passages, with their text
    assert not (fresh_home / ".local/state/rag/history").exists()  # piped: no prompt history


def test_config_masks_secrets(tmp_path: Path) -> None:
    env = {
        "RAG_LLM_API_KEY": "sk-very-secret-llm-key",
        "RAG_API_KEY": "very-secret-api-key",
        "RAG_LLM_BASE_URL": "http://127.0.0.1:9/v1",
        "RAG_K": "5",
    }
    result = run_rag(["config", "--json"], env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["llm_api_key"] == values["api_key"] == "********"
    assert values["llm_base_url"] == "http://127.0.0.1:9/v1" and values["k"] == 5
    table = run_rag(["config"], {"OPENAI_API_KEY": "sk-openai-secret"})
    assert table.returncode == 0, table.stderr
    assert "sk-openai-secret" not in table.stdout and "********" in table.stdout
    assert "very-secret" not in result.stdout + result.stderr
