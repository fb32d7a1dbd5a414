"""Subscribers of the profiles service: decode → load state → decide → append."""

from __future__ import annotations

from eventlog.handlers import EventHandlers


def build_handlers() -> EventHandlers:
    """The profiles service's handler table (it reacts to other services' events here)."""
    return EventHandlers("profiles")
