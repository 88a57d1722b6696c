"""Run `rag` commands as real child processes without paying the import time for each.

Started once (as a script) by the `rag_processes` fixture: it imports the `rag` CLI and the
libraries the default (onnx-int8) path loads, then reads one JSON request per line on stdin,
forks, and in the child runs `newsrag.rag.cli.main()` with the request's argv, environment
and working directory, stdout and stderr going to files. It answers one JSON line per
request: the child's exit code, or the signal that ended it. Nothing heavy runs before the
fork (no model, no runtime threads), so each child is an ordinary fresh `rag` process that
only skipped the imports; crash tests SIGKILL it at a named write step (RAG_TEST_KILL_AT).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import bm25s  # noqa: F401  (the slow imports, done once before any fork)
import faiss  # noqa: F401
import onnxruntime  # noqa: F401
import tokenizers  # noqa: F401

import newsrag.rag.cli


def _child(request: dict[str, object]) -> int:
    os.chdir(str(request["cwd"]))
    os.environ.update(request["env"])  # type: ignore[arg-type]
    for fd, key in ((1, "stdout"), (2, "stderr")):
        target = os.open(str(request[key]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ["rag", *request["argv"]]  # type: ignore[misc]
    try:
        newsrag.rag.cli.main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def serve() -> None:
    """Answer fork requests until stdin closes."""
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(request)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status, usage = os.wait4(pid, 0)
        reply = {
            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        }
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    serve()
