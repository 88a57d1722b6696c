"""Start-up of the `rag` command beside `llm --help`, in one run, with ratios (issue 13).

    .venv/bin/python bench/startup.py [--runs 5] [--json]

Builds an index of the shipped corpus (once, into bench/out/startup-index), then times each
command `--runs` times after one warm-up run (warm caches, the packages byte-compiled as an
installed wheel has them; the commands take turns) and prints the median wall and CPU
seconds (the child's user + system time): `rag --help`, `rag search "q"` (start-up plus
retrieval), `rag ask "q"` (plus the extractive answer), `rag chat` until its prompt appears
(driven through a pseudo-terminal, Ctrl-D sent once it shows; bounded by --timeout), and the
peer `llm --help` (simonw/llm, installed by this script into .venv-startup-peer, never a
dependency of the project). Targets: ask <= 1.5 s wall and CPU and <= 2x llm --help, chat
ready <= 2 s, --help <= 0.5 s. Quote the figures with the load line it prints.
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, load_note, script_parser

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEER_VENV = ROOT / ".venv-startup-peer"
INDEX = ROOT / "bench" / "out" / "startup-index"
QUESTION = "How much will Alibaba invest in its overseas research hubs?"
PROMPT = b">>>"  # rag.chat.PROMPT; prompt_toolkit draws its trailing space as a cursor move
CURSOR_QUERY, CURSOR_AT = b"\x1b[6n", b"\x1b[1;1R"  # prompt_toolkit asks where the cursor is


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = script_parser(__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run at most")
    return parser.parse_args(argv)


def ensure_peer() -> Path:
    """`llm` in its own virtualenv, installed once."""
    llm = PEER_VENV / "bin" / "llm"
    if not llm.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = [str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "llm"], check=True)
    return llm


def environment() -> dict[str, str]:
    """The user's environment without RAG_*/OPENAI_* (extractive answers), offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    return env | {"HF_HUB_OFFLINE": "1", "RAG_INDEX_DIR": str(INDEX), "TERM": "xterm"}


def children_cpu() -> float:
    """User + system seconds of all waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_command(command: list[str], timeout: float) -> Callable[[], tuple[float, float]]:
    """A run of `command` to completion: (wall s, CPU s)."""

    def run() -> tuple[float, float]:
        cpu, start = children_cpu(), time.perf_counter()
        subprocess.run(command, env=environment(), capture_output=True, timeout=timeout, check=True)
        return time.perf_counter() - start, children_cpu() - cpu

    return run


def timed_chat(timeout: float) -> Callable[[], tuple[float, float]]:
    """`rag chat` in a pseudo-terminal until its prompt shows: (wall s to the prompt, CPU s)."""

    def run() -> tuple[float, float]:
        cpu, start = children_cpu(), time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: become `rag chat` on the terminal
            os.execve(str(BIN / "rag"), [str(BIN / "rag"), "chat"], environment())
        seen, ready = b"", None
        deadline = start + timeout
        try:
            while ready is None and time.perf_counter() < deadline:
                readable, _, _ = select.select([fd], [], [], 0.05)
                if readable:
                    try:
                        seen += os.read(fd, 4096)
                    except OSError:  # the child closed the terminal: it ended early
                        break
                    if PROMPT in seen:
                        ready = time.perf_counter() - start
                    elif CURSOR_QUERY in seen:  # answer as a terminal does, once
                        os.write(fd, CURSOR_AT)
                        seen = seen.replace(CURSOR_QUERY, b"")
            if ready is None:
                raise RuntimeError(f"no prompt within {timeout} s: {seen[-300:]!r}")
            os.write(fd, b"\x04")  # Ctrl-D: leave
            _drain(fd, deadline)
        finally:
            _reap(pid)
            os.close(fd)
        return ready, children_cpu() - cpu

    return run


def _drain(fd: int, deadline: float) -> None:
    while time.perf_counter() < deadline:
        readable, _, _ = select.select([fd], [], [], 0.05)
        if readable:
            try:
                if not os.read(fd, 4096):
                    return
            except OSError:
                return


def _reap(pid: int) -> None:
    for _ in range(100):  # bounded: 5 s, then it is killed
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def medians(
    commands: dict[str, Callable[[], tuple[float, float]]], runs: int
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds per command: a warm-up each, then `runs` rounds of turns.

    Interleaved, so a change of machine load hits every command alike.
    """
    for run in commands.values():
        run()
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, run in commands.items():
            figures[name].append(run())
    return {
        name: (statistics.median(w for w, _ in f), statistics.median(c for _, c in f))
        for name, f in figures.items()
    }


def compile_bytecode() -> None:
    """Byte-compile the packages, as installing a wheel does (pip compiles every module).

    An editable checkout under PYTHONDONTWRITEBYTECODE=1 (this workplace sets it) never
    writes .pyc files, so each run would compile the project's sources again: about 0.15
    CPU-s of `rag ask` that no installed copy pays, and that the peer, installed by pip,
    does not pay either.
    """
    folders = [str(ROOT / name) for name in ("index", "rag", "api", "evals")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True)


def main(argv: list[str] | None = None) -> None:
    """Build the index if needed, time each command, print medians and ratios."""
    args = parse_args(argv)
    llm = ensure_peer()
    rag = str(BIN / "rag")
    compile_bytecode()
    subprocess.run(
        [rag, "ingest", str(ROOT / "corpus")], env=environment(), capture_output=True, check=True
    )
    before = load_note()
    commands = {
        "llm --help": timed_command([str(llm), "--help"], args.timeout),
        "rag --help": timed_command([rag, "--help"], args.timeout),
        "rag search": timed_command([rag, "search", QUESTION], args.timeout),
        "rag ask": timed_command([rag, "ask", QUESTION], args.timeout),
        "rag chat (prompt)": timed_chat(args.timeout),
    }
    figures: dict[str, object] = {
        "runs": f"{args.runs} per command, interleaved, median, after 1 warm-up"
    }
    results = medians(commands, args.runs)
    for name, (wall, cpu) in results.items():
        figures[f"{name} wall_s"] = round(wall, 3)
        figures[f"{name} cpu_s"] = round(cpu, 3)
    peer_wall, peer_cpu = results["llm --help"]
    for name in ("rag --help", "rag ask", "rag chat (prompt)"):
        wall, cpu = results[name]
        figures[f"{name} / llm --help wall"] = round(wall / peer_wall, 2)
        figures[f"{name} / llm --help cpu"] = round(cpu / max(peer_cpu, 1e-6), 2)
    figures["load"] = f"{before} -> {load_note()}"
    emit(figures, as_json=args.json)


if __name__ == "__main__":
    main()
