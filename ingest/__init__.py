"""Ingest: the canonical event envelope, Kafka topics and the worker that persists events."""
