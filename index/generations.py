"""Generations on disk: write to a temp dir, fsync, rename, then switch CURRENT atomically.

Layout of an index directory:

    CURRENT          one line naming the live generation, e.g. "gen-000007"
    gen-000006/      the previous generation, kept until the next success
    gen-000007/      the live generation (manifest.json + data files)
    .lock            held while an ingest writes
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from newsrag.index.errors import IndexWriteError

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
# Called with the name of each step of a durable write (see `publish`); crash tests kill the
# process at a named step, and nothing else depends on it.
StepHook = Callable[[str], None]
_GEN = re.compile(r"^gen-(\d{6,})$")


def fsync_path(path: Path) -> None:
    """fsync a file or directory so a rename after it is durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def generation_dirs(index_dir: Path) -> list[Path]:
    """Complete generation directories, newest first."""
    if not index_dir.is_dir():
        return []
    found = [p for p in index_dir.iterdir() if p.is_dir() and _GEN.match(p.name)]
    return sorted(found, key=lambda p: int(_GEN.match(p.name).group(1)), reverse=True)  # type: ignore[union-attr]


def current_generation(index_dir: Path) -> Path | None:
    """The generation CURRENT names, or None when it is missing, empty or garbled."""
    try:
        data = (index_dir / CURRENT).read_bytes()[:256]
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    name = data.decode("utf-8", "replace").strip()
    return index_dir / name if _GEN.match(name) else None


def pointer_problem(index_dir: Path) -> str | None:
    """Why CURRENT cannot be followed although generations exist; None when all is well."""
    if not generation_dirs(index_dir):
        return None
    path = index_dir / CURRENT
    current = current_generation(index_dir)
    if not path.exists():
        return f"{CURRENT} is missing"
    if current is None:
        return f"{CURRENT} does not name a generation"
    if not current.is_dir():
        return f"{CURRENT} names {current.name}, which does not exist"
    return None


def repair_current(index_dir: Path, name: str) -> None:
    """Point CURRENT at generation `name` again (durably); callers hold the writer lock."""
    _switch_current(index_dir, name, _no_step)


def generation_number(path: Path) -> int:
    """The integer of a generation directory name."""
    match = _GEN.match(path.name)
    if not match:
        raise ValueError(f"not a generation directory: {path}")
    return int(match.group(1))


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive lock so two ingests never write the same index at once."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(
    index_dir: Path,
    write: Callable[[Path, int], None],
    *,
    previous: Path | None = None,
    on_step: StepHook | None = None,
) -> Path:
    """Write a new generation with `write(tmp_dir, number)` and make it live atomically.

    `previous` is the generation kept as the fallback (default: the one CURRENT names).
    Steps reported to `on_step`, in order: begin, tmp-created, (the steps of `write`),
    fsynced, renamed, current-tmp-written, switched, gc-done.
    """
    step = on_step or _no_step
    step("begin")
    index_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(index_dir)
    existing = generation_dirs(index_dir)
    number = (generation_number(existing[0]) + 1) if existing else 1
    tmp = index_dir / f".tmp-gen-{number:06d}-{os.getpid()}"
    final = index_dir / f"gen-{number:06d}"
    previous = previous or current_generation(index_dir)
    try:
        tmp.mkdir()
        step("tmp-created")
        write(tmp, number)
        for child in tmp.rglob("*"):
            # A file with other links was linked from a published generation (a kept
            # segment, index.segments): its data is durable already; its new name is made
            # durable by syncing the directory that holds it.
            if child.is_dir() or child.stat().st_nlink == 1:
                fsync_path(child)
        fsync_path(tmp)
        step("fsynced")
        os.rename(tmp, final)
        fsync_path(index_dir)
        step("renamed")
        _switch_current(index_dir, final.name, step)
    except OSError as exc:
        # A full disk or a failing device: nothing half-written stays behind, and CURRENT
        # (replaced only by an atomic rename) still names the live generation.
        shutil.rmtree(tmp, ignore_errors=True)
        if current_generation(index_dir) != final:
            shutil.rmtree(final, ignore_errors=True)
        (index_dir / f".{CURRENT}.tmp").unlink(missing_ok=True)
        raise IndexWriteError(index_dir, exc) from exc
    step("switched")
    _collect_garbage(index_dir, keep={final.name, previous.name if previous else ""})
    step("gc-done")
    return final


def _no_step(name: str) -> None:
    pass


def _switch_current(index_dir: Path, name: str, step: StepHook) -> None:
    tmp = index_dir / f".{CURRENT}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    step("current-tmp-written")
    os.replace(tmp, index_dir / CURRENT)
    fsync_path(index_dir)


def remove_stale_temporaries(index_dir: Path) -> list[str]:
    """Delete what killed or failed writes left (`.tmp-gen-*`); callers hold the writer lock."""
    removed = []
    for child in index_dir.iterdir() if index_dir.is_dir() else []:
        if child.name.startswith(".tmp-gen-") or child.name == f".{CURRENT}.tmp":
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
            removed.append(child.name)
    if removed:
        log.info("removed %d stale temporary file(s): %s", len(removed), ", ".join(removed))
    return removed


def _collect_garbage(index_dir: Path, keep: set[str]) -> None:
    # Generations older than the new one, except the previous (the fallback). A generation
    # numbered above the new one is never collected: nothing here could have written it.
    newest = max((generation_number(index_dir / k) for k in keep if k), default=0)
    for child in index_dir.iterdir():
        match = _GEN.match(child.name)
        if match and child.is_dir() and child.name not in keep and int(match.group(1)) < newest:
            shutil.rmtree(child, ignore_errors=True)
