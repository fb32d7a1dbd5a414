"""Subscribers of the notifications service: decode → find the occasion → plan → append.

- `notifications-mastery` (EVIDENCE; partitioned by learner, replicas share the partitions): mastery
  gained or lost; it keeps the last mastered flag per learner and competency it saw
  (`notifications_mastery`), to tell a change from a repeat.
- `pathways` (PATHWAYS): interventions recommended, goals at risk, pathways completed (a goal's
  pathway completed is the goal achieved).
- `erasures` (PROFILES): an erased learner's key leaves this process's cache at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Boolean, Column, MetaData, String, Table, delete, select, tuple_

from eventlog.batches import BatchConsumer, decoded, in_order_per_key
from eventlog.handlers import EventHandlers
from eventlog.sql import in_chunks
from eventlog.stored import RawStored, StoredEvent
from notifications.context import NotificationsContext
from notifications.domain.rules import Occasion, mastery_changes, occasion_of
from notifications.queueing import RECIPIENTS, append_queued, queue, unqueued
from shared_events import Envelope
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


MASTERY_BATCH = 256


def build_mastery_intake(ctx: NotificationsContext, partitions: int = 1) -> list[BatchConsumer]:
    """Mastery decisions a batch at a time, the learners split into `partitions` that the
    replicas share: learners concurrently, each learner's decisions in order (after a
    failure, that learner's later decisions in the batch come back behind it)."""

    async def on_decisions(batch: Sequence[RawStored]) -> list[Exception | None]:
        results: list[Exception | None] = [None] * len(batch)
        by_learner: dict[str, list[tuple[int, Envelope]]] = defaultdict(list)
        for index, envelope in decoded(batch, results):
            if isinstance(envelope.data, MasteryDecided):
                by_learner[envelope.data.learner_id].append((index, envelope))
        if not by_learner:
            return results
        await ctx.service.projector(RECIPIENTS).wait_caught_up()
        seen = await _mastered_before(ctx, list(by_learner))
        # The batch's occasions are planned together, then appended learner by learner.
        occasions = _occasions(by_learner, seen)
        planned = await unqueued(ctx, list(occasions.values()))
        changed: dict[tuple[str, str], bool] = {}

        async def take_in(_learner: str, envelope: Envelope) -> None:
            decided = envelope.data
            assert isinstance(decided, MasteryDecided)
            if envelope.id in occasions:  # popped: a copy of it later in the batch is no news
                district, occasion = occasions.pop(envelope.id)
                await append_queued(ctx, district, occasion, planned[envelope.id])
            changed[(decided.learner_id, decided.competency_id)] = decided.mastered

        await in_order_per_key(by_learner, take_in, results)
        await _remember_mastered(ctx, changed)
        return results

    return BatchConsumer.partitioned(
        "notifications-mastery",
        count=partitions,
        tokens=(1, 2),  # evidence.<district>.<learner>.mastery
        stream="EVIDENCE",
        subjects=("evidence.*.*.mastery",),
        handler=on_decisions,
        batch=MASTERY_BATCH,
        description="notifications: mastery decisions of a partition of the learners",
    )


def _occasions(
    by_learner: dict[str, list[tuple[int, Envelope]]], seen: dict[tuple[str, str], bool]
) -> dict[str, tuple[str, Occasion]]:
    """The occasions among the batch's decisions (each learner's in order), by cause event id,
    with their district."""
    envelopes = [envelope for items in by_learner.values() for _, envelope in items]
    districts = {envelope.id: envelope.district for envelope in envelopes}
    decisions = [
        (envelope.data, envelope.id, envelope.time)
        for envelope in envelopes
        if isinstance(envelope.data, MasteryDecided)
    ]
    return {
        occasion.cause_event_id: (districts[occasion.cause_event_id], occasion)
        for occasion in mastery_changes(decisions, seen)
    }


async def _remember_mastered(
    ctx: NotificationsContext, changed: dict[tuple[str, str], bool]
) -> None:
    """Write the batch's last mastered flags in one transaction. Lost in a crash, they are
    worked out again from the redelivered decisions, which queue the same notifications (same
    ids: nothing twice)."""
    if not changed:
        return
    key = tuple_(mastery_seen.c.learner_id, mastery_seen.c.competency_id)
    async with ctx.service.sessions()() as session, session.begin():
        for chunk in in_chunks(list(changed)):
            await session.execute(delete(mastery_seen).where(key.in_(chunk)))
        await session.execute(
            mastery_seen.insert(),
            [
                {"learner_id": learner, "competency_id": competency, "mastered": mastered}
                for (learner, competency), mastered in changed.items()
            ],
        )


async def _mastered_before(
    ctx: NotificationsContext, learners: list[str]
) -> dict[tuple[str, str], bool]:
    """The last mastered flag seen per (learner, competency), for the batch's learners."""
    found: dict[tuple[str, str], bool] = {}
    async with ctx.service.sessions()() as session:
        for chunk in in_chunks(learners):
            rows = await session.execute(
                select(mastery_seen).where(mastery_seen.c.learner_id.in_(chunk))
            )
            found.update({(r.learner_id, r.competency_id): r.mastered for r in rows})
    return found
