"""The pathways queries: a learner's pathways as the read models have them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pathways.context import PathwaysContext
from pathways.domain.views import CompetencyView, suggested
from pathways.projections import progress
from pathways.projections.reference import interests_of


async def learner_view(ctx: PathwaysContext, district: str, learner_id: str) -> dict[str, Any]:
    """Each pathway with every competency's state and the suggested next steps (the ready
    set, work in progress first, then what meets the learner's interests); open
    interventions. Read from the projections."""
    async with ctx.service.sessions()() as session:
        rows = (
            await session.execute(
                select(progress.pathways).where(
                    (progress.pathways.c.learner_id == learner_id)
                    & (progress.pathways.c.district == district)
                )
            )
        ).mappings()
        pathway_rows = [dict(r) for r in rows]
        states = (
            await session.execute(
                select(progress.competency_states)
                .where(progress.competency_states.c.learner_id == learner_id)
                .order_by(progress.competency_states.c.position)
            )
        ).mappings()
        by_pathway: dict[str, list[dict[str, Any]]] = {}
        for state in states:
            by_pathway.setdefault(state["pathway_id"], []).append(dict(state))
        liked = await interests_of(session, learner_id)
        open_ones = (
            await session.execute(
                select(progress.interventions).where(
                    (progress.interventions.c.learner_id == learner_id)
                    & progress.interventions.c.open
                )
            )
        ).mappings()
        interventions = [_intervention(dict(r)) for r in open_ones]
    result = []
    for row in pathway_rows:
        graph = await ctx.graph(district, row["framework_id"], row["framework_version"])
        competencies = by_pathway.get(row["pathway_id"], [])
        views = [_as_view(c) for c in competencies]
        result.append(
            {
                **_pathway(row),
                "competencies": [
                    {
                        "competency_id": c["competency_id"],
                        "label": graph.labels.get(c["competency_id"]),
                        "state": c["state"],
                        "level": c["level"],
                        "score": c["score"],
                        "waiting_for": c["waiting_for"],
                    }
                    for c in competencies
                ],
                "next_steps": suggested(views, graph, liked),
            }
        )
    return {"learner_id": learner_id, "pathways": result, "open_interventions": interventions}


def _as_view(row: dict[str, Any]) -> CompetencyView:
    return CompetencyView(
        row["competency_id"], row["state"], row["level"], row["score"], tuple(row["waiting_for"])
    )


def _pathway(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "pathway_id": row["pathway_id"],
        "framework_id": row["framework_id"],
        "framework_version": row["framework_version"],
        "goal_id": row["goal_id"],
        "start_date": row["start_date"],
        "target_date": row["target_date"],
        "status": row["status"],
        "at_risk": row["at_risk"],
        "done": row["done_count"],
        "total": row["total_count"],
    }


def _intervention(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("intervention_id", "competency_id", "tier", "reason", "detail", "evidence_ids")
    return {k: row[k] for k in keys}
