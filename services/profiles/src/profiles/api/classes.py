"""Learners of a class, for its teachers, district admins and auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from eventlog.auth import Principal, allow
from profiles.api.deps import Context
from profiles.api.views import identity
from profiles.commands.profile import record_disclosure
from profiles.domain.access import DEFAULT_PURPOSE
from profiles.projections.directory import classes, enrollments, people
from profiles.projections.directory_reads import classes_taught

router = APIRouter(prefix="/v1/classes", tags=["classes"])

Staff = Annotated[Principal, Depends(allow("teacher", "district_admin", "auditor"))]


class ClassMember(BaseModel):
    learner_id: str
    status: str
    given_name: str | None
    family_name: str | None


@router.get("/{class_id}/learners")
async def class_learners(
    class_id: str,
    ctx: Context,
    principal: Staff,
    purpose: Annotated[str | None, Query(max_length=500)] = None,
) -> list[ClassMember]:
    async with ctx.service.sessions()() as session:
        listed = (
            (await session.execute(select(classes).where(classes.c.class_id == class_id)))
            .mappings()
            .first()
        )
        if listed is None:
            raise HTTPException(404, detail=f"class_id: no class {class_id!r}")
        role = _role(
            principal,
            listed["district"],
            await classes_taught(session, principal.subject),
            class_id,
        )
        rows = (
            (
                await session.execute(
                    select(people)
                    .join(enrollments, enrollments.c.person_id == people.c.person_id)
                    .where((enrollments.c.class_id == class_id) & (people.c.kind == "learner"))
                    .order_by(people.c.person_id)
                )
            )
            .mappings()
            .all()
        )
    members = []
    for row in rows:
        await record_disclosure(
            ctx,
            row["district"],
            row["person_id"],
            principal.subject,
            role,
            "class roster",
            purpose or DEFAULT_PURPOSE[role],
        )
        who = await identity(ctx, row) or {}
        members.append(
            ClassMember(
                learner_id=row["person_id"],
                status=row["status"],
                given_name=who.get("given_name"),
                family_name=who.get("family_name"),
            )
        )
    return members


def _role(principal: Principal, district: str, taught: frozenset[str], class_id: str) -> str:
    if "auditor" in principal.roles:
        return "auditor"
    if "district_admin" in principal.roles and principal.district == district:
        return "district_admin"
    if "teacher" in principal.roles and class_id in taught:
        return "teacher"
    raise HTTPException(403, detail="class_id: you do not teach this class")
