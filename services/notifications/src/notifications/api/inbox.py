"""The caller's own in-app inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import ServiceDep
from notifications.projections.inbox import inbox

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])

Recipient = Annotated[Principal, Depends(allow("learner", "guardian", "teacher"))]


class InboxItem(BaseModel):
    notification_id: str
    learner_id: str
    template: str
    locale: str
    queued_at: datetime
    read_at: datetime | None


@router.get("")
async def my_inbox(service: ServiceDep, principal: Recipient) -> list[InboxItem]:
    """Notifications addressed to the caller, newest first."""
    query = (
        select(inbox)
        .where(inbox.c.recipient_id == principal.subject)
        .order_by(inbox.c.queued_at.desc())
    )
    async with service.sessions()() as session:
        rows = (await session.execute(query)).mappings()
        return [InboxItem.model_validate(dict(row)) for row in rows]
