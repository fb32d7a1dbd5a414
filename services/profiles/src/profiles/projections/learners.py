"""The `learners` read model: one row per learner, pseudonymous id only."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.stored import StoredEvent
from shared_events.events.profiles import LearnerErased, LearnerRegistered

metadata = MetaData()

learners = Table(
    "profiles_learners",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False, index=True),
    Column("school_id", String(64)),
    Column("grade_levels", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("registered_at", DateTime(timezone=True)),
    Column("erased_at", DateTime(timezone=True)),
)


class LearnersProjection:
    name = "profiles-learners"
    stream = "PROFILES"
    subjects = ("profiles.*.*.registered", "profiles.*.*.erased")

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        envelope = event.envelope
        match envelope.data:
            case LearnerRegistered() as registered:
                await session.execute(
                    learners.delete().where(learners.c.learner_id == registered.learner_id)
                )
                await session.execute(
                    learners.insert().values(
                        learner_id=registered.learner_id,
                        district=envelope.district,
                        school_id=registered.school_id,
                        grade_levels=list(registered.grade_levels),
                        status="active",
                        registered_at=envelope.time,
                    )
                )
            case LearnerErased() as erased:
                await session.execute(
                    learners.update()
                    .where(learners.c.learner_id == erased.learner_id)
                    .values(
                        status="erased", school_id=None, grade_levels=[], erased_at=envelope.time
                    )
                )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(learners.delete())
