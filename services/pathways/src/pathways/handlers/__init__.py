"""Subscribers of the pathways service: decode → load state → decide → append."""

from __future__ import annotations

from eventlog.handlers import EventHandlers


def build_handlers() -> EventHandlers:
    """The pathways service's handler table (mastery decisions drive pathways here)."""
    return EventHandlers("pathways")
