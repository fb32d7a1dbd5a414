"""Learners: register, read a profile, change it, set goals, list disclosures, erase."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import StrictBody, district_of
from profiles.api.deps import Context, learner_access
from profiles.api.views import ProfileView, profile_view
from profiles.commands.learners import (
    AlreadyRegistered,
    UnknownLearner,
    erase_learner,
    register_learner,
)
from profiles.commands.profile import record_disclosure, set_goal, update_profile
from profiles.domain.access import DEFAULT_PURPOSE
from profiles.domain.profile_rules import NotAllowed
from profiles.projections.directory import disclosures

router = APIRouter(prefix="/v1/learners", tags=["learners"])

Admin = Annotated[Principal, Depends(allow("district_admin"))]
Staff = Annotated[Principal, Depends(allow("teacher", "district_admin", "auditor"))]
Reader = Annotated[
    Principal, Depends(allow("learner", "guardian", "teacher", "district_admin", "auditor"))
]
Writer = Annotated[Principal, Depends(allow("learner", "guardian", "teacher", "district_admin"))]
Purpose = Annotated[str | None, Query(max_length=500, description="why the record is read")]


class NewLearner(StrictBody):
    sis_id: str = Field(min_length=1, max_length=255)
    given_name: str = Field(min_length=1, max_length=255)
    family_name: str = Field(min_length=1, max_length=255)
    middle_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    school_id: str | None = Field(default=None, max_length=255)
    grade_levels: list[str] = Field(default_factory=list, max_length=20)


class ProfileChange(StrictBody):
    interests: list[str] | None = Field(default=None, max_length=50)
    aspirations: str | None = Field(default=None, max_length=4000)
    learning_needs: str | None = Field(default=None, max_length=4000)
    supports: list[str] | None = Field(default=None, max_length=50)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


class NewGoal(StrictBody):
    target_competencies: list[str] = Field(min_length=1, max_length=200)
    target_date: date
    description: str | None = Field(default=None, max_length=4000)


class Erasure(StrictBody):
    reason: str = Field(min_length=1, max_length=500)


class DisclosureView(BaseModel):
    viewer_id: str
    viewer_role: str
    record: str
    purpose: str
    disclosed_at: datetime


@router.post("", status_code=201, responses={200: {}, 409: {}})
async def register(body: NewLearner, ctx: Context, principal: Admin) -> JSONResponse:
    """Register one learner; the answer is their pseudonymous id. Same details again: 200."""
    identity = body.model_dump(exclude={"school_id", "grade_levels"})
    try:
        result = await register_learner(
            ctx, district_of(principal), identity, body.school_id, tuple(body.grade_levels)
        )
    except AlreadyRegistered as exc:
        raise HTTPException(409, detail=str(exc)) from None
    return JSONResponse(
        {"learner_id": result.learner_id}, status_code=201 if result.created else 200
    )


@router.get("")
async def find_by_sis_id(
    ctx: Context,
    principal: Staff,
    sis_id: Annotated[str, Query(min_length=1)],
    purpose: Purpose = None,
) -> ProfileView:
    """Staff look a learner up by the district's SIS id (never stored in clear in the log)."""
    learner_id = ctx.ids.learner_id(district_of(principal), sis_id)
    return await read_profile(learner_id, ctx, principal, purpose)


@router.get("/{learner_id}")
async def read_profile(
    learner_id: str, ctx: Context, principal: Reader, purpose: Purpose = None
) -> ProfileView:
    """The living profile: who, interests, goals with status, skills, gaps, strengths."""
    relations, access = await learner_access(ctx, principal, learner_id)
    if access.disclosed:
        await record_disclosure(
            ctx,
            relations.district,
            learner_id,
            principal.subject,
            access.as_role or "",
            "profile",
            purpose or DEFAULT_PURPOSE[access.as_role or ""],
        )
    return await profile_view(ctx, learner_id)


@router.patch("/{learner_id}/profile")
async def change_profile(
    learner_id: str, body: ProfileChange, ctx: Context, principal: Writer
) -> dict[str, str]:
    relations, access = await learner_access(ctx, principal, learner_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise HTTPException(422, detail="body: name at least one field to change")
    try:
        event_id = await update_profile(
            ctx, relations.district, learner_id, principal.subject, access.as_role or "", changes
        )
    except NotAllowed as exc:
        raise HTTPException(403, detail=str(exc)) from None
    return {"event_id": event_id}


@router.post("/{learner_id}/goals", status_code=201)
async def add_goal(
    learner_id: str, body: NewGoal, ctx: Context, principal: Writer
) -> dict[str, str]:
    relations, access = await learner_access(ctx, principal, learner_id, write=True)
    try:
        goal_id = await set_goal(
            ctx,
            relations.district,
            learner_id,
            principal.subject,
            access.as_role or "",
            tuple(body.target_competencies),
            body.target_date,
            body.description,
        )
    except NotAllowed as exc:
        raise HTTPException(403, detail=str(exc)) from None
    return {"goal_id": goal_id}


@router.get("/{learner_id}/disclosures")
async def list_disclosures(
    learner_id: str,
    ctx: Context,
    principal: Annotated[
        Principal, Depends(allow("learner", "guardian", "district_admin", "auditor"))
    ],
) -> list[DisclosureView]:
    """Who read this learner's record, when, what and why."""
    await learner_access(ctx, principal, learner_id)
    async with ctx.service.sessions()() as session:
        rows = (
            await session.execute(
                select(disclosures)
                .where(disclosures.c.learner_id == learner_id)
                .order_by(disclosures.c.disclosed_at)
            )
        ).mappings()
        return [DisclosureView.model_validate(dict(row)) for row in rows]


@router.post("/{learner_id}/erasure", status_code=202)
async def erase(learner_id: str, body: Erasure, ctx: Context, principal: Admin) -> dict[str, str]:
    """Erase a learner: their data key is destroyed, so every sealed value about them is noise."""
    try:
        await erase_learner(ctx, district_of(principal), learner_id, principal.subject, body.reason)
    except UnknownLearner as exc:
        raise HTTPException(404, detail=str(exc)) from None
    return {"learner_id": learner_id, "status": "erased"}
