"""Framework queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import ServiceDep
from pathways.projections.frameworks import frameworks

router = APIRouter(prefix="/v1/frameworks", tags=["frameworks"])

Readers = Annotated[
    Principal, Depends(allow("learner", "guardian", "teacher", "district_admin", "auditor"))
]


class FrameworkView(BaseModel):
    framework_id: str
    version: int
    title: str
    competency_count: int
    imported_at: datetime


@router.get("")
async def list_frameworks(service: ServiceDep, principal: Readers) -> list[FrameworkView]:
    """Every framework version imported in the caller's district."""
    query = select(frameworks).order_by(frameworks.c.framework_id, frameworks.c.version)
    if principal.district:
        query = query.where(frameworks.c.district == principal.district)
    async with service.sessions()() as session:
        rows = (await session.execute(query)).mappings()
        return [FrameworkView.model_validate(dict(row)) for row in rows]
