"""Resolve what a submission names — district, competency, learner — against the read models.

A lookup that fails is retried once after the read models have caught up with the log, so a
district configured or a framework imported a moment ago is not refused as unknown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.context import EvidenceContext
from evidence.ingest.observation import LearnerRef, Observation, Rejection
from evidence.projections.reference import alignments, competencies, districts, learners

T = TypeVar("T")


@dataclass(frozen=True)
class Resolved:
    district: str
    competency_id: str
    learner_id: str
    learner_status: str  # active, erased, unknown


async def resolve(
    ctx: EvidenceContext, partner: str, observation: Observation, prefix: str
) -> Resolved:
    district = await _found(ctx, lambda s: _district(s, partner, observation, prefix))
    competency = await _found(ctx, lambda s: _competency(s, district, observation, prefix))
    learner_id = learner_id_of(ctx, district, observation.learner)
    status = await _retrying(ctx, lambda s: _learner_status(s, learner_id))
    return Resolved(district, competency, learner_id, status or "unknown")


async def learner_status(ctx: EvidenceContext, learner_id: str) -> str | None:
    """active or erased as far as the read model knows now; None when never registered."""
    async with ctx.service.sessions()() as session:
        return await _learner_status(session, learner_id)


async def _found(ctx: EvidenceContext, lookup: Callable[[AsyncSession], Awaitable[str]]) -> str:
    found = await _retrying(ctx, lookup)
    assert found is not None  # a failed lookup raises a Rejection instead
    return found


def learner_id_of(ctx: EvidenceContext, district: str, learner: LearnerRef) -> str:
    if learner.sis_id is not None:
        return ctx.ids.learner_id(district, learner.sis_id)
    # Not a district id (an email, an openid): pseudonymised all the same, never registered.
    return ctx.ids.learner_id(district, f"ifi:{learner.other}")


async def _retrying(
    ctx: EvidenceContext, lookup: Callable[[AsyncSession], Awaitable[T | None]]
) -> T | None:
    """The lookup's answer; a miss (None or a Rejection) is asked again once the read models
    have caught up, and that second answer stands."""
    async with ctx.service.sessions()() as session:
        try:
            found = await lookup(session)
        except Rejection:
            found = None
    if found is not None:
        return found
    await ctx.reference_caught_up()
    async with ctx.service.sessions()() as session:
        return await lookup(session)


async def _district(
    session: AsyncSession, partner: str, observation: Observation, prefix: str
) -> str:
    rows = (await session.execute(select(districts))).mappings().all()
    allowed = [r for r in rows if partner in r["partners"]]
    if observation.district is not None:
        if not any(r["district"] == observation.district for r in rows):
            raise Rejection(f"{prefix}district", f"unknown district {observation.district!r}")
        if not any(r["district"] == observation.district for r in allowed):
            raise Rejection(
                f"{prefix}district",
                f"partner {partner!r} may not send evidence for {observation.district!r}",
            )
        return observation.district
    home = observation.learner.home_page
    by_home = [r["district"] for r in allowed if home and home in r["sis_home_pages"]]
    if len(by_home) == 1:
        return str(by_home[0])
    if len(allowed) == 1 and not by_home:
        return str(allowed[0]["district"])
    raise Rejection(
        f"{prefix}actor.account.homePage",
        f"cannot tell the district: {home!r} is not a SIS home page of a district "
        f"that partner {partner!r} sends for",
    )


async def _competency(
    session: AsyncSession, district: str, observation: Observation, prefix: str
) -> str:
    for ref in observation.competency_refs:
        found = await session.scalar(
            select(competencies.c.competency_id).where(
                (competencies.c.district == district) & (competencies.c.ref == ref)
            )
        )
        found = found or await session.scalar(
            select(alignments.c.competency_id).where(
                (alignments.c.district == district) & (alignments.c.activity_id == ref)
            )
        )
        if found:
            return str(found)
    named = ", ".join(repr(r) for r in observation.competency_refs[:3]) or "nothing"
    raise Rejection(
        f"{prefix}competency",
        f"unknown competency: {named} is neither a competency of an imported framework "
        "nor an aligned activity",
    )


async def _learner_status(session: AsyncSession, learner_id: str) -> str | None:
    status = await session.scalar(
        select(learners.c.status).where(learners.c.learner_id == learner_id)
    )
    return str(status) if status else None
