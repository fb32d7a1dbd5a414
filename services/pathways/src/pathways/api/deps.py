"""Shared pieces of the pathways routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from eventlog.auth import Principal
from pathways.context import PathwaysContext
from pathways.projections.reference import may_read


def _context(request: Request) -> PathwaysContext:
    context: PathwaysContext = request.app.state.pathways
    return context


Context = Annotated[PathwaysContext, Depends(_context)]


async def check_reader(ctx: PathwaysContext, principal: Principal, learner_id: str) -> None:
    async with ctx.service.sessions()() as session:
        allowed = await may_read(session, principal.subject, principal.roles, learner_id)
    if not allowed:
        raise HTTPException(403, detail="learner_id: not a learner you may read")
