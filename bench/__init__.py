"""Benchmarks (not tests): ingest, BEIR quality, peers, scale."""
