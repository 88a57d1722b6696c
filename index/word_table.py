"""The vectors of the tokenizer's whole words, computed once per model and kept beside its export.

Answers compare single words (rag.extractive.matching: "penalty" for "fined"), and with
onnx-int8 each text is a model run of its own (index.backends.BATCH_DEPENDENT): about 37 words
an answer on RGB, ~1.4 ms each, more than a third of the model's time per answer. 85-89 % of
those words are one word piece of the tokenizer's vocabulary. This table holds the vector of
each such word, made by the same one-text run the answer would make, so a lookup returns that
run's vector bit for bit and no answer changes; other words still reach the model.

The table is built the first time an answering process needs it (about 22,700 runs, 25-40 s
on 2 cores, with progress lines), into `<export>-words.npy` next to the int8 export: the
export's folder is keyed by the weights and its name by the recipe, so a table never outlives
the vectors it copies. Opening it compares a few rows against fresh runs on this CPU (a table
copied from another machine, or a cut file, is rebuilt). Any error costs speed, never an
answer: the table is then left out with a warning.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

# A whole word of the vocabulary: no "##" continuation piece, no punctuation or [SPECIAL].
_WHOLE_WORD = re.compile(r"[a-z0-9]+")
# Runs per progress line while building.
_STEP = 2_000


class _TableSource(Protocol):
    """What a table needs from an embedder (index.onnx_embedder.OnnxEmbedder has it)."""

    name: str
    dim: int

    @property
    def word_table_path(self) -> Path | None: ...

    def vocabulary(self) -> list[str]: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def whole_words(vocabulary: Iterable[str]) -> list[str]:
    """The entries of a word-piece vocabulary that are whole lower-case words or numbers, sorted."""
    return sorted(w for w in vocabulary if _WHOLE_WORD.fullmatch(w))


class WordTable:
    """word -> its one-text vector (a read-only view of the table's rows)."""

    def __init__(self, words: list[str], vectors: np.ndarray, path: Path | None = None) -> None:
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"{len(words)} words need as many rows, got shape {vectors.shape}")
        self._rows = {word: row for row, word in enumerate(words)}
        self._vectors = vectors  # (n, dim) float32, often a memory map
        self.path = path

    def get(self, text: str) -> np.ndarray | None:
        """The vector of `text` when it is one of the table's words (a copy), else None."""
        row = self._rows.get(text)
        return None if row is None else np.array(self._vectors[row], dtype=np.float32)

    def __len__(self) -> int:
        return len(self._rows)


def open_word_table(
    embedder: object, *, progress: Callable[[str], None] | None = None
) -> WordTable | None:
    """The word table of `embedder`, built on first use; None where it has none or it failed.

    Only embedders that run each text alone have one (`word_table_path` not None): elsewhere a
    word's vector depends on the texts embedded with it, and words go in one call anyway.
    """
    path = getattr(embedder, "word_table_path", None)
    if not isinstance(path, Path) or not hasattr(embedder, "vocabulary"):
        return None
    source: _TableSource = embedder  # type: ignore[assignment]
    words = whole_words(source.vocabulary())
    if not words:
        return None
    try:
        table = _open(source, words, path)
        if table is not None:
            return table
        return _build(source, words, path, progress or (lambda message: None))
    except (OSError, ValueError) as exc:
        log.warning(
            "word table unusable; single words go to the model",
            extra={"path": str(path), "reason": str(exc)},
        )
        return None


def _open(source: _TableSource, words: list[str], path: Path) -> WordTable | None:
    """The stored table when its shape fits and sampled rows equal fresh runs, else None."""
    if not path.exists():
        return None
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        log.warning(
            "word table unreadable; rebuilding it", extra={"path": str(path), "reason": str(exc)}
        )
        return None
    if vectors.dtype != np.float32 or vectors.shape != (len(words), source.dim):
        log.warning("word table of another shape; rebuilding it", extra={"path": str(path)})
        return None
    sample = sorted({0, len(words) // 3, 2 * len(words) // 3, len(words) - 1})
    fresh = source.embed_passages([words[i] for i in sample])  # (4, dim), one run each
    if not np.array_equal(fresh, np.asarray(vectors[sample])):
        log.warning(
            "word table differs from this CPU's runs; rebuilding it", extra={"path": str(path)}
        )
        return None
    return WordTable(words, vectors, path)


def _build(
    source: _TableSource, words: list[str], path: Path, say: Callable[[str], None]
) -> WordTable:
    """Embed every word (one run each), write the table atomically, return it."""
    say(f"embedding the tokenizer's {len(words):,} whole words for answers (first use only)")
    vectors = np.zeros((len(words), source.dim), dtype=np.float32)
    for start in range(0, len(words), _STEP):
        vectors[start : start + _STEP] = source.embed_passages(words[start : start + _STEP])
        done = min(start + _STEP, len(words))
        if done < len(words):
            say(f"  {done:,}/{len(words):,} words")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)  # a concurrent builder writes the same rows: last one wins
    except OSError as exc:  # a read-only cache: this process keeps its table in memory
        log.warning("word table not saved", extra={"path": str(path), "reason": str(exc)})
        return WordTable(words, vectors, None)
    finally:
        tmp.unlink(missing_ok=True)
    say(f"word table ready in {path}")
    return WordTable(words, vectors, path)
