"""The deliverer: sends what the outbox says is queued and due, once.

Exactly once per (cause, recipient, channel): the notification id names the three; a replica
claims a notification in `notifications_attempts` (one row per notification, a claim that
expires after `claim_ttl`) before sending it; the outcome is written there before it is
appended to the log, and appended again until it is. The deliverer does nothing while the outbox
read model is behind the log (a rebuild, a fresh replica), and the attempts table is not a read
model: a rebuild resets the outbox, never what was sent.

A crash after the receiver accepted a message but before its outcome is written is the one
window left: the claim expires and the message goes again, with the same Message-ID (email) or
`X-Ledger-Delivery` header (webhooks), so receivers can drop the repeat.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, select
from sqlalchemy.exc import IntegrityError

from eventlog.redelivery import reason_of
from eventlog.sealing import Shredded
from notifications.context import NotificationsContext
from notifications.delivery.channels import TryAgain, Undeliverable, post_webhook, send_email
from notifications.domain.schedule import backoff
from notifications.domain.templates import Message, render, render_digest
from notifications.projections.outbox import outbox
from notifications.projections.recipients import person
from notifications.projections.settings import senders, webhooks
from shared_events.events.notifications import NotificationDelivered, NotificationFailed
from shared_events.pii import Sealed

log = logging.getLogger(__name__)

metadata = MetaData()

attempts = Table(
    "notifications_attempts",
    metadata,
    Column("notification_id", String(64), primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("claimed_by", String(64)),
    Column("claimed_until", DateTime(timezone=True)),
    Column("outcome", String(16)),
    Column("reason", Text),
    Column("digest_id", String(64)),
    Column("recorded", Boolean, nullable=False, default=False),
)

DEFAULT_SENDER = ("Learner Ledger", "no-reply@learner-ledger.invalid")
BATCH = 100


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _same(column: Any, value: object) -> Any:
    return column.is_(None) if value is None else column == value


class Deliverer:
    def __init__(self, ctx: NotificationsContext) -> None:
        self.ctx = ctx
        self.me = uuid.uuid4().hex[:12]
        self._client: httpx.AsyncClient | None = None

    async def run_forever(self) -> None:
        settings = self.ctx.delivery
        async with httpx.AsyncClient(timeout=settings.webhook_timeout) as client:
            self._client = client
            while True:
                try:
                    await self.run_once()
                except Exception as exc:
                    log.warning("deliverer: a round failed: %s", reason_of(exc))
                await asyncio.sleep(settings.delivery_interval)

    async def run_once(self) -> int:
        """One look at the outbox: record outcomes not yet in the log, then send what is due.
        Returns how many notifications were settled."""
        await self._record_outcomes()
        if not await self.ctx.service.projector("notifications-outbox").caught_up():
            return 0
        due = await self._claim_due()
        if not due:
            return 0
        singles = [row for row in due if not row["digest"]]
        digests: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in due:
            if row["digest"]:
                digests[(row["recipient_id"], row["channel"])].append(row)
        for row in singles:
            await self._deliver([row])
        for rows in digests.values():
            await self._deliver(rows)
        await self._record_outcomes()
        return len(due)

    async def _claim_due(self) -> list[dict[str, Any]]:
        now = self.ctx.clock()
        async with self.ctx.service.sessions()() as session:
            queued = [
                dict(r)
                for r in (
                    await session.execute(
                        select(outbox).where(outbox.c.status == "queued").limit(BATCH * 5)
                    )
                ).mappings()
            ]
            ids = [r["notification_id"] for r in queued]
            tried = {
                r["notification_id"]: dict(r)
                for r in (
                    await session.execute(
                        select(attempts).where(attempts.c.notification_id.in_(ids))
                    )
                ).mappings()
            }
        claimed = []
        for row in queued:
            after = _utc(row["deliver_after"])
            if after is not None and after > now:
                continue
            state = tried.get(row["notification_id"])
            if state is not None and not self._claimable(state, now):
                continue
            if await self._claim(row["notification_id"], state is None, now):
                row["attempts"] = state["attempts"] if state else 0
                claimed.append(row)
            if len(claimed) >= BATCH:
                break
        return claimed

    @staticmethod
    def _claimable(state: dict[str, Any], now: datetime) -> bool:
        if state["outcome"] is not None:
            return False
        until, retry_at = _utc(state["claimed_until"]), _utc(state["next_attempt_at"])
        return (until is None or until <= now) and (retry_at is None or retry_at <= now)

    async def _claim(self, notification_id: str, first: bool, now: datetime) -> bool:
        """Take the notification for `claim_ttl` seconds; False if another replica has it."""
        until = now + timedelta(seconds=self.ctx.delivery.claim_ttl)
        async with self.ctx.service.sessions()() as session:
            try:
                async with session.begin():
                    if first:
                        await session.execute(
                            attempts.insert().values(
                                notification_id=notification_id,
                                attempts=0,
                                claimed_by=self.me,
                                claimed_until=until,
                                recorded=False,
                            )
                        )
                        return True
                    state = (
                        (
                            await session.execute(
                                select(attempts)
                                .where(attempts.c.notification_id == notification_id)
                                .with_for_update()
                            )
                        )
                        .mappings()
                        .first()
                    )
                    if state is None or not self._claimable(dict(state), now):
                        return False
                    changed = await session.execute(
                        attempts.update()
                        .where(
                            (attempts.c.notification_id == notification_id)
                            & (
                                attempts.c.claimed_by.is_(None)
                                | (attempts.c.claimed_by == state["claimed_by"])
                            )
                            & (attempts.c.attempts == state["attempts"])
                        )
                        .values(claimed_by=self.me, claimed_until=until)
                    )
                    return bool(changed.rowcount)  # type: ignore[attr-defined]
            except IntegrityError:
                return False

    async def _deliver(self, rows: Sequence[dict[str, Any]]) -> None:
        first = rows[0]
        count = first["attempts"] + 1
        digest_id = None
        try:
            if first["channel"] == "inbox":
                pass  # in the inbox as soon as it is queued
            elif first["channel"] == "email":
                digest_id = await self._email(rows)
            else:
                await self._webhook(first)
        except Undeliverable as exc:
            await self._settle(rows, count, "failed", str(exc), None)
        except (TryAgain, Shredded) as exc:
            reason = str(exc) if isinstance(exc, TryAgain) else "the learner was erased"
            if isinstance(exc, Shredded) or count >= self.ctx.delivery.max_attempts:
                await self._settle(rows, count, "failed", reason, None)
            else:
                await self._retry(rows, count, reason)
        else:
            await self._settle(rows, count, "delivered", None, digest_id)

    async def _email(self, rows: Sequence[dict[str, Any]]) -> str | None:
        first = rows[0]
        recipient = await self._identity(first["recipient_id"])
        address = recipient.get("email")
        if not address:
            raise Undeliverable("the recipient has no email address")
        messages = [
            render(row["template"], row["locale"], row["facts"], await self._learner_name(row))
            for row in rows
        ]
        message: Message = messages[0]
        digest_id = None
        if first["digest"]:
            message = render_digest(first["locale"], messages)
            joined = "|".join(sorted(r["notification_id"] for r in rows))
            digest_id = hashlib.sha256(joined.encode()).hexdigest()[:32]
        async with self.ctx.service.sessions()() as session:
            sender = await session.scalar(
                select(senders.c.body).where(senders.c.district == first["district"])
            )
        await send_email(
            self.ctx.delivery,
            to=address,
            sender=(sender["from_name"], sender["from_address"]) if sender else DEFAULT_SENDER,
            reply_to=sender.get("reply_to") if sender else None,
            message=message,
            message_id=digest_id or first["notification_id"],
        )
        return digest_id

    async def _webhook(self, row: dict[str, Any]) -> None:
        async with self.ctx.service.sessions()() as session:
            hook = (
                (
                    await session.execute(
                        select(webhooks).where(webhooks.c.webhook_id == row["recipient_id"])
                    )
                )
                .mappings()
                .first()
            )
        if hook is None or not hook["enabled"]:
            raise Undeliverable("the webhook is gone or disabled")
        secret = await self.ctx.sealer.open(Sealed.model_validate(hook["secret"]))
        payload = {
            "notification_id": row["notification_id"],
            "event": row["template"],
            "district": row["district"],
            "learner_id": row["learner_id"],
            "facts": row["facts"],
            "queued_at": _utc(row["queued_at"]).isoformat(),  # type: ignore[union-attr]
        }
        assert self._client is not None
        await post_webhook(
            self._client, hook["url"], secret.encode(), payload, row["notification_id"]
        )

    async def _identity(self, person_id: str) -> dict[str, Any]:
        async with self.ctx.service.sessions()() as session:
            found = await person(session, person_id)
        if found is None:
            raise Undeliverable("the recipient is not known (yet) to this service")
        if found["erased"]:
            raise Undeliverable("the recipient was erased")
        opened = await self.ctx.sealer.open(Sealed.model_validate(found["identity"]))
        return dict(opened)

    async def _learner_name(self, row: dict[str, Any]) -> str:
        identity = await self._identity(row["learner_id"])
        return str(identity.get("given_name") or identity.get("sis_id") or "")

    async def _retry(self, rows: Sequence[dict[str, Any]], count: int, reason: str) -> None:
        settings = self.ctx.delivery
        wait = backoff(count, settings.backoff_base, settings.backoff_cap, random.uniform(0.5, 1.5))  # noqa: S311
        retry_at = self.ctx.clock() + timedelta(seconds=wait)
        log.warning("delivery failed (attempt %d), again in %.1fs: %s", count, wait, reason)
        async with self.ctx.service.sessions()() as session, session.begin():
            for row in rows:
                await session.execute(
                    attempts.update()
                    .where(attempts.c.notification_id == row["notification_id"])
                    .values(
                        attempts=count,
                        next_attempt_at=retry_at,
                        claimed_by=None,
                        claimed_until=None,
                        reason=reason,
                    )
                )

    async def _settle(
        self,
        rows: Sequence[dict[str, Any]],
        count: int,
        outcome: str,
        reason: str | None,
        digest_id: str | None,
    ) -> None:
        async with self.ctx.service.sessions()() as session, session.begin():
            for row in rows:
                await session.execute(
                    attempts.update()
                    .where(attempts.c.notification_id == row["notification_id"])
                    .values(attempts=count, outcome=outcome, reason=reason, digest_id=digest_id)
                )

    async def _record_outcomes(self) -> None:
        """Append the outcome of every settled notification the log does not have yet."""
        async with self.ctx.service.sessions()() as session:
            settled = [
                dict(r)
                for r in (
                    await session.execute(
                        select(attempts, outbox.c.district, outbox.c.learner_id, outbox.c.channel)
                        .join(outbox, outbox.c.notification_id == attempts.c.notification_id)
                        .where(attempts.c.outcome.is_not(None) & ~attempts.c.recorded)
                        .limit(BATCH)
                    )
                ).mappings()
            ]
        for row in settled:
            event: NotificationDelivered | NotificationFailed
            if row["outcome"] == "delivered":
                event = NotificationDelivered(
                    notification_id=row["notification_id"],
                    learner_id=row["learner_id"],
                    channel=row["channel"],
                    attempts=row["attempts"],
                    digest_id=row["digest_id"],
                )
            else:
                event = NotificationFailed(
                    notification_id=row["notification_id"],
                    learner_id=row["learner_id"],
                    channel=row["channel"],
                    attempts=row["attempts"],
                    reason=row["reason"] or "unknown",
                )
            purpose = f"{row['notification_id']}/{row['outcome']}"
            await self.ctx.append(row["district"], row["learner_id"], [(purpose, event)], None)
            async with self.ctx.service.sessions()() as session, session.begin():
                await session.execute(
                    attempts.update()
                    .where(attempts.c.notification_id == row["notification_id"])
                    .values(recorded=True)
                )
