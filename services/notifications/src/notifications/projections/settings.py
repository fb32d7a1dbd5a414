"""District notification settings and people's preferences, from this service's own events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import in_chunks, put_row
from eventlog.stored import StoredEvent
from notifications.domain.planning import Webhook
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
    return (await rules_by_district(session, [district])).get(district)


async def rules_by_district(
    session: AsyncSession, districts: Sequence[str]
) -> dict[str, tuple[NotificationRule, ...]]:
    """The rules of those `districts` that set theirs."""
    found: dict[str, tuple[NotificationRule, ...]] = {}
    for chunk in in_chunks(districts):
        rows = await session.execute(
            select(rules.c.district, rules.c.rules).where(rules.c.district.in_(chunk))
        )
        for district, body in rows:
            found[district] = tuple(NotificationRule.model_validate(r) for r in body)
    return found


async def webhooks_by_district(
    session: AsyncSession, districts: Sequence[str]
) -> dict[str, list[Webhook]]:
    """Each district's webhooks (none: an empty list), in the order of their ids."""
    found: dict[str, list[Webhook]] = {district: [] for district in districts}
    for chunk in in_chunks(districts):
        rows = await session.execute(
            select(
                webhooks.c.district, webhooks.c.webhook_id, webhooks.c.triggers, webhooks.c.enabled
            )
            .where(webhooks.c.district.in_(chunk))
            .order_by(webhooks.c.webhook_id)
        )
        for district, webhook_id, triggers, enabled in rows:
            found[district].append(Webhook(webhook_id, tuple(triggers), enabled))
    return found


async def preferences_of(session: AsyncSession, people: Sequence[str]) -> dict[str, PreferencesSet]:
    found: dict[str, PreferencesSet] = {}
    for chunk in in_chunks(people):
        rows = await session.execute(
            select(preferences.c.person_id, preferences.c.body).where(
                preferences.c.person_id.in_(chunk)
            )
        )
        found.update({person: PreferencesSet.model_validate(body) for person, body in rows})
    return found
