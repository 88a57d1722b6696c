"""Errors of the eval layer.

ValueError
└── EvalError            anything the eval layer raises on purpose
    ├── GoldFormatError  a gold file breaks the documented format (line and reason named)
    └── GateConfigError  thresholds.toml or a baseline file cannot be used
"""

from __future__ import annotations


class EvalError(ValueError):
    """Base class of every error the eval layer raises on purpose."""


class GoldFormatError(EvalError):
    """A gold file breaks the format of DESIGN.md; the message names the line."""


class GateConfigError(EvalError):
    """The thresholds file or a baseline file is missing, malformed or inconsistent."""
