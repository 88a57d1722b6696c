"""rag.errors: the tree its docstring draws is the tree of its classes, and what LLMError keeps."""

from __future__ import annotations

import inspect
import re

import pytest

from newsrag.rag import errors
from newsrag.rag.errors import DeadlineExceeded, LLMError, LLMTimeoutError, RagError


def drawn_tree() -> dict[str, str]:
    """{class: parent} as the module docstring draws it (indented under its parent)."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^([\s│├└─]*)(\w+)\b", line)
        if not match or not match.group(2)[0].isupper():
            continue
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_docstring_draws_every_class_under_its_real_parent() -> None:
    classes = {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if cls.__module__ == errors.__name__
    }
    drawn = drawn_tree()
    assert set(drawn) == set(classes)
    for name, cls in classes.items():
        assert cls.__bases__[0].__name__ == drawn[name], name


def test_every_llm_failure_is_caught_as_a_rag_error() -> None:
    for error in (LLMError("x"), LLMTimeoutError("x"), DeadlineExceeded("x")):
        with pytest.raises(RagError):
            raise error
    assert not issubclass(RagError, ValueError)  # bad input is ValueError, never a RagError


def test_llm_error_keeps_the_status_and_attempts() -> None:
    error = LLMError("upstream said 503", status=503, attempts=3)
    assert (str(error), error.status, error.attempts) == ("upstream said 503", 503, 3)
    plain = LLMTimeoutError("timed out")
    assert (plain.status, plain.attempts) == (None, 0)
