"""Pure unit tests: no database, no Kafka."""
