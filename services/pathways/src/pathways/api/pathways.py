"""Learners' pathways: assign, read (states and suggested next steps), override a competency,
move to a newer framework version; a teacher's class view; the district's pathway policy; the
pace sweep on demand."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.event_store import ConcurrencyConflict
from eventlog.http import district_of
from pathways import commands
from pathways.api.deps import Context, check_reader
from pathways.assignments import assign_pathway
from pathways.commands import Refused
from pathways.context import UnknownFramework
from pathways.domain.pathway import CompetencyView, suggested
from pathways.handlers import sweep_pace
from pathways.projections import progress
from pathways.projections.reference import (
    enrollments,
    interests_of,
    learners_taught,
    policies,
)
from shared_events.events.pathways import CompetencyOverridden, PathwayPolicySet, RollupRule

router = APIRouter(prefix="/v1", tags=["pathways"])

Readers = Annotated[
    Principal, Depends(allow("learner", "guardian", "teacher", "district_admin", "auditor"))
]
Staff = Annotated[Principal, Depends(allow("teacher", "district_admin"))]
Admin = Annotated[Principal, Depends(allow("district_admin"))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignIn(Strict):
    framework_id: str = Field(min_length=1)
    competencies: list[str] = Field(
        default_factory=list, description="targets; empty assigns the whole framework"
    )
    target_date: date | None = None
    pathway_id: str | None = Field(default=None, min_length=1, max_length=128)


class OverrideIn(Strict):
    competency_id: str = Field(min_length=1)
    action: Literal["waived", "mastered", "not_mastered", "cleared"]
    reason: str = Field(min_length=1, max_length=2000)


class MoveIn(Strict):
    version: int | None = Field(default=None, ge=1, description="default: the latest")


class PolicyIn(Strict):
    default_pace_days: int = Field(default=180, ge=1)
    pace_tolerance: float = Field(default=0.15, ge=0, le=1)
    attempts_without_proficient: int = Field(default=3, ge=1)
    falling_trend_window: int = Field(default=3, ge=2)
    stalled_days: int = Field(default=14, ge=1)
    proficient_levels: list[str] = Field(default_factory=lambda: ["proficient", "mastered"])
    rollups: dict[str, RollupRule] = Field(default_factory=dict)


def _today() -> date:
    return datetime.now(UTC).date()


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, UnknownFramework):
        return HTTPException(422, detail=f"framework_id: no framework {exc.args[0]!r}")
    if isinstance(exc, ConcurrencyConflict):
        return HTTPException(409, detail="learner: changed meanwhile; try again")
    return HTTPException(422, detail=str(exc))


@router.post("/learners/{learner_id}/pathways")
async def assign(learner_id: str, body: AssignIn, ctx: Context, principal: Staff) -> dict[str, Any]:
    """Give the learner a pathway through a framework, or toward some of its competencies
    (with everything they need)."""
    district = district_of(principal)
    if "district_admin" not in principal.roles:
        await check_reader(ctx, principal, learner_id)
    pathway_id = body.pathway_id or _pathway_id(body.framework_id, body.competencies)
    try:
        events = await assign_pathway(
            ctx,
            district,
            learner_id,
            pathway_id=pathway_id,
            framework_id=body.framework_id,
            targets=body.competencies,
            assigned_by=principal.subject,
            today=_today(),
            target_date=body.target_date,
        )
    except (UnknownFramework, Refused, ConcurrencyConflict) as exc:
        raise _refused(exc) from None
    return {"pathway_id": pathway_id, "events": [type(e).__name__ for e in events]}


def _pathway_id(framework_id: str, targets: list[str]) -> str:
    digest = hashlib.sha256("\x1f".join([framework_id, *sorted(targets)]).encode()).hexdigest()
    return f"pw-{digest[:16]}"


@router.get("/learners/{learner_id}/pathways")
async def learner_pathways(learner_id: str, ctx: Context, principal: Readers) -> dict[str, Any]:
    """Each pathway with every competency's state and the suggested next steps (the ready
    set, work in progress first, then what meets the learner's interests)."""
    await check_reader(ctx, principal, learner_id)
    district = district_of(principal)
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


