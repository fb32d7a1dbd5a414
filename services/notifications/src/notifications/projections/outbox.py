"""The outbox: every queued notification and whether the log says it was delivered or failed.
The deliverer sends what is queued and due; like any read model it is rebuilt from the log, and
a rebuild replays the outcomes too, so nothing delivered is due again (the deliverer also waits
while this read model is behind)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from itertools import groupby
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import in_chunks
from eventlog.stored import StoredEvent
from shared_events.events.notifications import (
    NotificationDelivered,
    NotificationFailed,
    NotificationQueued,
)

metadata = MetaData()

outbox = Table(
    "notifications_outbox",
    metadata,
    Column("notification_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False),
    Column("learner_id", String(64), nullable=False, index=True),
    Column("recipient_id", String(64), nullable=False),
    Column("recipient_role", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("template", String(64), nullable=False),
    Column("locale", String(8), nullable=False),
    Column("facts", JSON, nullable=False),
    Column("deliver_after", DateTime(timezone=True)),
    Column("digest", Boolean, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("queued_at", DateTime(timezone=True), nullable=False),
)


class OutboxProjection:
    name = "notifications-outbox"
    exclusive = True  # one replica at a time applies it (eventlog.projector)
    stream = "NOTIFICATIONS"
    subjects = (
        "notifications.*.*.queued",
        "notifications.*.*.delivered",
        "notifications.*.*.failed",
    )

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        await self.apply_batch(session, [event])

    async def apply_batch(self, session: AsyncSession, events: Sequence[StoredEvent]) -> None:
        """The events in order, a statement or two for each run of one kind: a run of queued
        inserted at once (a notification queued twice, as by a resend outside the duplicate
        window, is one notification), a run of outcomes marked at once."""
        for status, run in groupby(events, key=_status_after):
            if status == "queued":
                await _insert_new(session, list(run))
            elif status is not None:
                await _mark(session, list(run), status)

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(outbox))


async def queued_among(session: AsyncSession, notification_ids: Sequence[str]) -> set[str]:
    """Those of `notification_ids` the outbox holds (queued before, whatever came of them)."""
    found: set[str] = set()
    for chunk in in_chunks(notification_ids):
        found.update(
            await session.scalars(
                select(outbox.c.notification_id).where(outbox.c.notification_id.in_(chunk))
            )
        )
    return found


def _row(event: StoredEvent, data: NotificationQueued) -> dict[str, Any]:
    return {
        "notification_id": data.notification_id,
        "district": event.envelope.district,
        "learner_id": data.learner_id,
        "recipient_id": data.recipient_id,
        "recipient_role": data.recipient_role,
        "channel": data.channel,
        "template": data.template,
        "locale": data.locale,
        "facts": data.facts,
        # SQLite keeps wall-clock time only: store every instant in UTC.
        "deliver_after": data.deliver_after.astimezone(UTC) if data.deliver_after else None,
        "digest": data.digest,
        "status": "queued",
        "queued_at": event.envelope.time,
    }


async def _insert_new(session: AsyncSession, run: list[StoredEvent]) -> None:
    rows: dict[str, dict[str, Any]] = {}
    for event in run:
        if isinstance(data := event.envelope.data, NotificationQueued):
            rows.setdefault(data.notification_id, _row(event, data))
    known = await queued_among(session, list(rows))
    fresh = [row for notification, row in rows.items() if notification not in known]
    if fresh:
        await session.execute(outbox.insert(), fresh)


async def _mark(session: AsyncSession, run: list[StoredEvent], status: str) -> None:
    ids = [
        data.notification_id
        for event in run
        if isinstance(data := event.envelope.data, NotificationDelivered | NotificationFailed)
    ]
    for chunk in in_chunks(ids):
        await session.execute(
            outbox.update().where(outbox.c.notification_id.in_(chunk)).values(status=status)
        )


def _status_after(event: StoredEvent) -> str | None:
    """The status an event gives its notification."""
    match event.envelope.data:
        case NotificationQueued():
            return "queued"
        case NotificationDelivered():
            return "delivered"
        case NotificationFailed():
            return "failed"
    return None
