"""HTTP service: FastAPI app, streaming, OpenAI-compatible endpoint, web page."""

__all__: list[str] = []
