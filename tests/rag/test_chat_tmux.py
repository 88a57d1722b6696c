"""`rag chat` in a real terminal (tmux): prompt_toolkit history, Ctrl-C cancels, Ctrl-D exits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from newsrag.rag.prompts import REWRITE_PROMPT
from tests.rag.llm_double import LLMDouble, Request, reply

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")

RAG = str(Path(sys.executable).with_name("rag"))
ALIBABA = "How much will Alibaba invest in its overseas research hubs?"


class Tmux:
    """One detached tmux session on a private socket."""

    def __init__(self, command: list[str], env: dict[str, str], width: int = 140) -> None:
        self.socket = f"rag-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        shell = (
            f"env {exports} {' '.join(_quote(c) for c in command)}; echo CHAT-EXITED-$?; sleep 30"
        )
        self._tmux("new-session", "-d", "-s", "chat", "-x", str(width), "-y", "50", shell)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        ).stdout

    def screen(self, *, join: bool = True) -> str:
        """The pane's text; join=True rejoins lines the terminal itself wrapped at its edge."""
        joined = ["-J"] if join else []
        return self._tmux("capture-pane", "-p", *joined, "-S", "-200", "-t", "chat")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "chat", *keys)

    def wait_for(self, test: Callable[[str], bool], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if test(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out; screen was:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def prompts(screen: str) -> int:
    return sum(line.startswith(">>>") for line in screen.splitlines())


def test_chat_in_a_terminal(corpus_index_dir: Path, tmp_path: Path, fresh_home: Path) -> None:
    standalone = "How many researchers will Alibaba hire for its overseas research hubs?"

    def respond(body: Request) -> str:
        if body["messages"][0]["content"] == REWRITE_PROMPT:
            last = body["messages"][-1]["content"].split("Last question: ")[1]
            return standalone if last.startswith("and ") else last
        question = body["messages"][-1]["content"].split("Question: ")[1]
        if "Damo" in question:
            double.wait(30)  # a model that does not answer: the user presses Ctrl-C
        if "researchers" in question:
            return "Alibaba is hiring 100 researchers [1]."
        return "Alibaba will invest $15 billion in overseas research hubs [1]."

    history = tmp_path / "history"
    env = {
        "HOME": str(fresh_home),
        "HF_HUB_OFFLINE": "1",
        "PATH": os.environ.get("PATH", ""),
        "RAG_LLM_MODEL": "double",
        "RAG_LLM_TIMEOUT_S": "60",
        "RAG_LLM_DEADLINE_S": "60",
    }
    with LLMDouble([reply(respond)]) as double:
        env["RAG_LLM_BASE_URL"] = double.base_url
        command = [
            RAG,
            "chat",
            "--index-dir",
            str(corpus_index_dir),
            "--history-file",
            str(history),
        ]
        term = Tmux(command, env)
        try:
            term.wait_for(lambda s: prompts(s) == 1)
            term.keys(ALIBABA, "Enter")
            term.wait_for(lambda s: prompts(s) == 2 and "$15 billion" in s)
            term.keys("and how many researchers?", "Enter")
            term.wait_for(lambda s: prompts(s) == 3 and "100 researchers" in s)
            term.keys("half typed line", "C-c")  # Ctrl-C at the prompt clears the line
            term.wait_for(lambda s: prompts(s) == 4)
            term.keys("What will the Alibaba Damo academy establish?", "Enter")
            term.wait_for(lambda s: double.calls == 5)  # rewrite, then the hanging answer
            term.keys("C-c")  # cancels the answer in progress
            term.wait_for(lambda s: "[cancelled]" in s and prompts(s) == 5)
            term.keys("C-d")  # exits
            term.wait_for(lambda s: "CHAT-EXITED-0" in s)
        finally:
            screen = term.screen()
            term.close()
        requests = list(double.requests)
    assert "LLM double" in screen and "/help for commands" in screen
    assert f"(read as: {standalone})" in screen
    # answers stream; rewrites of follow-ups are plain completions
    assert [bool(r.get("stream")) for r in requests] == [True, False, True, False, True]
    assert ALIBABA in requests[1]["messages"][-1]["content"]
    assert f"Question: {standalone}" in requests[2]["messages"][-1]["content"]
    saved = history.read_text()  # prompt_toolkit FileHistory
    assert ALIBABA in saved and "Damo academy" in saved and "half typed" not in saved


def test_answers_wrap_at_word_boundaries_in_a_narrow_terminal(
    corpus_index_dir: Path, tmp_path: Path
) -> None:
    width = 44
    # HOME stays: the exported ONNX model is cached under it (a fresh HOME would export again).
    env = {"HOME": str(Path.home()), "HF_HUB_OFFLINE": "1", "PATH": os.environ.get("PATH", "")}
    history = ["--history-file", str(tmp_path / "history")]
    command = [RAG, "chat", "--no-llm", "--index-dir", str(corpus_index_dir), *history]
    term = Tmux(command, env, width=width)
    try:
        term.wait_for(lambda s: prompts(s) == 1)
        term.keys("How much will Alibaba invest?", "Enter")  # fits one line with the prompt
        term.wait_for(lambda s: prompts(s) == 2 and "15 billion" in s)
        raw, joined = term.screen(join=False), term.screen()
    finally:
        term.close()

    # From the first prompt on: the answer and its sources (start-up notes on stderr precede it).
    def conversation(screen: str) -> list[str]:
        lines = screen.rstrip().splitlines()
        return lines[next(i for i, line in enumerate(lines) if line.startswith(">>>")) :]

    lines = conversation(raw)
    assert sum(len(line) > width * 3 // 4 for line in lines) >= 3  # long text was written
    assert all(len(line) <= width for line in lines)
    # The terminal never had to wrap a line itself (so never mid-word): each break is ours.
    assert conversation(joined) == lines
