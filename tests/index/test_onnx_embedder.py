"""OnnxEmbedder: sentence-transformers' tokenisation and vectors, without torch (issue 13)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import newsrag.index.backends
import newsrag.index.embedding
from newsrag.index import OnnxEmbedder, SentenceTransformerEmbedder, create_embedder
from newsrag.index.backends import (
    DIGESTS,
    cached_digest,
    default_cache_dir,
    encode,
    load_runner,
    model_file,
    weights_digest,
)
from newsrag.index.chunking import embed_input
from newsrag.index.embedding import bundled_model_path
from newsrag.index.onnx_embedder import (
    UnsupportedModelError,
    WordPieces,
    read_model_spec,
)
from newsrag.index.store import IndexStore

HEAVY = {"torch", "transformers", "sentence_transformers"}
LONG = " ".join(f"word{i} and more" for i in range(300))  # ~1,200 word pieces
TEXTS = [
    "Alibaba will invest $15 billion in overseas research hubs.",
    "ALIBABA Group Holding Ltd. (BABA) — Q3 2021: 25,000 engineers & scientists.",
    "Café naïve résumé Ångström façade, Straße; Łódź",
    "北京欢迎你。東京は雨です。서울 날씨",
    "emoji 🙂🚀 and zero\u200bwidth\u00adsoft hyphen, tabs\tand\nnew\r\nlines",
    "control \x00\x07\x1b chars and <b>markup</b> &amp; https://example.com/a?b=c#d",
    "",
    "   ",
    "short",
    LONG,
    "x" * 3000,  # one word far longer than the word-piece model's 100-character limit
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    """sentence-transformers itself: the tokenisation and vectors to reproduce."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def pieces() -> WordPieces:
    return WordPieces(read_model_spec(bundled_model_path()))


def reference_ids(torch_embedder: SentenceTransformerEmbedder, texts: list[str]) -> list[list[int]]:
    """What the onnx backends tokenised before issue 13: the transformers tokenizer of the
    loaded sentence-transformers model, truncated at its max_seq_length."""
    tokenizer = torch_embedder.model.tokenizer
    return tokenizer(texts, truncation=True, max_length=torch_embedder.max_tokens)["input_ids"]


def test_the_bundled_model_reads_as_sentence_transformers_reads_it(
    torch_embedder: SentenceTransformerEmbedder,
) -> None:
    spec = read_model_spec(bundled_model_path())
    assert (spec.max_tokens, spec.dim) == (torch_embedder.max_tokens, torch_embedder.dim)
    assert (spec.max_tokens, spec.dim, spec.lowercase) == (256, 384, False)
    assert spec.tokenizer_file == bundled_model_path() / "tokenizer.json"


def test_word_pieces_match_sentence_transformers(
    pieces: WordPieces, torch_embedder: SentenceTransformerEmbedder, corpus_store: IndexStore
) -> None:
    texts = [*TEXTS, *(embed_input(c.title, c.text) for c in corpus_store.chunks)]
    assert pieces.ids(texts) == reference_ids(torch_embedder, texts)
    counts = [len(ids) for ids in torch_embedder.model.tokenizer(texts)["input_ids"]]
    assert pieces.count(texts) == counts == torch_embedder.count_tokens(texts)
    assert pieces.count([LONG])[0] > 1000 and len(pieces.ids([LONG])[0]) == 256  # never cut


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=400), min_size=1, max_size=4))
def test_word_pieces_match_on_any_text(
    pieces: WordPieces, torch_embedder: SentenceTransformerEmbedder, texts: list[str]
) -> None:
    assert pieces.ids(texts) == reference_ids(torch_embedder, texts)
    assert pieces.count(texts) == torch_embedder.count_tokens(texts)


@pytest.mark.parametrize("backend", ["onnx-int8", "onnx"])
def test_vectors_are_bit_identical_to_the_sentence_transformers_tokenised_path(
    backend: str, torch_embedder: SentenceTransformerEmbedder
) -> None:
    embedder = create_embedder(backend=backend)
    assert isinstance(embedder, OnnxEmbedder) and embedder.backend == backend
    path = model_file(bundled_model_path(), backend, default_cache_dir(), export=_no_export)
    ids = reference_ids(torch_embedder, TEXTS)
    if backend == "onnx-int8":  # one text per run, single-threaded runs side by side
        reference = encode(load_runner(path, backend, 1), ids, 1, workers=2)
    else:
        reference = encode(load_runner(path, backend), ids, embedder.batch_size)
    np.testing.assert_array_equal(embedder.embed_passages(TEXTS), reference)
    np.testing.assert_array_equal(embedder.embed_query(TEXTS[0]), reference[0])


def test_one_text_runs_on_the_caller_and_batches_on_the_embedders_own_threads(
    embedder: OnnxEmbedder,
) -> None:
    ids = embedder._pieces.ids(TEXTS)
    ran_on: list[str] = []

    def runner(feeds: dict[str, np.ndarray]) -> np.ndarray:
        ran_on.append(threading.current_thread().name)
        return embedder._runner(feeds)

    alone = encode(runner, ids[:1], 1, workers=2)
    assert ran_on == [threading.current_thread().name]
    with ThreadPoolExecutor(2, thread_name_prefix="mine") as pool:
        pooled = encode(runner, ids, 1, workers=2, pool=pool)
    assert all(name.startswith("mine") for name in ran_on[1:]) and len(ran_on) == 1 + len(ids)
    np.testing.assert_array_equal(pooled, encode(embedder._runner, ids, 1, workers=2))
    np.testing.assert_array_equal(alone[0], pooled[0])
    embedder.embed_passages(TEXTS)  # the embedder's threads start once, then are reused
    started = threading.active_count()
    for _ in range(3):
        embedder.embed_passages(TEXTS)
    assert threading.active_count() == started


