"""IndexStore: one generation of the index (chunks, vectors, FAISS, BM25, manifest) in memory."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np

from newsrag.index.dense import FaissStore, build_faiss
from newsrag.index.embedding import Embedder
from newsrag.index.errors import (
    CorruptIndexError,
    EmbedderMismatchError,
    IndexNotFoundError,
)
from newsrag.index.generations import (
    StepHook,
    current_generation,
    generation_dirs,
    generation_number,
    pointer_problem,
    sha256_file,
)
from newsrag.index.records import Article, Chunk
from newsrag.index.sparse import Bm25Store
from newsrag.index.tables import Run, changed_keys, link_runs, read_runs, write_run

if TYPE_CHECKING:
    from newsrag.index.segments import SegmentedBm25, SegmentedDense

log = logging.getLogger(__name__)
_T = TypeVar("_T")

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
ARTICLES = "articles.jsonl"
VECTORS = "vectors.npy"
FAISS_FILE = "dense.faiss"
BM25_DIR = "bm25"


class ArticleEntry(NamedTuple):
    """What the manifest records of one article: its chunks are rows `row..row+n_chunks-1`
    of segment `segment` (None in an index written before segments: its only one).

    A named tuple, not a dataclass: a manifest holds one per article, and reading and writing
    100k of them must take a fraction of a second.
    """

    hash: str
    n_chunks: int
    path: str | None
    segment: str | None = None
    row: int = 0


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    """One immutable part of a generation, and the rows of it deleted since it was written.

    `dir` is where its files lie inside the generation: "" (the top) when it is the
    generation's only segment, else its name.
    """

    name: str
    dir: str
    n_chunks: int
    deleted: tuple[int, ...] = ()

    @property
    def live(self) -> int:
        """Rows not deleted."""
        return self.n_chunks - len(self.deleted)


class SourceEntry(NamedTuple):
    """A source file as the last ingest saw it: stat fields and the sha256 of its bytes."""

    size: int
    mtime_ns: int
    ino: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """Describes a generation; `files` maps relative paths to sha256."""

    format_version: int
    generation: int
    embedder: str
    dim: int
    chunking: dict[str, int]
    faiss_kind: str
    created_at: str
    articles: dict[str, ArticleEntry]
    files: dict[str, str] = field(default_factory=dict)
    n_chunks: int = 0  # live chunks, over all segments
    segments: list[SegmentEntry] = field(default_factory=list)
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    file_stats: dict[str, tuple[int, int]] = field(default_factory=dict)  # (size, mtime_ns)
    # The run files `articles` and `sources` were read from or written to (index.tables).
    runs: dict[str, tuple[Run, ...]] = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> str:
        """Serialise as compact JSON; the articles and sources are in their run files."""
        data: dict[str, Any] = {
            "format_version": self.format_version,
            "generation": self.generation,
            "embedder": self.embedder,
            "dim": self.dim,
            "chunking": self.chunking,
            "faiss_kind": self.faiss_kind,
            "created_at": self.created_at,
            "n_chunks": self.n_chunks,
            "files": self.files,
            "file_stats": self.file_stats,
            "segments": [
                {"name": g.name, "dir": g.dir, "n_chunks": g.n_chunks, "deleted": g.deleted}
                for g in self.segments
            ],
            "tables": {name: [r.file for r in runs] for name, runs in self.runs.items()},
        }
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, directory: Path | None = None) -> Manifest:
        """Parse, reading the tables' run files from generation `directory`; raises
        CorruptIndexError when the JSON, its fields or a run file are wrong.

        A manifest written before runs holds its articles and sources inline."""
        try:
            data = json.loads(text)
            tables = data.pop("tables", None)
            if tables is not None:
                if directory is None:
                    raise ValueError("the tables' run files need the generation directory")
                data["articles"], articles_runs = read_runs(
                    directory, "articles", tables["articles"], ArticleEntry
                )
                sources, sources_runs = read_runs(
                    directory, "sources", tables["sources"], SourceEntry
                )
                data["sources"] = sources
                data["runs"] = {"articles": articles_runs, "sources": sources_runs}
            else:
                data["articles"] = {k: ArticleEntry(**v) for k, v in data["articles"].items()}
                data["sources"] = {k: SourceEntry(**v) for k, v in data.get("sources", {}).items()}
            data["segments"] = [
                SegmentEntry(**{**v, "deleted": tuple(v.get("deleted", ()))})
                for v in data.get("segments", [])
            ]
            data["file_stats"] = {k: (v[0], v[1]) for k, v in data.get("file_stats", {}).items()}
            manifest = cls(**data)
        except (ValueError, TypeError, KeyError, OSError) as exc:
            raise CorruptIndexError(
                f"{MANIFEST} or its tables are malformed ({type(exc).__name__}: {exc})"
            ) from exc
        if manifest.format_version != FORMAT_VERSION:
            raise CorruptIndexError(
                f"index format {manifest.format_version} is not supported "
                f"(this version reads {FORMAT_VERSION}); rebuild with `rag ingest --rebuild`"
            )
        return manifest


@dataclass(slots=True)
class IndexStore:
    """A loaded generation: chunk records, their vectors, and both search backends."""

    manifest: Manifest
    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: np.ndarray  # (n_chunks, dim) float32
    dense: FaissStore | SegmentedDense
    sparse: Bm25Store | SegmentedBm25
    path: Path | None = None

    @classmethod
    def build(
        cls,
        *,
        articles: dict[str, Article],
        entries: dict[str, ArticleEntry],
        chunks: list[Chunk],
        vectors: np.ndarray,
        embedder: Embedder,
        chunking: dict[str, int],
        faiss_kind: str = "flat",
        sources: dict[str, SourceEntry] | None = None,
    ) -> IndexStore:
        """Assemble an in-memory store of one segment (not yet written)."""
        if vectors.shape != (len(chunks), embedder.dim):
            raise ValueError(f"vectors {vectors.shape} do not match {len(chunks)} chunks")
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            generation=0,
            embedder=embedder.name,
            dim=embedder.dim,
            chunking=chunking,
            faiss_kind=faiss_kind,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            articles=entries,
            n_chunks=len(chunks),
            sources=dict(sources or {}),
        )
        dense = FaissStore(build_faiss(vectors, faiss_kind), chunks, embedder)
        return cls(manifest, articles, chunks, vectors, dense, Bm25Store.build(chunks))

    def write(self, directory: Path, generation: int, on_step: StepHook | None = None) -> None:
        """Write this store into `directory` as a generation of one segment, manifest last.

        Steps reported to `on_step`: chunks-written, articles-written, vectors-written,
        faiss-half-written, faiss-written, bm25-written, tables-written, manifest-written.
        """
        step = on_step or (lambda name: None)
        assert isinstance(self.dense, FaissStore) and isinstance(self.sparse, Bm25Store)
        self.write_segment(directory, step)
        segment = SegmentEntry(segment_name(generation), "", len(self.chunks))
        entries = with_rows(self.manifest.articles, self.chunks, segment.name)
        self.manifest = finish_manifest(
            directory,
            replace(self.manifest, generation=generation, articles=entries, segments=[segment]),
            {},
            step=step,
        )
        step("manifest-written")

    def write_segment(self, directory: Path, step: StepHook) -> None:
        """Write chunks, articles, vectors, FAISS and BM25 (the files of one segment)."""
        assert isinstance(self.dense, FaissStore) and isinstance(self.sparse, Bm25Store)
        directory.mkdir(parents=True, exist_ok=True)
        _write_jsonl(directory / CHUNKS, (asdict(c) for c in self.chunks))
        step("chunks-written")
        _write_jsonl(directory / ARTICLES, (asdict(a) for a in self.articles.values()))
        step("articles-written")
        np.save(directory / VECTORS, self.vectors, allow_pickle=False)
        step("vectors-written")
        self.dense.write(directory / FAISS_FILE, step)
        step("faiss-written")
        self.sparse.write(directory / BM25_DIR)
        step("bm25-written")

    @classmethod
    def read(cls, directory: Path, embedder: Embedder, *, verify: bool = True) -> IndexStore:
        """Load one generation directory; checksums are verified unless `verify` is False."""
        manifest = read_manifest(directory, embedder)
        if verify:
            _verify_files(directory, manifest)
        segments = manifest.segments or [SegmentEntry("", "", manifest.n_chunks)]
        if len(segments) == 1 and not segments[0].deleted:  # one part: read as it lies
            seg = read_segment(directory, segments[0], manifest.dim, embedder)
            if len(seg.chunks) != manifest.n_chunks:
                raise CorruptIndexError(
                    f"{directory.name}: {CHUNKS} holds {len(seg.chunks)} chunks, but {MANIFEST} "
                    f"says {manifest.n_chunks}"
                )
            return cls(
                manifest, seg.articles, seg.chunks, seg.vectors, seg.dense, seg.sparse, directory
            )
        from newsrag.index.segments import assemble

        parts = [read_segment(directory, entry, manifest.dim, embedder) for entry in segments]
        view = assemble(parts, manifest, embedder)
        if len(view.chunks) != manifest.n_chunks:
            raise CorruptIndexError(
                f"{directory.name}: the segments hold {len(view.chunks)} live chunks, but "
                f"{MANIFEST} says {manifest.n_chunks}"
            )
        return cls(
            manifest, view.articles, view.chunks, view.vectors, view.dense, view.sparse, directory
        )

    def size_bytes(self) -> int:
        """Bytes on disk of this generation."""
        if self.path is None:
            return 0
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def open_index(index_dir: Path, embedder: Embedder, *, verify: bool = True) -> IndexStore:
    """Load the live generation; fall back to an older intact one with a warning.

    When CURRENT is lost or garbled but generations exist, the newest intact one is used
    (with a warning); `rag ingest` then writes CURRENT again (index.ingest).
    """
    return _open_first(index_dir, lambda d: IndexStore.read(d, embedder, verify=verify))


def _open_first(index_dir: Path, load: Callable[[Path], _T]) -> _T:
    """`load` of the generation CURRENT names, else of the newest older one that loads."""
    current = current_generation(index_dir)
    problem = pointer_problem(index_dir)
    generations = generation_dirs(index_dir)
    if problem is None and current is None:
        raise IndexNotFoundError(f"no index at {index_dir}; build one with `rag ingest PATH`")
    if problem is not None:
        log.warning(
            "%s in %s; reading the newest intact generation instead (the next `rag ingest` "
            "repairs the pointer)",
            problem,
            index_dir,
        )
        candidates = generations
    else:
        assert current is not None
        older = [g for g in generations if generation_number(g) < generation_number(current)]
        candidates = [current, *older]
    errors: list[str] = []
    for candidate in candidates:
        try:
            loaded = load(candidate)
        except CorruptIndexError as exc:
            errors.append(str(exc))
            log.warning("index generation %s is unusable: %s", candidate.name, exc)
            continue
        if candidate != candidates[0]:
            log.warning(
                "index generation %s is corrupt (%s); using an older one, %s",
                candidates[0].name,
                errors[0],
                candidate.name,
            )
        return loaded
    raise CorruptIndexError(
        (f"{problem} and " if problem else "")
        + "no intact index generation: "
        + "; ".join(errors)
        + "; rebuild with `rag ingest PATH --rebuild`"
    )


def segment_name(generation: int) -> str:
    """Name of the segment a generation writes (at most one each)."""
    return f"seg-{generation:06d}"


def with_rows(
    entries: dict[str, ArticleEntry], chunks: list[Chunk], segment: str
) -> dict[str, ArticleEntry]:
    """`entries` pointed at `segment`, each at the first row of its chunks there."""
    first: dict[str, int] = {}
    for row, chunk in enumerate(chunks):
        first.setdefault(chunk.doc_id, row)
    return {d: e._replace(segment=segment, row=first.get(d, 0)) for d, e in sorted(entries.items())}


def finish_manifest(
    directory: Path,
    manifest: Manifest,
    linked: dict[str, tuple[str, tuple[int, int]]],
    *,
    base: tuple[Path, Manifest] | None = None,
    step: StepHook | None = None,
) -> Manifest:
    """Write the tables' runs, record checksums and stats of every file in `directory`, and
    write the manifest (step "tables-written" between the two).

    `linked` maps files linked from an older generation to their known (sha256, stat): those
    are not read again. With `base` (the generation this one builds on, and its manifest), a
    table's run holds only the rows that changed since, and its older runs are linked.
    """
    linked = dict(linked)
    runs: dict[str, tuple[Run, ...]] = {}
    tables: dict[str, dict[str, Any]] = {"articles": manifest.articles, "sources": manifest.sources}
    for name, rows in tables.items():
        old_runs = base[1].runs.get(name) if base is not None else None
        old_rows: dict[str, Any] = {}
        if base is None or old_runs is None:  # a new index, or one written before runs
            old_runs = ()
        else:
            old_rows = base[1].articles if name == "articles" else base[1].sources
        changed = changed_keys(old_rows, rows)
        runs[name], kept = write_run(directory, name, manifest.generation, rows, old_runs, changed)
        if base is not None and kept:
            link_runs(base[0], directory, kept)
            for rel in kept:
                st = (directory / rel).stat()
                stat = base[1].file_stats.get(rel, (st.st_size, st.st_mtime_ns))
                linked[rel] = (base[1].files[rel], stat)
    (step or _no_step)("tables-written")
    files: dict[str, str] = {}
    stats: dict[str, tuple[int, int]] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name == MANIFEST:
            continue
        rel = str(path.relative_to(directory))
        if rel in linked:
            files[rel], stats[rel] = linked[rel]
        else:
            st = path.stat()
            files[rel], stats[rel] = sha256_file(path), (st.st_size, st.st_mtime_ns)
    manifest = replace(manifest, files=files, file_stats=stats, runs=runs)
    path = directory / MANIFEST
    path.write_text(manifest.to_json(), encoding="utf-8")
    _remember(path, manifest)
    return manifest


def _no_step(name: str) -> None:
    pass


@dataclass(slots=True)
class Segment:
    """One segment read from disk: its articles, chunk rows, vectors and both indexes."""

    entry: SegmentEntry
    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: np.ndarray  # (n_chunks, dim) float32
    dense: FaissStore
    sparse: Bm25Store


def read_segment(directory: Path, entry: SegmentEntry, dim: int, embedder: Embedder) -> Segment:
    """Read the files of `entry` inside generation `directory` (checksums are the caller's)."""
    where = directory / entry.dir if entry.dir else directory

    def read(name: str, load: Callable[[], _T]) -> _T:
        try:
            return load()
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            label = f"{entry.dir}/{name}" if entry.dir else name
            raise CorruptIndexError(f"{directory.name}: {label} cannot be read ({detail})") from exc

    chunks = read(CHUNKS, lambda: [Chunk(**r) for r in _read_jsonl(where / CHUNKS)])
    articles = read(
        ARTICLES, lambda: {r["id"]: Article(**r) for r in _read_jsonl(where / ARTICLES)}
    )
    vectors = read(VECTORS, lambda: np.load(where / VECTORS, allow_pickle=False))
    if len(chunks) != entry.n_chunks or vectors.shape != (len(chunks), dim):
        raise CorruptIndexError(
            f"{directory.name}: {CHUNKS} holds {len(chunks)} chunks and {VECTORS} "
            f"{vectors.shape} vectors, but {MANIFEST} says {entry.n_chunks} x {dim}"
        )
    dense = read(FAISS_FILE, lambda: FaissStore.read(where / FAISS_FILE, chunks, embedder))
    sparse = read(BM25_DIR, lambda: Bm25Store.read(where / BM25_DIR, chunks))
    return Segment(entry, articles, chunks, vectors, dense, sparse)


# The last manifest parsed or written, by its file's (device, inode, size, mtime_ns), which a
# rename of the generation directory keeps: a generation never changes once written, and an
# ingest reads the live one up to three times (scan, plan, under the lock), and the next
# ingest of the same process reads the one the last wrote.
_parsed: dict[tuple[int, int, int, int], Manifest] = {}


def _manifest_key(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def forget_parsed_manifests() -> None:
    """Drop the manifest kept parsed (benchmarks time a read as a new process does it)."""
    _parsed.clear()


def _remember(path: Path, manifest: Manifest) -> None:
    _parsed.clear()
    _parsed[_manifest_key(path)] = manifest


def load_manifest(directory: Path) -> Manifest:
    """A generation's manifest and tables, unchecked against an embedder; raises OSError,
    UnicodeDecodeError or CorruptIndexError (reused while its file is unchanged)."""
    path = directory / MANIFEST
    key = _manifest_key(path)
    manifest = _parsed.get(key)
    if manifest is None:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"), directory)
        _parsed.clear()
        _parsed[key] = manifest
    return manifest


def read_manifest(directory: Path, embedder: Embedder) -> Manifest:
    """A generation's manifest, checked against `embedder`; CorruptIndexError when unreadable."""
    try:
        manifest = load_manifest(directory)
    except FileNotFoundError as exc:
        raise CorruptIndexError(f"{directory.name}: {MANIFEST} is missing") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptIndexError(f"{directory.name}: {MANIFEST} cannot be read: {exc}") from exc
    except CorruptIndexError as exc:
        raise CorruptIndexError(f"{directory.name}: {exc}") from exc
    if (manifest.embedder, manifest.dim) != (embedder.name, embedder.dim):
        raise EmbedderMismatchError(manifest.embedder, manifest.dim, embedder.name, embedder.dim)
    return manifest


def check_files_cheaply(directory: Path, manifest: Manifest) -> None:
    """Raise CorruptIndexError unless every file is intact: a file whose size and mtime are
    those recorded is taken as written (its bytes are not read); any other is checksummed."""
    for name, digest in manifest.files.items():
        path = directory / name
        try:
            st = path.stat()
        except OSError as exc:
            raise CorruptIndexError(f"{directory.name}: {name} is missing") from exc
        if manifest.file_stats.get(name) == (st.st_size, st.st_mtime_ns):
            continue
        _verify_file(directory, name, digest)


def open_manifest(index_dir: Path, embedder: Embedder) -> tuple[Path, Manifest]:
    """The live generation's directory and manifest, with open_index's fallback, without
    loading chunks or vectors: what an incremental ingest builds on."""
    return _open_first(
        index_dir,
        lambda d: (d, _checked_manifest(d, embedder)),
    )


def _checked_manifest(directory: Path, embedder: Embedder) -> Manifest:
    manifest = read_manifest(directory, embedder)
    check_files_cheaply(directory, manifest)
    return manifest


def _verify_files(directory: Path, manifest: Manifest) -> None:
    for name, digest in manifest.files.items():
        _verify_file(directory, name, digest)


def _verify_file(directory: Path, name: str, digest: str) -> None:
    path = directory / name
    if not path.is_file():
        raise CorruptIndexError(f"{directory.name}: {name} is missing")
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise CorruptIndexError(f"{directory.name}: {name} cannot be read: {exc}") from exc
    if actual != digest:
        raise CorruptIndexError(
            f"{directory.name}: {name} fails its checksum (sha256 {actual[:12]}..., "
            f"the manifest recorded {digest[:12]}...)"
        )


def _write_jsonl(path: Path, rows: Any) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
