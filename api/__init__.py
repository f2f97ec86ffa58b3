"""The HTTP API: collector, webhooks, profile reads, admin and the ops UI."""
