"""Upcasters: turn a stored older shape of an event into the current one, on read.

A stored event is never rewritten. When an event's shape changes, its `schema_version` goes up and
an upcaster from the previous version is registered here; reading applies them in a chain
(v1 → v2 → … → current).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownSchemaVersion(ValueError):
    """A stored event has a version this code cannot read."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that turns `event_type` data at `from_version` into `from_version+1`."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise TypeError(f"two upcasters for {event_type} v{from_version}")
        _UPCASTERS[key] = fn
        return fn

    return register


def upcast(event_type: str, version: int, data: Payload, current: int) -> Payload:
    """Bring `data` stored at `version` up to `current`."""
    if version > current:
        raise UnknownSchemaVersion(
            f"schemaversion: {event_type} v{version} is newer than this reader (v{current})"
        )
    while version < current:
        try:
            step = _UPCASTERS[(event_type, version)]
        except KeyError:
            raise UnknownSchemaVersion(
                f"schemaversion: no upcaster for {event_type} v{version} → v{version + 1}"
            ) from None
        data = step(dict(data))
        version += 1
    return data
