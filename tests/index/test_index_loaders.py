"""Loaders: every supported format, configurable fields, and bad files reported by name."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest

from newsrag.index import (
    FieldMap,
    IndexNotFoundError,
    IngestOptions,
    SentenceTransformerEmbedder,
    ingest,
    load_paths,
    open_index,
)
from newsrag.index.generations import CURRENT

BODY = (
    "Dock workers at the port of Rotterdam returned to work on Wednesday after a nine-day "
    "strike over pay that had left hundreds of containers stranded on the quay.\n\n"
    "The union said members had accepted a 6 percent raise over two years, along with a "
    "one-off payment, in a vote that closed late on Tuesday night."
)

HTML = """<!doctype html>
<html><head>
<title>Port strike ends after nine days | Harbour Times</title>
<meta property="og:site_name" content="Harbour Times">
<meta property="og:title" content="Port strike ends after nine days">
<meta property="article:published_time" content="2023-04-05T08:30:00Z">
<meta name="author" content="Jane Doe">
</head><body>
<nav>Home | World | Business | Subscribe</nav>
<article><h1>Port strike ends after nine days</h1>
<p>Dock workers at the port of Rotterdam returned to work on Wednesday after a nine-day strike
over pay that had left hundreds of containers stranded on the quay.</p>
<p>The union said members had accepted a 6 percent raise over two years, along with a one-off
payment, in a vote that closed late on Tuesday night.</p>
<p>Shipping companies warned that clearing the backlog could take up to two weeks, and that
some deliveries of consumer goods would arrive late.</p>
</article>
<footer>© 2023 Harbour Times. All rights reserved.</footer>
</body></html>
"""

MARKDOWN = """---
id: port-strike-2023
title: "Port strike ends after nine days"
source: Harbour Times
published_at: 2023-04-05
url: https://example.org/port-strike
author: [Jane Doe, Ali Khan]
category: Business
---
Port strike ends after nine days

