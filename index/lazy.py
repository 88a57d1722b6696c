"""Public names of a package loaded on first use (PEP 562), shared by every package's __init__.

`rag --help` and the CLI's plugin registration import the packages; FAISS, bm25s/scipy,
pydantic and numpy would cost about a second if their `__init__` imported them (issue 13).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence


def lazy_names(
    package: str, homes: Mapping[str, Sequence[str]], public: Sequence[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: each name in `homes[module]` loads from it.

    Use as `__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)`. A loaded name is
    stored on the package, so later look-ups do not come back here.
    """
    home_of = {name: module for module, names in homes.items() for name in names}
    unplaced = sorted(set(public) - set(home_of))
    if unplaced:
        raise ValueError(f"{package}.__all__ names without a home module: {unplaced}")
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> object:
        module = home_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return __getattr__, __dir__
