"""The district's pathway policy (pace, intervention thresholds, roll-up rules) and the pace
sweep on demand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import StrictBody, district_of
from pathways.api.deps import Context
from pathways.handlers import sweep_pace
from pathways.projections.reference import policies
from shared_events.events.pathways import PathwayPolicySet, RollupRule

router = APIRouter(prefix="/v1", tags=["pathways"])
Admin = Annotated[Principal, Depends(allow("district_admin"))]


class PolicyIn(StrictBody):
    default_pace_days: int = Field(default=180, ge=1)
    pace_tolerance: float = Field(default=0.25, ge=0, le=1)
    attempts_without_proficient: int = Field(default=3, ge=1)
    falling_trend_window: int = Field(default=3, ge=2)
    stalled_days: int = Field(default=14, ge=1)
    proficient_levels: list[str] = Field(default_factory=lambda: ["proficient", "mastered"])
    rollups: dict[str, RollupRule] = Field(default_factory=dict)


@router.put("/pathway-policy")
async def set_policy(body: PolicyIn, ctx: Context, principal: Admin) -> dict[str, Any]:
    """The district's pace and intervention thresholds and roll-up rules, from now on."""
    district = district_of(principal)
    async with ctx.service.sessions()() as session:
        previous = await session.scalar(
            select(policies.c.version).where(policies.c.district == district)
        )
    event = PathwayPolicySet(
        version=int(previous or 0) + 1,
        set_by=principal.subject,
        default_pace_days=body.default_pace_days,
        pace_tolerance=body.pace_tolerance,
        attempts_without_proficient=body.attempts_without_proficient,
        falling_trend_window=body.falling_trend_window,
        stalled_days=body.stalled_days,
        proficient_levels=tuple(body.proficient_levels),
        rollups=body.rollups,
    )
    event_id = await ctx.append_setting(district, event)
    await ctx.service.projector("pathways-policies").wait_caught_up()
    return {"version": event.version, "event_id": event_id}


@router.post("/pace/sweep")
async def sweep(ctx: Context, principal: Admin) -> dict[str, Any]:
    """Look at every active pathway's pace today (the service also does it periodically)."""
    await ctx.service.projector("pathways-progress").wait_caught_up()
    today = datetime.now(UTC).date()
    return {"as_of": today.isoformat(), "events": await sweep_pace(ctx, today)}
