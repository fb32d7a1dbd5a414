"""Change a learner's profile, set a goal, and record who read a record."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from profiles.commands.appending import Planned, envelope
from profiles.context import ProfilesContext
from profiles.domain.profile_rules import check_goal, check_profile_change
from shared_events import Timeline
from shared_events.events import profiles as ev

SEALED_FIELDS = ("aspirations", "learning_needs", "supports")


async def update_profile(
    ctx: ProfilesContext,
    district: str,
    learner_id: str,
    author_id: str,
    role: str,
    changes: dict[str, Any],
) -> str:
    """Raises NotAllowed naming the first field this role may not set."""
    check_profile_change(role, changes)
    values: dict[str, Any] = {}
    for name, value in changes.items():
        values[name] = await ctx.sealer.seal(learner_id, value) if name in SEALED_FIELDS else value
    event = ev.ProfileUpdated(
        learner_id=learner_id, author_id=author_id, author_role=role, **values
    )
    return await _append(ctx, district, learner_id, event)


async def set_goal(
    ctx: ProfilesContext,
    district: str,
    learner_id: str,
    author_id: str,
    role: str,
    targets: tuple[str, ...],
    target_date: date,
    description: str | None,
) -> str:
    check_goal(role)
    sealed = await ctx.sealer.seal(learner_id, description) if description else None
    event = ev.GoalSet(
        learner_id=learner_id,
        goal_id=f"goal-{uuid.uuid4().hex[:16]}",
        author_id=author_id,
        author_role=role,
        target_competencies=targets,
        target_date=target_date,
        description=sealed,
    )
    await _append(ctx, district, learner_id, event)
    return event.goal_id


async def record_disclosure(
    ctx: ProfilesContext,
    district: str,
    learner_id: str,
    viewer_id: str,
    role: str,
    record: str,
    purpose: str,
) -> None:
    event = ev.RecordDisclosed(
        learner_id=learner_id,
        viewer_id=viewer_id,
        viewer_role=role,
        record=record,
        purpose=purpose,
    )
    await _append(ctx, district, learner_id, event)


async def _append(ctx: ProfilesContext, district: str, learner_id: str, event: ev.Event) -> str:
    timeline = Timeline("profiles", district, learner_id)
    wrapped = envelope(Planned(timeline, event, f"{event.event_type}/{uuid.uuid4()}"))
    await ctx.service.store.append(timeline, [wrapped])
    return wrapped.id
