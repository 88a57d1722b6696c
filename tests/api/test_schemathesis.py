"""Property-based fuzzing of the whole API from its own /openapi.json (schemathesis):
hundreds of generated valid and invalid requests against a real uvicorn, 0 server errors."""

from __future__ import annotations

import time
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.api.conftest import ServerFactory, api_settings

EXAMPLES = 300
BUDGET_S = 60.0


def test_generated_requests_never_get_a_server_error(
    start_server: ServerFactory, writable_index_dir: Path
) -> None:
    server = start_server(api_settings(writable_index_dir, max_body_bytes=200_000))
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", timeout=10)
    cases = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE)
    )
    seen: dict[str, int] = {}
    failures: list[str] = []
    started = time.monotonic()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def one_request(case: schemathesis.Case) -> None:
        if time.monotonic() - started > BUDGET_S:
            return
        response = case.call(base_url=server.url, timeout=30)
        key = f"{case.method} {case.path} {response.status_code}"
        seen[key] = seen.get(key, 0) + 1
        if response.status_code >= 500:
            failures.append(f"{key}: {case.as_curl_command()} -> {response.text[:200]}")
        if case.path.startswith("/v1/") and response.status_code >= 400:
            assert "error" in response.json(), key

    one_request()
    assert not failures, "\n".join(failures[:10])
    operations = {key.rsplit(" ", 1)[0] for key in seen}
    assert len(operations) >= 8, seen  # every operation was exercised, not just one
    assert sum(seen.values()) >= 150, seen
