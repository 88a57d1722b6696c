"""`rag` commands as real child processes, forked from a pre-imported server (cli_forkserver)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "index"
ROOT = HERE.parents[1]


@dataclass(frozen=True, slots=True)
class CliResult:
    """How one `rag` process ended and what it printed."""

    code: int | None  # exit status, or None when a signal ended it
    signal: int | None
    stdout: str
    stderr: str
    cpu_s: float  # user + system time of the process
    max_rss_mb: float  # peak resident memory of the child (inherited pages included)


class RagProcesses:
    """Runs `rag ARGS...` in fresh child processes forked from a pre-imported server."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.count = 0
        # Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning
        # makes each small embedding call ten times slower.
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}
        self.server = subprocess.Popen(
            [sys.executable, str(HERE / "cli_forkserver.py")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, children included
        )
        assert json.loads(self._readline()) == {"ready": True}

    def _readline(self, timeout: float = 300) -> str:
        assert self.server.stdout is not None
        ready, _, _ = select.select([self.server.stdout], [], [], timeout)
        if not ready:
            os.killpg(self.server.pid, signal.SIGKILL)  # the server and the stuck child
            raise TimeoutError(f"rag fork server gave no answer in {timeout:.0f} s")
        line = self.server.stdout.readline()
        if not line:
            raise RuntimeError(f"rag fork server exited with {self.server.wait()}")
        return line

    def run(self, *args: str | Path, env: dict[str, str] | None = None) -> CliResult:
        """Run one `rag` command to completion (or until it is killed)."""
        assert self.server.stdin is not None
        self.count += 1
        out, err = self.workdir / f"{self.count}.out", self.workdir / f"{self.count}.err"
        request = {
            "argv": [str(a) for a in args],
            "env": env or {},
            "cwd": str(ROOT),
            "stdout": str(out),
            "stderr": str(err),
        }
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        reply = json.loads(self._readline())
        return CliResult(
            reply["code"],
            reply["signal"],
            out.read_text(),
            err.read_text(),
            reply["cpu_s"],
            reply["max_rss_mb"],
        )

    def close(self) -> None:
        """Stop the server (it exits when its stdin closes)."""
        assert self.server.stdin is not None
        self.server.stdin.close()
        self.server.wait(timeout=30)
