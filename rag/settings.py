"""Settings: one pydantic-settings class, env prefix RAG_, built in entry points and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:  # loaders (yaml, the cleaning patterns) load only for ingest: issue 13
    from newsrag.index.loaders import LoadLimits

if TYPE_CHECKING:
    from newsrag.index.feeds import FeedOptions
    from newsrag.index.watch import WatchOptions


class Settings(BaseSettings):
    """Every knob of the service; environment variables are RAG_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", populate_by_name=True)

    index_dir: Path = Field(Path(".rag/index"), description="Where the index lives.")
    corpus_dir: Path = Field(Path("corpus"), description="What `make run` ingests.")
    embed_model: str = Field(
        "all-MiniLM-L6-v2", description="Embedding model name or local path (default: bundled)."
    )
    embed_backend: str = Field(
        "onnx-int8",
        description="Embedding runtime: onnx-int8 (default, ~2.8x torch; torch if it cannot"
        " load), onnx, openvino or torch.",
    )
    faiss_kind: str | None = Field(
        None,
        description="FAISS index: flat (exact), hnsw, ivf-sq8, ivf-pq; unset keeps the index's"
        " kind (flat for a new index).",
    )
    k: int = Field(8, ge=1, le=100, description="Passages retrieved per question.")
    vector_cache_dir: Path | None = Field(
        default_factory=lambda: Path.home() / ".cache" / "newsrag" / "vectors",
        description="Where `rag ask`/`rag chat` keep word and sentence vectors across runs"
        " (sqlite, one file per embedder); empty turns the on-disk cache off.",
    )

    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint; unset means extractive mode."
    )
    llm_model: str | None = Field(None, description="Model name at the endpoint.")
    llm_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("RAG_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="API key for the endpoint (RAG_LLM_API_KEY or OPENAI_API_KEY).",
    )
    llm_timeout_s: float = Field(20.0, gt=0, description="Timeout of one LLM request.")
    llm_max_retries: int = Field(2, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
    llm_deadline_s: float = Field(45.0, gt=0, description="Overall deadline of one answer.")
    llm_max_context_tokens: int = Field(3000, ge=256, description="Token budget for passages.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")

    max_article_bytes: int = Field(
        5_000_000,
        ge=1,
        description="Largest article accepted: a bigger file, or a JSON record with more text,"
        " fails alone (.json/.jsonl files may hold 20x this).",
    )
    max_title_chars: int = Field(500, ge=1, description="Longer titles are cut at a word.")

    host: str = Field("127.0.0.1", description="HTTP bind address.")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port.")
    api_key: SecretStr | None = Field(
        None, description="When set, the HTTP API requires `Authorization: Bearer <key>`."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (off when empty)."
    )
    rate_limit_per_minute: int = Field(120, ge=0, description="Requests per client a minute.")
    max_body_bytes: int = Field(10_000_000, ge=1024, description="Largest request body.")
    max_question_chars: int = Field(2000, ge=16, description="Longest question accepted.")
    max_conversation_messages: int = Field(50, ge=1, description="Longest conversation accepted.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses (or CIDR ranges) of reverse proxies whose"
        " X-Forwarded-For/-Proto are believed; none by default: the peer address is the client.",
    )
    # OpenAI-compatible endpoint and API pages (issue 16).
    chat_sources_block: bool = Field(
        True,
        description="End chat completion content with a Sources block (off for clients that"
        " render `citations` themselves; a request's `sources_block` overrides).",
    )
    accept_any_model: bool = Field(
        False,
        description="Answer chat completions for any model name (for clients that send a fixed"
        " one); otherwise an unknown name is OpenAI's 404 model_not_found.",
    )
    docs_public: bool = Field(
        False,
        description="Serve /docs, /redoc and /openapi.json without the API key when"
        " RAG_API_KEY is set.",
    )

    # Folder watch and news feeds (issue 17).
    watch_debounce_ms: int = Field(
        500,
        ge=1,
        description="`rag watch`/`serve --watch`: changes within this window are one batch.",
    )
    watch_settle_ms: int = Field(
        300,
        ge=0,
        description="A file must keep its size and mtime this long before it is read (a file"
        " still being written is retried).",
    )
    feed_every_s: float = Field(
        600.0, ge=1, description="`rag watch --feed`: seconds between polls of each feed."
    )
    feed_timeout_s: float = Field(
        10.0, gt=0, description="Connect/read timeout of one feed or page fetch, seconds."
    )
    feed_max_bytes: int = Field(
        10_000_000,
        ge=1024,
        description="Largest feed accepted (linked pages: RAG_MAX_ARTICLE_BYTES).",
    )
    feed_host_interval_s: float = Field(
        1.0, ge=0, description="Least time between two requests to one host (per-host rate limit)."
    )
    feed_fetch_pages: bool = Field(
        True, description="Read the linked page when a feed entry holds only a teaser."
    )

    def watch_options(self) -> WatchOptions:
        """How `rag watch` and `rag serve --watch` batch changes (index.watch.WatchOptions)."""
        from newsrag.index.watch import WatchOptions

        return WatchOptions(debounce_ms=self.watch_debounce_ms, settle_ms=self.watch_settle_ms)

    def feed_options(self) -> FeedOptions:
        """How feeds are fetched and read (index.feeds.FeedOptions)."""
        from newsrag.index.feeds import FeedOptions
        from newsrag.index.fetching import FetchLimits

        limits = FetchLimits(self.feed_timeout_s, self.feed_max_bytes, self.feed_host_interval_s)
        return FeedOptions(fetch=limits, fetch_pages=self.feed_fetch_pages)

    def load_limits(self) -> LoadLimits:
        """The per-file limits of ingest (index.loaders.LoadLimits)."""
        from newsrag.index.loaders import LoadLimits

        return LoadLimits(self.max_article_bytes, self.max_title_chars)

    @field_validator("vector_cache_dir", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def llm_configured(self) -> bool:
        """Whether an LLM endpoint is set (otherwise answers are extractive)."""
        return bool(self.llm_base_url)

    def masked(self) -> dict[str, object]:
        """Effective values for display, secrets masked."""
        values: dict[str, object] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else None
            values[name] = str(value) if isinstance(value, Path) else value
        return values
