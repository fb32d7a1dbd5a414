"""A teacher's class view: each learner's ready set, goals at risk, open interventions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import district_of
from pathways.api.deps import Context
from pathways.projections.reference import enrollments, learners_taught
from pathways.queries import learner_view

router = APIRouter(prefix="/v1", tags=["pathways"])
Staff = Annotated[Principal, Depends(allow("teacher", "district_admin"))]


@router.get("/classes/{class_id}/pathways")
async def class_view(class_id: str, ctx: Context, principal: Staff) -> dict[str, Any]:
    """For each learner of the class: the ready set, goals at risk, open interventions."""
    async with ctx.service.sessions()() as session:
        if "district_admin" in principal.roles:
            rows = await session.execute(
                select(enrollments.c.person_id).where(
                    (enrollments.c.class_id == class_id)
                    & (enrollments.c.role == "student")
                    & (enrollments.c.district == district_of(principal))
                )
            )
            learners = {r[0] for r in rows}
        else:
            learners = await learners_taught(session, principal.subject, class_id)
            if not learners:
                raise HTTPException(403, detail="class_id: not a class you teach")
    result = []
    for learner_id in sorted(learners):
        detail = await learner_view(ctx, district_of(principal), learner_id)
        result.append(
            {
                "learner_id": learner_id,
                "ready": sorted({s for p in detail["pathways"] for s in p["next_steps"]}),
                "at_risk": [p["pathway_id"] for p in detail["pathways"] if p["at_risk"]],
                "open_interventions": detail["open_interventions"],
            }
        )
    return {"class_id": class_id, "learners": result}
