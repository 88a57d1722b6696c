"""How far the int8 embedder's vectors, rankings and answers move between CPUs (issue 12).

    .venv/bin/python bench/cross_isa.py ../shared/datasets/beir-scifact [--subset 300]
        [--model PATH] [--answers [--answer-paths avx2,vnni,float-1e-07] [--sets all]]
        [--eps 1e-7,1e-6]

No AVX-512 machine is needed: the same model runs here in ONNX Runtime three ways (bench.isa),
  avx2   as it runs on an AVX2 CPU (this one), unfused;
  vnni   with the integer products an AVX-512 VNNI / AMX CPU computes (each weight split into
         two halves that cannot saturate, summed in int32), unfused;
  shipped as `rag` runs it (fused graph, ORT_ENABLE_ALL);
plus `float-<eps>`: the avx2 graph with the output of every float op that MLAS dispatches per
instruction set multiplied by 1 +- eps, the stand-in for float kernels that may round
differently elsewhere. First it checks the emulation itself: ONNX Runtime's int32 outputs on
this CPU against the numpy reference (pair-saturating must agree exactly). Then, over SciFact
passages (the judged documents plus --subset others) and the test queries: cosine of each
vector to its avx2 twin, the largest change of any query-passage score, how many queries'
dense top-10 changes, and dense nDCG@10. --answers also runs every eval set (news + RGB, or
--sets) with each of --answer-paths and counts, against the first, the answers and verdicts
that differ and how far each question's Answer.margin moved: the cross-CPU change of the
answerer's gating scores that evals.gate.THIN_MARGIN has to cover. Every step is bounded by
the subset and the eval sets (about 10-15 minutes on 2 busy cores) and prints what it is doing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench import isa
from bench.common import load_beir, load_note, mean, ndcg_at, run_script, script_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = script_parser(__doc__)
    parser.add_argument("dataset", type=Path, help="BEIR folder (SciFact)")
    parser.add_argument("--subset", type=int, default=300, help="unjudged documents added")
    parser.add_argument("--model", type=Path, default=None, help="int8 ONNX file (default: ours)")
    parser.add_argument("--eps", default="1e-7", help="float perturbations to try (comma list)")
    parser.add_argument("--check-texts", type=int, default=16, help="texts for the ORT check")
    parser.add_argument("--answers", action="store_true", help="also compare eval-set answers")
    parser.add_argument(
        "--answer-paths",
        default="avx2,vnni,float-1e-07",
        help="code paths answering the eval sets, the first is the reference (--answers)",
    )
    parser.add_argument(
        "--sets", default="all", help="eval sets for --answers: all, or e.g. news,rgb-answer"
    )
    return parser.parse_args(argv)


def shipped_model() -> tuple[object, Path]:
    """The default embedder (onnx-int8, `OnnxEmbedder`) and the int8 file it runs."""
    from newsrag.index.backends import current_exports, default_cache_dir, weights_digest
    from newsrag.index.embedding import bundled_model_path, create_embedder

    embedder = create_embedder(backend="onnx-int8")
    if getattr(embedder, "backend", "") != "onnx-int8":
        raise SystemExit("the onnx-int8 backend did not load (see the warning above)")
    folder = default_cache_dir() / weights_digest(bundled_model_path())
    return embedder, folder / current_exports()[1]


def check_emulation(model: object, embedder: object, texts: list[str]) -> dict[str, object]:
    """ORT's integer outputs vs the numpy reference, on the inputs ORT itself quantised."""
    outputs = mismatch_sat = mismatch_exact = 0
    worst = 0
    for text in texts:
        feeds = feeds_of(embedder, text)
        for product in isa.capture_integer_products(model, feeds):
            args = (product.a, product.b, product.a_zero, product.b_zero)
            mismatch_sat += int(
                (isa.integer_matmul(*args, pair_saturating=True) != product.c).sum()
            )
            mismatch_exact += int((isa.integer_matmul(*args) != product.c).sum())
            outputs += product.c.size
            worst = max(worst, isa.max_pair_sum(product.b))
    return {
        "texts": len(texts),
        "int32_outputs": outputs,
        "differ_from_pair_saturating_reference": mismatch_sat,
        "differ_from_exact_reference": mismatch_exact,
        "share_saturated": round(mismatch_exact / max(outputs, 1), 5),
        "largest_possible_pair_sum": worst,
    }


