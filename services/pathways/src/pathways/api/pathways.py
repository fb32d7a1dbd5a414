"""Learners' pathways: assign, read (states and suggested next steps), override a competency,
move to a newer framework version; a teacher's class view; the district's pathway policy; the
pace sweep on demand."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import Field

from eventlog.auth import Principal, allow
from eventlog.event_store import ConcurrencyConflict
from eventlog.http import StrictBody, district_of
from pathways import commands
from pathways.api.deps import Context, check_reader
from pathways.assignments import assign_pathway
from pathways.commands import Refused
from pathways.context import UnknownFramework
from pathways.queries import learner_view
from shared_events.events.pathways import CompetencyOverridden

router = APIRouter(prefix="/v1", tags=["pathways"])

Readers = Annotated[
    Principal, Depends(allow("learner", "guardian", "teacher", "district_admin", "auditor"))
]
Staff = Annotated[Principal, Depends(allow("teacher", "district_admin"))]
Admin = Annotated[Principal, Depends(allow("district_admin"))]


class AssignIn(StrictBody):
    framework_id: str = Field(min_length=1)
    competencies: list[str] = Field(
        default_factory=list, description="targets; empty assigns the whole framework"
    )
    target_date: date | None = None
    pathway_id: str | None = Field(default=None, min_length=1, max_length=128)


class OverrideIn(StrictBody):
    competency_id: str = Field(min_length=1)
    action: Literal["waived", "mastered", "not_mastered", "cleared"]
    reason: str = Field(min_length=1, max_length=2000)


class MoveIn(StrictBody):
    version: int | None = Field(default=None, ge=1, description="default: the latest")


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
    set: work in progress first, then what meets the learner's interests, never anything
    locked), and open interventions."""
    await check_reader(ctx, principal, learner_id)
    return await learner_view(ctx, district_of(principal), learner_id)


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
