"""Competency frameworks: import a CASE 1.0 package (district_admin), list versions, and a
version's graph as JSON for drawing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import ServiceDep, district_of, read_body
from pathways.api.deps import Context
from pathways.context import UnknownFramework
from pathways.domain.case import CaseRefused
from pathways.framework_import import MAX_PACKAGE_BYTES, import_framework
from pathways.projections.frameworks import frameworks

router = APIRouter(prefix="/v1/frameworks", tags=["frameworks"])

Readers = Annotated[
    Principal, Depends(allow("learner", "guardian", "teacher", "district_admin", "auditor"))
]
Admin = Annotated[Principal, Depends(allow("district_admin"))]


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


@router.post("", response_model=None)
async def import_case_package(
    request: Request, ctx: Context, principal: Admin
) -> dict[str, Any] | JSONResponse:
    """Import a CASE 1.0 CFPackage (JSON). Unchanged: nothing is appended. Changed: a new
    version with its differences. Invalid: 422 listing every problem; nothing imported."""
    body = await read_body(request, MAX_PACKAGE_BYTES)
    try:
        return await import_framework(ctx, district_of(principal), body, principal.subject)
    except CaseRefused as refused:
        problems = [{"field": p.field, "rule": p.rule} for p in refused.problems]
        return JSONResponse({"detail": problems}, status_code=422)


@router.get("/{framework_id}/graph")
async def framework_graph(
    framework_id: str, ctx: Context, principal: Readers, version: int | None = None
) -> dict[str, Any]:
    """Nodes (competencies, with parent and order) and edges (`child_of`, `precedes`, and the
    other CASE associations kept) of one version (the latest by default)."""
    try:
        framework = await ctx.framework(district_of(principal), framework_id, version)
    except UnknownFramework:
        raise HTTPException(404, detail=f"framework_id: no framework {framework_id!r}") from None
    nodes = [
        {
            "id": c.competency_id,
            "code": c.code,
            "label": c.statement,
            "parent": c.parent_id,
            "sequence": c.sequence,
            "uri": c.uri,
        }
        for c in framework.competencies
    ]
    edges = [
        {"from": c.competency_id, "to": c.parent_id, "type": "child_of"}
        for c in framework.competencies
        if c.parent_id
    ]
    edges += [
        {"from": p.before, "to": p.after, "type": "precedes"} for p in framework.prerequisites
    ]
    edges += [
        {"from": a.origin, "to": a.destination, "type": a.association_type}
        for a in framework.associations
    ]
    return {
        "framework_id": framework.framework_id,
        "version": framework.version,
        "title": framework.title,
        "nodes": nodes,
        "edges": edges,
        "warnings": list(framework.warnings),
        "changes": framework.changes.model_dump() if framework.changes else None,
    }
