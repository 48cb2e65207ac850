"""Recording: the ingest service for coding-session events."""
