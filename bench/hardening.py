"""Issue 14's targets: ingest time against article size and title length, a 20 MB file refused.

    .venv/bin/python -m bench.hardening

Prints, for one run on this machine (median of 3 each): a 20 KB vs a 200 KB article through
`ingest` (target <= 12x), a 60-word vs a 6,000-word title on the same body (target <= +10 %),
and the time `rag ingest`'s loader takes to refuse a 20 MB text file (target <= 5 s).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from newsrag.index import IngestOptions, SentenceTransformerEmbedder, ingest, load_paths

_WORDS = ["the", "council", "approved", "a", "budget", "on", "Monday", "after", "a", "long"]
_WORDS += ["debate", "about", "the", "harbour"]


def body(n_bytes: int) -> str:
    """Prose of about `n_bytes`, in paragraphs."""
    rng = random.Random(n_bytes)
    words = [rng.choice(_WORDS) for _ in range(n_bytes // 6)]
    sentences = [" ".join(words[i : i + 15]).capitalize() + "." for i in range(0, len(words), 15)]
    return "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))


def one_ingest(folder: Path, text: str, title: str, embedder: SentenceTransformerEmbedder) -> float:
    """Seconds of one fresh ingest of one article (a new folder and index under `folder`)."""
    folder.mkdir(parents=True)
    (folder / "src").mkdir()
    (folder / "src" / "a.md").write_text(f"---\ntitle: {title}\n---\n{text}\n")
    started = time.perf_counter()
    ingest([folder / "src"], folder / "index", embedder, IngestOptions())
    return time.perf_counter() - started


def interleaved(
    base: Path, cases: dict[int, tuple[str, str]], embedder: SentenceTransformerEmbedder
) -> dict[int, float]:
    """Median seconds per case over 3 rounds, the cases alternating within each round."""
    runs: dict[int, list[float]] = {key: [] for key in cases}
    for round_ in range(3):
        for key, (text, title) in cases.items():
            runs[key].append(one_ingest(base / f"{key}-{round_}", text, title, embedder))
    return {key: statistics.median(values) for key, values in runs.items()}


def main() -> None:
    """Print the figures and their ratios."""
    embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        sizes = interleaved(
            base / "sizes", {kb: (body(kb * 1000), "A title") for kb in (20, 200)}, embedder
        )
        print(
            f"20 KB article: {sizes[20]:.2f} s, 200 KB: {sizes[200]:.2f} s, "
            f"ratio {sizes[200] / sizes[20]:.1f}x (target <= 12x)"
        )
        text = body(20_000)
        cases = {n: (text, " ".join(f"word{i}" for i in range(n))) for n in (60, 6000)}
        titles = interleaved(base / "titles", cases, embedder)
        print(
            f"60-word title: {titles[60]:.3f} s, 6,000-word title: {titles[6000]:.3f} s, "
            f"ratio {titles[6000] / titles[60]:.3f} (target <= 1.10)"
        )
        huge = base / "huge" / "huge.txt"
        huge.parent.mkdir()
        huge.write_text("Words of a very long file. " * 780_000)  # 21 MB
        started = time.perf_counter()
        loaded = load_paths([huge.parent])
        print(
            f"20 MB text file: refused in {time.perf_counter() - started:.4f} s "
            f"({loaded.failures[0].reason}) (target <= 5 s)"
        )


if __name__ == "__main__":
    main()
