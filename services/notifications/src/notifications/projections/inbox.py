"""The `inbox` read model: in-app notifications per recipient."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    stream = "NOTIFICATIONS"
    subjects = ("notifications.*.*.queued", "notifications.*.*.read")

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        envelope = event.envelope
        queued = envelope.data
        if isinstance(queued, NotificationRead):
            await session.execute(
                inbox.update()
                .where(inbox.c.notification_id == queued.notification_id)
                .values(read_at=queued.read_at)
            )
            return
        if not isinstance(queued, NotificationQueued) or queued.channel != "inbox":
            return
        known = await session.scalar(
            select(inbox.c.notification_id).where(inbox.c.notification_id == queued.notification_id)
        )
        if known is not None:
            return
        await session.execute(
            inbox.insert().values(
                notification_id=queued.notification_id,
                recipient_id=queued.recipient_id,
                learner_id=queued.learner_id,
                district=envelope.district,
                template=queued.template,
                locale=queued.locale,
                facts=queued.facts,
                queued_at=envelope.time,
            )
        )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(inbox.delete())
