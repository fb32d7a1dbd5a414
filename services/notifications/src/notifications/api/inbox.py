"""The caller's own in-app inbox: list, unread count, mark read (an event, like every change)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import func, select

from eventlog.auth import Principal, allow
from eventlog.http import ServiceDep
from notifications.api.deps import Context
from notifications.projections.inbox import inbox
from shared_events.events.notifications import NotificationRead

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])

Recipient = Annotated[Principal, Depends(allow("learner", "guardian", "teacher"))]


class InboxItem(BaseModel):
    notification_id: str
    learner_id: str
    template: str
    locale: str
    facts: dict[str, str]
    queued_at: datetime
    read_at: datetime | None


@router.get("")
async def my_inbox(
    service: ServiceDep, principal: Recipient, unread: bool = False
) -> list[InboxItem]:
    """Notifications addressed to the caller, newest first (`unread=true`: only unread)."""
    query = (
        select(inbox)
        .where(inbox.c.recipient_id == principal.subject)
        .order_by(inbox.c.queued_at.desc())
    )
    if unread:
        query = query.where(inbox.c.read_at.is_(None))
    async with service.sessions()() as session:
        rows = (await session.execute(query)).mappings()
        return [InboxItem.model_validate(dict(row)) for row in rows]


@router.get("/unread")
async def unread_count(service: ServiceDep, principal: Recipient) -> dict[str, int]:
    query = select(func.count()).where(
        (inbox.c.recipient_id == principal.subject) & inbox.c.read_at.is_(None)
    )
    async with service.sessions()() as session:
        return {"unread": int(await session.scalar(query) or 0)}


@router.post("/{notification_id}/read")
async def mark_read(notification_id: str, ctx: Context, principal: Recipient) -> dict[str, str]:
    """Mark one of the caller's notifications read; someone else's is not found."""
    async with ctx.service.sessions()() as session:
        row = (
            (
                await session.execute(
                    select(inbox).where(
                        (inbox.c.notification_id == notification_id)
                        & (inbox.c.recipient_id == principal.subject)
                    )
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise HTTPException(404, detail="notification_id: not in your inbox")
    if row["read_at"] is None:
        event = NotificationRead(
            notification_id=notification_id,
            learner_id=row["learner_id"],
            recipient_id=principal.subject,
            read_at=ctx.clock(),
        )
        purpose = f"{notification_id}/read"
        await ctx.append(row["district"], row["learner_id"], [(purpose, event)], None)
        await ctx.service.projector("notifications-inbox").wait_caught_up()
    return {"notification_id": notification_id, "status": "read"}
