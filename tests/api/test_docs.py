"""/docs and /redoc offline (assets from the fastapi-offline package, nothing leaves
127.0.0.1, shown in Debian chromium), and the API pages behind RAG_API_KEY."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from newsrag.index import Embedder
from tests.api.conftest import ServerFactory, api_settings
from tests.api.test_web_browser import ARTIFACTS, PageWatch, browser, serve

__all__ = ["browser"]  # the module's chromium fixture, shared with the page tests' setup
KEY = "docs-test-key"
METHODS = {"get", "post", "put", "patch", "delete"}


def operation_count(schema: dict[str, dict[str, object]]) -> int:
    """Operations an OpenAPI schema documents."""
    return sum(1 for item in schema["paths"].values() for m in item if m in METHODS)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def docs_url(corpus_index_dir: Path, embedder: Embedder) -> Iterator[str]:
    with serve(corpus_index_dir, embedder) as url:
        yield url


@pytest.mark.browser
def test_swagger_ui_renders_every_operation_offline(browser: Browser, docs_url: str) -> None:
    operations = operation_count(httpx.get(docs_url + "/openapi.json", timeout=30).json())
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        watch = PageWatch(page)
        page.goto(docs_url + "/docs")
        page.locator(".opblock").nth(operations - 1).wait_for(timeout=30_000)
        assert page.locator(".opblock").count() == operations
        assert page.locator(".opblock-summary-path", has_text="/v1/chat/completions").count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "docs-swagger.png"))
        watch.assert_clean()  # no request outside 127.0.0.1, no CSP report, no script error
        assert any("/docs-static/swagger-ui-bundle.js" in url for url in watch.requests)
    finally:
        page.context.close()


@pytest.mark.browser
def test_redoc_renders_every_operation_offline(browser: Browser, docs_url: str) -> None:
    operations = operation_count(httpx.get(docs_url + "/openapi.json", timeout=30).json())
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        watch = PageWatch(page)
        page.goto(docs_url + "/redoc")
        sections = page.locator("[data-section-id^='operation/']")
        sections.nth(operations - 1).wait_for(state="attached", timeout=30_000)
        assert sections.count() == operations
        watch.assert_clean()
        assert any("/docs-static/redoc.standalone.js" in url for url in watch.requests)
    finally:
        page.context.close()


@pytest.mark.browser
def test_with_a_key_the_browser_answers_the_challenge_and_shows_the_docs(
    browser: Browser, corpus_index_dir: Path, embedder: Embedder
) -> None:
    with serve(corpus_index_dir, embedder, api_key=KEY) as url:
        context = browser.new_context(http_credentials={"username": "me", "password": KEY})
        page = context.new_page()
        try:
            watch = PageWatch(page)
            page.goto(url + "/docs")
            page.locator(".opblock").first.wait_for(timeout=30_000)
            watch.assert_clean()
        finally:
            context.close()


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"anyone:{password}".encode()).decode()


def test_api_pages_need_the_key_when_one_is_set(
    start_server: ServerFactory, corpus_index_dir: Path
) -> None:
    server = start_server(api_settings(corpus_index_dir, api_key=KEY))
    for path in ("/openapi.json", "/docs", "/redoc"):
        refused = server.client.get(path)
        assert refused.status_code == 401, path
        assert refused.json()["error"]["code"] == "invalid_api_key"
        assert refused.headers["www-authenticate"].startswith("Basic ")  # the browser asks
        for wrong in ("Bearer nope", basic("nope"), "Basic !!!", f"Token {KEY}"):
            assert server.client.get(path, headers={"Authorization": wrong}).status_code == 401
        for right in (f"Bearer {KEY}", basic(KEY)):
            assert server.client.get(path, headers={"Authorization": right}).status_code == 200
    # The page's library files hold no data and stay open.
    assert server.client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
    assert server.client.get("/docs-static/../app.py").status_code == 404
    assert server.client.get("/docs-static/core.py").status_code == 404


def test_a_setting_opens_the_api_pages(start_server: ServerFactory, corpus_index_dir: Path) -> None:
    server = start_server(api_settings(corpus_index_dir, api_key=KEY, docs_public=True))
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert server.client.get(path).status_code == 200, path
    assert server.client.get("/v1/models").status_code == 401  # the API itself stays closed


def test_pages_load_only_local_assets(start_server: ServerFactory, corpus_index_dir: Path) -> None:
    server = start_server(api_settings(corpus_index_dir))
    for path in ("/docs", "/redoc"):
        page = server.client.get(path)
        assert page.status_code == 200
        assert "http://" not in page.text and "https://" not in page.text, path
        assert "default-src 'self'" in page.headers["content-security-policy"]
