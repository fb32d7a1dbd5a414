"""Register one learner over HTTP, and erase a learner (crypto-shredding)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventlog.event_store import NO_EVENTS
from profiles.commands.appending import Planned, envelope
from profiles.context import ProfilesContext
from profiles.projections.directory_reads import person
from shared_events import Timeline
from shared_events.events import profiles as ev


class AlreadyRegistered(Exception):
    """The SIS id belongs to a registered learner with other details."""


class UnknownLearner(Exception):
    pass


@dataclass(frozen=True)
class Registered:
    learner_id: str
    created: bool


async def register_learner(
    ctx: ProfilesContext,
    district: str,
    identity: dict[str, Any],
    school_id: str | None,
    grade_levels: tuple[str, ...],
) -> Registered:
    learner_id = ctx.ids.learner_id(district, identity["sis_id"])
    digest = ctx.ids.digest(identity)
    await ctx.directory_caught_up()
    async with ctx.service.sessions()() as session:
        existing = await person(session, learner_id)
    if existing is not None:
        if existing["identity_digest"] == digest:
            return Registered(learner_id, created=False)
        raise AlreadyRegistered(f"sis_id: learner {learner_id} is already registered")
    event = ev.LearnerRegistered(
        learner_id=learner_id,
        school_id=school_id,
        grade_levels=grade_levels,
        identity=await ctx.sealer.seal(learner_id, identity),
        identity_digest=digest,
    )
    timeline = Timeline("profiles", district, learner_id)
    planned = Planned(timeline, event, f"register/{district}/{learner_id}/{digest}", first=True)
    await ctx.service.store.append(timeline, [envelope(planned)], NO_EVENTS)
    return Registered(learner_id, created=True)


async def erase_learner(
    ctx: ProfilesContext, district: str, learner_id: str, requested_by: str, reason: str
) -> None:
    """Record the erasure, then destroy the learner's data key. The key is destroyed again
    by the erasure handler if this process stops in between."""
    async with ctx.service.sessions()() as session:
        row = await person(session, learner_id)
    if row is None or row["kind"] != "learner" or row["district"] != district:
        raise UnknownLearner(f"learner_id: no learner {learner_id!r} in district {district!r}")
    if row["status"] != "erased":
        event = ev.LearnerErased(learner_id=learner_id, requested_by=requested_by, reason=reason)
        timeline = Timeline("profiles", district, learner_id)
        await ctx.service.store.append(
            timeline, [envelope(Planned(timeline, event, f"erase/{learner_id}"))]
        )
    await ctx.keys.destroy(learner_id)
