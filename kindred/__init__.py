"""Kindred core: settings, database plumbing, Kafka clients, embedded infra and the CLI."""

__version__ = "0.1.0"
