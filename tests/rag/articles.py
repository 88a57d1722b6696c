"""Build a small index from article dicts, for tests that need their own corpus."""

from __future__ import annotations

import json
from pathlib import Path

from newsrag.index import Embedder, IndexStore, ingest, open_index


def store_of(articles: list[dict[str, str]], root: Path, embedder: Embedder) -> IndexStore:
    """Write `articles` as JSONL under `root`, ingest them, and open the index."""
    path = root / "articles.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in articles), encoding="utf-8")
    ingest([path], root / "index", embedder)
    return open_index(root / "index", embedder)