def feeds_of(embedder: object, text: str) -> dict[str, np.ndarray]:
    """One text's model inputs, as the embedder builds them."""
    ids = embedder._pieces.ids([text])  # type: ignore[attr-defined]  # truncated as embedded
    input_ids = np.asarray(ids, dtype=np.int64)  # (1, t)
    return {
        "input_ids": input_ids,
        "attention_mask": np.ones_like(input_ids),
        "token_type_ids": np.zeros_like(input_ids),
    }


def embed_all(embedder: object, runner: isa.Runner, texts: list[str]) -> np.ndarray:
    """(n, dim) vectors of `texts` through `runner`, one text per run as onnx-int8 does."""
    from newsrag.index.backends import encode

    ids = embedder._pieces.ids(texts)  # type: ignore[attr-defined]
    return encode(runner, ids, 1, workers=2)


def compare(
    ref: tuple[np.ndarray, np.ndarray],
    other: tuple[np.ndarray, np.ndarray],
    docs: list[str],
    data: object,
    qids: list[str],
) -> dict[str, object]:
    """Vector, score and ranking differences of `other` against `ref` (passages, queries)."""
    (p0, q0), (p1, q1) = ref, other
    cos = np.concatenate([(p0 * p1).sum(1), (q0 * q1).sum(1)])
    s0, s1 = q0 @ p0.T, q1 @ p1.T  # (queries, passages)
    top0, top1 = _top(s0, 10), _top(s1, 10)
    changed = sum(a != b for a, b in zip(top0, top1, strict=True))
    return {
        "cosine_min": round(float(cos.min()), 5),
        "cosine_mean": round(float(cos.mean()), 6),
        "identical_vectors": int((cos == 1).sum() if np.array_equal(p0, p1) else 0),
        "max_l2_distance": round(float(np.sqrt(np.maximum(0, 2 - 2 * cos)).max()), 5),
        "max_score_change": round(float(np.abs(s1 - s0).max()), 5),
        "queries_top10_changed": f"{changed}/{len(qids)}",
        "ndcg@10_dense": round(_ndcg(s1, docs, data, qids), 4),
    }


def _top(scores: np.ndarray, k: int) -> list[tuple[int, ...]]:
    return [tuple(np.argsort(-row, kind="stable")[:k]) for row in scores]


def _ndcg(scores: np.ndarray, docs: list[str], data: object, qids: list[str]) -> float:
    values = []
    for row, qid in zip(scores, qids, strict=True):
        order = np.argsort(-row, kind="stable")
        ranked = list(dict.fromkeys(docs[i] for i in order[:300]))
        values.append(ndcg_at(ranked, data.qrels[qid], 10))  # type: ignore[attr-defined]
    return mean(values)


def scifact_texts(dataset: Path, subset: int, embedder: object) -> tuple[list, list, object]:
    """Embedded passage inputs (with their doc ids) of the judged subset, and the queries."""
    from bench.beir import judged_subset
    from newsrag.index import ChunkingParams, chunk_article, load_paths
    from newsrag.index.chunking import embed_input

    data = load_beir(dataset)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = judged_subset(data, subset, Path(tmp))
        articles = load_paths([corpus]).articles
    count = embedder.count_tokens  # type: ignore[attr-defined]
    chunks = [c for a in articles for c in chunk_article(a, ChunkingParams(), count)]
    passages = [(c.doc_id, embed_input(c.title, c.text)) for c in chunks]
    return passages, list(data.queries.items()), data