@router.post("/learners/{learner_id}/pathways/{pathway_id}/overrides")
async def override(
    learner_id: str, pathway_id: str, body: OverrideIn, ctx: Context, principal: Staff
) -> dict[str, Any]:
    """Waive a competency, or set it mastered / not mastered against the evidence (cleared:
    back to the evidence), with a reason — recorded like any decision."""
    if "district_admin" not in principal.roles:
        await check_reader(ctx, principal, learner_id)
    event = CompetencyOverridden(
        learner_id=learner_id,
        pathway_id=pathway_id,
        competency_id=body.competency_id,
        action=body.action,
        reason=body.reason,
        by=principal.subject,
    )
    cause = hashlib.sha256(event.model_dump_json().encode() + _today().isoformat().encode())
    try:
        events = await ctx.settle(
            district_of(principal),
            learner_id,
            commands.override(event, _today(), f"override/{cause.hexdigest()[:24]}"),
            cause=f"override/{cause.hexdigest()[:24]}",
        )
    except (Refused, ConcurrencyConflict) as exc:
        raise _refused(exc) from None
    return {"events": [type(e).__name__ for e in events]}


@router.post("/learners/{learner_id}/pathways/{pathway_id}/move")
async def move(
    learner_id: str, pathway_id: str, body: MoveIn, ctx: Context, principal: Staff
) -> dict[str, Any]:
    """Move a pathway in progress to another version of its framework (pathways keep the
    version they started with until moved)."""
    if "district_admin" not in principal.roles:
        await check_reader(ctx, principal, learner_id)
    district = district_of(principal)
    known = await ctx.load(district, learner_id)
    pathway = known.state.pathways.get(pathway_id)
    if pathway is None:
        raise HTTPException(404, detail=f"pathway_id: no pathway {pathway_id!r}")
    try:
        target = await ctx.framework(district, pathway.framework_id, body.version)
        graph = await ctx.graph(district, target.framework_id, target.version)
        cause = f"move/{learner_id}/{pathway_id}/{target.version}"
        events = await ctx.settle(
            district,
            learner_id,
            commands.move(pathway_id, graph, principal.subject, _today(), cause),
            cause=cause,
            extra=[(target.framework_id, target.version)],
        )
    except (UnknownFramework, Refused, ConcurrencyConflict) as exc:
        raise _refused(exc) from None
    return {"version": target.version, "events": [type(e).__name__ for e in events]}


@router.get("/classes/{class_id}/pathways")
async def class_view(class_id: str, ctx: Context, principal: Staff) -> dict[str, Any]:
    """For each learner of the class: the ready set, goals at risk, open interventions."""
    async with ctx.service.sessions()() as session:
        if "district_admin" in principal.roles:
            rows = await session.execute(
                select(enrollments.c.person_id).where(
                    (enrollments.c.class_id == class_id) & (enrollments.c.role == "student")
                )
            )
            learners = {r[0] for r in rows}
        else:
            learners = await learners_taught(session, principal.subject, class_id)
            if not learners:
                raise HTTPException(403, detail="class_id: not a class you teach")
    result = []
    for learner_id in sorted(learners):
        detail = await learner_pathways(learner_id, ctx, principal)
        result.append(
            {
                "learner_id": learner_id,
                "ready": sorted({s for p in detail["pathways"] for s in p["next_steps"]}),
                "at_risk": [p["pathway_id"] for p in detail["pathways"] if p["at_risk"]],
                "open_interventions": detail["open_interventions"],
            }
        )
    return {"class_id": class_id, "learners": result}


@router.put("/pathway-policy")
async def set_policy(body: PolicyIn, ctx: Context, principal: Admin) -> dict[str, Any]:
    """The district's pace and intervention thresholds and roll-up rules, from now on."""
    district = district_of(principal)
    async with ctx.service.sessions()() as session:
        previous = await session.scalar(
            select(policies.c.version).where(policies.c.district == district)
        )
    event = PathwayPolicySet(
        version=int(previous or 0) + 1,
        set_by=principal.subject,
        default_pace_days=body.default_pace_days,
        pace_tolerance=body.pace_tolerance,
        attempts_without_proficient=body.attempts_without_proficient,
        falling_trend_window=body.falling_trend_window,
        stalled_days=body.stalled_days,
        proficient_levels=tuple(body.proficient_levels),
        rollups=body.rollups,
    )
    event_id = await ctx.append_setting(district, event)
    await ctx.service.projector("pathways-policies").wait_caught_up()
    return {"version": event.version, "event_id": event_id}


@router.post("/pace/sweep")
async def sweep(ctx: Context, principal: Admin) -> dict[str, Any]:
    """Look at every active pathway's pace today (the service also does it periodically)."""
    await ctx.service.projector("pathways-progress").wait_caught_up()
    today = _today()
    return {"as_of": today.isoformat(), "events": await sweep_pace(ctx, today)}
