"""The `inbox` read model: in-app notifications per recipient."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import in_chunks
from eventlog.stored import StoredEvent
from shared_events.events.notifications import NotificationQueued, NotificationRead

metadata = MetaData()

inbox = Table(
    "notifications_inbox",
    metadata,
    Column("notification_id", String(64), primary_key=True),
    Column("recipient_id", String(64), nullable=False, index=True),
    Column("learner_id", String(64), nullable=False),
    Column("district", String(64), nullable=False),
    Column("template", String(100), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("facts", JSON, nullable=False, default=dict),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True)),
)


class InboxProjection:
    name = "notifications-inbox"
    exclusive = True  # one replica at a time applies it (eventlog.projector)
    stream = "NOTIFICATIONS"
    subjects = ("notifications.*.*.queued", "notifications.*.*.read")

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        await self.apply_batch(session, [event])

    async def apply_batch(self, session: AsyncSession, events: Sequence[StoredEvent]) -> None:
        """The events in order: each run of inbox notifications queued inserted at once (one
        queued twice is one notification), each read marked."""
        for is_read, run in groupby(events, key=_is_read):
            if not is_read:
                await _insert_new(session, list(run))
                continue
            for event in run:
                if isinstance(read := event.envelope.data, NotificationRead):
                    await session.execute(
                        inbox.update()
                        .where(inbox.c.notification_id == read.notification_id)
                        .values(read_at=read.read_at)
                    )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(inbox.delete())


async def _insert_new(session: AsyncSession, run: list[StoredEvent]) -> None:
    rows: dict[str, dict[str, Any]] = {}
    for event in run:
        queued, envelope = event.envelope.data, event.envelope
        if isinstance(queued, NotificationQueued) and queued.channel == "inbox":
            rows.setdefault(
                queued.notification_id,
                {
                    "notification_id": queued.notification_id,
                    "recipient_id": queued.recipient_id,
                    "learner_id": queued.learner_id,
                    "district": envelope.district,
                    "template": queued.template,
                    "locale": queued.locale,
                    "facts": queued.facts,
                    "queued_at": envelope.time,
                },
            )
    known: set[str] = set()
    for chunk in in_chunks(list(rows)):
        known.update(
            await session.scalars(
                select(inbox.c.notification_id).where(inbox.c.notification_id.in_(chunk))
            )
        )
    fresh = [row for notification, row in rows.items() if notification not in known]
    if fresh:
        await session.execute(inbox.insert(), fresh)


def _is_read(event: StoredEvent) -> bool:
    return isinstance(event.envelope.data, NotificationRead)
