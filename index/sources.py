"""Cheap change detection: which source files an ingest must read at all.

The manifest records, per source file, its size, mtime (ns), inode and the sha256 of its bytes
(store.SourceEntry). A file whose stat is unchanged is not opened: its articles are taken as
they are. A file whose stat changed is hashed; when its bytes are the same (a `touch`, a copy
that kept the content) it is not parsed either, and only its new stat is recorded. Only new and
changed files are read and parsed, and their articles' content hashes decide what is embedded.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from newsrag.index.loaders import LoadFailure, LoadResult
from newsrag.index.store import Manifest, SourceEntry


@dataclass(slots=True)
class SourceScan:
    """What a scan of the input files found, against the live manifest."""

    to_read: list[Path] = field(default_factory=list)  # new or changed files
    kept: dict[str, str] = field(default_factory=dict)  # doc_id -> path, of unchanged files
    sources: dict[str, SourceEntry] = field(default_factory=dict)  # every file, as now seen
    unchanged_files: int = 0  # stat as recorded: not opened
    rehashed_files: int = 0  # stat changed, bytes did not: hashed, not parsed


def _digest(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None  # the loader reports it


def scan_sources(
    files: Iterable[tuple[str, os.stat_result | None]], previous: Manifest | None
) -> SourceScan:
    """Sort `files` ((path, stat) pairs, as loaders.walk_files gives them) into those to read
    and those whose articles are kept as they are."""
    scan = SourceScan()
    known = previous.sources if previous is not None else {}
    ids_by_path: dict[str, list[str]] = {}  # built when a kept file first needs it
    built = [False]
    kept = scan.kept

    def keep(key: str) -> None:
        if not built[0] and previous is not None:
            built[0] = True
            for doc_id, entry in previous.articles.items():
                if entry.path is not None:
                    ids_by_path.setdefault(entry.path, []).append(doc_id)
        for doc_id in ids_by_path.get(key, ()):
            kept[doc_id] = key

    for key, st in files:  # stat taken before reading: a write after it shows up next time
        if st is None:
            scan.to_read.append(Path(key))  # missing or dangling: the loader says why
            continue
        record = known.get(key)
        if (
            record is not None
            and record.size == st.st_size
            and record.mtime_ns == st.st_mtime_ns
            and record.ino == st.st_ino
        ):
            scan.sources[key] = record
            keep(key)
            scan.unchanged_files += 1
            continue
        path = Path(key)
        digest = _digest(path)
        if digest is None:
            scan.to_read.append(path)
            continue
        scan.sources[key] = SourceEntry(st.st_size, st.st_mtime_ns, st.st_ino, digest)
        if record is not None and record.sha256 == digest:
            keep(key)
            scan.rehashed_files += 1
        else:
            scan.to_read.append(path)
    return scan


def settle(scan: SourceScan, loaded: LoadResult) -> LoadResult:
    """`loaded` (the files read) checked against the kept articles; failed files unrecorded.

    An article read now whose id belongs to an unchanged file fails as a duplicate (the file
    seen first keeps it, as in a full read). A file that failed or was skipped is not recorded,
    so the next ingest reads it again.
    """
    result = LoadResult(failures=list(loaded.failures), skipped=list(loaded.skipped))
    for article in loaded.articles:
        owner = scan.kept.get(article.id)
        if owner is not None and owner != article.path:
            reason = f"duplicate article id {article.id!r} (also in {owner})"
            result.failures.append(LoadFailure(str(article.path), reason))
        else:
            result.articles.append(article)
    for failure in (*result.failures, *result.skipped):
        scan.sources.pop(failure.path, None)
        scan.sources.pop(failure.path.rsplit(":", 1)[0], None)
    return result


def merged_sources(
    previous: dict[str, SourceEntry], scan: SourceScan, *, prune: bool
) -> dict[str, SourceEntry]:
    """The source table of the next generation: what was scanned, plus (unless pruning) the
    files of earlier ingests that this one did not look at."""
    if prune:
        return dict(scan.sources)
    out = dict(previous)
    out.update(scan.sources)
    return out
