"""Eval tests embed a few short texts at a time: one torch thread is fastest on a busy CPU."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsrag.rag.components import torch_threads


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run each eval test with one torch CPU thread, restoring the previous count after."""
    with torch_threads(1):
        yield
