"""The `mastery` read model: each learner's current level per competency."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import put_row
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
    stream = "EVIDENCE"
    subjects = ("evidence.*.*.mastery",)

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        envelope = event.envelope
        if not isinstance(envelope.data, MasteryDecided):
            return
        decided = envelope.data
        await put_row(
            session,
            mastery,
            {"learner_id": decided.learner_id, "competency_id": decided.competency_id},
            district=envelope.district,
            level=decided.new_level,
            score=decided.new_score,
            mastered=decided.mastered,
            decision_id=envelope.id,
            decided_at=envelope.time,
        )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(mastery.delete())
