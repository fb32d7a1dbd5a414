"""Who sends what: one row per notification in `notifications_attempts`, holding an expiring
claim, the attempts made, the next try and the outcome. Not a read model: a rebuild of the
outbox never resets what was sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.projections.outbox import outbox

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


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every instant here is stored in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _same(column: Any, value: object) -> Any:
    return column.is_(None) if value is None else column == value


def _claimable(state: Any, now: datetime) -> bool:
    if state["outcome"] is not None:
        return False
    until, retry_at = utc(state["claimed_until"]), utc(state["next_attempt_at"])
    return (until is None or until <= now) and (retry_at is None or retry_at <= now)


class Claims:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], me: str, ttl: float) -> None:
        self.sessions, self.me, self.ttl = sessions, me, ttl

    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Queued notifications whose time has come, not settled, not held by anyone, not
        waiting for their next try — each claimed by this replica, oldest first."""
        free = attempts.c.notification_id.is_(None) | (
            attempts.c.outcome.is_(None)
            & (attempts.c.claimed_until.is_(None) | (attempts.c.claimed_until <= now))
            & (attempts.c.next_attempt_at.is_(None) | (attempts.c.next_attempt_at <= now))
        )
        query = (
            select(outbox, attempts.c.attempts.label("tried"))
            .outerjoin(attempts, attempts.c.notification_id == outbox.c.notification_id)
            .where(
                (outbox.c.status == "queued")
                & (outbox.c.deliver_after.is_(None) | (outbox.c.deliver_after <= now))
                & free
            )
            .order_by(outbox.c.queued_at)
            .limit(limit)
        )
        async with self.sessions() as session:
            candidates = [dict(r) for r in (await session.execute(query)).mappings()]
        claimed = []
        for row in candidates:
            if await self._claim(row["notification_id"], row["tried"] is None, now):
                row["attempts"] = row.pop("tried") or 0
                claimed.append(row)
        return claimed

    async def _claim(self, notification_id: str, first: bool, now: datetime) -> bool:
        """Take the notification for `ttl` seconds; False if another replica has it."""
        until = now + timedelta(seconds=self.ttl)
        async with self.sessions() as session:
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
                    query = select(attempts).where(attempts.c.notification_id == notification_id)
                    state = (await session.execute(query.with_for_update())).mappings().first()
                    if state is None or not _claimable(state, now):
                        return False
                    changed = await session.execute(
                        attempts.update()
                        .where(
                            (attempts.c.notification_id == notification_id)
                            # Unchanged since read: two replicas cannot both take it.
                            & _same(attempts.c.claimed_by, state["claimed_by"])
                            & (attempts.c.attempts == state["attempts"])
                        )
                        .values(claimed_by=self.me, claimed_until=until)
                    )
                    return bool(changed.rowcount)  # type: ignore[attr-defined]
            except IntegrityError:
                return False

    async def retry(self, ids: Sequence[str], count: int, reason: str, at: datetime) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                attempts.update()
                .where(attempts.c.notification_id.in_(ids))
                .values(
                    attempts=count,
                    next_attempt_at=at,
                    claimed_by=None,
                    claimed_until=None,
                    reason=reason,
                )
            )

    async def settle(
        self,
        ids: Sequence[str],
        count: int,
        outcome: str,
        reason: str | None,
        digest_id: str | None,
    ) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                attempts.update()
                .where(attempts.c.notification_id.in_(ids))
                .values(attempts=count, outcome=outcome, reason=reason, digest_id=digest_id)
            )

    async def unrecorded(self, limit: int) -> list[dict[str, Any]]:
        """Settled notifications whose outcome the log does not have yet."""
        query = (
            select(attempts, outbox.c.district, outbox.c.learner_id, outbox.c.channel)
            .join(outbox, outbox.c.notification_id == attempts.c.notification_id)
            .where(attempts.c.outcome.is_not(None) & ~attempts.c.recorded)
            .limit(limit)
        )
        async with self.sessions() as session:
            return [dict(r) for r in (await session.execute(query)).mappings()]

    async def recorded(self, notification_id: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                attempts.update()
                .where(attempts.c.notification_id == notification_id)
                .values(recorded=True)
            )
