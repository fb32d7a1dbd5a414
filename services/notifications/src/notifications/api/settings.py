"""District notification settings (district_admin): the rules, the email sender, webhooks."""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException
from pydantic import AfterValidator, Field
from sqlalchemy import select

from eventlog.auth import Principal, allow
from eventlog.http import StrictBody, district_of
from notifications.api.deps import Context
from notifications.domain.rules import DEFAULT_RULES
from notifications.projections.settings import rules, rules_of, webhooks
from shared_events.events.notifications import (
    NotificationRule,
    NotificationRulesSet,
    SenderSet,
    Trigger,
    WebhookSet,
)
from shared_events.pii import Sealed
from shared_events.subjects import UnsafeSubjectToken, token

router = APIRouter(prefix="/v1", tags=["settings"])

Admin = Annotated[Principal, Depends(allow("district_admin"))]


class RulesIn(StrictBody):
    rules: list[NotificationRule] = Field(min_length=1, max_length=50)


def _address(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise ValueError("an email address, e.g. notices@district.example")
    return value


Address = Annotated[str, Field(max_length=320), AfterValidator(_address)]


class SenderIn(StrictBody):
    from_address: Address
    from_name: str = Field(min_length=1, max_length=200)
    reply_to: Address | None = None


class WebhookIn(StrictBody):
    url: str = Field(min_length=1, max_length=2000)
    triggers: list[Trigger] = Field(min_length=1)
    enabled: bool = True


async def _setting(ctx: Any, principal: Principal, event: Any) -> None:
    purpose = f"settings/{uuid.uuid4()}"
    await ctx.append(district_of(principal), "settings", [(purpose, event)], None)
    await ctx.service.projector("notifications-settings").wait_caught_up()


@router.get("/notification-rules")
async def get_rules(ctx: Context, principal: Admin) -> dict[str, Any]:
    async with ctx.service.sessions()() as session:
        found = await rules_of(session, district_of(principal))
    return {"rules": [r.model_dump() for r in found or DEFAULT_RULES], "default": found is None}


@router.put("/notification-rules")
async def set_rules(body: RulesIn, ctx: Context, principal: Admin) -> dict[str, int]:
    """What triggers a notification and to whom, from now on (replaces the rules before)."""
    async with ctx.service.sessions()() as session:
        version = await session.scalar(
            select(rules.c.version).where(rules.c.district == district_of(principal))
        )
    event = NotificationRulesSet(
        version=int(version or 0) + 1, rules=tuple(body.rules), set_by=principal.subject
    )
    await _setting(ctx, principal, event)
    return {"version": event.version}


@router.put("/sender")
async def set_sender(body: SenderIn, ctx: Context, principal: Admin) -> dict[str, str]:
    """The district's email sender: from address and name, reply-to."""
    event = SenderSet(
        from_address=str(body.from_address),
        from_name=body.from_name,
        reply_to=str(body.reply_to) if body.reply_to else None,
        set_by=principal.subject,
    )
    await _setting(ctx, principal, event)
    return {"status": "saved"}


def check_url(url: str, allow_loopback_http: bool) -> None:
    """HTTPS only; plain HTTP to a loopback address when the deployment allows it (dev)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise HTTPException(422, detail="url: must be an absolute https:// URL")
    if parts.scheme == "https":
        return
    loopback = parts.hostname == "localhost" or _is_loopback(parts.hostname)
    if parts.scheme == "http" and loopback and allow_loopback_http:
        return
    raise HTTPException(422, detail="url: must be https:// (plain http only to loopback in dev)")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.put("/webhooks/{webhook_id}")
async def set_webhook(
    webhook_id: str, body: WebhookIn, ctx: Context, principal: Admin
) -> dict[str, Any]:
    """Register or change a webhook. A new one gets a signing secret, shown only here; a
    changed one keeps its secret."""
    try:
        token(webhook_id, field="webhook_id")
    except UnsafeSubjectToken as exc:
        raise HTTPException(422, detail=str(exc)) from None
    check_url(body.url, ctx.delivery.webhook_allow_loopback_http)
    district = district_of(principal)
    async with ctx.service.sessions()() as session:
        existing = (
            (await session.execute(select(webhooks).where(webhooks.c.webhook_id == webhook_id)))
            .mappings()
            .first()
        )
    if existing is not None and existing["district"] != district:
        raise HTTPException(409, detail="webhook_id: taken")
    shown = None
    if existing is None:
        shown = secrets.token_urlsafe(32)
        sealed = await ctx.sealer.seal(f"webhooks-{district}", shown)
    else:
        sealed = Sealed.model_validate(existing["secret"])
    event = WebhookSet(
        webhook_id=webhook_id,
        url=body.url,
        triggers=tuple(body.triggers),
        secret=sealed,
        enabled=body.enabled,
        set_by=principal.subject,
    )
    await _setting(ctx, principal, event)
    return {"webhook_id": webhook_id, "secret": shown}
