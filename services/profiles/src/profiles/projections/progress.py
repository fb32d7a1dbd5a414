"""What the profile derives from other services: each learner's latest mastery per competency
(EVIDENCE stream) and the interventions recommended for them (PATHWAYS stream)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, Integer, MetaData, String, Table, delete
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import put_row
from eventlog.stored import StoredEvent
from shared_events.events.evidence import MasteryDecided
from shared_events.events.pathways import InterventionRecommended, InterventionResolved

metadata = MetaData()

standings = Table(
    "profiles_standings",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("competency_id", String(255), primary_key=True),
    Column("level", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("mastered", Boolean, nullable=False),
    Column("evidence_count", Integer, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

interventions = Table(
    "profiles_interventions",
    metadata,
    Column("intervention_id", String(64), primary_key=True),
    Column("learner_id", String(64), nullable=False, index=True),
    Column("competency_id", String(255), nullable=False),
    Column("tier", Integer, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("open", Boolean, nullable=False),
)


class StandingsProjection:
    name = "profiles-standings"
    exclusive = True  # one replica at a time applies it (eventlog.projector)
    stream = "EVIDENCE"
    subjects = ("evidence.*.*.mastery",)

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        decided = event.envelope.data
        if not isinstance(decided, MasteryDecided):
            return
        await put_row(
            session,
            standings,
            {"learner_id": decided.learner_id, "competency_id": decided.competency_id},
            level=decided.new_level,
            score=decided.new_score,
            mastered=decided.mastered,
            evidence_count=len(decided.evidence),
            decided_at=event.envelope.time,
        )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(standings))


class InterventionsProjection:
    name = "profiles-interventions"
    exclusive = True  # one replica at a time applies it (eventlog.projector)
    stream = "PATHWAYS"
    subjects = ("pathways.*.*.intervention", "pathways.*.*.intervention_resolved")

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        recommended = event.envelope.data
        if isinstance(recommended, InterventionResolved):
            await session.execute(
                interventions.update()
                .where(interventions.c.intervention_id == recommended.intervention_id)
                .values(open=False)
            )
            return
        if not isinstance(recommended, InterventionRecommended):
            return
        await put_row(
            session,
            interventions,
            {"intervention_id": recommended.intervention_id},
            learner_id=recommended.learner_id,
            competency_id=recommended.competency_id,
            tier=recommended.tier,
            reason=recommended.reason,
            open=True,
        )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(interventions))
