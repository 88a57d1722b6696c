"""`rag serve` through the real console script: it binds, loads the index, and answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

RAG = Path(sys.executable).parent / "rag"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_help_lists_its_options() -> None:
    result = subprocess.run(
        [str(RAG), "serve", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--index-dir", "--threads"):
        assert option in result.stdout


def test_rag_serve_answers_on_loopback(corpus_index_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_API_KEY": "", "RAG_LLM_BASE_URL": ""}
    command = [str(RAG), "serve", "--port", str(port), "--index-dir", str(corpus_index_dir)]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "rag serve did not become ready"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        hits = httpx.post(f"{url}/v1/search", json={"query": "Alibaba research"}, timeout=30)
        assert hits.status_code == 200 and hits.json()["results"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
    assert process.returncode == 0
