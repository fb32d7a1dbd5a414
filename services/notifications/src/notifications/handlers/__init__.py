"""Subscribers of the notifications service: decode → load state → decide → append."""

from __future__ import annotations

from eventlog.handlers import EventHandlers


def build_handlers() -> EventHandlers:
    """The notifications service's handler table (mastery, goals and interventions feed it)."""
    return EventHandlers("notifications")
