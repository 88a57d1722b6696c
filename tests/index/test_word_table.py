"""The word table (index.word_table): one-text vectors of whole words, made once, same bits."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest

from newsrag.index import OnnxEmbedder
from newsrag.index.backends import _prune_stale, current_exports
from newsrag.index.word_table import WordTable, open_word_table, whole_words
from newsrag.rag.vectors import CachedEmbedder, VectorCache

VOCAB = ["[CLS]", "[SEP]", "[unused3]", "##ing", "harbour", "lumo", "2019", "don", "'", "x-ray"]
WORDS = ["2019", "don", "harbour", "lumo"]


class FakeModel:
    """Vectors from a text's hash (and a seed, standing for another CPU or model); counts texts."""

    name = "fake"
    dim = 8
    max_tokens = 256

    def __init__(self, path: Path | None, seed: str = "a") -> None:
        self.path = path
        self.seed = seed
        self.texts: list[str] = []

    @property
    def word_table_path(self) -> Path | None:
        return self.path

    def vocabulary(self) -> list[str]:
        return list(VOCAB)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        rows = []
        for text in texts:
            digest = hashlib.sha256(f"{self.seed}:{text}".encode()).digest()
            row = np.frombuffer(digest[: 4 * self.dim], dtype=np.uint8)[: self.dim].astype(
                np.float32
            )
            rows.append(row / np.linalg.norm(row))
        return np.stack(rows)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages([f"query: {t}" for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]


def test_whole_words_are_the_vocabulary_entries_that_are_words_or_numbers() -> None:
    assert whole_words(VOCAB) == WORDS  # no continuation pieces, specials or punctuation


def test_the_table_is_built_once_then_read_with_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "model-words.npy"
    said: list[str] = []
    first = FakeModel(path)
    table = open_word_table(first, progress=said.append)
    assert table is not None and len(table) == len(WORDS) and path.exists()
    assert said[0].startswith("embedding the tokenizer's 4 whole words") and "ready" in said[-1]
    assert first.texts == WORDS
    again = FakeModel(path)
    reread = open_word_table(again, progress=said.append)
    assert reread is not None
    assert len(again.texts) <= 4  # only the rows it checks against fresh runs
    for word in WORDS:
        got = reread.get(word)
        assert got is not None and np.array_equal(got, again.embed_passages([word])[0])
    assert reread.get("harbours") is None and reread.get("##ing") is None


def test_a_table_from_another_cpu_or_model_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "model-words.npy"
    assert open_word_table(FakeModel(path, seed="a")) is not None
    other = FakeModel(path, seed="b")  # its runs give other vectors for the same words
    with caplog.at_level(logging.WARNING):
        table = open_word_table(other)
    assert "differs from this CPU's runs" in caplog.text
    assert table is not None
    got = table.get("lumo")
    assert got is not None and np.array_equal(got, other.embed_passages(["lumo"])[0])


@pytest.mark.parametrize("damage", ["cut", "shape"])
def test_a_cut_or_misshapen_table_is_rebuilt(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "model-words.npy"
    assert open_word_table(FakeModel(path)) is not None
    if damage == "cut":
        path.write_bytes(path.read_bytes()[:100])
    else:
        np.save(path, np.zeros((2, 8), dtype=np.float32))
    model = FakeModel(path)
    table = open_word_table(model)
    assert table is not None and model.texts[: len(WORDS)] == WORDS  # embedded again
    assert np.load(path).shape == (len(WORDS), 8)


def test_an_unwritable_place_keeps_the_table_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "no-such-folder" / "model-words.npy"
    with caplog.at_level(logging.WARNING):
        table = open_word_table(FakeModel(path))
    assert "word table not saved" in caplog.text
    assert table is not None and table.path is None and table.get("lumo") is not None
    assert not list(tmp_path.rglob("*.tmp"))


def test_an_embedder_without_a_table_place_has_none(tmp_path: Path) -> None:
    model = FakeModel(None)
    assert open_word_table(model) is None and model.texts == []
    assert open_word_table(object()) is None


def test_table_words_never_reach_the_model_through_the_cache(tmp_path: Path) -> None:
    model = FakeModel(tmp_path / "model-words.npy")
    table = open_word_table(model)
    model.texts.clear()
    vectors = CachedEmbedder(model, VectorCache(), None, table)
    got = vectors.embed_passages(["lumo", "a whole sentence", "harbourmaster"])
    assert model.texts == ["a whole sentence", "harbourmaster"]
    assert np.array_equal(got[0], model.embed_passages(["lumo"])[0])
    model.texts.clear()
    vectors.embed_query("lumo")  # queries are embedded otherwise: never from the table
    assert model.texts == ["query: lumo"]


def test_a_word_table_mismatched_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match="as many rows"):
        WordTable(["a", "b"], np.zeros((3, 4), dtype=np.float32))


def test_the_table_of_a_removed_export_goes_with_it(tmp_path: Path) -> None:
    kept = tmp_path / current_exports()[1]
    kept.write_bytes(b"onnx")
    (tmp_path / f"{kept.stem}-words.npy").write_bytes(b"rows")
    orphan = tmp_path / "model-onnx-int8-r1-words.npy"  # its export was deleted earlier
    orphan.write_bytes(b"rows")
    _prune_stale(tmp_path)
    assert (tmp_path / f"{kept.stem}-words.npy").exists() and not orphan.exists()


def test_the_real_tables_rows_are_the_models_one_text_runs(embedder: OnnxEmbedder) -> None:
    table = open_word_table(embedder)  # built once per model in its export folder
    assert table is not None and table.path == embedder.word_table_path
    assert len(table) > 20_000
    for word in ["penalty", "fined", "researchers", "2019", "the"]:
        got = table.get(word)
        assert got is not None, word
        assert np.array_equal(got, embedder.embed_passages([word])[0]), word
    assert table.get("tokarczukian") is None  # several word pieces: not in the table
