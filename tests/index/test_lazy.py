"""index.lazy: the packages' public names load on first use, from the module named for them."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from newsrag.index.lazy import lazy_names


def test_each_package_loads_its_names_only_when_asked() -> None:
    code = (
        "import sys, newsrag.index, newsrag.rag, newsrag.evals\n"
        "heavy = [m for m in ('faiss', 'pydantic', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from newsrag.index import chunk_article, ingest\n"
        "from newsrag.rag import Settings\n"
        "from newsrag.evals import normalise\n"
        "import newsrag.index.ingest\n"
        "assert callable(newsrag.index.ingest) and not isinstance(newsrag.index.ingest, type(sys))"
        "\n"
        "assert 'Settings' in dir(newsrag.rag) and 'load_gold' in dir(newsrag.evals)\n"
        "print(chunk_article.__module__, Settings.__module__, normalise.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "newsrag.index.chunking",
        "newsrag.rag.settings",
        "newsrag.evals.metrics",
    ]


def test_unknown_names_and_homeless_public_names_are_errors() -> None:
    package = types.ModuleType("newsrag_lazy_probe")
    sys.modules[package.__name__] = package
    try:
        getattr_, dir_ = lazy_names(package.__name__, {"records": ["Hit"]}, ["Hit"])
        with pytest.raises(AttributeError, match="no attribute 'Nope'"):
            getattr_("Nope")
        assert "Hit" in dir_() and "Nope" not in dir_()
        with pytest.raises(ValueError, match=r"without a home module: \['Lost'\]"):
            lazy_names(package.__name__, {"records": ["Hit"]}, ["Hit", "Lost"])
    finally:
        del sys.modules[package.__name__]
