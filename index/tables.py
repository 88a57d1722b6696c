"""The manifest's per-article and per-source tables as immutable runs (issue 17).

A manifest lists, per table ("articles", "sources"), the run files that hold its rows, oldest
first. A run is one JSON document, `{"table": NAME, "rows": [[key, field, ...], ...],
"removed": [key, ...]}`: a later run's row replaces an earlier one's, and its removed keys drop
them. A commit writes one run of the rows added, changed or removed since the generation it
builds on and hard-links the older runs (as index.segments links segments), so what it writes
follows the change, not the corpus; the manifest itself stays a few kilobytes.

Runs merge like a binary counter: the new run takes in the newest runs while the next older one
holds at most twice the rows gathered so far, so every run holds more than twice as many rows
as all newer ones together. That bounds the runs at about log2(rows) and rewrites a row
O(log rows) times over its life. A merge that reaches the oldest run drops removed keys, since
no older run holds them.

Run files are data files of the generation like any other: checksummed in the manifest,
fsynced, and linked only from a published generation.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import operator
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLES_DIR = "tables"
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Run:
    """One run file of a table: its path in the generation and the keys it names."""

    file: str  # relative to the generation directory
    keys: tuple[str, ...]  # rows and removed keys, for merges


def run_file(table: str, generation: int) -> str:
    """Where generation `generation` writes its run of `table`."""
    return f"{TABLES_DIR}/{table}-{generation:06d}.json"


def read_runs(
    directory: Path, table: str, files: list[str], make: type[Row]
) -> tuple[dict[str, Row], tuple[Run, ...]]:
    """Replay the runs of `table` in `directory`: the rows (as `make`, a named tuple) by key,
    and the runs read. The rows are built by C-level map calls, with the cyclic garbage
    collector paused (gc_paused).

    Raises OSError, ValueError, TypeError or KeyError on a missing or malformed run (the
    caller turns them into CorruptIndexError).
    """
    width = len(make._fields)  # type: ignore[attr-defined]
    build = functools.partial(tuple.__new__, make)
    rows: dict[str, Row] = {}
    runs = []
    with gc_paused():
        for name in files:
            runs.append(_replay(directory, table, name, rows, build, width))
    return rows, tuple(runs)


def _replay(
    directory: Path,
    table: str,
    name: str,
    rows: dict[str, Row],
    build: Callable[[Any], Row],
    width: int,
) -> Run:
    """Apply one run file to `rows`."""
    if not isinstance(name, str) or name.startswith("/") or ".." in name.split("/"):
        raise ValueError(f"bad run file name {name!r}")
    data = json.loads((directory / name).read_bytes())
    if data["table"] != table:
        raise ValueError(f"{name} holds table {data['table']!r}, not {table!r}")
    removed, found = data["removed"], data["rows"]
    if not all(isinstance(k, str) for k in removed) or set(map(len, found)) - {width + 1}:
        raise ValueError(f"{name} holds malformed rows")
    for key in removed:
        rows.pop(key, None)
    keys = list(map(_KEY, found))
    if not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{name} holds malformed keys")
    rows.update(zip(keys, map(build, map(_FIELDS, found)), strict=True))
    return Run(name, (*removed, *keys))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: building 100k rows (tuples, no cycles) in a large
    process otherwise triggers full collections that cost three times the parse."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_KEY = operator.itemgetter(0)
_FIELDS = operator.itemgetter(slice(1, None))


def changed_keys(old: Mapping[str, Row], new: Mapping[str, Row]) -> set[str]:
    """Keys added, changed or removed from `old` to `new`. A commit copies the rows it keeps
    by reference, so an identity test settles nearly every key without comparing fields."""
    get = old.get
    changed = {k for k, v in new.items() if get(k) is not v and get(k) != v}
    changed.update(old.keys() - new.keys())
    return changed


def write_run(
    directory: Path,
    table: str,
    generation: int,
    rows: Mapping[str, Row],
    runs: tuple[Run, ...],
    changed: set[str],
) -> tuple[tuple[Run, ...], list[str]]:
    """Write the run of `changed` keys (merged with newer runs per the policy) into
    `directory`; returns the runs of the new generation and the kept runs' files, which the
    caller links from the generation they come from."""
    if not changed:
        return runs, [r.file for r in runs]
    gathered = len(changed)
    take = 0
    while take < len(runs) and len(runs[-1 - take].keys) <= 2 * gathered:
        gathered += len(runs[-1 - take].keys)
        take += 1
    kept = runs[: len(runs) - take]
    keys = set(changed)
    for run in runs[len(runs) - take :]:
        keys.update(run.keys)
    with gc_paused():
        ordered = sorted(keys)
        live = [[k, *rows[k]] for k in ordered if k in rows]
        removed = [k for k in ordered if k not in rows] if kept else []
        payload = {"table": table, "rows": live, "removed": removed}
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    name = run_file(table, generation)
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
    written = Run(name, tuple(k for k in ordered if k in rows) + tuple(removed))
    return (*kept, written), [r.file for r in kept]


def link_runs(source: Path, target: Path, files: list[str]) -> None:
    """Hard-link the run `files` of generation `source` into `target`."""
    for name in files:
        dst = target / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.link(source / name, dst)
