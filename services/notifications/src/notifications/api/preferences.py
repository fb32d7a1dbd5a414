"""A recipient's own preferences: channels per kind of notification, quiet hours, language,
daily digest. Recorded as an event; 422 names the field and the rule."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import district_of
from notifications.api.deps import Context
from notifications.projections.settings import preferences
from shared_events.events.notifications import Channel, PreferencesSet, QuietHours, Trigger
from shared_events.subjects import UnsafeSubjectToken

router = APIRouter(prefix="/v1/preferences", tags=["preferences"])

Recipient = Annotated[Principal, Depends(allow("learner", "guardian", "teacher"))]

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone, e.g. America/Chicago") from None
        return value


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: dict[Trigger, list[Literal["inbox", "email"]]] = Field(default_factory=dict)
    quiet_hours: QuietHoursIn | None = None
    language: Literal["en", "es"] = "en"
    digest: bool = False
    digest_time: str = Field(default="16:00", pattern=HHMM)


@router.get("")
async def my_preferences(ctx: Context, principal: Recipient) -> dict[str, object]:
    async with ctx.service.sessions()() as session:
        body = await session.scalar(
            select(preferences.c.body).where(preferences.c.person_id == principal.subject)
        )
    return body or {"person_id": principal.subject, "language": "en", "channels": {}}


@router.put("")
async def set_preferences(
    body: PreferencesIn, ctx: Context, principal: Recipient
) -> dict[str, str]:
    if body.digest and "teacher" not in principal.roles:
        raise HTTPException(422, detail="digest: a daily digest is for teachers")
    channels: dict[Trigger, tuple[Channel, ...]] = {
        trigger: tuple(dict.fromkeys(chosen)) for trigger, chosen in body.channels.items()
    }
    event = PreferencesSet(
        person_id=principal.subject,
        channels=channels,
        quiet_hours=QuietHours(**body.quiet_hours.model_dump()) if body.quiet_hours else None,
        language=body.language,
        digest=body.digest,
        digest_time=body.digest_time,
        set_by=principal.subject,
    )
    purpose = f"preferences/{uuid.uuid4()}"
    try:
        await ctx.append(district_of(principal), principal.subject, [(purpose, event)], None)
    except UnsafeSubjectToken as exc:
        raise HTTPException(422, detail=f"sub: {exc}") from None
    await ctx.service.projector("notifications-settings").wait_caught_up()
    return {"status": "saved"}
