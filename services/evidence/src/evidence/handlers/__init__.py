"""Subscribers of the evidence service: decode → load state → decide → append."""

from __future__ import annotations

from eventlog.handlers import EventHandlers


def build_handlers() -> EventHandlers:
    """The evidence service's handler table (partner ingest subscribes here)."""
    return EventHandlers("evidence")
