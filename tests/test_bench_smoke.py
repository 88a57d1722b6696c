"""Smoke tests of the benchmark scripts on tiny inputs (the real runs are documented in README)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from bench import beir, common, peers, same_answers, scale
from bench import ingest as bench_ingest
from newsrag.index import SentenceTransformerEmbedder

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

DOCS = [
    ("d1", "Aspirin and heart attacks", "Daily aspirin lowers the risk of a first heart attack."),
    ("d2", "Coffee and sleep", "Caffeine taken late in the day delays the onset of sleep."),
    ("d3", "Glaciers retreat", "Alpine glaciers lost a tenth of their volume in two summers."),
    ("d4", "Bees and pesticides", "Neonicotinoid pesticides impair how honey bees find home."),
]


@pytest.fixture
def tiny_beir(tmp_path: Path) -> Path:
    """A four-document BEIR folder with CRLF qrels, as the real files have."""
    root = tmp_path / "tiny-beir"
    (root / "qrels").mkdir(parents=True)
    with (root / "corpus.jsonl").open("w") as handle:
        for doc_id, title, text in DOCS:
            handle.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    queries = {"q1": "does caffeine delay sleep", "q2": "glaciers losing volume", "q9": "unjudged"}
    with (root / "queries.jsonl").open("w") as handle:
        for qid, text in queries.items():
            handle.write(json.dumps({"_id": qid, "text": text}) + "\n")
    qrels = "query-id\tcorpus-id\tscore\r\nq1\td2\t1\r\nq2\td3\t1\r\n"
    (root / "qrels" / "test.tsv").write_bytes(qrels.encode())
    return root


def test_metrics_match_hand_computed_values() -> None:
    relevant = {"b": 1, "z": 1}
    assert common.ndcg_at(["a", "b"], relevant) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )
    assert common.recall_at(["a", "b"], relevant) == 0.5
    assert common.mrr_at(["a", "b"], relevant) == 0.5
    assert common.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_load_beir_strips_crlf_and_keeps_judged_queries(tiny_beir: Path) -> None:
    data = common.load_beir(tiny_beir)
    assert data.qrels == {"q1": {"d2": 1}, "q2": {"d3": 1}}
    assert set(data.queries) == {"q1", "q2"}


def test_ingest_bench_counts_every_article(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    args = bench_ingest.parse_args([str(CORPUS), "--index-dir", str(tmp_path / "index")])
    figures = bench_ingest.run(args, embedder)
    assert figures["articles"] == len(list(CORPUS.glob("*.md")))
    assert int(figures["chunks"]) > 0 and int(figures["tokens"]) > int(figures["chunks"])
    assert float(figures["tokens_per_s"]) > 0 and float(figures["peak_rss_mb"]) > 0


def test_beir_bench_finds_the_judged_documents(
    tiny_beir: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    args = beir.parse_args([str(tiny_beir), "--index-dir", str(tmp_path / "i"), "--pool", "10"])
    figures = beir.run(args, embedder)
    assert figures["documents"] == 4 and figures["queries"] == 2
    for mode in ("dense", "bm25", "hybrid"):
        result = figures[mode]
        assert isinstance(result, dict)
        assert result["ndcg@10"] == 1.0, mode  # each query names its one document plainly
        assert result["recall@100"] == 1.0


def test_beir_bench_compares_backends_and_caches_vectors(
    tiny_beir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsrag.rag.vectors import CachedEmbedder

    argv = [str(tiny_beir), "--backends", "torch,onnx-int8", "--modes", "dense", "--pool", "10"]
    argv += ["--index-root", str(tmp_path / "i"), "--vector-cache", str(tmp_path / "v")]
    figures = beir.run(beir.parse_args(argv))
    rows = figures["backends"]
    assert isinstance(rows, dict) and len(rows) == 2 and figures["same_passages"] is True
    names = list(rows)
    assert names[0] == "all-MiniLM-L6-v2" and names[1].startswith("all-MiniLM-L6-v2@onnx-int8")
    difference = figures["difference"]
    assert isinstance(difference, dict)
    gap = difference[f"{names[1]} - {names[0]} (dense)"]
    assert gap["ndcg@10"] == round(rows[names[1]]["dense"]["ndcg@10"] - 1.0, 4) == 0.0
    assert len(list((tmp_path / "v").glob("*.sqlite"))) == 2  # one file per embedder
    for index in (tmp_path / "i").iterdir():  # fresh indexes: passages come from the cache
        shutil.rmtree(index)
    passages: list[str] = []
    inner = CachedEmbedder._inner_embed

    def counted(self: CachedEmbedder, kind: str, texts: list[str]) -> object:
        passages.extend(texts if kind == "passage" else [])
        return inner(self, kind, texts)  # type: ignore[arg-type]

    monkeypatch.setattr(CachedEmbedder, "_inner_embed", counted)
    again = beir.run(beir.parse_args(argv))
    assert again["difference"] == difference and passages == []
    assert all(f["chunks_embedded"] == f["chunks"] for f in again["backends"].values())


def test_beir_bench_refuses_an_unknown_backend_before_ingesting(
    tiny_beir: Path, tmp_path: Path
) -> None:
    argv = [str(tiny_beir), "--backends", "torch,onnx-int9", "--index-root", str(tmp_path / "i")]
    with pytest.raises(SystemExit, match="unknown backend 'onnx-int9'"):
        beir.run(beir.parse_args(argv))
    assert not (tmp_path / "i").exists()  # not even the torch index was built


def test_judged_subset_keeps_every_judged_document(tiny_beir: Path, tmp_path: Path) -> None:
    data = common.load_beir(tiny_beir)
    subset = beir.judged_subset(data, 1, tmp_path)
    ids = [json.loads(line)["_id"] for line in subset.read_text().splitlines()]
    assert {"d2", "d3"} <= set(ids) and len(ids) == 3


def test_scale_bench_flat_is_exact_and_ivf_close(corpus_index_dir: Path) -> None:
    argv = ["--n", "3000", "--kinds", "flat,ivf-sq8", "--queries", "5"]
    args = scale.parse_args([*argv, "--vectors-from", str(corpus_index_dir)])
    figures = scale.run(args)
    rows = figures["results"]
    assert isinstance(rows, list)
    flat = next(r for r in rows if r["kind"] == "flat")
    assert flat["recall@10"] == 1.0
    ivf = [r for r in rows if r["kind"] == "ivf-sq8"]
    assert max(r["recall@10"] for r in ivf) >= 0.9
    assert all(r["index_mb"] < flat["index_mb"] for r in ivf)  # SQ8 stores a byte per dim


def test_scale_bench_on_disk_ivf_is_served_from_its_lists_file(
    corpus_index_dir: Path, tmp_path: Path
) -> None:
    argv = ["--n", "4000", "--on-disk", str(tmp_path / "ivf"), "--nlist", "16"]
    argv += ["--train", "1000", "--chunk", "1500", "--queries", "5", "--nprobes", "16"]
    figures = scale.run_on_disk(scale.parse_args([*argv, "--vectors-from", str(corpus_index_dir)]))
    rows = figures["results"]
    assert isinstance(rows, list) and [r["param"] for r in rows] == [
        "nprobe=16 (cold)",
        "nprobe=16",
    ]
    assert rows[0]["recall@10"] == rows[1]["recall@10"] >= 0.9  # every list searched: sq8 only
    assert rows[0]["disk_read_mb"] >= 0 and "disk_read_mb" not in rows[1]  # the cold pass only
    assert 384 + 8 <= float(figures["disk_bytes_per_vector"]) < 2 * (384 + 8)  # codes + ids
    assert sorted(p.name for p in (tmp_path / "ivf").iterdir()) == [
        "lists.ivfdata",
        "populated.index",
    ]  # shards and the trained template are gone


def test_peers_ours_side_reports_every_figure(
    tiny_beir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    data = common.load_beir(tiny_beir)
    spec = {"corpus": str(data.corpus), "queries": data.queries, "qrels": data.qrels, "pool": 10}
    figures = peers.ours(spec, embedder)
    assert figures["documents"] == 4 and figures["ndcg@10"] == 1.0
    assert float(figures["query_p50_ms"]) > 0


def test_embed_bench_compares_against_torch(tiny_beir: Path) -> None:
    from bench import embed

    figures = embed.run(embed.parse_args([str(tiny_beir), "--docs", "3", "--backends", "torch"]))
    rows = figures["backends"]
    assert isinstance(rows, dict) and figures["passages"] == 3
    assert rows["torch"]["cosine_min"] == pytest.approx(1.0, abs=1e-4)
    assert rows["torch (arrival order)"]["cosine_min"] == pytest.approx(1.0, abs=1e-4)


def test_clients_verdict_tells_explained_markers_from_bare_ones() -> None:
    from bench import clients

    bare = clients.verdict("It rose [1]. It fell [2].")
    assert bare == {"markers": [1, 2], "explained": []}
    block = "It rose [1]. It fell [2].\n\nSources:\n- [1] Title — Wire, undated"
    assert clients.verdict(block) == {"markers": [1, 2], "explained": [1]}


def _eval_run(root: Path, answer: str, latency: float) -> Path:
    """An eval output folder with one set whose one question answered `answer`."""
    question = {"id": "q1", "answer": answer, "passed": True, "latency_ms": latency}
    metrics = {"overall": {"answer_accuracy": 1.0, "latency_p50_ms": latency}}
    (root / "news").mkdir(parents=True)
    report = {"metrics": metrics, "questions": [question]}
    (root / "news" / "report.json").write_text(json.dumps(report))
    return root


def test_same_answers_ignores_latency_and_reports_any_other_difference(tmp_path: Path) -> None:
    before = _eval_run(tmp_path / "a", "Olga Tokarczuk [1].", 120.0)
    faster = _eval_run(tmp_path / "b", "Olga Tokarczuk [1].", 40.0)
    other = _eval_run(tmp_path / "c", "Peter Handke [1].", 40.0)
    same = same_answers.compare(before, faster)
    assert same["same"] and same["sets"]["news"]["latency_p50_p95_ms"]["after"] == [40.0, None]
    changed = same_answers.compare(before, other)
    assert not changed["same"]
    assert changed["sets"]["news"]["differences"] == [
        "q1 answer: 'Olga Tokarczuk [1].' -> 'Peter Handke [1].'"
    ]
