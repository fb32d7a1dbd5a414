"""The `mastery` read model: each learner's current level per competency."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Float, MetaData, String, Table, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import in_chunks
from eventlog.stored import StoredEvent
from shared_events.events.evidence import MasteryDecided

metadata = MetaData()

mastery = Table(
    "evidence_mastery",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("competency_id", String(255), primary_key=True),
    Column("district", String(64), nullable=False),
    Column("level", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("mastered", Boolean, nullable=False),
    Column("decision_id", String(128), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)


class MasteryProjection:
    name = "evidence-mastery"
    exclusive = True  # one replica at a time applies it (eventlog.projector)
    stream = "EVIDENCE"
    subjects = ("evidence.*.*.mastery",)
    linger = 0.05  # a busy intake's decisions land in ~20 transactions a second, not hundreds

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        await self.apply_batch(session, [event])

    async def apply_batch(self, session: AsyncSession, events: Sequence[StoredEvent]) -> None:
        """Only the latest decision per learner and competency matters: one delete and one
        insert for the whole batch."""
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for event in events:
            envelope = event.envelope
            if not isinstance(envelope.data, MasteryDecided):
                continue
            decided = envelope.data
            latest[(decided.learner_id, decided.competency_id)] = {
                "learner_id": decided.learner_id,
                "competency_id": decided.competency_id,
                "district": envelope.district,
                "level": decided.new_level,
                "score": decided.new_score,
                "mastered": decided.mastered,
                "decision_id": envelope.id,
                "decided_at": envelope.time,
            }
        for chunk in in_chunks(list(latest)):
            await session.execute(
                mastery.delete().where(
                    tuple_(mastery.c.learner_id, mastery.c.competency_id).in_(chunk)
                )
            )
        if latest:
            await session.execute(mastery.insert(), list(latest.values()))

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(mastery.delete())