{body}
"""


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file (text as UTF-8) and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_txt_takes_title_from_a_headline_first_line_and_id_from_the_name(tmp_path: Path) -> None:
    path = write(tmp_path, "port strike.txt", f"Port strike ends after nine days\n\n{BODY}\n")
    result = load_paths([path])
    assert result.failures == []
    (article,) = result.articles
    assert article.id == "port-strike"
    assert article.title == "Port strike ends after nine days"
    assert article.text == BODY  # the headline line is not repeated in the text
    assert article.path == str(path)
    assert (article.source, article.published_at, article.url) == (None, None, None)


def test_txt_without_a_headline_uses_its_first_sentence_line_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "note.txt", BODY)
    (article,) = load_paths([path]).articles
    assert article.text == BODY
    assert article.title  # never empty


def test_markdown_front_matter_gives_the_metadata(tmp_path: Path) -> None:
    path = write(tmp_path, "strike.md", MARKDOWN.format(body=BODY))
    result = load_paths([path])
    assert result.failures == []
    (article,) = result.articles
    assert article.id == "port-strike-2023"
    assert article.title == "Port strike ends after nine days"
    assert article.source == "Harbour Times"
    assert article.published_at == "2023-04-05"  # YAML reads it as a date
    assert article.url == "https://example.org/port-strike"
    assert article.author == "Jane Doe, Ali Khan"
    assert article.category == "Business"
    assert article.text == BODY  # front matter and the duplicated title line are gone


def test_markdown_null_metadata_stays_null(tmp_path: Path) -> None:
    text = "---\ntitle: A title\nsource: null\npublished_at: null\n---\n" + BODY
    (article,) = load_paths([write(tmp_path, "a.md", text)]).articles
    assert (article.source, article.published_at) == (None, None)


def test_html_main_text_and_metadata_come_from_trafilatura(tmp_path: Path) -> None:
    result = load_paths([write(tmp_path, "strike.html", HTML)])
    assert result.failures == []
    (article,) = result.articles
    assert article.id == "strike"
    assert article.title == "Port strike ends after nine days"
    assert article.source == "Harbour Times"
    assert article.published_at == "2023-04-05"
    assert article.author == "Jane Doe"
    assert article.text.startswith("Dock workers at the port of Rotterdam")
    assert "some deliveries of consumer goods would arrive late." in article.text
    for chrome in ("Home | World", "Subscribe", "All rights reserved", "©"):
        assert chrome not in article.text


def test_json_list_and_single_object(tmp_path: Path) -> None:
    records = [
        {
            "id": "a1",
            "title": "First",
            "body": BODY,
            "source": "Wire",
            "published_at": "2024-01-02",
        },
        {"id": "a2", "title": "Second", "text": "Markets rose on Friday. " * 3, "url": "u"},
    ]
    write(tmp_path, "many.json", json.dumps(records))
    write(tmp_path, "one.json", json.dumps({"id": "b1", "headline": "Third", "content": BODY}))
    result = load_paths([tmp_path])
    assert result.failures == []
    by_id = {a.id: a for a in result.articles}
    assert set(by_id) == {"a1", "a2", "b1"}
    assert (by_id["a1"].source, by_id["a1"].published_at) == ("Wire", "2024-01-02")
    assert by_id["a2"].url == "u"
    assert by_id["b1"].title == "Third"
    assert by_id["b1"].text == BODY


def test_jsonl_with_configured_field_names(tmp_path: Path) -> None:
    lines = [
        {"guid": "x-1", "headline": "Port strike ends", "story": BODY, "outlet": "Harbour Times",
         "pubDate": "2023-04-05T08:30:00Z", "writer": "Jane Doe", "desk": "Business"},
        {"guid": "x-2", "headline": "Rates rise", "story": "The central bank raised rates.",
         "outlet": "Wire", "pubDate": "2023-05-01"},
    ]  # fmt: skip
    path = write(tmp_path, "feed.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    fields = FieldMap(
        id=("guid",),
        title=("headline",),
        body=("story",),
        source=("outlet",),
        published_at=("pubDate",),
        author=("writer",),
        category=("desk",),
    )
    result = load_paths([path], fields)
    assert result.failures == []
    first, second = result.articles
    assert (first.id, first.title, first.source) == ("x-1", "Port strike ends", "Harbour Times")
    assert (first.published_at, first.author, first.category) == (
        "2023-04-05",
        "Jane Doe",
        "Business",
    )
    assert first.text == BODY
    assert (second.id, second.published_at) == ("x-2", "2023-05-01")
    # With the default names the same records have no text field, and say so.
    default = load_paths([path])
    assert default.articles == []
    assert [f.path for f in default.failures] == [f"{path}:1", f"{path}:2"]
    assert all("no text field" in f.reason for f in default.failures)


def test_a_folder_may_mix_every_format(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"Port strike ends\n\n{BODY}")
    write(tmp_path, "b.md", MARKDOWN.format(body=BODY))
    write(tmp_path, "nested/deeper/c.html", HTML)
    write(tmp_path, "d.json", json.dumps([{"id": "d1", "title": "D", "body": BODY}]))
    write(tmp_path, "e.jsonl", json.dumps({"id": "e1", "title": "E", "text": BODY}) + "\n")
    write(tmp_path, "f.markdown", f"# not front matter\n\n{BODY}")
    write(tmp_path, "g.htm", HTML)
    write(tmp_path, ".hidden/ignored.txt", BODY)
    write(tmp_path, ".ignored.md", BODY)
    result = load_paths([tmp_path])
    assert result.failures == [] and result.skipped == []
    assert sorted(a.id for a in result.articles) == sorted(
        ["a", "port-strike-2023", "c", "d1", "e1", "f", "g"]
    )


def test_unknown_extensions_are_skipped_with_a_warning_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "good.txt", BODY)
    pdf = write(tmp_path, "scan.pdf", b"%PDF-1.7 binary")
    csv = write(tmp_path, "table.csv", "a,b\n1,2\n")
    with caplog.at_level(logging.WARNING, logger="newsrag.index.loaders"):
        result = load_paths([tmp_path])
    assert [a.id for a in result.articles] == ["good"]
    assert result.failures == []
    assert {s.path for s in result.skipped} == {str(pdf), str(csv)}
    assert all("unsupported extension" in s.reason for s in result.skipped)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert str(pdf) in logged and str(csv) in logged


def _broken_symlink(folder: Path) -> Path:
    link = folder / "moved-away.txt"
    link.symlink_to(folder / "no-such-target.txt")
    return link


def _symlink_loop(folder: Path) -> Path:
    link = folder / "loop.md"
    link.symlink_to(link)
    return link


# name, content (or a function making the file), expected reason; every case below is a
# file that exists in the folder listing but cannot become an article.
LATIN1 = "Caf\u00e9 owners said prices rose.".encode("latin-1")
NO_TEXT_HTML = b"<html><head><title>T</title></head><body><script>x=1</script></body></html>"
NAV_ONLY_HTML = (
    b"<html><head><title>Example News</title></head><body><nav><a href='/'>Home</a> "
    b"<a href='/world'>World</a> <a href='/tech'>Technology</a></nav>"
    b"<div class='menu'>Subscribe | Sign in | Newsletter</div></body></html>"
)
BOILERPLATE_ONLY = b"---\ntitle: T\n---\nPlease enter your comment!\nPlease enter your name here\n"
BAD_FILES = [
    ("empty.txt", b"", r"^empty file$"),
    ("blank.md", b"  \n\t\n", r"^empty file$"),
    ("latin1.txt", LATIN1, r"^not UTF-8 text \(bad byte at offset 3\)$"),
    ("broken.json", b'[{"id": "x", "body": "text"', r"^malformed JSON: "),
    ("bad-yaml.md", b"---\ntitle: [unclosed\n---\nSome text.\n", r"^malformed YAML front matter: "),
    ("list-yaml.md", b"---\n- a\n- b\n---\nSome text.\n", r"^front matter is not a mapping"),
    ("alias-yaml.md", b"---\na: &x [1]\ntitle: *x\n---\nSome text.\n", r"^aliases \(\*name\)"),
    # Under libyaml's own limit (1,000 levels) but over the loader's: refused from the events.
    ("deep-yaml.md", b"---\ntitle: " + b"[" * 40 + b"]" * 40 + b"\n---\nText.\n", r"too deeply$"),
    ("deeper-yaml.md", b"---\nt: " + b"[" * 2000 + b"]" * 2000 + b"\n---\nText.\n", r"too deeply$"),
    ("empty-list.json", b"[]", r"^no article records$"),
    ("no-text.html", NO_TEXT_HTML, r"^no article text found in HTML$"),
    ("nav-only.html", NAV_ONLY_HTML, r"^no article text found in HTML \(only navigation"),
    ("boilerplate.md", BOILERPLATE_ONLY, r"^no article text left after cleaning$"),
    ("moved-away.txt", _broken_symlink, r"^unreadable: No such file or directory$"),
    ("loop.md", _symlink_loop, r"^unreadable: Too many levels of symbolic links$"),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_reported_by_name_and_reason_and_the_rest_loads(
    tmp_path: Path, name: str, content: object, reason: str
) -> None:
    good = write(tmp_path, "good.txt", f"Port strike ends\n\n{BODY}")
    bad = content(tmp_path) if callable(content) else write(tmp_path, name, content)  # type: ignore[arg-type]
    result = load_paths([tmp_path])
    assert [a.path for a in result.articles] == [str(good)]
    assert [f.path for f in result.failures] == [str(bad)]
    assert re.search(reason, result.failures[0].reason), result.failures[0].reason


def test_unreadable_file_given_directly_is_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root reads a mode-000 file; a dangling link is unreadable for all
        path = _broken_symlink(tmp_path)
    else:
        path = write(tmp_path, "secret.txt", BODY)
        path.chmod(0)
    result = load_paths([path])
    assert result.articles == []
    assert [f.path for f in result.failures] == [str(path)]
    assert result.failures[0].reason.startswith("unreadable: ")


def test_bad_records_are_reported_with_their_line_and_good_ones_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "feed.jsonl",
        json.dumps({"id": "ok-1", "text": BODY})
        + "\n{not json\n"
        + json.dumps(["a", "list"])
        + "\n"
        + json.dumps({"id": "no-body", "title": "T"})
        + "\n"
        + json.dumps({"id": "ok-2", "body": BODY})
        + "\n",
    )
    result = load_paths([path])
    assert [a.id for a in result.articles] == ["ok-1", "ok-2"]
    reasons = {f.path: f.reason for f in result.failures}
    assert set(reasons) == {f"{path}:2", f"{path}:3", f"{path}:4"}
    assert reasons[f"{path}:2"].startswith("malformed JSON line")
    assert reasons[f"{path}:3"] == "record is not a JSON object"
    assert reasons[f"{path}:4"].startswith("record has no text field")


def test_duplicate_ids_are_reported_and_the_first_wins(tmp_path: Path) -> None:
    write(tmp_path, "a.md", f"---\nid: same\ntitle: A\n---\n{BODY}")
    second = write(tmp_path, "b.md", "---\nid: same\ntitle: B\n---\nOther text entirely.")
    result = load_paths([tmp_path])
    assert [a.title for a in result.articles] == ["A"]
    assert [f.path for f in result.failures] == [str(second)]
    assert "duplicate article id 'same'" in result.failures[0].reason


def test_unparseable_dates_become_null_not_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", f"---\ntitle: A\npublished_at: last Tuesday\n---\n{BODY}")
    (article,) = load_paths([path]).articles
    assert article.published_at is None


def _bad_folder(folder: Path) -> Path:
    write(folder, "empty.txt", b"")
    write(folder, "latin1.txt", "Caf\u00e9".encode("latin-1"))
    write(folder, "broken.json", b"{")
    write(folder, "broken-front.md", b"---\ntitle: [x\n---\nbody\n")
    _broken_symlink(folder)
    return folder


def test_ingest_lands_good_files_and_reports_bad_ones(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    folder = _bad_folder(tmp_path / "in")
    write(folder, "good.txt", f"Port strike ends\n\n{BODY}")
    write(folder, "other.md", MARKDOWN.format(body=BODY))
    report = ingest([folder], tmp_path / "index", embedder)
    assert sorted(report.added) == ["good", "port-strike-2023"]
    assert sorted(Path(f.path).name for f in report.failed) == [
        "broken-front.md",
        "broken.json",
        "empty.txt",
        "latin1.txt",
        "moved-away.txt",
    ]
    store = open_index(tmp_path / "index", embedder)
    assert set(store.articles) == {"good", "port-strike-2023"}


def snapshot(index_dir: Path) -> dict[str, bytes]:
    """Every file of an index directory and its bytes."""
    return {
        str(p.relative_to(index_dir)): p.read_bytes() for p in index_dir.rglob("*") if p.is_file()
    }


def test_all_bad_inputs_leave_an_existing_index_untouched(
    tmp_path: Path, writable_index_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    before = snapshot(writable_index_dir)
    folder = _bad_folder(tmp_path / "in")
    for prune in (False, True):
        report = ingest([folder], writable_index_dir, embedder, IngestOptions(prune=prune))
        assert len(report.failed) == 5
        assert not report.changed and report.chunks_embedded == 0
    # Even with --prune: inputs that all failed are no reason to empty the index.
    assert snapshot(writable_index_dir) == before


def test_prune_keeps_articles_whose_file_now_fails_to_load(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    folder = tmp_path / "in"
    write(folder, "a.txt", f"Port strike ends\n\n{BODY}")
    kept = write(folder, "b.txt", "Rates rise\n\nThe central bank raised rates on Thursday.")
    ingest([folder], tmp_path / "index", embedder)
    kept.write_bytes(b"\xff\xfe not utf-8")
    report = ingest([folder], tmp_path / "index", embedder, IngestOptions(prune=True))
    assert report.removed == [] and [f.path for f in report.failed] == [str(kept)]
    assert set(open_index(tmp_path / "index", embedder).articles) == {"a", "b"}


def test_all_bad_inputs_never_create_an_index(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index_dir = tmp_path / "index"
    report = ingest([_bad_folder(tmp_path / "in")], index_dir, embedder)
    assert len(report.failed) == 5 and report.generation is None
    assert not (index_dir / CURRENT).exists()
    with pytest.raises(IndexNotFoundError):
        open_index(index_dir, embedder)
