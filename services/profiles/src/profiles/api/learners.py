"""Learner queries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import ServiceDep
from profiles.projections.learners import learners

router = APIRouter(prefix="/v1/learners", tags=["learners"])

Staff = Annotated[Principal, Depends(allow("teacher", "district_admin", "auditor"))]


class LearnerView(BaseModel):
    learner_id: str
    district: str
    school_id: str | None
    grade_levels: list[str]
    status: str


@router.get("/{learner_id}")
async def get_learner(learner_id: str, service: ServiceDep, principal: Staff) -> LearnerView:
    """A learner's registration record, by pseudonymous id."""
    async with service.sessions()() as session:
        row = (
            (await session.execute(select(learners).where(learners.c.learner_id == learner_id)))
            .mappings()
            .first()
        )
    if row is None or (principal.district and row["district"] != principal.district):
        raise HTTPException(404, detail=f"learner_id: no learner {learner_id!r} in your district")
    return LearnerView.model_validate(dict(row))
