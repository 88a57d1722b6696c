"""Hostile and oversized files through the real `rag ingest`: each fails alone, fast, in bounded
memory, and the good files beside them are ingested (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

from newsrag.index import SentenceTransformerEmbedder, open_index
from tests.processes import RagProcesses

GOOD = "---\ntitle: Harbour reopens\n---\nThe harbour reopened on Monday after repairs. " * 3
# 410 bytes that expand to 9^9 list items when turned into text.
YAML_BOMB = (
    "---\n"
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "title: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "---\nBody text of the bomb.\n"
)
DEPTH = 10_000


def hostile_files(folder: Path) -> dict[str, str]:
    """Write the hostile files; returns file name -> a word its failure reason must hold."""
    folder.mkdir(parents=True)
    (folder / "good.md").write_text(GOOD)
    (folder / "bomb.md").write_text(YAML_BOMB)
    (folder / "deep.json").write_text("[" * DEPTH + "]" * DEPTH)
    (folder / "deep.jsonl").write_text("[" * DEPTH + "]" * DEPTH + "\n")
    nested_title = '{"id": "deep", "text": "x", "title": ' + "[" * DEPTH + "]" * DEPTH + "}"
    (folder / "nested-title.json").write_text(nested_title)
    (folder / "deep-yaml.md").write_text(
        "---\ntitle: " + "[" * DEPTH + "]" * DEPTH + "\n---\nBody.\n"
    )
    with (folder / "huge.txt").open("w") as handle:  # 20 MB: over the 5 MB default
        handle.write("Words of a very long file. " * 780_000)
    return {
        "bomb.md": "aliases",
        "deep.json": "nested too deeply",
        "deep.jsonl": "nested too deeply",
        "nested-title.json": "nested too deeply",
        "deep-yaml.md": "nested too deeply",
        "huge.txt": "over the limit",
    }


def test_each_hostile_file_fails_alone_in_bounded_memory_and_time(
    rag_processes: RagProcesses, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    folder = tmp_path / "in"
    expected = hostile_files(folder)
    baseline_dir = tmp_path / "baseline"
    baseline_dir.mkdir()
    (baseline_dir / "good.md").write_text(GOOD)
    # A run over the good file alone: the memory and time every `rag ingest` needs anyway.
    base = rag_processes.run("ingest", baseline_dir, "--index-dir", tmp_path / "i0", "--json")
    assert base.code == 0, base.stderr

    run = rag_processes.run("ingest", folder, "--index-dir", tmp_path / "index", "--json")

    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    assert report["added"] == ["good"]
    reasons = {Path(f["path"].split(":")[0]).name: f["reason"] for f in report["failed"]}
    assert set(reasons) == set(expected), reasons
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
    assert list(open_index(tmp_path / "index", embedder).articles) == ["good"]
    assert run.max_rss_mb - base.max_rss_mb <= 100, (run.max_rss_mb, base.max_rss_mb)
    # The 20 MB file is refused from its size alone: the run costs what the baseline does.
    assert run.cpu_s <= 1.5 * base.cpu_s + 1.0, (run.cpu_s, base.cpu_s)


def test_a_long_title_is_cut_and_costs_no_more_than_a_short_one(
    rag_processes: RagProcesses, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    body = "The council approved the new budget on Tuesday after a long debate. " * 300
    runs = {}
    for words in (60, 6000):
        folder = tmp_path / f"t{words}"
        folder.mkdir()
        title = " ".join(f"word{i}" for i in range(words))
        (folder / "a.md").write_text(f"---\ntitle: {title}\n---\n{body}")
        result = rag_processes.run("ingest", folder, "--index-dir", tmp_path / f"i{words}")
        assert result.code == 0, result.stderr
        runs[words] = result.cpu_s
        store = open_index(tmp_path / f"i{words}", embedder)
        assert len(store.articles["a"].title) <= 500
    assert runs[6000] <= 1.25 * runs[60] + 0.5, runs
