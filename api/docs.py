"""The API pages, offline: /openapi.json, Swagger UI at /docs and ReDoc at /redoc.

FastAPI's own pages load Swagger UI, ReDoc and a favicon from CDNs, so they are blank on a
machine without internet (issue 16). Here the pages load the assets that the fastapi-offline
package ships (Swagger UI 5 and ReDoc 2 bundles, MIT, their licence banners kept in the files)
from /docs-static/, and a Content-Security-Policy keeps every request on this origin.

With RAG_API_KEY set the three routes need the key too (the schema maps the whole API) unless
RAG_DOCS_PUBLIC=true: `Authorization: Bearer <key>`, or, since a browser cannot send a bearer
header when it opens a page, HTTP Basic with the key as the password (any user name): the 401
asks the browser for it. The assets themselves are public library files and stay open.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from newsrag.api.deps import SettingsDep
from newsrag.api.errors import ApiError

ASSET_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSET_PREFIX = "/docs-static"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# FastAPI's page templates start the UIs with an inline script; ReDoc runs its search in a
# worker built from a blob. Nothing may be fetched from another origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
TITLE = "newsrag API"
# The one remote load in the ReDoc bundle: the "API docs by Redocly" logo. An empty data: URL
# fails to decode, and the bundle's own onError then drops the image: no request at all.
REDOC_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'


async def require_docs_key(request: Request, settings: SettingsDep) -> None:
    """401 unless the docs are open (no key, or RAG_DOCS_PUBLIC) or the request carries the key."""
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    if not key or settings.docs_public:
        return
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    given = value.strip()
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(given, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    elif scheme.lower() != "bearer":
        given = ""
    if not secrets.compare_digest(given.encode(), key.encode()):
        raise ApiError(
            401,
            "the API pages need the API key: Authorization: Bearer <key>, or in a browser the "
            "key as the password (RAG_DOCS_PUBLIC=true opens them)",
            code="invalid_api_key",
            headers={"WWW-Authenticate": 'Basic realm="newsrag API docs", charset="UTF-8"'},
        )


DocsKey = Depends(require_docs_key)
router = APIRouter(include_in_schema=False)


@router.get("/openapi.json", dependencies=[DocsKey])
async def openapi_schema(request: Request) -> JSONResponse:
    """The OpenAPI schema of the service."""
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=[DocsKey])
async def swagger_page(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json, from local assets."""
    return _offline_page(
        request,
        partial(
            get_swagger_ui_html,
            oauth2_redirect_url=None,
            # validatorUrl: Swagger UI would ask a public validator for a badge; none here.
            swagger_ui_parameters={"validatorUrl": None},
        ),
        "Swagger UI",
        swagger_js_url="swagger-ui-bundle.js",
        swagger_css_url="swagger-ui.css",
        swagger_favicon_url="favicon.png",
    )


@router.get("/redoc", dependencies=[DocsKey])
async def redoc_page(request: Request) -> HTMLResponse:
    """ReDoc over /openapi.json, from local assets, without Google fonts."""
    return _offline_page(
        request,
        partial(get_redoc_html, with_google_fonts=False),
        "ReDoc",
        redoc_js_url="redoc.standalone.js",
        redoc_favicon_url="favicon.png",
    )


def _offline_page(
    request: Request, render: Callable[..., HTMLResponse], name: str, **assets: str
) -> HTMLResponse:
    """One API page: `render` (FastAPI's page template) over this app's schema and local assets.

    `assets` maps the template's URL arguments to file names under ASSET_PREFIX; the schema and
    the assets are found under the app's root path (behind a proxy prefix). The page carries the
    headers that keep it on this origin (PAGE_HEADERS).
    """
    root: str = request.scope.get("root_path", "").rstrip("/")
    urls = {arg: f"{root}{ASSET_PREFIX}/{file}" for arg, file in assets.items()}
    page = render(openapi_url=f"{root}/openapi.json", title=f"{TITLE} - {name}", **urls)
    page.headers.update(PAGE_HEADERS)
    return page


@router.get(ASSET_PREFIX + "/{name}")
async def docs_asset(name: str) -> Response:
    """One of the pages' script, style or icon files."""
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail="not found")
    headers = {"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"}
    if name == "redoc.standalone.js":
        return Response(_redoc_bundle(), media_type=media_type, headers=headers)
    return FileResponse(ASSET_DIR / name, media_type=media_type, headers=headers)


@cache
def _redoc_bundle() -> bytes:
    return (ASSET_DIR / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b'"data:,"')
