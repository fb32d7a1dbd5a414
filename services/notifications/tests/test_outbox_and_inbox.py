"""The outbox and inbox read models take a batch of events in a few statements and end as they
would one event at a time: a notification queued twice is one notification; outcomes and reads
land on what was queued before them, in the same batch or an earlier one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from eventlog.sql import create_engine, create_tables, sessions
from eventlog.stored import StoredEvent
from notifications.projections import inbox, outbox
from shared_events import Envelope
from shared_events.events.notifications import (
    NotificationDelivered,
    NotificationFailed,
    NotificationQueued,
    NotificationRead,
)

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 2, 22, 30, tzinfo=UTC)


def queued(n: str, channel: str = "inbox", **extra: object) -> NotificationQueued:
    return NotificationQueued(
        notification_id=n,
        learner_id="lrn-1",
        cause_event_id=f"cause-{n}",
        recipient_id="grd-1",
        recipient_role="guardian",
        channel=channel,
        template="mastery_gained",
        facts={"competency": "Fractions"},
        **extra,
    )


def outcome(n: str, delivered: bool = True) -> NotificationDelivered | NotificationFailed:
    if delivered:
        return NotificationDelivered(
            notification_id=n, learner_id="lrn-1", channel="inbox", attempts=1
        )
    return NotificationFailed(
        notification_id=n, learner_id="lrn-1", channel="email", attempts=3, reason="smtp: no"
    )


def read(n: str) -> NotificationRead:
    return NotificationRead(notification_id=n, learner_id="lrn-1", recipient_id="grd-1", read_at=AT)


EVENTS = [
    queued("n1"),
    queued("n2", "email", deliver_after=AT + timedelta(hours=9)),
    queued("n1"),  # sent again outside the duplicate window
    outcome("n1"),
    queued("n3"),
    outcome("n2", delivered=False),
    read("n1"),
    queued("n4", "email", digest=True, deliver_after=AT + timedelta(hours=1)),
    outcome("n3"),
    outcome("n4"),
    queued("n3"),  # again, after its outcome
    read("n3"),
    queued("n5"),
    outcome("gone"),  # a notification this read model never had
    read("gone"),
    queued("n6", "webhook"),
]


def stored(events: list) -> list[StoredEvent]:
    found = []
    for sequence, event in enumerate(events, start=1):
        envelope = Envelope.wrap(
            event,
            source="notifications",
            subject="lrn-1",
            district="d1",
            time=AT + timedelta(seconds=sequence),
        )
        subject = f"notifications.d1.lrn-1.{event.kind}"
        found.append(StoredEvent("NOTIFICATIONS", sequence, subject, AT, b"", envelope))
    return found


@pytest.mark.parametrize("sizes", [(16,), (3, 5, 8), (4, 1, 11)])
async def test_batches_end_where_one_event_at_a_time_ends(database_url, sizes):
    engine = create_engine(database_url)
    await create_tables(engine, outbox.metadata, inbox.metadata)
    models = [(outbox.OutboxProjection(), outbox.outbox), (inbox.InboxProjection(), inbox.inbox)]
    events = stored(EVENTS)
    try:

        async def rows() -> list[list[tuple]]:
            async with sessions(engine)() as session:
                return [
                    sorted(tuple(r) for r in await session.execute(select(table)))
                    for _, table in models
                ]

        async def apply(batches: list[list[StoredEvent]] | None) -> list[list[tuple]]:
            """Each batch in a transaction, as the projector does; None: one event at a time."""
            for projection, _ in models:
                async with sessions(engine)() as session, session.begin():
                    await projection.reset(session)
                for batch in batches or [[event] for event in events]:
                    async with sessions(engine)() as session, session.begin():
                        if batches is None:
                            await projection.apply(session, batch[0])
                        else:
                            await projection.apply_batch(session, batch)
            return await rows()

        one_at_a_time = await apply(None)
        held = {r[0]: r[-2] for r in one_at_a_time[0]}  # the outbox: status per notification
        assert held == {
            "n1": "delivered",
            "n2": "failed",
            "n3": "delivered",
            "n4": "delivered",
            "n5": "queued",
            "n6": "queued",
        }
        assert [(r[0], r[-1] is not None) for r in one_at_a_time[1]] == [
            ("n1", True),
            ("n3", True),
            ("n5", False),
        ]
        start, cut = 0, []
        for size in sizes:
            cut.append(events[start : start + size])
            start += size
        assert await apply(cut) == one_at_a_time
    finally:
        await engine.dispose()
