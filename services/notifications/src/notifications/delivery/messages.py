"""Turning outbox rows into what leaves the system: an email (one notification, or a digest of
several) to the recipient's address, or a signed webhook POST. Identities are opened here, at
send time, and nothing opened is kept."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select

from notifications.context import NotificationsContext
from notifications.delivery.channels import Undeliverable, post_webhook, send_email
from notifications.delivery.claims import utc
from notifications.domain.templates import Message, render, render_digest
from notifications.projections.recipients import person
from notifications.projections.settings import senders, webhooks
from shared_events.pii import Sealed

DEFAULT_SENDER = ("Learner Ledger", "no-reply@learner-ledger.invalid")


async def email(ctx: NotificationsContext, rows: Sequence[dict[str, Any]]) -> str | None:
    """Send one email for `rows` (one notification, or a digest of one recipient's); the
    digest's id, if it was one."""
    first = rows[0]
    address = (await identity(ctx, first["recipient_id"])).get("email")
    if not address:
        raise Undeliverable("the recipient has no email address")
    messages = [
        render(row["template"], row["locale"], row["facts"], await learner_name(ctx, row))
        for row in rows
    ]
    message: Message = messages[0]
    digest_id = None
    if first["digest"]:
        message = render_digest(first["locale"], messages)
        joined = "|".join(sorted(r["notification_id"] for r in rows))
        digest_id = hashlib.sha256(joined.encode()).hexdigest()[:32]
    async with ctx.service.sessions()() as session:
        sender = await session.scalar(
            select(senders.c.body).where(senders.c.district == first["district"])
        )
    await send_email(
        ctx.delivery,
        to=address,
        sender=(sender["from_name"], sender["from_address"]) if sender else DEFAULT_SENDER,
        reply_to=sender.get("reply_to") if sender else None,
        message=message,
        message_id=digest_id or first["notification_id"],
    )
    return digest_id


async def webhook(
    ctx: NotificationsContext, client: httpx.AsyncClient, row: dict[str, Any]
) -> None:
    async with ctx.service.sessions()() as session:
        query = select(webhooks).where(webhooks.c.webhook_id == row["recipient_id"])
        hook = (await session.execute(query)).mappings().first()
    if hook is None or not hook["enabled"]:
        raise Undeliverable("the webhook is gone or disabled")
    secret = await ctx.sealer.open(Sealed.model_validate(hook["secret"]))
    queued_at = utc(row["queued_at"])
    payload = {
        "notification_id": row["notification_id"],
        "event": row["template"],
        "district": row["district"],
        "learner_id": row["learner_id"],
        "facts": row["facts"],
        "queued_at": queued_at.isoformat() if queued_at else None,
    }
    await post_webhook(client, hook["url"], secret.encode(), payload, row["notification_id"])


async def identity(ctx: NotificationsContext, person_id: str) -> dict[str, Any]:
    """A person's identity, opened now (raises Shredded once their key is destroyed)."""
    async with ctx.service.sessions()() as session:
        found = await person(session, person_id)
    if found is None:
        raise Undeliverable("the recipient is not known (yet) to this service")
    if found["erased"]:
        raise Undeliverable("the recipient was erased")
    return dict(await ctx.sealer.open(Sealed.model_validate(found["identity"])))


async def learner_name(ctx: NotificationsContext, row: dict[str, Any]) -> str:
    opened = await identity(ctx, row["learner_id"])
    return str(opened.get("given_name") or opened.get("sis_id") or "")
