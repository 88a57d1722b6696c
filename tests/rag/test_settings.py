"""rag.settings: RAG_* environment names, defaults, validation, masking and derived options."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from newsrag.rag.settings import Settings


def test_defaults_without_environment(env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.index_dir == Path(".rag/index")
    assert settings.corpus_dir == Path("corpus")
    assert (settings.embed_model, settings.embed_backend) == ("all-MiniLM-L6-v2", "onnx-int8")
    assert settings.faiss_kind is None and settings.k == 8
    assert settings.vector_cache_dir == Path.home() / ".cache" / "newsrag" / "vectors"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.llm_base_url is None and settings.llm_api_key is None
    assert not settings.llm_configured
    assert settings.api_key is None and settings.cors_origins == []
    assert settings.chat_sources_block and not settings.accept_any_model
    assert not settings.docs_public


def test_every_field_reads_its_rag_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("RAG_INDEX_DIR", "/srv/idx")
    env.setenv("RAG_K", "12")
    env.setenv("RAG_PORT", "9001")
    env.setenv("RAG_LLM_TEMPERATURE", "0.5")
    env.setenv("RAG_CORS_ORIGINS", '["http://localhost:3000"]')
    env.setenv("RAG_FEED_FETCH_PAGES", "false")
    env.setenv("RAG_LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    settings = Settings()
    assert settings.index_dir == Path("/srv/idx") and settings.k == 12 and settings.port == 9001
    assert settings.llm_temperature == 0.5
    assert settings.cors_origins == ["http://localhost:3000"]
    assert settings.feed_fetch_pages is False
    assert settings.llm_configured


def test_unknown_rag_variables_are_ignored(env: pytest.MonkeyPatch) -> None:
    env.setenv("RAG_NO_SUCH_KNOB", "1")
    assert not hasattr(Settings(), "no_such_knob")


def test_keyword_values_beat_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("RAG_K", "12")
    env.setenv("RAG_INDEX_DIR", "/srv/idx")
    settings = Settings(k=3, index_dir=Path("here"))
    assert settings.k == 3 and settings.index_dir == Path("here")


def test_the_llm_key_comes_from_rag_llm_api_key_or_openai_api_key(env: pytest.MonkeyPatch) -> None:
    env.setenv("OPENAI_API_KEY", "from-openai")
    key = Settings().llm_api_key
    assert key is not None and key.get_secret_value() == "from-openai"
    env.setenv("RAG_LLM_API_KEY", "from-rag")
    key = Settings().llm_api_key
    assert key is not None and key.get_secret_value() == "from-rag"  # ours wins
    key = Settings(llm_api_key="given").llm_api_key  # by field name too
    assert key is not None and key.get_secret_value() == "given"


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_vector_cache_dir_turns_the_cache_off(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("RAG_VECTOR_CACHE_DIR", value)
    assert Settings().vector_cache_dir is None
    env.setenv("RAG_VECTOR_CACHE_DIR", "/tmp/vectors")
    assert Settings().vector_cache_dir == Path("/tmp/vectors")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("RAG_K", "0", "greater than or equal to 1"),
        ("RAG_K", "101", "less than or equal to 100"),
        ("RAG_K", "eight", "valid integer"),
        ("RAG_PORT", "70000", "less than or equal to 65535"),
        ("RAG_LLM_TIMEOUT_S", "0", "greater than 0"),
        ("RAG_LLM_TEMPERATURE", "3", "less than or equal to 2"),
        ("RAG_MAX_BODY_BYTES", "10", "greater than or equal to 1024"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(
    env: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    (error,) = info.value.errors()
    assert error["loc"] == (name.removeprefix("RAG_").lower(),)
    assert words in str(info.value)


def test_a_list_that_is_not_json_is_refused_naming_the_field(env: pytest.MonkeyPatch) -> None:
    env.setenv("RAG_CORS_ORIGINS", "http://a")
    with pytest.raises(SettingsError, match='field "cors_origins"'):
        Settings()


def test_masked_hides_secrets_and_shows_paths_as_text(env: pytest.MonkeyPatch) -> None:
    settings = Settings(api_key=SecretStr("s3cret"), llm_api_key=SecretStr(""))
    values = settings.masked()
    assert values["api_key"] == "********" and values["llm_api_key"] is None
    assert values["index_dir"] == ".rag/index" and values["k"] == 8
    assert "s3cret" not in repr(values)
    assert set(values) == set(Settings.model_fields)


def test_every_field_is_described() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def test_derived_options_carry_their_fields(env: pytest.MonkeyPatch) -> None:
    settings = Settings(
        watch_debounce_ms=50,
        watch_settle_ms=0,
        feed_timeout_s=2.5,
        feed_max_bytes=4096,
        feed_host_interval_s=0.0,
        feed_fetch_pages=False,
        max_article_bytes=1000,
        max_title_chars=40,
    )
    watch = settings.watch_options()
    assert (watch.debounce_ms, watch.settle_ms) == (50, 0)
    feeds = settings.feed_options()
    assert feeds.fetch_pages is False
    assert (feeds.fetch.timeout_s, feeds.fetch.max_bytes, feeds.fetch.host_interval_s) == (
        2.5,
        4096,
        0.0,
    )
    limits = settings.load_limits()
    assert (limits.max_article_bytes, limits.max_title_chars) == (1000, 40)
