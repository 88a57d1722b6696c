"""Uploaded files to per-file results: checked one by one, ingested together in one generation."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from newsrag.api.engine import Engine
from newsrag.index import Article, IndexStoreError, IngestReport, load_paths
from newsrag.index.loaders import SUPPORTED, LoadLimits, LoadResult

log = logging.getLogger(__name__)

Status = Literal["added", "updated", "unchanged", "failed"]
MAX_NAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file: the name the client gave and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one uploaded file."""

    filename: str
    status: Status
    doc_ids: tuple[str, ...]
    error: str | None


@dataclass(slots=True)
class _Checked:
    upload: Upload
    path: Path
    articles: list[Article]  # parsed once here, then ingested as they are
    errors: list[str]

    @property
    def doc_ids(self) -> list[str]:
        return [a.id for a in self.articles]


def safe_name(filename: str, fallback: str) -> str:
    """The base name of a client-supplied filename, without directories or a leading dot."""
    name = PurePosixPath(filename.replace("\\", "/")).name.strip().lstrip(".")
    return name[-MAX_NAME_CHARS:] or fallback


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """Per-file outcomes, the generation live afterwards, and the ingest's report (if any)."""

    files: list[FileOutcome]
    generation: str | None
    report: IngestReport | None


def ingest_uploads(engine: Engine, uploads: list[Upload]) -> UploadOutcome:
    """Ingest uploads in one new generation; a bad file fails alone and changes nothing."""
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
        checked = _check_all(uploads, Path(tmp), engine.limits)
        good = [c for c in checked if c.articles]
        report: IngestReport | None = None
        if good:
            loaded = LoadResult(articles=[a for c in good for a in c.articles])
            try:
                report = engine.ingest(loaded)
            except (IndexStoreError, ValueError, OSError) as exc:
                log.error("upload ingest failed", exc_info=exc)
                for item in good:
                    item.errors.append("could not update the index")
                    item.articles.clear()
        outcomes = [_outcome(c, report) for c in checked]
    live = engine.live
    return UploadOutcome(outcomes, live.name if live else None, report)


def _check_all(uploads: list[Upload], tmp: Path, limits: LoadLimits) -> list[_Checked]:
    claimed: dict[str, str] = {}
    checked = []
    for n, upload in enumerate(uploads):
        folder = tmp / f"{n:04d}"
        folder.mkdir()
        path = folder / safe_name(upload.filename, f"upload-{n}.txt")
        path.write_bytes(upload.data)
        item = _Checked(upload, path, [], [])
        _check(item, claimed, limits)
        checked.append(item)
    return checked


def _check(item: _Checked, claimed: dict[str, str], limits: LoadLimits) -> None:
    if item.path.suffix.lower() not in SUPPORTED:
        suffix = item.path.suffix or "(none)"
        item.errors.append(f"unsupported file type {suffix}; use one of {', '.join(SUPPORTED)}")
        return
    loaded = load_paths([item.path], limits=limits)
    item.errors.extend(_clean(f.reason, item) for f in loaded.failures + loaded.skipped)
    for article in loaded.articles:
        if article.id in claimed:
            item.errors.append(
                f"duplicate article id {article.id!r} (also in {claimed[article.id]!r})"
            )
            continue
        claimed[article.id] = item.upload.filename
        item.articles.append(article)


def _clean(reason: str, item: _Checked) -> str:
    # Never show the server's temp paths: speak of the file by the name it was sent with.
    return reason.replace(str(item.path), item.upload.filename)


def _outcome(item: _Checked, report: IngestReport | None) -> FileOutcome:
    error = "; ".join(item.errors) or None
    if not item.doc_ids or report is None:
        return FileOutcome(item.upload.filename, "failed", (), error or "no articles found")
    ids = tuple(item.doc_ids)
    status: Status = "unchanged"
    if any(d in report.updated for d in ids):
        status = "updated"
    elif any(d in report.added for d in ids):
        status = "added"
    return FileOutcome(item.upload.filename, status, ids, error)
