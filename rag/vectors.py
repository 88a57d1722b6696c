"""The one vector cache: `CachedEmbedder` wraps any Embedder (as httpx transports wrap each other).

Answers embed the question, every sentence of the retrieved passages and the words the answerer
compares; the corpus repeats, so vectors are kept by what was embedded: in memory across the
answers of one process (`VectorCache`, least recently used out), and optionally on disk across
processes (`DiskVectors`, sqlite under ~/.cache/newsrag/vectors/, one file per embedder name and
dim, bounded in rows), so a new `rag ask` does not re-embed what an earlier run embedded. Single
words of the tokenizer's vocabulary come from the model's word table (index.word_table), when
the embedder has one.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Literal

import numpy as np

from newsrag.index import Embedder
from newsrag.index.word_table import WordTable

log = logging.getLogger(__name__)

Kind = Literal["passage", "query"]
# ~1.6 KB a 384-dim row: 50,000 rows keep a file near 80 MB.
DISK_MAX_ROWS = 50_000


def default_vector_dir() -> Path:
    """Where vectors are kept across processes: ~/.cache/newsrag/vectors."""
    return Path.home() / ".cache" / "newsrag" / "vectors"


class VectorCache:
    """Vectors kept across answers (words and sentences recur), least recently used out.

    Keyed by any hashable key that names what was embedded.
    """

    def __init__(self, max_items: int = 20_000) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> np.ndarray | None:
        """The cached vector of `key`, or None."""
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, key: Hashable, vector: np.ndarray) -> None:
        """Keep `vector` for `key`, dropping the least recently used beyond max_items."""
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class DiskVectors:
    """Vectors in one sqlite file per embedder (name and dim), shared by concurrent processes.

    Rows are keyed by (kind, sha256 of the text), so a long text costs a fixed 32-byte key; the
    file keeps the newest `max_rows` rows (first in, first out). WAL mode lets readers and one
    writer work at once; a busy or broken file only costs the cache (a warning, then no disk
    layer), never an answer.
    """

    def __init__(
        self, directory: Path, name: str, dim: int, *, max_rows: int = DISK_MAX_ROWS
    ) -> None:
        if dim < 1 or max_rows < 1:
            raise ValueError(f"dim and max_rows must be >= 1, got {dim}, {max_rows}")
        self.dim = dim
        self.max_rows = max_rows
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "embedder"
        self.path = Path(directory).expanduser() / f"{slug}-{dim}.sqlite"
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
        except (OSError, sqlite3.Error) as exc:
            self._disable(exc)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
            " key BLOB NOT NULL, vector BLOB NOT NULL, UNIQUE (kind, key))"
        )
        db.commit()
        return db

    @property
    def enabled(self) -> bool:
        """Whether the file is usable (False after an error: the cache is then memory only)."""
        return self._db is not None

    def get_many(self, kind: Kind, texts: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those `texts` that have one."""
        if self._db is None or not texts:
            return {}
        keys = {_digest(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        digests = list(keys)
        try:
            with self._lock:
                for start in range(0, len(digests), 500):  # sqlite's bound-parameter limit
                    part = digests[start : start + 500]
                    marks = ",".join("?" * len(part))
                    rows = self._db.execute(
                        f"SELECT key, vector FROM vectors WHERE kind = ? AND key IN ({marks})",
                        [kind, *part],
                    ).fetchall()
                    for key, blob in rows:
                        if len(blob) == 4 * self.dim:
                            found[keys[key]] = np.frombuffer(blob, dtype=np.float32).copy()
        except sqlite3.Error as exc:
            self._disable(exc)
        return found

    def put_many(self, kind: Kind, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Store vectors (existing rows kept), then drop the oldest rows beyond max_rows."""
        rows = [
            (kind, _digest(text), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for text, v in items
        ]
        if self._db is None or not rows:
            return
        try:
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR IGNORE INTO vectors (kind, key, vector) VALUES (?, ?, ?)", rows
                )
                self._db.execute(
                    "DELETE FROM vectors WHERE id <= (SELECT MAX(id) FROM vectors) - ?",
                    (self.max_rows,),
                )
        except sqlite3.Error as exc:
            self._disable(exc)

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        """Close the file (the cache then works from memory only)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _disable(self, exc: Exception) -> None:
        log.warning("vector cache file unusable; caching in memory only",
                    extra={"path": str(self.path), "error": str(exc)})  # fmt: skip
        if self._db is not None:
            self._db.close()
        self._db = None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class _Flight:
    """One text being embedded by one caller; concurrent callers wait for its vector."""

    __slots__ = ("done", "vector")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.vector: np.ndarray | None = None  # None once done: the owner failed


class CachedEmbedder:
    """An Embedder that answers from its caches and asks `inner` only for what is missing.

    Passages and queries are cached apart (a model may embed them differently), unless the
    embedder says its queries are passages (`queries_are_passages`). Missing
    texts of one call go to `inner` in one call, each text once; a text another thread is
    embedding right now is waited for, not embedded again (concurrent HTTP answers over the
    same passages would otherwise each embed it behind the model gate).
    """

    def __init__(
        self,
        inner: Embedder,
        cache: VectorCache | None = None,
        disk: DiskVectors | None = None,
        words: WordTable | None = None,
    ) -> None:
        if disk is not None and disk.dim != inner.dim:
            raise ValueError(
                f"disk cache holds {disk.dim}-dim vectors, {inner.name} makes {inner.dim}"
            )
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.cache = cache if cache is not None else VectorCache()
        self.disk = disk
        self.words = words  # one-text vectors of single words, made once per model
        # An answer embeds its question twice, as the query retrieval searches with and as the
        # text its sentences are compared to: one vector, where the embedder makes them equal.
        shared = bool(getattr(inner, "queries_are_passages", False))
        self._query_kind: Kind = "passage" if shared else "query"
        self._flights: dict[tuple[Kind, str], _Flight] = {}
        self._flights_lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text (not cached: counting is cheap)."""
        return self.inner.count_tokens(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised; only texts never seen reach the model."""
        return self._embed("passage", texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, row i the vector of query i."""
        return self._embed(self._query_kind, texts)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 L2-normalised."""
        return self._embed(self._query_kind, [text])[0]

    def _embed(self, kind: Kind, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        for text in texts:
            vector = self.cache.get((kind, text))
            if vector is not None:
                found[text] = vector
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        while missing:  # a second round only for texts whose owner failed
            mine, theirs = self._claim(kind, missing)
            try:
                found.update(self._fetch(kind, mine))
            finally:
                self._land(kind, mine, found)
            missing = []
            for text, flight in theirs:  # our own texts are done first: no wait cycle
                flight.done.wait()
                if flight.vector is None:
                    missing.append(text)
                else:
                    found[text] = flight.vector
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)  # (n, dim)

    def _claim(self, kind: Kind, texts: list[str]) -> tuple[list[str], list[tuple[str, _Flight]]]:
        """Split `texts` into those this call embeds and those another call is embedding."""
        mine: list[str] = []
        theirs: list[tuple[str, _Flight]] = []
        with self._flights_lock:
            for text in texts:
                flight = self._flights.get((kind, text))
                if flight is None:
                    self._flights[(kind, text)] = _Flight()
                    mine.append(text)
                else:
                    theirs.append((text, flight))
        return mine, theirs

    def _land(self, kind: Kind, texts: list[str], found: dict[str, np.ndarray]) -> None:
        """Hand this call's vectors to whoever waits on them (None where embedding failed)."""
        with self._flights_lock:
            flights = [self._flights.pop((kind, text)) for text in texts]
        for text, flight in zip(texts, flights, strict=True):
            flight.vector = found.get(text)
            flight.done.set()

    def _fetch(self, kind: Kind, texts: list[str]) -> dict[str, np.ndarray]:
        """Vectors of `texts` from disk or the model, kept in memory (and on disk when new)."""
        if not texts:
            return {}
        found: dict[str, np.ndarray] = {}
        if self.words is not None and kind == "passage":  # its rows are one-text passage runs
            for text in texts:
                vector = self.words.get(text)
                if vector is not None:
                    found[text] = vector
                    self.cache.put((kind, text), vector)
        rest = [t for t in texts if t not in found]
        if self.disk is not None and rest:
            stored = self.disk.get_many(kind, rest)
            for text, vector in stored.items():
                self.cache.put((kind, text), vector)
            found.update(stored)
        missing = [t for t in texts if t not in found]
        if missing:
            vectors = self._inner_embed(kind, missing)  # (len(missing), dim)
            fresh = [(t, v.copy()) for t, v in zip(missing, vectors, strict=True)]
            for text, vector in fresh:
                self.cache.put((kind, text), vector)
            found.update(fresh)
            if self.disk is not None:
                self.disk.put_many(kind, fresh)
        return found

    def _inner_embed(self, kind: Kind, texts: list[str]) -> np.ndarray:
        if kind == "passage":
            return self.inner.embed_passages(texts)
        if len(texts) == 1:
            return self.inner.embed_query(texts[0])[None, :]
        return self.inner.embed_queries(texts)
