"""The evidence service: partner ingest and auditable mastery decisions."""
