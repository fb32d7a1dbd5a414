"""District notification settings and people's preferences, from this service's own events."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import put_row
from eventlog.stored import StoredEvent
from shared_events.events.notifications import (
    NotificationRule,
    NotificationRulesSet,
    PreferencesSet,
    SenderSet,
    WebhookSet,
)

metadata = MetaData()

rules = Table(
    "notifications_rules",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("rules", JSON, nullable=False),
)

senders = Table(
    "notifications_senders",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("body", JSON, nullable=False),
)

webhooks = Table(
    "notifications_webhooks",
    metadata,
    Column("webhook_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("triggers", JSON, nullable=False),
    Column("secret", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
)

preferences = Table(
    "notifications_preferences",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("body", JSON, nullable=False),
)


class SettingsProjection:
    name = "notifications-settings"
    stream = "NOTIFICATIONS"
    subjects = (
        "notifications.*.settings.rules_set",
        "notifications.*.settings.sender_set",
        "notifications.*.settings.webhook_set",
        "notifications.*.*.preferences_set",
    )

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data, district = event.envelope.data, event.envelope.district
        match data:
            case NotificationRulesSet():
                rows = [r.model_dump(mode="json") for r in data.rules]
                await put_row(
                    session, rules, {"district": district}, version=data.version, rules=rows
                )
            case SenderSet():
                body = data.model_dump(mode="json")
                await put_row(session, senders, {"district": district}, body=body)
            case WebhookSet():
                await put_row(
                    session,
                    webhooks,
                    {"webhook_id": data.webhook_id},
                    district=district,
                    url=data.url,
                    triggers=list(data.triggers),
                    secret=data.secret.model_dump(),
                    enabled=data.enabled,
                )
            case PreferencesSet():
                body = data.model_dump(mode="json")
                await put_row(session, preferences, {"person_id": data.person_id}, body=body)

    async def reset(self, session: AsyncSession) -> None:
        for table in (rules, senders, webhooks, preferences):
            await session.execute(delete(table))


async def rules_of(session: AsyncSession, district: str) -> tuple[NotificationRule, ...] | None:
    found = await session.scalar(select(rules.c.rules).where(rules.c.district == district))
    return None if found is None else tuple(NotificationRule.model_validate(r) for r in found)


async def preferences_of(session: AsyncSession, people: list[str]) -> dict[str, PreferencesSet]:
    rows = await session.execute(
        select(preferences.c.person_id, preferences.c.body).where(
            preferences.c.person_id.in_(people)
        )
    )
    return {person: PreferencesSet.model_validate(body) for person, body in rows}
