"""Operator routes every service has: its read models (checkpoint, lag), rebuilding one from
sequence 1, and the events parked after their last delivery."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.service import Service
from eventlog.sql import parked_events

router = APIRouter(prefix="/v1/operations", tags=["operations"])

Operator = Annotated[Principal, Depends(allow("district_admin"))]
Viewer = Annotated[Principal, Depends(allow("district_admin", "auditor"))]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


Running = Annotated[Service, Depends(_service)]


@router.get("/projections")
async def projections(service: Running, _: Viewer) -> list[dict[str, Any]]:
    """Each read model: its stream, the last sequence applied, and how far behind it is."""
    return [
        {
            "name": p.projection.name,
            "stream": p.projection.stream,
            "checkpoint": await p.checkpoint(),
            "lag": await p.lag(),
        }
        for p in service.projectors
    ]


@router.post("/projections/{name}/rebuild", status_code=202)
async def rebuild(name: str, service: Running, _: Operator) -> dict[str, str]:
    """Empty the read model and replay its stream from sequence 1."""
    try:
        projector = service.projector(name)
    except KeyError:
        raise HTTPException(404, detail=f"name: no read model {name!r}") from None
    await projector.rebuild()
    return {"name": name, "status": "rebuilding"}


@router.get("/parked")
async def parked(service: Running, _: Viewer) -> list[dict[str, Any]]:
    """Events that still failed after their last delivery, with the reason."""
    async with service.sessions()() as session:
        rows = (
            await session.execute(select(parked_events).order_by(parked_events.c.id))
        ).mappings()
        return [{**row, "parked_at": row["parked_at"].isoformat()} for row in rows]
