"""The web page's router and assets, without a browser: headers, whitelist, and safe-DOM guards."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsrag.api.web import ASSET_TYPES, STATIC_DIR, router

SCRIPTS = sorted(STATIC_DIR.glob("*.js"))


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def csp_directives(header: str) -> dict[str, str]:
    """{'default-src': "'self'", ...} from a Content-Security-Policy header."""
    pairs = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}


def test_page_is_served_with_a_strict_csp(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert csp["style-src"] == "'self'"
    assert csp["img-src"] == "'self' data:"
    assert csp["connect-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_every_asset_is_served_with_its_type_and_headers(client: TestClient) -> None:
    for name, media_type in ASSET_TYPES.items():
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == media_type
        assert "content-security-policy" in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"


def test_only_listed_assets_are_served(client: TestClient) -> None:
    for path in ["/static/index.html.bak", "/static/web.py", "/static/..%2Fweb.py", "/static/"]:
        assert client.get(path).status_code == 404, path
    listed = set(ASSET_TYPES) | {"index.html"}
    shipped = {p.name for p in STATIC_DIR.iterdir() if p.is_file()}
    assert shipped == listed  # nothing shipped that the page cannot load, nothing listed missing


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("src", "href", "action") and v]
        if tag == "script" and "src" not in values:
            self.inline_scripts += 1
        if tag == "style" or "style" in values or any(k.startswith("on") for k in values):
            self.inline_styles += 1


def test_page_loads_only_its_own_files() -> None:
    refs = _Refs()
    refs.feed((STATIC_DIR / "index.html").read_text("utf-8"))
    assert refs.refs, "the page references its assets"
    for ref in refs.refs:
        assert ref.startswith(("/static/", "#")), ref
    assert refs.inline_scripts == 0  # the CSP would block them anyway
    assert refs.inline_styles == 0  # inline styles and on* handlers likewise


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: Path(p).name)
def test_scripts_never_parse_data_as_html(script: Path) -> None:
    source = script.read_text("utf-8")
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "DOMParser",
        "createContextualFragment",
        "srcdoc",
    ]:
        assert sink not in source, f"{script.name} uses {sink}"
    # Only relative API paths: the page never talks to another origin.
    assert not re.search(r"""["'`]https?://""", source), script.name


def test_stylesheet_loads_nothing_remote() -> None:
    css = (STATIC_DIR / "style.css").read_text("utf-8")
    assert "@import" not in css
    assert "url(" not in css
