"""Source connectors: parse a vendor's native payload or file into canonical events."""
