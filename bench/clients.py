"""What generic OpenAI clients show of a cited answer: the `llm` CLI and LangChain's ChatOpenAI.

    .venv/bin/python bench/clients.py                                  # spawns `rag serve`
    .venv/bin/python bench/clients.py --url http://127.0.0.1:8000      # a running service
    .venv/bin/python bench/clients.py --rag ../other/.venv/bin/rag     # another build's service

Neither client is written by this project, and both keep only the message text: whatever
explains a [n] marker has to be in that text. The script installs `llm` and `langchain-openai`
into .venv-clients once (gitignored, never a dependency of the project), points `llm` at the
service through extra-openai-models.yaml (in a private LLM_USER_PATH) and ChatOpenAI through
base_url, asks one question with each (llm streaming and not, LangChain invoke and stream),
and prints what each shows: the text, its markers, which markers the text itself explains
(a "- [n] Title ..." line), and what else the client kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
CLIENT_VENV = ROOT / ".venv-clients"
CLIENT_PACKAGES = ["llm", "langchain-openai"]
QUESTION = "How much will Alibaba invest in its overseas research hubs?"
MODEL = "newsrag"
MARKER = re.compile(r"\[(\d{1,4})\]")
EXPLAINED = re.compile(r"^(?:- )?\[(\d{1,4})\] \S", re.MULTILINE)

LANGCHAIN = """
import json, sys
from langchain_openai import ChatOpenAI
base, model, question = sys.argv[1:4]
chat = ChatOpenAI(model=model, base_url=base, api_key="unused", max_retries=0, timeout=120)
message = chat.invoke(question)
streamed = "".join(str(chunk.content) for chunk in chat.stream(question))
print(json.dumps({
    "invoke": {
        "text": message.content if isinstance(message.content, str) else str(message.content),
        "kept": sorted([*message.response_metadata, *message.additional_kwargs]),
    },
    "stream": {"text": streamed, "kept": []},
}))
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running service (default: spawn `rag serve`)")
    parser.add_argument("--rag", type=Path, help="the `rag` executable to spawn (default: ours)")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser.parse_args(argv)


def ensure_client_venv() -> Path:
    """.venv-clients with llm and langchain-openai (installed once); returns its bin folder."""
    bin_dir = CLIENT_VENV / "bin"
    probe = [str(bin_dir / "python"), "-c", "import llm, langchain_openai"]
    if bin_dir.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return bin_dir
    print(f"installing {', '.join(CLIENT_PACKAGES)} into {CLIENT_VENV.name} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(CLIENT_VENV)], check=True)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *CLIENT_PACKAGES]
    subprocess.run(pip, check=True)
    return bin_dir


@contextmanager
def spawned(rag: Path, timeout_s: float = 300.0) -> Iterator[str]:
    """`rag serve` (the given executable) over a fresh index of corpus/ on a free port."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_RATE_LIMIT_PER_MINUTE": "0"}
    env |= {"RAG_LLM_BASE_URL": "", "RAG_API_KEY": ""}
    with tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp:
        index_dir = Path(tmp) / "index"
        ingest = [str(rag), "ingest", str(ROOT / "corpus"), "--index-dir", str(index_dir)]
        subprocess.run([*ingest, "--json"], check=True, capture_output=True, env=env)
        port = free_port()
        serve = [str(rag), "serve", "--port", str(port), "--index-dir", str(index_dir)]
        serve += ["--log-level", "warning"]
        process = subprocess.Popen(serve, env=env, cwd=tmp, stdout=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, process, timeout_s)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)


def run_llm(bin_dir: Path, url: str, question: str) -> dict[str, dict[str, object]]:
    """`llm -m newsrag` streaming and with --no-stream, configured by extra-openai-models.yaml."""
    shown: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as home:
        config = f'- model_id: {MODEL}\n  model_name: {MODEL}\n  api_base: "{url}/v1"\n'
        Path(home, "extra-openai-models.yaml").write_text(config)
        env = {**os.environ, "LLM_USER_PATH": home}
        for mode, flags in (("stream", []), ("no-stream", ["--no-stream"])):
            command = [str(bin_dir / "llm"), "-m", MODEL, *flags, question]
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
            text = done.stdout if done.returncode == 0 else f"(failed: {done.stderr.strip()})"
            shown[mode] = {"text": text.rstrip("\n"), "kept": logged_keys(Path(home, "logs.db"))}
    return shown


def logged_keys(db: Path) -> list[str]:
    """Top-level keys of the raw response llm logged for its last answer."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        row = connection.execute(
            "select response_json from responses order by id desc limit 1"
        ).fetchone()
    data = json.loads(row[0]) if row and row[0] else {}
    return sorted(data) if isinstance(data, dict) else []


def run_langchain(bin_dir: Path, url: str, question: str) -> dict[str, dict[str, object]]:
    """ChatOpenAI(base_url=...) invoke and stream, in the side virtualenv."""
    command = [str(bin_dir / "python"), "-c", LANGCHAIN, f"{url}/v1", MODEL, question]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        failed = {"text": f"(failed: {done.stderr.strip()[-500:]})", "kept": []}
        return {"invoke": failed, "stream": failed}
    result: dict[str, dict[str, object]] = json.loads(done.stdout)
    return result


def verdict(text: str) -> dict[str, object]:
    """The markers a text carries and those it explains itself."""
    body = text.split("\nSources:\n")[0]
    markers = sorted({int(m) for m in MARKER.findall(body)})
    explained = sorted({int(m) for m in EXPLAINED.findall(text)} & set(markers))
    return {"markers": markers, "explained": explained}


def main(argv: list[str] | None = None) -> None:
    """Ask through both clients and print what each shows."""
    args = parse_args(argv)
    bin_dir = ensure_client_venv()
    rag = args.rag or Path(sys.executable).parent / "rag"
    with spawned(rag) if args.url is None else _given(args.url) as url:
        results = {
            "llm": run_llm(bin_dir, url, args.question),
            "langchain": run_langchain(bin_dir, url, args.question),
        }
    for modes in results.values():
        for shown in modes.values():
            shown |= verdict(str(shown["text"]))
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    print(f"question: {args.question}\nservice: {args.url or rag}\n")
    for client, modes in results.items():
        for mode, shown in modes.items():
            markers, explained = shown["markers"], shown["explained"]
            print(f"== {client} ({mode}): markers {markers}, explained in the text {explained}")
            if shown["kept"]:
                print(f"   also kept: {', '.join(map(str, shown['kept']))}")
            for line in str(shown["text"]).splitlines():
                print(f"   | {line}")
            print()


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url.rstrip("/")


if __name__ == "__main__":
    main()
