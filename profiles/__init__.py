"""Profiles: golden records, journeys, computed traits and segments."""
