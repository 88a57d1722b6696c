"""OnnxEmbedder: an exported transformer run by ONNX Runtime or OpenVINO, tokenised by `tokenizers`.

Nothing on this path imports torch, transformers or sentence-transformers (issue 13: importing
sentence-transformers alone took 7.8 s of an 8-10 s `rag ask`). What sentence-transformers would
read from the model folder is read here from the same files: the layout (modules.json: a
Transformer, mean Pooling, optionally Normalize), the word-piece limit (sentence_bert_config.json),
the dimension (the pooling config) and the tokenizer (tokenizer.json, with the padding and
truncation it was saved with switched off, as transformers does when it loads it).
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from newsrag.index.backends import (
    BATCH_DEPENDENT,
    available_cpus,
    backend_label,
    encode,
    load_runner,
)

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger(__name__)

_MODULES = ("Transformer", "Pooling", "Normalize")
TOKENIZER_CONFIG = "tokenizer_config.json"
# sentence-transformers' Transformer falls back to this when neither its config nor the
# tokenizer's says how many word pieces the model reads.
_FALLBACK_MAX_TOKENS = 512


class UnsupportedModelError(ValueError):
    """The model folder is not one `encode` reproduces (transformer + mean pooling)."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What running a sentence-transformers folder without sentence-transformers takes."""

    root: Path  # the model folder: its weights key the export cache
    tokenizer_file: Path
    max_tokens: int  # word pieces per input, special tokens included
    dim: int
    lowercase: bool  # sentence_bert_config's do_lower_case: lowercase before tokenising


def read_model_spec(root: Path) -> ModelSpec:
    """Read a Transformer + mean Pooling (+ Normalize) folder; UnsupportedModelError otherwise."""
    modules = _json(root / "modules.json", "modules.json")
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != list(_MODULES[:2]) or any(k != "Normalize" for k in kinds[2:]):
        raise UnsupportedModelError(f"modules {kinds} are not transformer + pooling (+ normalize)")
    transformer = root / modules[0].get("path", "")
    pooling = _json(root / modules[1].get("path", "") / "config.json", "the pooling config")
    if not _is_mean_pooling(pooling):
        raise UnsupportedModelError("the pooling is not a mean over tokens")
    tokenizer_file = transformer / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise UnsupportedModelError("there is no tokenizer.json (a fast tokenizer) to load")
    st_config = _json_or_empty(transformer / "sentence_bert_config.json")
    config = _json_or_empty(transformer / "config.json")
    dim = pooling.get("word_embedding_dimension") or config.get("hidden_size")
    if not dim:
        raise UnsupportedModelError("neither the pooling nor the model config gives a dimension")
    return ModelSpec(
        root=root,
        tokenizer_file=tokenizer_file,
        max_tokens=_max_tokens(st_config, config, _json_or_empty(transformer / TOKENIZER_CONFIG)),
        dim=int(dim),
        lowercase=bool(st_config.get("do_lower_case", False)),
    )


def _max_tokens(st_config: dict[str, Any], config: dict[str, Any], tok: dict[str, Any]) -> int:
    """sentence-transformers' max_seq_length: its own config, else the tokenizer's limit capped
    at the model's positions (sentence_transformers.base.modules.transformer)."""
    if st_config.get("max_seq_length"):
        return int(st_config["max_seq_length"])
    found = (tok.get("model_max_length"), config.get("max_position_embeddings"))
    limits = [int(v) for v in found if v and 0 < v < 1_000_000]  # transformers writes 1e30: none
    return min(limits) if limits else _FALLBACK_MAX_TOKENS


def _is_mean_pooling(config: dict[str, Any]) -> bool:
    if "pooling_mode" in config:
        return config["pooling_mode"] == "mean"
    others = [v for k, v in config.items() if k.startswith("pooling_mode_") and k != _MEAN]
    return bool(config.get(_MEAN, True)) and not any(others)


_MEAN = "pooling_mode_mean_tokens"


def _json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnsupportedModelError(f"{what} is missing ({path})") from None
    except ValueError as exc:
        raise UnsupportedModelError(f"{what} is not JSON: {exc}") from None


def _json_or_empty(path: Path) -> dict[str, Any]:
    return _json(path, path.name) if path.is_file() else {}


