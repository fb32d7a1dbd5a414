"""The deliverer: sends what the outbox says is queued and due, once.

Exactly once per (cause, recipient, channel): the notification id names the three; a replica
claims a notification (`claims.py`, an expiring claim) before sending it; the outcome is written
there before it is appended to the log, and appended again until it is. The deliverer does
nothing while the outbox read model is behind the log (a rebuild, a fresh replica), and the
claims are not a read model: a rebuild resets the outbox, never what was sent.

A crash after the receiver accepted a message but before its outcome is written is the one
window left: the claim expires and the message goes again, with the same Message-ID (email) or
`X-Ledger-Delivery` header (webhooks), so receivers can drop the repeat.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx

from eventlog.redelivery import reason_of
from eventlog.sealing import Shredded
from notifications.context import NotificationsContext
from notifications.delivery import messages
from notifications.delivery.channels import TryAgain, Undeliverable
from notifications.delivery.claims import Claims
from notifications.domain.schedule import backoff
from shared_events.events.notifications import NotificationDelivered, NotificationFailed

log = logging.getLogger(__name__)

BATCH = 100


class Deliverer:
    def __init__(self, ctx: NotificationsContext) -> None:
        self.ctx = ctx
        self.me = uuid.uuid4().hex[:12]
        self._client: httpx.AsyncClient | None = None

    @property
    def claims(self) -> Claims:
        return Claims(self.ctx.service.sessions(), self.me, self.ctx.delivery.claim_ttl)

    async def run_forever(self) -> None:
        settings = self.ctx.delivery
        async with httpx.AsyncClient(timeout=settings.webhook_timeout) as client:
            self._client = client
            while not self._stopping():
                try:
                    await self.run_once()
                except Exception as exc:
                    log.warning("deliverer: a round failed: %s", reason_of(exc))
                await asyncio.sleep(settings.delivery_interval)

    def _stopping(self) -> bool:
        """The service is stopping, or this task was cancelled and a library swallowed it."""
        task = asyncio.current_task()
        return self.ctx.service.stopping or bool(task and task.cancelling())

    async def run_once(self) -> int:
        """One look at the outbox: record outcomes not yet in the log, then send what is due.
        Returns how many notifications were taken."""
        await self._record_outcomes()
        if not await self.ctx.service.projector("notifications-outbox").caught_up():
            return 0
        due = await self.claims.due(self.ctx.clock(), BATCH)
        digests: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in due:
            if row["digest"]:
                digests[(row["recipient_id"], row["channel"])].append(row)
            else:
                await self._deliver([row])
        for rows in digests.values():
            await self._deliver(rows)
        await self._record_outcomes()
        return len(due)

    async def _deliver(self, rows: Sequence[dict[str, Any]]) -> None:
        if self._stopping():
            return  # the claim runs out; another replica (or the restart) sends it
        first = rows[0]
        ids = [row["notification_id"] for row in rows]
        count = first["attempts"] + 1
        digest_id = None
        try:
            if first["channel"] == "email":
                digest_id = await messages.email(self.ctx, rows)
            elif first["channel"] == "webhook":
                assert self._client is not None
                await messages.webhook(self.ctx, self._client, first)
            # the inbox: there as soon as it is queued
        except Undeliverable as exc:
            await self.claims.settle(ids, count, "failed", str(exc), None)
        except Shredded:
            await self.claims.settle(ids, count, "failed", "the learner was erased", None)
        except TryAgain as exc:
            if self._stopping():
                return  # cut short by the stop, not a failed attempt: the claim runs out
            settings = self.ctx.delivery
            if count >= settings.max_attempts:
                await self.claims.settle(ids, count, "failed", str(exc), None)
                return
            jitter = random.uniform(0.5, 1.5)  # noqa: S311 (spreading retries, not secrecy)
            wait = backoff(count, settings.backoff_base, settings.backoff_cap, jitter)
            log.warning("delivery failed (attempt %d), again in %.1fs: %s", count, wait, exc)
            await self.claims.retry(
                ids, count, str(exc), self.ctx.clock() + timedelta(seconds=wait)
            )
        else:
            await self.claims.settle(ids, count, "delivered", None, digest_id)

    async def _record_outcomes(self) -> None:
        """Append the outcome of every settled notification the log does not have yet."""
        for row in await self.claims.unrecorded(BATCH):
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
            await self.claims.recorded(row["notification_id"])
