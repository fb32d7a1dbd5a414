"""Subscribers of the profiles service: decode → load state → decide → act."""

from __future__ import annotations

from eventlog.handlers import EventHandlers
from eventlog.stored import StoredEvent
from profiles.context import ProfilesContext
from shared_events.events.profiles import LearnerErased


def build_handlers(ctx: ProfilesContext) -> EventHandlers:
    handlers = EventHandlers("profiles")

    @handlers.on("erasures", stream="PROFILES", subjects=("profiles.*.*.erased",))
    async def destroy_data_key(event: StoredEvent) -> None:
        """An erased learner's data key must not survive, even if the command stopped halfway."""
        erased = event.envelope.data
        if isinstance(erased, LearnerErased):
            await ctx.keys.destroy(erased.learner_id)

    return handlers
