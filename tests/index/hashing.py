"""The word-hashing TEST DOUBLE embedder (bench/hashing.py, shared with the benchmarks)."""

from bench.hashing import HashingEmbedder

__all__ = ["HashingEmbedder"]
