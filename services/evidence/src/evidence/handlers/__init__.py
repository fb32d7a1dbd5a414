"""Subscribers of the evidence service: partner submissions in (a batch at a time, on every
replica), registrations releasing held evidence."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from eventlog.batches import BatchConsumer
from eventlog.handlers import EventHandlers
from eventlog.handover import Handover
from eventlog.stored import RawStored, StoredEvent
from evidence.context import EvidenceContext
from evidence.intake.process import learners_of, process_batch, reject_unprocessable
from evidence.intake.settle import release_held
from shared_events.events.profiles import LearnerRegistered

INTAKE_BATCH = 256


def build_handlers(ctx: EvidenceContext) -> EventHandlers:
    handlers = EventHandlers("evidence")

    @handlers.on("registrations", stream="PROFILES", subjects=("profiles.*.*.registered",))
    async def on_registration(event: StoredEvent) -> None:
        """A learner was registered: evidence held for them is recorded and decided."""
        registered = event.envelope.data
        if isinstance(registered, LearnerRegistered):
            await release_held(
                ctx, event.envelope.district, registered.learner_id, f"release/{event.envelope.id}"
            )

    return handlers


def build_intake(ctx: EvidenceContext) -> tuple[BatchConsumer, Handover]:
    """The intake's consumer, and the handover by which each learner's submissions are worked
    by the replica owning that learner (ADR 8)."""

    async def work(batch: Sequence[RawStored]) -> Sequence[Exception | None]:
        """Every partner submission: recorded, held, voided or rejected with its reason."""
        return await process_batch(ctx, batch)

    handover = Handover("evidence", work)

    async def on_submissions(batch: Sequence[RawStored]) -> Sequence[Exception | None]:
        return await handover.share(batch, partial(learners_of, ctx))

    async def on_parked(message: RawStored, reason: str) -> None:
        """A submission that failed every delivery still gets its verdict."""
        await reject_unprocessable(ctx, message, reason)

    return BatchConsumer(
        "evidence-ingest",
        stream="INGEST",
        subjects=("ingest.*.*",),
        handler=on_submissions,
        batch=INTAKE_BATCH,
        depth=2,
        exclusive=False,
        on_parked=on_parked,
        description="evidence intake: partner submissions, a batch at a time, every replica",
    ), handover
