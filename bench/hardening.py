"""Issue 14's targets: ingest time against article size and title length, a 20 MB file refused.

    .venv/bin/python -m bench.hardening

Prints, for one run on this machine (medians, the cases interleaved): a 20 KB vs a 200 KB
article through `ingest` (target <= 12x), a 60-word vs a 6,000-word title on the same body
(target <= +10 %), and the time `rag ingest`'s loader takes to refuse a 20 MB text file
(target <= 5 s). Ingests use the default embedder (what `rag ingest` runs) and are timed in
wall and in CPU seconds of this process (all its threads): on a shared machine the CPU
ratio is the one to quote, with the load line printed last.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import load_note
from newsrag.index import Embedder, IngestOptions, create_embedder, ingest, load_paths

_WORDS = ["the", "council", "approved", "a", "budget", "on", "Monday", "after", "a", "long"]
_WORDS += ["debate", "about", "the", "harbour"]


def body(n_bytes: int) -> str:
    """Prose of about `n_bytes`, in paragraphs."""
    rng = random.Random(n_bytes)
    words = [rng.choice(_WORDS) for _ in range(n_bytes // 6)]
    sentences = [" ".join(words[i : i + 15]).capitalize() + "." for i in range(0, len(words), 15)]
    return "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))


def one_ingest(folder: Path, text: str, title: str, embedder: Embedder) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh ingest of one article (a new folder and index)."""
    folder.mkdir(parents=True)
    (folder / "src").mkdir()
    (folder / "src" / "a.md").write_text(f"---\ntitle: {title}\n---\n{text}\n")
    started, cpu = time.perf_counter(), time.process_time()
    ingest([folder / "src"], folder / "index", embedder, IngestOptions())
    return time.perf_counter() - started, time.process_time() - cpu


def interleaved(
    base: Path, cases: dict[int, tuple[str, str]], embedder: Embedder, rounds: int
) -> dict[int, tuple[float, float]]:
    """Median (wall, CPU) seconds per case, the cases alternating within each round."""
    runs: dict[int, list[tuple[float, float]]] = {key: [] for key in cases}
    for round_ in range(rounds):
        for key, (text, title) in cases.items():
            runs[key].append(one_ingest(base / f"{key}-{round_}", text, title, embedder))
    return {
        key: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for key, v in runs.items()
    }


def main() -> None:
    """Print the figures and their ratios."""
    embedder = create_embedder()
    before = load_note()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        cases = {kb: (body(kb * 1000), "A title") for kb in (20, 200)}
        sizes = interleaved(base / "sizes", cases, embedder, rounds=3)
        print(_pair("20 KB article", "200 KB", sizes[20], sizes[200], " (target <= 12x)"))
        text = body(20_000)
        cases = {n: (text, " ".join(f"word{i}" for i in range(n))) for n in (60, 6000)}
        titles = interleaved(base / "titles", cases, embedder, rounds=7)
        print(_pair("60-word title", "6,000-word", titles[60], titles[6000], " (target <= 1.10)"))
        huge = base / "huge" / "huge.txt"
        huge.parent.mkdir()
        huge.write_text("Words of a very long file. " * 780_000)  # 21 MB
        started = time.perf_counter()
        loaded = load_paths([huge.parent])
        print(
            f"20 MB text file: refused in {time.perf_counter() - started:.4f} s "
            f"({loaded.failures[0].reason}) (target <= 5 s)"
        )
    print(f"{embedder.name}; {before} -> {load_note()}")


def _pair(
    first: str, second: str, a: tuple[float, float], b: tuple[float, float], target: str
) -> str:
    return (
        f"{first}: {a[0]:.3f} s wall, {a[1]:.3f} CPU-s; {second}: {b[0]:.3f} s, {b[1]:.3f} CPU-s; "
        f"ratio {b[0] / a[0]:.3f} wall, {b[1] / a[1]:.3f} CPU{target}"
    )


if __name__ == "__main__":
    main()