def test_int8_queries_are_passages_bit_for_bit(embedder: OnnxEmbedder) -> None:
    assert embedder.backend == "onnx-int8" and embedder.queries_are_passages
    np.testing.assert_array_equal(
        embedder.embed_query(TEXTS[1]), embedder.embed_passages([TEXTS[0], TEXTS[1]])[1]
    )
    assert not create_embedder(backend="onnx").queries_are_passages  # batches pad: not equal


def _no_export(target: Path) -> None:
    raise AssertionError("the session embedder already exported the model")


def test_embedding_with_onnx_int8_imports_no_torch(tmp_path: Path) -> None:
    script = tmp_path / "embed.py"
    script.write_text(
        "import json, sys\n"
        "from newsrag.index import create_embedder\n"
        "embedder = create_embedder()\n"
        "vectors = embedder.embed_passages(['Alibaba invests', 'in research hubs'])\n"
        "counts = embedder.count_tokens(['Alibaba invests'])\n"
        "query = embedder.embed_query('who invests?')\n"
        "print(json.dumps({'backend': embedder.backend, 'shape': list(vectors.shape),\n"
        "    'counts': counts, 'query': list(query.shape),\n"
        "    'modules': sorted({m.split('.')[0] for m in sys.modules})}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["backend"] == "onnx-int8" and report["shape"] == [2, 384]
    assert report["counts"][0] > 2 and report["query"] == [384]
    assert HEAVY.isdisjoint(report["modules"]), HEAVY & set(report["modules"])


def _model_copy(tmp_path: Path, **changes: object) -> Path:
    """The bundled model's small files (no weights) in a folder, with some JSON edited."""
    source = bundled_model_path()
    target = tmp_path / "model"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    for name, change in changes.items():
        path = target / name.replace("__", "/").replace("_json", ".json")
        if change is None:
            path.unlink()
        else:
            data = json.loads(path.read_text())
            data.update(change)  # type: ignore[call-overload]
            path.write_text(json.dumps(data))
    return target


def test_layouts_the_runtime_cannot_reproduce_are_refused(tmp_path: Path) -> None:
    cls_pooling = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    cases = {
        "modules.json is missing": {"modules_json": None},
        "not a mean": {"1_Pooling__config_json": cls_pooling},
        "no tokenizer.json": {"tokenizer_json": None},
    }
    for i, (message, changes) in enumerate(cases.items()):
        with pytest.raises(UnsupportedModelError, match=message):
            read_model_spec(_model_copy(tmp_path / str(i), **changes))
    folder = _model_copy(tmp_path / "dense")
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "x.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(UnsupportedModelError, match="not transformer"):
        read_model_spec(folder)


def test_word_piece_limit_without_a_sentence_transformers_config(tmp_path: Path) -> None:
    # sentence-transformers then takes the tokenizer's limit capped at the model's positions.
    plain = {"sentence_bert_config_json": None}
    folder = _model_copy(tmp_path / "a", **plain, tokenizer_config_json={"model_max_length": 300})
    assert read_model_spec(folder).max_tokens == 300  # min(300, 512 positions)
    unlimited = {"tokenizer_config_json": {"model_max_length": 1e30}}  # transformers' "none"
    folder = _model_copy(
        tmp_path / "b", **plain, **unlimited, config_json={"max_position_embeddings": 384}
    )
    assert read_model_spec(folder).max_tokens == 384
    folder = _model_copy(tmp_path / "c", sentence_bert_config_json={"max_seq_length": 128})
    assert read_model_spec(folder).max_tokens == 128


def test_do_lower_case_lowercases_before_the_tokenizer(tmp_path: Path) -> None:
    folder = _model_copy(tmp_path)
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    tokenizer["normalizer"]["lowercase"] = False  # a cased tokenizer
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    cased = WordPieces(read_model_spec(folder))
    assert cased.ids(["ALIBABA"]) != cased.ids(["alibaba"])
    config = folder / "sentence_bert_config.json"
    config.write_text(json.dumps({"max_seq_length": 256, "do_lower_case": True}))
    lowered = WordPieces(read_model_spec(folder))
    assert lowered.ids(["ALIBABA"]) == lowered.ids(["alibaba"]) == cased.ids(["alibaba"])


def test_an_unsupported_model_falls_back_to_torch(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    def unsupported(root: Path) -> None:
        raise UnsupportedModelError("modules ['Transformer', 'Dense'] are not ...")

    monkeypatch.setattr(newsrag.index.embedding, "read_model_spec", unsupported)
    with caplog.at_level(logging.WARNING, logger="newsrag.index.embedding"):
        embedder = create_embedder(cache_dir=tmp_path)
    assert isinstance(embedder, SentenceTransformerEmbedder) and embedder.name == "all-MiniLM-L6-v2"
    assert "cannot be exported; using torch" in caplog.text and not list(tmp_path.iterdir())


def test_the_weights_digest_is_remembered_until_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    (model / "model.safetensors").write_bytes(b"weights")
    cache = tmp_path / "cache"
    hashed: list[Path] = []

    def counting(folder: Path) -> str:
        hashed.append(folder)
        return weights_digest(folder)

    monkeypatch.setattr(newsrag.index.backends, "weights_digest", counting)
    first = cached_digest(model, cache)
    assert first == weights_digest(model) and len(hashed) == 1 and (cache / DIGESTS).is_file()
    assert cached_digest(model, cache) == first and len(hashed) == 1  # remembered
    (model / "model.safetensors").write_bytes(b"other weights")
    assert cached_digest(model, cache) != first and len(hashed) == 2  # a new stamp: hashed again
    (cache / DIGESTS).write_text("{not json")
    assert cached_digest(model, cache) == weights_digest(model)  # a broken memo is rebuilt
