"""Lexical backends for segments: bm25s with corpus-wide statistics against tantivy (issue 17).

    .venv/bin/pip install tantivy   # only for this benchmark; the project does not depend on it
    .venv/bin/python bench/lexical.py ../shared/datasets/beir-scifact

Both index the BEIR corpus one document per abstract (title + text) and answer the test
queries; printed: nDCG@10 of each, the cost of adding 10 documents (a new bm25s segment
against a tantivy add + commit + reload), and whether scores after updating 10 documents
equal those of an index built from scratch over the same documents (segmented bm25s through
index.segments, tantivy after delete + re-add without a merge).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.common import emit, iter_jsonl, load_beir, load_note, ndcg_at


def _chunks(rows: list[dict[str, str]]) -> list:
    from newsrag.index.records import Chunk

    return [
        Chunk(r["id"] + "#0", r["id"], 0, r["text"], 0, len(r["text"]), 0, title=r["title"])
        for r in rows
    ]


def _tantivy_index(path: Path, rows: list[dict[str, str]]):
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=False, tokenizer_name="en_stem")
    builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
    schema = builder.build()
    path.mkdir(parents=True)
    index = tantivy.Index(schema, path=str(path))
    writer = index.writer(heap_size=50_000_000, num_threads=1)
    for r in rows:
        writer.add_document(tantivy.Document(id=r["id"], title=r["title"], text=r["text"]))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def _tantivy_search(index, query: str, k: int) -> list[tuple[str, float]]:
    words = re.findall(r"\w+", query)
    if not words:
        return []
    parsed = index.parse_query(" ".join(words), ["title", "text"])
    searcher = index.searcher()
    hits = searcher.search(parsed, k).hits
    return [(searcher.doc(addr)["id"][0], score) for score, addr in hits]


def run(args: argparse.Namespace) -> dict[str, object]:
    """nDCG@10 and update cost of both backends on one BEIR dataset."""
    import tantivy

    from newsrag.index.sparse import Bm25Store

    data = load_beir(args.path)
    rows = [
        {"id": str(r["_id"]), "title": str(r.get("title") or ""), "text": str(r["text"])}
        for r in iter_jsonl(data.corpus)
    ]
    figures: dict[str, object] = {"documents": len(rows), "load_before": load_note()}
    chunks = _chunks(rows)
    started = time.perf_counter()
    ours = Bm25Store.build(chunks)
    figures["bm25s_build_s"] = round(time.perf_counter() - started, 2)
    with tempfile.TemporaryDirectory(prefix="bench-lexical-") as tmp:
        started = time.perf_counter()
        tindex = _tantivy_index(Path(tmp) / "full", rows)
        figures["tantivy_build_s"] = round(time.perf_counter() - started, 2)
        ndcg_ours, ndcg_tantivy = [], []
        for qid, query in data.queries.items():
            ranked = list(dict.fromkeys(h.chunk.doc_id for h in ours.search(query, 10)))
            ndcg_ours.append(ndcg_at(ranked, data.qrels[qid], 10))
            theirs = [d for d, _ in _tantivy_search(tindex, query, 10)]
            ndcg_tantivy.append(ndcg_at(theirs, data.qrels[qid], 10))
        figures["bm25s_ndcg@10"] = f"{np.mean(ndcg_ours):.4f}"
        figures["tantivy_ndcg@10"] = f"{np.mean(ndcg_tantivy):.4f}"

        # Update cost: 10 new documents.
        extra = [{**r, "id": r["id"] + "-new"} for r in rows[:10]]
        seg_s, tan_s = [], []
        writer = tindex.writer(heap_size=50_000_000, num_threads=1)
        for _ in range(args.repeat):
            started = time.perf_counter()
            Bm25Store.build(_chunks(extra))
            seg_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            for r in extra:
                writer.add_document(tantivy.Document(id=r["id"], title=r["title"], text=r["text"]))
            writer.commit()
            tindex.reload()
            tan_s.append(time.perf_counter() - started)
        figures["bm25s_new_segment_10_docs_ms"] = round(statistics.median(seg_s) * 1000, 1)
        figures["tantivy_add_commit_10_docs_ms"] = round(statistics.median(tan_s) * 1000, 1)

        # Scores after an update (10 documents changed) against a rebuild of the same docs.
        changed = {r["id"]: {**r, "text": r["text"] + " " + r["title"]} for r in rows[-10:]}
        final = [changed.get(r["id"], r) for r in rows]
        segmented = _bm25s_segmented_with_tombstones(rows, list(changed.values()))
        rebuilt = Bm25Store.build(_chunks(sorted(final, key=lambda r: r["id"])))
        updated = _tantivy_index(Path(tmp) / "updated", rows)
        writer = updated.writer(heap_size=50_000_000, num_threads=1)
        for doc_id, r in changed.items():
            writer.delete_documents_by_term("id", doc_id)
            writer.add_document(tantivy.Document(id=r["id"], title=r["title"], text=r["text"]))
        writer.commit()
        updated.reload()
        fresh = _tantivy_index(Path(tmp) / "fresh", final)
        worst_bm25s, worst_tantivy, differ_bm25s, differ_tantivy = 0.0, 0.0, 0, 0
        for query in list(data.queries.values())[: args.compare]:
            a = [(h.chunk.doc_id, h.score) for h in segmented.search(query, 10)]
            b = [(h.chunk.doc_id, h.score) for h in rebuilt.search(query, 10)]
            gap_b = _gap(a, b)
            gap_t = _gap(_tantivy_search(updated, query, 10), _tantivy_search(fresh, query, 10))
            differ_bm25s += gap_b > 1e-6
            differ_tantivy += gap_t > 1e-6
            worst_bm25s = max(worst_bm25s, gap_b if gap_b != float("inf") else 0.0)
            worst_tantivy = max(worst_tantivy, gap_t if gap_t != float("inf") else 0.0)
        n = min(args.compare, len(data.queries))
        figures["bm25s_segmented_vs_rebuild_queries_differing"] = f"{differ_bm25s}/{n}"
        figures["bm25s_segmented_vs_rebuild_max_score_gap"] = f"{worst_bm25s:.2e}"
        figures["tantivy_updated_vs_rebuild_queries_differing"] = f"{differ_tantivy}/{n}"
        figures["tantivy_updated_vs_rebuild_max_score_gap"] = f"{worst_tantivy:.2e}"
    figures["load_after"] = load_note()
    return figures


def _bm25s_segmented_with_tombstones(rows: list[dict[str, str]], changed: list[dict[str, str]]):
    """Segment 1: every original row, the changed ids tombstoned; segment 2: the new copies."""
    from newsrag.index.segments import SegmentedBm25
    from newsrag.index.sparse import Bm25Store

    gone = {r["id"] for r in changed}
    first, second = _chunks(rows), _chunks(changed)
    keys = [(c.doc_id, 0, i) for i, c in enumerate(first) if c.doc_id not in gone]
    keys += [(c.doc_id, 1, i) for i, c in enumerate(second)]
    keys.sort()
    maps = [np.full(len(first), -1, dtype=np.int64), np.full(len(second), -1, dtype=np.int64)]
    for g, (_, p, i) in enumerate(keys):
        maps[p][i] = g
    parts = [(Bm25Store.build(first), maps[0]), (Bm25Store.build(second), maps[1])]
    everything = [(first if p == 0 else second)[i] for _, p, i in keys]
    return SegmentedBm25([(s, m, m >= 0) for s, m in parts], everything)


def _gap(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> float:
    """Largest score difference between two top-k lists (inf when the ids differ)."""
    if [d for d, _ in a] != [d for d, _ in b]:
        return float("inf")
    return max((abs(x - y) for (_, x), (_, y) in zip(a, b, strict=True)), default=0.0)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="BEIR dataset folder (corpus, queries, qrels)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare", type=int, default=100, help="queries compared after update")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not (args.path / "corpus.jsonl").is_file():
        raise SystemExit(f"skipped: no BEIR dataset at {args.path}")
    try:
        import tantivy  # noqa: F401
    except ImportError:
        raise SystemExit(
            "skipped: tantivy is not installed (.venv/bin/pip install tantivy)"
        ) from None
    emit(run(args), as_json=args.json)


if __name__ == "__main__":
    main()
