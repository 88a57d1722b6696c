"""The manifest's tables as runs, and the folder walk: what an ingest writes and reads follows
the change, not the corpus (issue 17).

Uses the word-hashing test embedder (tests/index/hashing.py): no model is loaded.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from newsrag.index import delete_articles, ingest, open_index
from newsrag.index.errors import CorruptIndexError
from newsrag.index.generations import current_generation
from newsrag.index.loaders import iter_files, walk_files
from newsrag.index.store import ArticleEntry, Manifest, load_manifest
from newsrag.index.tables import Run, changed_keys, read_runs, write_run
from tests.index.hashing import HashingEmbedder

WORDS = ["harbour", "ferry", "council", "budget", "river", "bridge", "school", "tram"]


def _write(folder: Path, start: int, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        rng = random.Random(i)
        body = " ".join(rng.choices(WORDS, k=30))
        path = folder / f"a{i:05d}.md"
        path.write_text(f'---\ntitle: "story {i}"\n---\n{body}.\n', "utf-8")
        paths.append(path)
    return paths


def _live(index_dir: Path) -> tuple[Path, dict]:
    gen = current_generation(index_dir)
    assert gen is not None
    return gen, json.loads((gen / "manifest.json").read_text())


def _rows(gen: Path, name: str) -> int:
    return len(json.loads((gen / name).read_text())["rows"])


def test_a_small_ingest_writes_only_the_changed_rows_and_links_the_rest(tmp_path: Path) -> None:
    embedder, corpus, index_dir = HashingEmbedder(), tmp_path / "corpus", tmp_path / "index"
    _write(corpus, 0, 200)
    ingest([corpus], index_dir, embedder)
    first, manifest = _live(index_dir)
    assert [_rows(first, f) for f in manifest["tables"]["articles"]] == [200]
    assert len((first / "manifest.json").read_bytes()) < 5000  # no per-article rows in it

    ingest(_write(corpus, 200, 3), index_dir, embedder)
    gen, manifest = _live(index_dir)
    articles, sources = manifest["tables"]["articles"], manifest["tables"]["sources"]
    assert [_rows(gen, f) for f in articles] == [200, 3]
    assert [_rows(gen, f) for f in sources] == [200, 3]
    assert (gen / articles[0]).stat().st_ino == (first / articles[0]).stat().st_ino  # linked
    assert set(articles + sources) <= set(manifest["files"])  # checksummed like any file
    store = open_index(index_dir, embedder)
    assert len(store.articles) == len(store.manifest.articles) == 203
    assert store.manifest.articles == load_manifest(gen).articles


def test_runs_stay_logarithmic_and_replay_to_the_live_tables(tmp_path: Path) -> None:
    embedder, corpus, index_dir = HashingEmbedder(), tmp_path / "corpus", tmp_path / "index"
    _write(corpus, 0, 64)
    ingest([corpus], index_dir, embedder)
    for step in range(12):
        ingest(_write(corpus, 64 + step, 1), index_dir, embedder)
    delete_articles(["a00003", "a00070"], index_dir, embedder)
    gen, manifest = _live(index_dir)
    runs = manifest["tables"]["articles"]
    sizes = [len(json.loads((gen / f).read_text())["rows"]) for f in runs]
    assert len(runs) <= 4, sizes  # about log2 of the rows written, not one run per ingest
    assert sizes == sorted(sizes, reverse=True) and sizes[0] >= 64, sizes
    store = open_index(index_dir, embedder)
    ids = {f"a{i:05d}" for i in range(76)} - {"a00003", "a00070"}
    assert set(store.manifest.articles) == set(store.articles) == ids
    assert set(store.manifest.sources) == {str(corpus / f"{d}.md") for d in ids}


def test_write_run_merges_newest_runs_and_drops_removed_keys_at_the_oldest(
    tmp_path: Path,
) -> None:
    def entry(i: int) -> ArticleEntry:
        return ArticleEntry(f"h{i}", 1, None)

    rows = {f"k{i}": entry(i) for i in range(8)}
    runs, kept = write_run(tmp_path, "articles", 1, rows, (), set(rows))
    assert kept == [] and len(runs) == 1
    new = dict(rows)
    del new["k0"]
    new["k9"] = entry(9)
    changed = changed_keys(rows, new)
    assert changed == {"k0", "k9"}
    runs, kept = write_run(tmp_path, "articles", 2, new, runs, changed)
    assert kept == ["tables/articles-000001.json"] and len(runs) == 2
    assert json.loads((tmp_path / runs[1].file).read_text())["removed"] == ["k0"]
    replayed, _ = read_runs(tmp_path, "articles", [r.file for r in runs], ArticleEntry)
    assert replayed == new
    # A change as large as the runs merges everything; removed keys vanish for good.
    bigger = {f"k{i}": entry(i + 100) for i in range(1, 10)}
    runs, kept = write_run(tmp_path, "articles", 3, bigger, runs, changed_keys(new, bigger))
    assert kept == [] and [r.file for r in runs] == ["tables/articles-000003.json"]
    assert json.loads((tmp_path / runs[0].file).read_text())["removed"] == []
    assert read_runs(tmp_path, "articles", [runs[0].file], ArticleEntry)[0] == bigger
    assert runs[0] == Run("tables/articles-000003.json", tuple(sorted(bigger)))


def test_a_corrupt_run_falls_back_to_the_previous_generation(tmp_path: Path) -> None:
    embedder, corpus, index_dir = HashingEmbedder(), tmp_path / "corpus", tmp_path / "index"
    _write(corpus, 0, 20)
    ingest([corpus], index_dir, embedder)
    ingest(_write(corpus, 20, 2), index_dir, embedder)
    gen, manifest = _live(index_dir)
    newest = gen / manifest["tables"]["articles"][-1]
    newest.write_text(newest.read_text().replace('"a00021"', '"a00099"'))
    store = open_index(index_dir, embedder)  # checksums are verified on open
    assert store.path is not None and store.path != gen and len(store.articles) == 20
    newest.unlink()
    with pytest.raises(CorruptIndexError, match="tables"):
        Manifest.from_json((gen / "manifest.json").read_text(), gen)


def test_an_index_with_inline_tables_is_read_and_converted_on_the_next_write(
    tmp_path: Path,
) -> None:
    """Generations written before runs list articles and sources inside manifest.json."""
    embedder, corpus, index_dir = HashingEmbedder(), tmp_path / "corpus", tmp_path / "index"
    _write(corpus, 0, 10)
    ingest([corpus], index_dir, embedder)
    gen, data = _live(index_dir)
    manifest = load_manifest(gen)
    del data["tables"]
    for rel in [k for k in data["files"] if k.startswith("tables/")]:
        (gen / rel).unlink()
        del data["files"][rel], data["file_stats"][rel]
    data["articles"] = {k: e._asdict() for k, e in manifest.articles.items()}
    data["sources"] = {k: e._asdict() for k, e in manifest.sources.items()}
    (gen / "manifest.json").write_text(json.dumps(data))
    store = open_index(index_dir, embedder)
    assert store.manifest.articles == manifest.articles
    assert store.manifest.sources == manifest.sources
    report = ingest([corpus], index_dir, embedder)  # unchanged files are not read
    assert not report.changed and report.files_unchanged == 10
    ingest(_write(corpus, 10, 1), index_dir, embedder)
    gen, data = _live(index_dir)
    assert "articles" not in data and len(data["tables"]["articles"]) == 1
    assert set(open_index(index_dir, embedder).articles) == {f"a{i:05d}" for i in range(11)}


def _iter_files_by_rglob(paths: list[Path]) -> list[Path]:
    """The walk as it was before os.scandir: the reference walk_files must agree with."""
    out = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                dangling = child.is_symlink() and not child.exists()
                if (child.is_file() or dangling) and not any(p.startswith(".") for p in rel):
                    out.append(child)
        else:
            out.append(path)
    return out


def test_walk_files_lists_what_rglob_listed_in_the_same_order_with_stats(
    tmp_path: Path,
) -> None:
    root = tmp_path / "in"
    for rel in ["b.md", "a-b.md", "a/b.md", "a/z/c.json", "A.md", ".hid.md", ".dir/x.md"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    (root / "sub").mkdir()
    os.symlink(root / "b.md", root / "sub" / "link.md")
    os.symlink(root / "a", root / "sub" / "dirlink")  # a linked folder is not entered
    os.symlink(root / "gone.md", root / "sub" / "dangling.md")
    os.mkfifo(root / "sub" / "pipe")
    single = root / "a" / "b.md"
    expected = _iter_files_by_rglob([root, single, tmp_path / "missing.md"])
    walked = list(walk_files([root, single, tmp_path / "missing.md"]))
    assert [Path(p) for p, _ in walked] == expected
    assert list(iter_files([root])) == _iter_files_by_rglob([root])
    stats = dict(walked)
    assert stats[str(root / "sub" / "dangling.md")] is None
    assert stats[str(tmp_path / "missing.md")] is None
    link = stats[str(root / "sub" / "link.md")]
    assert link is not None and link.st_ino == (root / "b.md").stat().st_ino
