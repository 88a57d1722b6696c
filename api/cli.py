"""`rag serve`: run the HTTP service with uvicorn (registered via the rag.commands entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # `rag --help` loads this module: pydantic is imported where it is used
    from newsrag.rag.settings import Settings


def register(app: typer.Typer) -> None:
    """Add the `serve` command to the `rag` CLI."""

    @app.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
        index_dir: Annotated[
            Path | None,
            typer.Option("--index-dir", help="Index directory (default: RAG_INDEX_DIR)."),
        ] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
        threads: Annotated[
            int,
            typer.Option(
                "--threads",
                "--torch-threads",
                help="Intra-op threads of the embedder (torch, ONNX Runtime) and FAISS per "
                "request; 1 (default) because requests already run in parallel, and a query "
                "gains little from more while extra threads contend for a small shared CPU; "
                "0 = the libraries' defaults.",
            ),
        ] = 1,
        watch: Annotated[
            list[Path] | None,
            typer.Option(
                "--watch",
                help="Keep the index fresh from this folder while serving (new, changed and"
                " removed files are applied within seconds); repeat for more.",
            ),
        ] = None,
    ) -> None:
        """Serve the JSON, streaming and OpenAI-compatible API and the web page."""
        import faiss
        import uvicorn

        from newsrag.api.app import create_app
        from newsrag.rag.cli_common import fail, note, settings_from
        from newsrag.rag.components import load_embedder

        settings = settings_from(index_dir, host=host, port=port)
        folders = list(watch or [])
        bad = [str(p) for p in folders if not p.is_dir()]
        if bad:
            raise fail(f"--watch needs a folder: {', '.join(bad)}")
        if threads > 0:
            faiss.omp_set_num_threads(threads)
        watching = f", watching {', '.join(map(str, folders))}" if folders else ""
        typer.echo(
            f"serving on http://{settings.host}:{settings.port}  (index: {settings.index_dir}"
            f"{watching})"
        )
        embedder = load_embedder(settings, threads=threads or None, progress=note)
        if threads > 0 and embedder.backend == "torch":  # torch only loads for that backend
            import torch

            torch.set_num_threads(threads)
        uvicorn.run(
            create_app(settings, embedder=embedder, watch=folders),
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            **proxy_options(settings),
        )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy settings: X-Forwarded-* believed only from RAG_TRUSTED_PROXIES.

    uvicorn on its own trusts them from 127.0.0.1, so any local process (or a client behind
    a proxy that passes the header through) could pick its own address and walk around the
    per-client rate limit; with no trusted proxy the headers are ignored altogether.
    """
    trusted = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(trusted)}
