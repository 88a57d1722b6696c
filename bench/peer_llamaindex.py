"""The peer side of bench/peers.py: LlamaIndex's default pipeline, run inside .venv-peers.

Standalone on purpose (imports nothing of this project): VectorStoreIndex over one Document
per BEIR record (title + text, like ours), default transformations (SentenceSplitter), default
in-memory SimpleVectorStore, HuggingFaceEmbedding on the same bundled all-MiniLM-L6-v2 path.
Prints one JSON object of figures.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
from pathlib import Path


def _ndcg(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _embedded_tokens(index: object, embed: object) -> int:
    """Word pieces the model saw: each node's embed text, cut at the model's max length."""
    from llama_index.core.schema import MetadataMode

    model = embed._model  # type: ignore[attr-defined]  # the SentenceTransformer inside
    nodes = list(index.docstore.docs.values())  # type: ignore[attr-defined]
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    ids = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    return sum(len(x) for x in ids)


def _fitting_splitter(embed: object) -> object:
    """A SentenceSplitter counting the model's word pieces, so no chunk is cut at 256.

    Not LlamaIndex's default: it makes the peer embed every word, as ours does, with our
    default overlap (32), for a same-work comparison.
    """
    from llama_index.core.node_parser import SentenceSplitter

    model = embed._model  # type: ignore[attr-defined]  # the SentenceTransformer inside
    return SentenceSplitter(
        chunk_size=model.max_seq_length - 2,  # [CLS] and [SEP]
        chunk_overlap=32,
        tokenizer=model.tokenizer.tokenize,
    )


def main(spec_path: str) -> None:
    """Build, query and print figures for the corpus/queries named in the JSON spec."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    embed = HuggingFaceEmbedding(model_name=spec["model_path"], device="cpu")
    transformations = None  # LlamaIndex's default SentenceSplitter (1024 tiktoken tokens)
    if spec.get("whole_documents"):
        transformations = [_fitting_splitter(embed)]
    with open(spec["corpus"], encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    docs = [Document(text=f"{r['title']}\n{r['text']}", doc_id=r["_id"]) for r in records]
    load_before = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    index = VectorStoreIndex.from_documents(
        docs, embed_model=embed, transformations=transformations
    )
    ingest_s, ingest_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    tokens = _embedded_tokens(index, embed)
    top10 = index.as_retriever(similarity_top_k=10)
    deep = index.as_retriever(similarity_top_k=spec["pool"])
    latencies, ndcg = [], []
    for qid, text in spec["queries"].items():
        start = time.perf_counter()
        top10.retrieve(text)  # what a user waits for: embed the query + top-10 search
        latencies.append(1000 * (time.perf_counter() - start))
        ranked = list(dict.fromkeys(n.node.ref_doc_id for n in deep.retrieve(text)))
        ndcg.append(_ndcg(ranked, spec["qrels"][qid]))
    figures = {
        "system": "llama-index VectorStoreIndex + HuggingFaceEmbedding"
        + (" (whole documents)" if transformations else ""),
        "documents": len(docs),
        "ingest_s": round(ingest_s, 1),
        "docs_per_s": round(len(docs) / ingest_s, 1),
        "ingest_cpu_s": round(ingest_cpu_s, 1),  # all threads: fairer on a shared machine
        "docs_per_cpu_s": round(len(docs) / ingest_cpu_s, 2),
        "load_1min": f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}",
        "tokens_embedded": tokens,
        "tokens_per_cpu_s": round(tokens / ingest_cpu_s),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "query_p50_ms": round(_pct(latencies, 50), 1),
        "query_p95_ms": round(_pct(latencies, 95), 1),
        "ndcg@10": round(sum(ndcg) / len(ndcg), 4),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1])
