"""Mastery queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import ServiceDep
from evidence.projections.mastery import mastery

router = APIRouter(prefix="/v1/learners", tags=["mastery"])

Staff = Annotated[Principal, Depends(allow("teacher", "district_admin", "auditor"))]


class MasteryView(BaseModel):
    competency_id: str
    level: str
    score: float
    mastered: bool
    decision_id: str
    decided_at: datetime


@router.get("/{learner_id}/mastery")
async def learner_mastery(
    learner_id: str, service: ServiceDep, principal: Staff
) -> list[MasteryView]:
    """The learner's current level on every competency with a decision."""
    query = select(mastery).where(mastery.c.learner_id == learner_id)
    if principal.district:
        query = query.where(mastery.c.district == principal.district)
    async with service.sessions()() as session:
        rows = (await session.execute(query.order_by(mastery.c.competency_id))).mappings()
        return [MasteryView.model_validate(dict(row)) for row in rows]
