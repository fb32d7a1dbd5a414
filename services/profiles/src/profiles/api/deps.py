"""What every profiles route needs: the context, and access to one learner decided once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from eventlog.auth import Principal
from profiles.context import ProfilesContext
from profiles.domain.access import Access, LearnerRelations, Viewer, read_access, write_access
from profiles.projections.directory_reads import classes_taught, relations


def _context(request: Request) -> ProfilesContext:
    context: ProfilesContext = request.app.state.profiles
    return context


Context = Annotated[ProfilesContext, Depends(_context)]


def viewer_of(principal: Principal) -> Viewer:
    return Viewer(principal.subject, principal.roles, principal.district)


async def learner_access(
    ctx: ProfilesContext, principal: Principal, learner_id: str, *, write: bool = False
) -> tuple[LearnerRelations, Access]:
    """The learner's relations and the caller's access; 404 for an unknown learner, 403 when
    no relationship allows it (the answer names the rule, never the learner's details)."""
    async with ctx.service.sessions()() as session:
        found = await relations(session, learner_id)
        taught = (
            await classes_taught(session, principal.subject)
            if "teacher" in principal.roles
            else frozenset()
        )
    if found is None:
        raise HTTPException(404, detail=f"learner_id: no learner {learner_id!r}")
    if write and found.erased:
        raise HTTPException(409, detail="learner_id: the learner was erased; nothing can be added")
    decide = write_access if write else read_access
    access = decide(viewer_of(principal), found, taught)
    if not access.allowed:
        raise HTTPException(403, detail=f"learner_id: {access.reason}")
    return found, access