def answers(
    embedder: object, runners: dict[str, isa.Runner], names: list[str] | None
) -> dict[str, object]:
    """Eval sets (news + RGB, or `names`) answered with each runner, against the first one:
    answers and verdicts that differ, and how far each question's Answer.margin moved (the
    cross-CPU change of the answerer's gating scores that THIN_MARGIN must cover)."""
    from newsrag.evals.cli import EvalOptions, run_eval
    from newsrag.evals.suite import default_datasets_dir, gate_sets, set_options
    from newsrag.rag.settings import Settings

    settings = Settings()
    sets, skipped = gate_sets(default_datasets_dir(), "extractive", names=names)
    out: dict[str, object] = {"skipped": skipped} if skipped else {}
    base_name = embedder.name  # type: ignore[attr-defined]
    base_runner = embedder._runner  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="cross-isa-") as tmp:
        root = Path(tmp)
        for item in sets:
            reports = {}
            for label, runner in runners.items():
                print(f"answers: {item.name} with {label}", file=sys.stderr, flush=True)
                embedder._runner = runner  # type: ignore[attr-defined]  # bench-only swap
                embedder.name = f"{base_name}+{label}"  # type: ignore[attr-defined]
                base = EvalOptions(
                    item.gold,
                    item.corpus,
                    "extractive",
                    root,
                    item.thresholds,
                    item.baseline,
                    False,
                    root / "out",
                )
                options = set_options(item, base, root / label, root / "out" / label)
                reports[label], _ = run_eval(options, settings, None, quiet=True, embedder=embedder)  # type: ignore[arg-type]
            first = next(iter(reports.values()))
            row: dict[str, object] = {"questions": len(first.runs)}
            for label, report in list(reports.items())[1:]:
                now = {r.gold.id: r for r in report.runs}
                moves = [
                    abs(r.answer.margin - now[r.gold.id].answer.margin)
                    for r in first.runs
                    if r.answer.margin is not None and now[r.gold.id].answer.margin is not None
                ]
                row[label] = {
                    "answers_differ": sum(
                        r.answer.answer != now[r.gold.id].answer.answer for r in first.runs
                    ),
                    "verdicts_differ": [
                        r.gold.id
                        for r in first.runs
                        if r.score.passed != now[r.gold.id].score.passed
                    ],
                    "margins_compared": len(moves),
                    "margin_change_max": float(f"{max(moves, default=0.0):.3g}"),
                    "margin_change_median": float(
                        f"{float(np.median(moves)) if moves else 0.0:.3g}"
                    ),
                    "answer_accuracy": (
                        first.overall["answer_accuracy"],
                        report.overall["answer_accuracy"],
                    ),
                }
            smallest = sorted(
                (r.answer.margin, r.gold.id) for r in first.runs if r.answer.margin is not None
            )[:3]
            row["smallest_margins"] = [(i, round(m, 6)) for m, i in smallest]
            out[item.name] = row
    embedder.name = base_name  # type: ignore[attr-defined]
    embedder._runner = base_runner  # type: ignore[attr-defined]
    return out


def run(args: argparse.Namespace) -> dict[str, object]:
    """The emulation check, then vectors/rankings (and answers) per code path."""
    import onnx

    embedder, default_path = shipped_model()
    path = args.model or default_path
    model = onnx.load(str(path))
    passages, queries, data = scifact_texts(args.dataset, args.subset, embedder)
    figures: dict[str, object] = {
        "model": str(path),
        "passages": len(passages),
        "queries": len(queries),
    }
    figures["emulation_check"] = check_emulation(
        model, embedder, [t for _, t in passages[: args.check_texts]]
    )
    exact = isa.exact_integer_graph(model)
    split = len(isa.integer_nodes(exact)) - len(isa.integer_nodes(model))
    figures["vnni_nodes_rewritten"] = split
    runners = {"avx2": isa.session(model, optimize=False)}
    if split or (args.answers and "vnni" in args.answer_paths.split(",")):
        runners["vnni"] = isa.session(exact, optimize=False)
    else:  # no weight pair can saturate: the VNNI graph is the avx2 graph itself
        figures["vnni vs avx2"] = "identical graph: no MatMulInteger can saturate on AVX2"
    runners["shipped"] = isa.session(path, optimize=True)
    for eps in [float(e) for e in args.eps.split(",") if e]:
        runners[f"float-{eps:g}"] = isa.session(
            isa.perturbed_float_graph(model, eps), optimize=False
        )
    paths = [p for p in args.answer_paths.split(",") if p]
    unknown = [p for p in paths if p not in runners]
    if args.answers and unknown:
        raise SystemExit(f"--answer-paths: unknown {unknown}; known: {sorted(runners)}")
    docs = [d for d, _ in passages]
    qids = [q for q, _ in queries]
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for label, run_ in runners.items():
        print(
            f"vectors: {len(passages)} passages, {len(queries)} queries with {label}",
            file=sys.stderr,
            flush=True,
        )
        vectors[label] = (
            embed_all(embedder, run_, [t for _, t in passages]),
            embed_all(embedder, run_, [t for _, t in queries]),
        )
    figures["avx2 ndcg@10_dense"] = round(
        _ndcg(vectors["avx2"][1] @ vectors["avx2"][0].T, docs, data, qids), 4
    )
    for label in list(runners)[1:]:
        figures[f"{label} vs avx2"] = compare(vectors["avx2"], vectors[label], docs, data, qids)
    if args.answers:
        sets = [n for n in args.sets.split(",") if n] if args.sets != "all" else None
        figures["answers"] = answers(embedder, {k: runners[k] for k in paths}, sets)
    figures["load"] = load_note()
    return figures


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    run_script(parse_args, run, argv)


if __name__ == "__main__":
    main()
