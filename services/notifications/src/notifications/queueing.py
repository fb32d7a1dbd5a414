"""Queueing notifications: occasions planned on what the read models say (read once for all the
occasions at hand, one or a batch), less what the outbox already holds, appended to each
learner's log. Ids derive from (cause, recipient, channel): queueing the same occasion twice
appends nothing new."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.context import NotificationsContext
from notifications.domain.planning import Circumstances, plan_in
from notifications.domain.rules import Occasion
from notifications.projections.outbox import queued_among
from notifications.projections.recipients import audiences_of, erased_among, statements_of
from notifications.projections.settings import (
    preferences_of,
    rules_by_district,
    webhooks_by_district,
)
from shared_events.events.notifications import NotificationQueued

RECIPIENTS = "notifications-recipients"


async def queue(ctx: NotificationsContext, district: str, occasion: Occasion) -> int:
    """Plan one occasion's notifications and append those not queued before; how many."""
    await ctx.service.projector(RECIPIENTS).wait_caught_up()
    fresh = (await unqueued(ctx, [(district, occasion)]))[occasion.cause_event_id]
    await append_queued(ctx, district, occasion, fresh)
    return len(fresh)


async def unqueued(
    ctx: NotificationsContext, occasions: Sequence[tuple[str, Occasion]]
) -> dict[str, list[NotificationQueued]]:
    """Per occasion (by its cause event id), with its district: the notifications it calls for
    that the outbox does not hold yet."""
    if not occasions:
        return {}
    async with ctx.service.sessions()() as session:
        known = await circumstances(session, occasions)
        now = ctx.clock()
        planned = {
            occasion.cause_event_id: plan_in(known, district, occasion, now)
            for district, occasion in occasions
        }
        queued = await queued_among(
            session, [q.notification_id for notes in planned.values() for q in notes]
        )
    return {
        cause: [q for q in notes if q.notification_id not in queued]
        for cause, notes in planned.items()
    }


async def append_queued(
    ctx: NotificationsContext,
    district: str,
    occasion: Occasion,
    notifications: Sequence[NotificationQueued],
) -> None:
    if notifications:
        await ctx.append(
            district,
            occasion.learner_id,
            [(f"{q.notification_id}/queued", q) for q in notifications],
            occasion.cause_event_id,
        )


async def circumstances(
    session: AsyncSession, occasions: Sequence[tuple[str, Occasion]]
) -> Circumstances:
    """What planning `(district, occasion)` pairs needs, a few queries for all of them."""
    learners = sorted({occasion.learner_id for _, occasion in occasions})
    districts = sorted({district for district, _ in occasions})
    audiences = await audiences_of(session, learners)
    people = sorted(
        {p for by_audience in audiences.values() for ps in by_audience.values() for p in ps}
    )
    return Circumstances(
        erased=frozenset(await erased_among(session, learners)),
        audiences=audiences,
        preferences=await preferences_of(session, people),
        rules=await rules_by_district(session, districts),
        webhooks=await webhooks_by_district(session, districts),
        statements=await statements_of(
            session,
            [
                (district, occasion.facts["competency_id"])
                for district, occasion in occasions
                if "competency_id" in occasion.facts
            ],
        ),
    )
