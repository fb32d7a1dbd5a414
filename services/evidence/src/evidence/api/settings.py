"""District settings for evidence: which partners may send, SIS home pages, activity
alignments, and the mastery policy per district, framework or competency. Each is an event."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import Field
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import StrictBody, district_of
from evidence.api.deps import Context
from evidence.domain.levels import LevelScale
from evidence.domain.policies import Method, Policy
from evidence.projections.reference import policies
from shared_events import Envelope, Event, Timeline
from shared_events.events.evidence import AlignmentsSet, IngestConfigured, PolicyRef, PolicySet
from shared_events.subjects import UnsafeSubjectToken, token

router = APIRouter(prefix="/v1", tags=["settings"])

Admin = Annotated[Principal, Depends(allow("district_admin"))]
Readers = Annotated[Principal, Depends(allow("district_admin", "teacher", "auditor"))]


class IngestSettings(StrictBody):
    partners: list[str] = Field(max_length=100)
    sis_home_pages: list[str] = Field(default_factory=list, max_length=20)


class Alignments(StrictBody):
    alignments: dict[str, str] = Field(min_length=1, max_length=10_000)


class Levels(StrictBody):
    names: list[str] = Field(min_length=2, max_length=10)
    thresholds: list[float] = Field(min_length=1, max_length=9)


class PolicyIn(StrictBody):
    method: Method
    params: dict[str, float] = Field(default_factory=dict)
    mastery_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    levels: Levels | None = None


async def _append(ctx: Context, district: str, event: Event) -> str:
    timeline = Timeline("evidence", district, "settings")
    envelope = Envelope.wrap(event, source="evidence", subject="settings", district=district)
    await ctx.service.store.append(timeline, [envelope])
    return envelope.id


@router.put("/ingest")
async def configure_ingest(body: IngestSettings, ctx: Context, principal: Admin) -> dict[str, str]:
    """Who may send evidence for the caller's district, and its SIS account home pages."""
    for index, partner in enumerate(body.partners):
        try:
            token(partner, field=f"partners[{index}]")
        except UnsafeSubjectToken as exc:
            raise HTTPException(422, detail=str(exc)) from None
    event = IngestConfigured(
        partners=tuple(body.partners),
        sis_home_pages=tuple(body.sis_home_pages),
        set_by=principal.subject,
    )
    return {"event_id": await _append(ctx, district_of(principal), event)}


@router.put("/alignments")
async def set_alignments(body: Alignments, ctx: Context, principal: Admin) -> dict[str, str]:
    """Activity id → competency id, for partners whose activities are not competencies."""
    event = AlignmentsSet(alignments=body.alignments, set_by=principal.subject)
    return {"event_id": await _append(ctx, district_of(principal), event)}


@router.put("/policies/{scope}/{scope_id}")
async def set_policy(
    scope: Literal["district", "framework", "competency"],
    scope_id: str,
    body: PolicyIn,
    ctx: Context,
    principal: Admin,
) -> dict[str, str | int]:
    """The mastery policy from now on; decisions already made keep the one they used."""
    district = district_of(principal)
    if scope == "district" and scope_id != district:
        raise HTTPException(422, detail="scope_id: a district policy is for your own district")
    async with ctx.service.sessions()() as session:
        previous = await session.scalar(
            select(policies.c.version).where(
                (policies.c.district == district)
                & (policies.c.scope == scope)
                & (policies.c.scope_id == scope_id)
            )
        )
    version = int(previous or 0) + 1
    levels = body.levels or Levels(
        names=list(LevelScale().names), thresholds=list(LevelScale().thresholds)
    )
    policy_id = f"{scope}:{scope_id}"
    try:
        scale = LevelScale(tuple(levels.names), tuple(levels.thresholds))
        Policy(
            policy_id, body.method, version, body.params, body.mastery_threshold, scale
        ).validate()
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    event = PolicySet(
        scope=scope,
        scope_id=scope_id,
        policy=PolicyRef(
            policy_id=policy_id, method=body.method, version=version, params=body.params
        ),
        mastery_threshold=body.mastery_threshold,
        level_names=tuple(levels.names),
        level_thresholds=tuple(levels.thresholds),
        set_by=principal.subject,
    )
    return {"event_id": await _append(ctx, district, event), "version": version}


@router.get("/policies")
async def list_policies(ctx: Context, principal: Readers) -> list[dict[str, object]]:
    async with ctx.service.sessions()() as session:
        rows = (
            await session.execute(
                select(policies).where(policies.c.district == district_of(principal))
            )
        ).mappings()
        return [
            {k: v for k, v in row.items() if k != "district"}
            | {"set_at": row["set_at"].isoformat()}
            for row in rows
        ]
