"""The web chat page: GET / and its static assets, sent with a strict Content-Security-Policy.

The page is plain HTML/CSS/JS in api/static (no build step, no CDN) and talks to the /v1 API
with fetch. Everything it shows from articles and answers is built with textContent, and the
CSP below forbids inline script, remote loads and framing, so injected markup stays inert.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'none'",
        "object-src 'none'",
        "frame-src 'none'",
        "worker-src 'none'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

# Only these files are served, each with an explicit type: no directory listing, no traversal.
ASSET_TYPES = {
    "api.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "documents.js": "text/javascript; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "sse.js": "text/javascript; charset=utf-8",
    "viewer.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

router = APIRouter(include_in_schema=False)


def _file(path: Path, media_type: str, cache: str) -> FileResponse:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache}
    return FileResponse(path, media_type=media_type, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
def index_page() -> FileResponse:
    """The chat page."""
    return _file(STATIC_DIR / "index.html", "text/html; charset=utf-8", "no-cache")


@router.get("/static/{name}")
def static_asset(name: str) -> FileResponse:
    """One of the page's own scripts, styles or icons."""
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail="not found")
    return _file(STATIC_DIR / name, media_type, "no-cache")


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The icon browsers ask for on their own."""
    return _file(STATIC_DIR / "favicon.svg", "image/svg+xml", "max-age=86400")
