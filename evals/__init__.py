"""Evals: gold sets, metrics, runner, reports and the CI gate."""

__all__: list[str] = []