class WordPieces:
    """The model's fast tokenizer, set up as sentence-transformers sets it up.

    One `tokenizers.Tokenizer` whose settings never change after construction, so counting
    (never truncated) and embedding (truncated at max_tokens) may run on it from several
    threads at once: truncation is done per encoding, the way `tokenizers` does it inside
    `encode` (cut the word pieces, then add [CLS]/[SEP] with the post-processor).
    """

    def __init__(self, spec: ModelSpec) -> None:
        from tokenizers import Tokenizer, normalizers

        tokenizer: Tokenizer = Tokenizer.from_file(str(spec.tokenizer_file))
        tokenizer.no_padding()  # saved files often pad to a fixed width (MiniLM's: 128)
        tokenizer.no_truncation()  # ... and truncate (MiniLM's: at 128): cut here, per text
        if spec.lowercase:  # what sentence-transformers does for do_lower_case (idempotent)
            steps = [normalizers.Lowercase()]
            if tokenizer.normalizer is not None:
                steps.append(tokenizer.normalizer)
            tokenizer.normalizer = normalizers.Sequence(steps)
        self._tokenizer = tokenizer
        self.max_tokens = spec.max_tokens
        self._room = spec.max_tokens - tokenizer.num_special_tokens_to_add(is_pair=False)

    def vocabulary(self) -> list[str]:
        """Every word piece of the tokenizer's vocabulary."""
        return list(self._tokenizer.get_vocab())

    def count(self, texts: list[str]) -> list[int]:
        """Word pieces per text, special tokens included, never truncated."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text with special tokens, cut at max_tokens (longest-first, right)."""
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        return [self._finish(e).ids for e in encodings]

    def _finish(self, encoding: Encoding) -> Encoding:
        if len(encoding.ids) > self._room:
            encoding.truncate(self._room)
        return self._tokenizer.post_process(encoding)


class OnnxEmbedder:
    """The exported transformer + mean pooling + L2 normalisation, without torch.

    Its vectors are those the `backend` recipe (index.backends) gives; `name` carries the
    backend and recipe (`all-MiniLM-L6-v2@onnx-int8-r3`), so an index says which it holds.
    """

    def __init__(
        self,
        spec: ModelSpec,
        model_file: Path,
        *,
        name: str,
        backend: str,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.name = f"{name}@{backend_label(backend)}"
        self.backend = backend
        self.dim = spec.dim
        self.max_tokens = spec.max_tokens
        self.batch_size = batch_size
        self._pieces = WordPieces(spec)
        self._threads = threads  # runtime threads, all CPUs when None
        # One text per run (BATCH_DEPENDENT) goes faster as single-threaded runs side by side
        # than as one multi-threaded run at a time (index.backends.encode); then `threads` is
        # how many run at once.
        runner_threads = 1 if backend in BATCH_DEPENDENT else threads
        self._runner = load_runner(model_file, backend, runner_threads)
        self._model_file = model_file
        self._pool: ThreadPoolExecutor | None = None  # those side-by-side runs, started once
        self._pool_lock = threading.Lock()

    @property
    def queries_are_passages(self) -> bool:
        """Whether a query's vector is bit for bit its vector as a passage, in any batch.

        True when texts run one at a time (BATCH_DEPENDENT): queries are embedded as passages
        (no prompt) and no other text shares the run. A cache may then keep one vector for both.
        """
        return self.backend in BATCH_DEPENDENT

    @property
    def word_table_path(self) -> Path | None:
        """Where the vectors of the vocabulary's whole words are kept (index.word_table).

        Beside the export (its folder is keyed by the weights, its name by the recipe); None
        where texts share runs, as a word's vector then depends on its batch.
        """
        if self.backend not in BATCH_DEPENDENT:
            return None
        return self._model_file.with_name(f"{self._model_file.stem}-words.npy")

    def vocabulary(self) -> list[str]:
        """The tokenizer's word pieces (continuations such as "##ing" included)."""
        return self._pieces.vocabulary()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text with [CLS]/[SEP] included, never truncated."""
        return self._pieces.count(texts) if texts else []

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32 L2-normalised; batches sorted by length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self._pieces.ids(texts)
        if self.backend in BATCH_DEPENDENT:
            workers = self._threads or available_cpus()
            return encode(self._runner, ids, 1, workers=workers, pool=self._workers(workers))
        return encode(self._runner, ids, self.batch_size)  # (n, dim)

    def _workers(self, workers: int) -> ThreadPoolExecutor | None:
        """The threads one-text runs share, started on first use (None for one worker)."""
        if workers <= 1:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="embed")
            return self._pool

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32: several queries in one call (embedded as passages are, no prompt)."""
        return self.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 L2-normalised."""
        return self.embed_passages([text])[0]
