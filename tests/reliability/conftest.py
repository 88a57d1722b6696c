"""The HTTP fixtures of tests/api (a real uvicorn on loopback), reused here."""

from tests.api.conftest import one_torch_thread, start_server

__all__ = ["one_torch_thread", "start_server"]
