"""Whether two eval runs gave the same answers, and their latency per set.

    .venv/bin/python bench/same_answers.py /tmp/before /tmp/after

Each folder is a `rag eval --sets ... --out DIR` output: DIR/<set>/report.json. Every field of
every question (pass/fail, answer text, citations, refusal reason, conflict flag, margin, ...)
and every metric is compared, latency aside; each difference is printed and the exit status is
1 when there is any (a speed change must not change an answer). Latency p50/p95 are printed
per set for both runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, script_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = script_parser(__doc__ or "")
    parser.add_argument("before", type=Path, help="eval output folder of the first run")
    parser.add_argument("after", type=Path, help="eval output folder of the second run")
    return parser.parse_args(argv)


def _timing(key: str) -> bool:
    return key.rsplit(".", 1)[-1].startswith("latency")


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"overall": {"hit@1": 0.8}} -> {"overall.hit@1": 0.8}."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _load(folder: Path) -> dict[str, dict[str, Any]]:
    """set name -> report.json, for each DIR/<set>/report.json."""
    reports = {p.parent.name: p for p in sorted(folder.glob("*/report.json"))}
    if not reports:
        raise SystemExit(f"error: no <set>/report.json under {folder}")
    return {name: json.loads(path.read_text(encoding="utf-8")) for name, path in reports.items()}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two reports of one set, timings aside."""
    found: list[str] = []
    metrics_before, metrics_after = _flat(before["metrics"]), _flat(after["metrics"])
    for key in sorted(set(metrics_before) | set(metrics_after)):
        a, b = metrics_before.get(key), metrics_after.get(key)
        if not _timing(key) and a != b:
            found.append(f"metric {key}: {a!r} -> {b!r}")
    old = {q["id"]: q for q in before["questions"]}
    new = {q["id"]: q for q in after["questions"]}
    for qid in sorted(set(old) ^ set(new)):
        found.append(f"{qid}: only in {'before' if qid in old else 'after'}")
    for qid in sorted(set(old) & set(new)):
        for key in sorted(set(old[qid]) | set(new[qid])):
            a, b = old[qid].get(key), new[qid].get(key)
            if not _timing(key) and a != b:
                found.append(f"{qid} {key}: {a!r} -> {b!r}")
    return found


def compare(before: Path, after: Path) -> dict[str, Any]:
    """Per set: the differences and both runs' latency p50/p95 (ms)."""
    old, new = _load(before), _load(after)
    sets: dict[str, Any] = {}
    for name in sorted(set(old) | set(new)):
        if name not in old or name not in new:
            sets[name] = {"differences": [f"set only in {'before' if name in old else 'after'}"]}
            continue
        latency = {
            side: [report["metrics"]["overall"].get(f"latency_p{q}_ms") for q in (50, 95)]
            for side, report in (("before", old[name]), ("after", new[name]))
        }
        sets[name] = {
            "questions": len(new[name]["questions"]),
            "differences": differences(old[name], new[name]),
            "latency_p50_p95_ms": latency,
        }
    return {"same": not any(s["differences"] for s in sets.values()), "sets": sets}


def fmt(pair: list[float | None]) -> str:
    """'59.6/97.9' (ms), '-' for a missing figure."""
    return "/".join("-" if v is None else f"{v:.1f}" for v in pair)


def main(argv: list[str] | None = None) -> None:
    """Print the comparison; exit 1 when any answer differs."""
    args = parse_args(argv)
    result = compare(args.before, args.after)
    if args.json:
        emit(result, as_json=True)
    else:
        for name, found in result["sets"].items():
            latency = found.get("latency_p50_p95_ms", {})
            figures = "  ".join(f"{side} p50/p95 {fmt(pair)}" for side, pair in latency.items())
            print(f"{name}: {len(found['differences'])} differences  {figures}")
            for line in found["differences"]:
                print(f"  {line}")
        print("same answers" if result["same"] else "ANSWERS DIFFER")
    if not result["same"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
