"""Subscribers of the notifications service: decode → find the occasion → plan → append.

- `mastery` (EVIDENCE): mastery gained or lost; the handler keeps the last mastered flag per
  learner and competency it saw (`notifications_mastery`), to tell a change from a repeat.
- `pathways` (PATHWAYS): interventions recommended, goals at risk, pathways completed (a goal's
  pathway completed is the goal achieved).
- `erasures` (PROFILES): an erased learner's key leaves this process's cache at once.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, MetaData, String, Table, select

from eventlog.handlers import EventHandlers
from eventlog.sql import put_row
from eventlog.stored import StoredEvent
from notifications.context import NotificationsContext
from notifications.domain.planning import Webhook, plan
from notifications.domain.rules import DEFAULT_RULES, Occasion, occasion_of
from notifications.projections.outbox import outbox
from notifications.projections.recipients import audience_of, person, statement_of
from notifications.projections.settings import preferences_of, rules_of, webhooks
from shared_events.events.evidence import MasteryDecided
from shared_events.events.profiles import LearnerErased

metadata = MetaData()

mastery_seen = Table(
    "notifications_mastery",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("competency_id", String(255), primary_key=True),
    Column("mastered", Boolean, nullable=False),
)


def build_handlers(ctx: NotificationsContext) -> EventHandlers:
    handlers = EventHandlers("notifications")

    @handlers.on("mastery", stream="EVIDENCE", subjects=("evidence.*.*.mastery",))
    async def on_mastery(event: StoredEvent) -> None:
        decided = event.envelope.data
        if not isinstance(decided, MasteryDecided):
            return
        key = {"learner_id": decided.learner_id, "competency_id": decided.competency_id}
        async with ctx.service.sessions()() as session:
            was = await session.scalar(
                select(mastery_seen.c.mastered).where(
                    (mastery_seen.c.learner_id == decided.learner_id)
                    & (mastery_seen.c.competency_id == decided.competency_id)
                )
            )
        occasion = occasion_of(decided, event.envelope.id, event.envelope.time, was)
        if occasion is not None:
            await queue(ctx, event.envelope.district, occasion)
        async with ctx.service.sessions()() as session, session.begin():
            await put_row(session, mastery_seen, key, mastered=decided.mastered)

    @handlers.on(
        "pathways",
        stream="PATHWAYS",
        subjects=("pathways.*.*.intervention", "pathways.*.*.at_risk", "pathways.*.*.completed"),
    )
    async def on_pathway(event: StoredEvent) -> None:
        occasion = occasion_of(event.envelope.data, event.envelope.id, event.envelope.time)
        if occasion is not None:
            await queue(ctx, event.envelope.district, occasion)

    @handlers.on("erasures", stream="PROFILES", subjects=("profiles.*.*.erased",))
    async def on_erasure(event: StoredEvent) -> None:
        erased = event.envelope.data
        if isinstance(erased, LearnerErased):
            ctx.keys.forget(erased.learner_id)

    return handlers


async def queue(ctx: NotificationsContext, district: str, occasion: Occasion) -> int:
    """Plan the occasion's notifications and append those not queued before."""
    await ctx.service.projector("notifications-recipients").wait_caught_up()
    async with ctx.service.sessions()() as session:
        learner = await person(session, occasion.learner_id)
        if learner is not None and learner["erased"]:
            return 0  # nothing is said about an erased learner
        audiences = await audience_of(session, occasion.learner_id)
        people = [p for members in audiences.values() for p in members]
        prefs = await preferences_of(session, people)
        rules = await rules_of(session, district) or DEFAULT_RULES
        hooks = [
            Webhook(row.webhook_id, tuple(row.triggers), row.enabled)
            for row in await session.execute(
                select(webhooks.c.webhook_id, webhooks.c.triggers, webhooks.c.enabled).where(
                    webhooks.c.district == district
                )
            )
        ]
        if "competency_id" in occasion.facts:
            statement = await statement_of(session, district, occasion.facts["competency_id"])
            occasion = Occasion(
                occasion.trigger,
                occasion.learner_id,
                occasion.cause_event_id,
                occasion.at,
                {**occasion.facts, "competency": statement},
            )
        planned = plan(occasion, rules, audiences, prefs, hooks, ctx.clock())
        known = set(
            await session.scalars(
                select(outbox.c.notification_id).where(
                    outbox.c.notification_id.in_([q.notification_id for q in planned])
                )
            )
        )
    fresh = [q for q in planned if q.notification_id not in known]
    if fresh:
        await ctx.append(
            district,
            occasion.learner_id,
            [(f"{q.notification_id}/queued", q) for q in fresh],
            occasion.cause_event_id,
        )
    return len(fresh)
