"""Subscribers of the evidence service: partner submissions in, registrations releasing held
evidence."""

from __future__ import annotations

from eventlog.handlers import EventHandlers
from eventlog.stored import RawStored, StoredEvent
from evidence.context import EvidenceContext
from evidence.intake.process import process, release_held
from shared_events.events.profiles import LearnerRegistered


def build_handlers(ctx: EvidenceContext) -> EventHandlers:
    handlers = EventHandlers("evidence")

    @handlers.on("ingest", stream="INGEST", subjects=("ingest.*.*",), raw=True)
    async def on_submission(message: RawStored) -> None:
        """Every partner submission: recorded, held, voided or rejected with its reason."""
        await process(ctx, message)

    @handlers.on("registrations", stream="PROFILES", subjects=("profiles.*.*.registered",))
    async def on_registration(event: StoredEvent) -> None:
        """A learner was registered: evidence held for them is recorded and decided."""
        registered = event.envelope.data
        if isinstance(registered, LearnerRegistered):
            await release_held(
                ctx, event.envelope.district, registered.learner_id, f"release/{event.envelope.id}"
            )

    return handlers
