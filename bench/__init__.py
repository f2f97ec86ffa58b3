"""Benchmarks runnable as `kindred bench ...`; each prints one JSON document."""
