"""Assigning a pathway: by a teacher over HTTP, or through a goal the profile records. A new
pathway starts from the mastery already decided for its competencies."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from pathways import commands
from pathways.commands import Refused
from pathways.context import PathwaysContext
from pathways.domain.graph import Graph
from pathways.projections.frameworks import latest_versions
from pathways.projections.reference import mastery
from shared_events import Event
from shared_events.events.pathways import MasteryObserved, PathwayAssigned
from shared_events.events.profiles import GoalSet

log = logging.getLogger(__name__)


async def assign_pathway(
    ctx: PathwaysContext,
    district: str,
    learner_id: str,
    *,
    pathway_id: str,
    framework_id: str,
    targets: Sequence[str],
    assigned_by: str,
    today: date,
    target_date: date | None = None,
    goal_id: str | None = None,
) -> list[Event]:
    """Append the assignment (nothing if the pathway exists); raises UnknownFramework or
    Refused naming what is wrong."""
    framework = await ctx.framework(district, framework_id)
    graph = await ctx.graph(district, framework.framework_id, framework.version)
    for index, competency in enumerate(targets):
        if competency not in graph:
            raise Refused(
                f"competencies[{index}]: {competency!r} is not in framework {framework_id!r}"
            )
    scope = graph.scope(targets)
    assigned = PathwayAssigned(
        learner_id=learner_id,
        pathway_id=pathway_id,
        framework_id=framework.framework_id,
        framework_version=framework.version,
        competencies=scope,
        assigned_by=assigned_by,
        target_date=target_date,
        goal_id=goal_id,
        start_date=today,
    )
    known = await known_mastery(ctx, learner_id, scope)
    return await ctx.settle(
        district,
        learner_id,
        commands.assign(assigned, known, today),
        cause=f"assign/{learner_id}/{pathway_id}",
        extra=[(framework.framework_id, framework.version)],
    )


async def known_mastery(
    ctx: PathwaysContext, learner_id: str, competencies: Sequence[str]
) -> list[MasteryObserved]:
    """The learner's latest decisions on `competencies`, once the read model has every
    decision stored so far (the handler skips decisions for learners without a pathway)."""
    await ctx.service.projector("pathways-mastery").wait_caught_up()
    async with ctx.service.sessions()() as session:
        rows = (
            await session.execute(
                select(mastery).where(
                    (mastery.c.learner_id == learner_id)
                    & mastery.c.competency_id.in_(list(competencies))
                )
            )
        ).mappings()
        return [
            MasteryObserved(
                learner_id=learner_id,
                competency_id=row["competency_id"],
                decision_id=row["decision_id"],
                mastered=row["mastered"],
                level=row["level"],
                score=row["score"],
                evidence_ids=tuple(row["evidence_ids"]),
                scores=tuple(row["scores"]),
                decided_at=row["decided_at"],
            )
            for row in sorted(rows, key=lambda r: (r["decided_at"], r["competency_id"]))
        ]


async def assignment_for_goal(
    ctx: PathwaysContext, district: str, goal: GoalSet, today: date
) -> list[Event]:
    """A pathway toward the goal's targets, in the framework that holds them all."""
    await ctx.service.projector("pathways-frameworks").wait_caught_up()
    async with ctx.service.sessions()() as session:
        candidates = await latest_versions(session, district)
    for framework in candidates:
        graph = Graph.of(framework)
        if all(target in graph for target in goal.target_competencies):
            return await assign_pathway(
                ctx,
                district,
                goal.learner_id,
                pathway_id=f"goal-{goal.goal_id}",
                framework_id=framework.framework_id,
                targets=goal.target_competencies,
                assigned_by=goal.author_id,
                today=today,
                target_date=goal.target_date,
                goal_id=goal.goal_id,
            )
    log.warning("goal %s: no framework holds all its target competencies", goal.goal_id)
    return []
