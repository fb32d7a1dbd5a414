"""The outbox: every queued notification and whether the log says it was delivered or failed.
The deliverer sends what is queued and due; like any read model it is rebuilt from the log, and
a rebuild replays the outcomes too, so nothing delivered is due again (the deliverer also waits
while this read model is behind)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import JSON, Boolean, Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    stream = "NOTIFICATIONS"
    subjects = (
        "notifications.*.*.queued",
        "notifications.*.*.delivered",
        "notifications.*.*.failed",
    )

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data = event.envelope.data
        if isinstance(data, NotificationQueued):
            known = await session.scalar(
                select(outbox.c.status).where(outbox.c.notification_id == data.notification_id)
            )
            if known is not None:
                return  # queued twice (a resend outside the duplicate window): one notification
            await session.execute(
                outbox.insert().values(
                    notification_id=data.notification_id,
                    district=event.envelope.district,
                    learner_id=data.learner_id,
                    recipient_id=data.recipient_id,
                    recipient_role=data.recipient_role,
                    channel=data.channel,
                    template=data.template,
                    locale=data.locale,
                    facts=data.facts,
                    # SQLite keeps wall-clock time only: store every instant in UTC.
                    deliver_after=data.deliver_after.astimezone(UTC)
                    if data.deliver_after
                    else None,
                    digest=data.digest,
                    status="queued",
                    queued_at=event.envelope.time,
                )
            )
        elif isinstance(data, NotificationDelivered | NotificationFailed):
            status = "delivered" if isinstance(data, NotificationDelivered) else "failed"
            await session.execute(
                outbox.update()
                .where(outbox.c.notification_id == data.notification_id)
                .values(status=status)
            )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(outbox))
