"""Read models turned into what people see: sealed values opened for those allowed to read."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from eventlog.sealing import Shredded
from profiles.context import ProfilesContext
from profiles.domain import derived
from profiles.domain.goals import goal_status
from profiles.projections.directory import goals, profiles
from profiles.projections.directory_reads import person
from profiles.projections.progress import interventions, standings
from shared_events.pii import Sealed

log = logging.getLogger(__name__)


class Name(BaseModel):
    given_name: str | None
    family_name: str | None


class GoalView(BaseModel):
    goal_id: str
    target_competencies: list[str]
    target_date: date
    description: str | None
    status: str


class ProfileView(BaseModel):
    learner_id: str
    district: str
    status: str
    name: Name | None
    sis_id: str | None
    school_ids: list[str]
    grade_levels: list[str]
    interests: list[str]
    aspirations: str | None
    learning_needs: str | None
    supports: list[str] | None
    language: str | None
    goals: list[GoalView]
    skills: list[str]
    gaps: list[str]
    strengths: list[str]


async def open_sealed(ctx: ProfilesContext, value: dict[str, Any] | None) -> Any:
    """The clear value, or None once the learner's key is destroyed."""
    if value is None:
        return None
    try:
        return await ctx.sealer.open(Sealed.model_validate(value))
    except Shredded:
        return None
    except ValueError:
        # Tampered or foreign bytes: show nothing rather than fail the whole record.
        log.warning("a sealed value could not be opened (authentication failed)")
        return None


async def identity(ctx: ProfilesContext, row: RowMapping) -> dict[str, Any] | None:
    if row["status"] == "erased":
        return None
    opened = await open_sealed(ctx, row["identity"])
    return opened if isinstance(opened, dict) else None


async def profile_view(
    ctx: ProfilesContext, learner_id: str, today: date | None = None
) -> ProfileView:
    today = today or datetime.now(UTC).date()
    async with ctx.service.sessions()() as session:
        row = await person(session, learner_id)
        assert row is not None
        prof = (
            (await session.execute(select(profiles).where(profiles.c.learner_id == learner_id)))
            .mappings()
            .first()
        )
        goal_rows = (
            (await session.execute(select(goals).where(goals.c.learner_id == learner_id)))
            .mappings()
            .all()
        )
        standing_rows = (
            (await session.execute(select(standings).where(standings.c.learner_id == learner_id)))
            .mappings()
            .all()
        )
        open_interventions = await session.scalars(
            select(interventions.c.competency_id).where(
                (interventions.c.learner_id == learner_id) & interventions.c.open
            )
        )
        open_competencies = list(open_interventions)
    who = await identity(ctx, row)
    standing = [
        derived.CompetencyStanding(
            r["competency_id"], r["level"], r["score"], r["mastered"], r["evidence_count"]
        )
        for r in standing_rows
    ]
    mastered = set(derived.skills(standing))
    goal_views = [
        GoalView(
            goal_id=g["goal_id"],
            target_competencies=g["target_competencies"],
            target_date=g["target_date"],
            description=await open_sealed(ctx, g["description"]),
            status=goal_status(
                g["target_competencies"], g["set_on"], g["target_date"], mastered, today
            ),
        )
        for g in goal_rows
    ]
    prof_values: dict[str, Any] = dict(prof) if prof else {}
    return ProfileView(
        learner_id=learner_id,
        district=row["district"],
        status=row["status"],
        name=Name(given_name=who.get("given_name"), family_name=who.get("family_name"))
        if who
        else None,
        sis_id=who.get("sis_id") if who else None,
        school_ids=row["school_ids"],
        grade_levels=row["grade_levels"],
        interests=prof_values.get("interests") or [],
        aspirations=await open_sealed(ctx, prof_values.get("aspirations")),
        learning_needs=await open_sealed(ctx, prof_values.get("learning_needs")),
        supports=await open_sealed(ctx, prof_values.get("supports")),
        language=prof_values.get("language"),
        goals=goal_views,
        skills=sorted(mastered),
        gaps=derived.gaps(standing, open_competencies),
        strengths=derived.strengths(standing),
    )
