"""Subscribers of the pathways service: decode → load state → decide → append.

- `pathways-mastery` (partitioned by learner; replicas share the partitions): every
  MasteryDecided (EVIDENCE) is taken in by the learner's pathways that hold its competency, with
  what follows (advanced, unlocked, completed, pace, interventions). A batch's learners are
  worked concurrently; each learner's decisions of the batch are decided in log order and
  appended together; after a failure, that learner's later decisions in the batch wait for it
  (they fail too and come back behind it).
- `goals`: a goal set in the profile (PROFILES) assigns a pathway toward its targets.
- the pace sweep: once per `sweep_interval`, every learner with an active pathway is looked
  at as of today (goal at risk or back on track; stalled learners).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from sqlalchemy import select

from eventlog.batches import BatchConsumer, PerKeyLine, decoded
from eventlog.handlers import EventHandlers
from eventlog.redelivery import reason_of
from eventlog.stored import RawStored, StoredEvent
from pathways import commands
from pathways.assignments import assignment_for_goal
from pathways.context import PathwaysContext
from pathways.projections.progress import pathways as pathway_rows
from shared_events import Envelope
from shared_events.events.evidence import MasteryDecided
from shared_events.events.pathways import MasteryObserved
from shared_events.events.profiles import GoalSet

log = logging.getLogger(__name__)

Clock = Callable[[], date]


def today_utc() -> date:
    return datetime.now(UTC).date()


def build_handlers(ctx: PathwaysContext) -> EventHandlers:
    handlers = EventHandlers("pathways")

    @handlers.on("goals", stream="PROFILES", subjects=("profiles.*.*.goal_set",))
    async def assign_for_goal(event: StoredEvent) -> None:
        """A goal with target competencies gets a pathway toward them."""
        goal = event.envelope.data
        if not isinstance(goal, GoalSet):
            return
        await assignment_for_goal(ctx, event.envelope.district, goal, event.envelope.time.date())

    return handlers


MASTERY_BATCH = 256


def build_mastery_intake(ctx: PathwaysContext, partitions: int = 1) -> list[BatchConsumer]:
    # Two batches of a partition are in hand at once (one fetched while the other appends):
    # a learner's decisions of a batch are taken in after the learner's of the batch before.
    line: PerKeyLine[tuple[str, str]] = PerKeyLine()

    async def on_decisions(batch: Sequence[RawStored]) -> list[Exception | None]:
        results: list[Exception | None] = [None] * len(batch)
        by_learner: dict[tuple[str, str], list[tuple[int, Envelope]]] = defaultdict(list)
        for index, envelope in decoded(batch, results):
            if isinstance(envelope.data, MasteryDecided):
                by_learner[(envelope.district, envelope.data.learner_id)].append((index, envelope))
        # Read while the learners' work starts; each awaits it, and it is cancelled below.
        policies = asyncio.create_task(ctx.policies(d for d, _ in by_learner))  # noqa: RUF006

        async def take_in(
            key: tuple[str, str], items: list[tuple[int, Envelope]], failed: Exception | None
        ) -> Exception | None:
            if failed is not None:  # the learner's earlier decisions come back first
                outcomes: list[Exception | None] = [failed] * len(items)
            else:
                steps = [
                    (commands.observe(observed(envelope)), f"{envelope.id}/pathways")
                    for _, envelope in items
                ]
                try:
                    outcomes = await ctx.settle_all(*key, steps, policy=(await policies)[key[0]])
                except Exception as exc:  # the append itself: every decision of the learner
                    outcomes = [exc] * len(items)
            for (index, _), outcome in zip(items, outcomes, strict=True):
                results[index] = outcome
            return next((o for o in outcomes if o is not None), None)

        # A learner's decisions of the batch are taken in together, in log order, in one
        # append; learners side by side. (All are started before anything is awaited, so
        # batches take their place in the line in fetch order.)
        started = [
            line.start(key, partial(take_in, key, items)) for key, items in by_learner.items()
        ]
        try:
            await asyncio.gather(*started)
        finally:
            policies.cancel()
        return results

    return BatchConsumer.partitioned(
        "pathways-mastery",
        count=partitions,
        tokens=(1, 2),  # evidence.<district>.<learner>.mastery
        stream="EVIDENCE",
        subjects=("evidence.*.*.mastery",),
        handler=on_decisions,
        batch=MASTERY_BATCH,
        depth=2,
        description="pathways: mastery decisions of a partition of the learners",
    )


def observed(envelope: Envelope) -> MasteryObserved:
    decided = envelope.data
    assert isinstance(decided, MasteryDecided)
    return observation(envelope.id, decided, envelope.time)


def observation(decision_id: str, decided: MasteryDecided, at: datetime) -> MasteryObserved:
    return MasteryObserved(
        learner_id=decided.learner_id,
        competency_id=decided.competency_id,
        decision_id=decision_id,
        mastered=decided.mastered,
        level=decided.new_level,
        score=decided.new_score,
        evidence_ids=tuple(e.evidence_id for e in decided.evidence),
        scores=tuple(e.score for e in decided.evidence),
        decided_at=at,
    )


async def sweep_pace(ctx: PathwaysContext, today: date) -> int:
    """Look at the pace of every learner with an active pathway; returns events appended."""
    async with ctx.service.sessions()() as session:
        rows = await session.execute(
            select(pathway_rows.c.district, pathway_rows.c.learner_id)
            .where(pathway_rows.c.status == "active")
            .distinct()
        )
        learners = list(rows)
    appended = 0
    for district, learner_id in learners:
        try:
            events = await ctx.settle(
                district,
                learner_id,
                commands.look_at_pace(today),
                cause=f"pace/{learner_id}/{today.isoformat()}",
            )
        except Exception as exc:
            log.warning("pace sweep: a learner failed: %s", reason_of(exc))
            continue
        appended += len(events)
    return appended


def pace_sweeper(
    ctx: PathwaysContext, interval: float, clock: Clock = today_utc
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                appended = await sweep_pace(ctx, clock())
                log.info("pace sweep: %d events", appended)
            except Exception as exc:
                log.warning("pace sweep failed: %s", reason_of(exc))

    return sweep_forever
