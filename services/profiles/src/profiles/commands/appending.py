"""Appending planned events, one timeline at a time and many timelines at once."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from eventlog.event_store import ANY, NO_EVENTS, ConcurrencyConflict, EventStore
from shared_events import Envelope, Event, Timeline
from shared_events.envelope import derived_event_id

SOURCE = "profiles"


@dataclass(frozen=True)
class Planned:
    """One event to append; `first` ones must open their timeline (a registration)."""

    timeline: Timeline
    event: Event
    cause: str
    first: bool = False


def envelope(planned: Planned, causationid: str | None = None) -> Envelope:
    return Envelope.wrap(
        planned.event,
        source=SOURCE,
        subject=planned.timeline.entity,
        district=planned.timeline.district,
        id=derived_event_id(planned.cause),
        causationid=causationid,
    )


async def append_all(
    store: EventStore, planned: Sequence[Planned], causationid: str, parallel: int = 16
) -> int:
    """Append every planned event; returns how many were stored (registrations that turn out
    to exist already are skipped)."""
    by_timeline: dict[Timeline, list[Planned]] = defaultdict(list)
    for item in planned:
        by_timeline[item.timeline].append(item)
    gate = asyncio.Semaphore(parallel)
    stored = 0

    async def one_timeline(items: list[Planned]) -> None:
        nonlocal stored
        async with gate:
            for item in items:
                try:
                    await store.append(
                        item.timeline,
                        [envelope(item, causationid)],
                        NO_EVENTS if item.first else ANY,
                    )
                    stored += 1
                except ConcurrencyConflict:
                    if not item.first:
                        raise

    await asyncio.gather(*(one_timeline(items) for items in by_timeline.values()))
    return stored
