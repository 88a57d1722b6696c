"""Lost pointers and full disks through the real `rag` commands: nothing lost, a one-line
reason and a non-zero exit where the operation cannot proceed (issue 14)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsrag.index import SentenceTransformerEmbedder, open_index
from newsrag.index.generations import CURRENT, generation_dirs
from tests.processes import RagProcesses


def article(folder: Path, doc_id: str, words: int = 60) -> None:
    """One Markdown article of about `words` words."""
    folder.mkdir(parents=True, exist_ok=True)
    text = " ".join(f"{doc_id}word{i % 50}" for i in range(words))
    (folder / f"{doc_id}.md").write_text(f"---\ntitle: Report {doc_id}\n---\n{text}.\n")


@pytest.fixture
def four_articles(rag_processes: RagProcesses, tmp_path: Path) -> Path:
    """An index of four articles written in two generations (a, b; then c, d)."""
    index_dir = tmp_path / "index"
    for batch in (("a", "b"), ("c", "d")):
        folder = tmp_path / "-".join(batch)
        for doc_id in batch:
            article(folder, doc_id)
        assert rag_processes.run("ingest", folder, "--index-dir", index_dir).code == 0
    return index_dir


@pytest.mark.parametrize("damage", ["removed", "emptied", "garbled"])
def test_a_lost_current_loses_no_article(
    damage: str,
    four_articles: Path,
    rag_processes: RagProcesses,
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
) -> None:
    pointer = four_articles / CURRENT
    if damage == "removed":
        pointer.unlink()
    else:
        pointer.write_bytes(b"" if damage == "emptied" else b"\xff\xfe gen-\x80\x81\n")
    stats = rag_processes.run("stats", "--index-dir", four_articles, "--json")
    assert stats.code == 0, stats.stderr
    assert json.loads(stats.stdout)["articles"] == 4
    article(tmp_path / "e", "e")

    run = rag_processes.run("ingest", tmp_path / "e", "--index-dir", four_articles, "--json")

    assert run.code == 0, run.stderr
    assert "pointed it at gen-000002 again" in run.stderr
    assert sorted(open_index(four_articles, embedder).articles) == ["a", "b", "c", "d", "e"]
    assert pointer.read_text().strip() == "gen-000003"


def test_a_lost_current_with_no_intact_generation_stops_with_one_line(
    four_articles: Path, rag_processes: RagProcesses, tmp_path: Path
) -> None:
    (four_articles / CURRENT).unlink()
    for generation in generation_dirs(four_articles):
        (generation / "vectors.npy").write_bytes(b"garbage")
    before = sorted(p.name for p in four_articles.iterdir())
    article(tmp_path / "e", "e")

    run = rag_processes.run("ingest", tmp_path / "e", "--index-dir", four_articles)

    assert run.code == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "CURRENT is missing" in lines[0] and "--rebuild" in lines[0]
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in four_articles.iterdir()) == before  # nothing deleted


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test (needs root, as CI and the dev machines run)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def test_a_full_disk_leaves_the_live_index_and_no_debris(
    small_disk: Path,
    tmp_path: Path,
    rag_processes: RagProcesses,
    embedder: SentenceTransformerEmbedder,
) -> None:
    """ENOSPC is a one-line error with exit code 1, and leaves nothing behind."""
    index_dir = small_disk / "index"
    article(tmp_path / "first", "a", words=400)
    first = rag_processes.run("ingest", tmp_path / "first", "--index-dir", index_dir)
    assert first.code == 0, first.stderr
    generation_size = sum(p.stat().st_blocks * 512 for p in index_dir.rglob("*"))  # as allocated
    # Leave room for about 2 generations of this size: a 40-article ingest cannot fit.
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * max(0, free_bytes(small_disk) - 2 * generation_size))
    room = free_bytes(small_disk)
    for i in range(40):
        article(tmp_path / "big", f"b{i}", words=400)

    full = rag_processes.run("ingest", tmp_path / "big", "--index-dir", index_dir)

    assert full.code == 1, full.stderr
    assert "Traceback" not in full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], full.stderr
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert free_bytes(small_disk) == room  # the partial generation is gone
    assert list(open_index(index_dir, embedder).articles) == ["a"]

    article(tmp_path / "small", "s", words=40)  # a smaller update fits in what is left
    small = rag_processes.run("ingest", tmp_path / "small", "--index-dir", index_dir)
    assert small.code == 0, small.stderr
    assert sorted(open_index(index_dir, embedder).articles) == ["a", "s"]
    shutil.rmtree(index_dir)
