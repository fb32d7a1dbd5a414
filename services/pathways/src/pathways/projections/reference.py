"""What the pathways service reads from elsewhere: the district's pathway policy (its own
settings events), learners' interests and class enrollments (PROFILES), and each learner's
latest mastery decision per competency (EVIDENCE), which a new pathway starts from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import delete_rows, in_chunks, put_row
from eventlog.stored import StoredEvent
from shared_events.events.evidence import MasteryDecided
from shared_events.events.pathways import PathwayPolicySet
from shared_events.events.profiles import (
    ClassEnrolled,
    ClassWithdrawn,
    GuardianLinked,
    GuardianUnlinked,
    ProfileUpdated,
)

metadata = MetaData()

policies = Table(
    "pathways_policies",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("body", JSON, nullable=False),
)

interests = Table(
    "pathways_interests",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("interests", JSON, nullable=False),
)

enrollments = Table(
    "pathways_enrollments",
    metadata,
    Column("district", String(64), nullable=False, index=True),
    Column("person_id", String(64), primary_key=True),
    Column("class_id", String(255), primary_key=True),
    Column("role", String(32), nullable=False),
)

guardians = Table(
    "pathways_guardians",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("guardian_id", String(64), primary_key=True),
)

mastery = Table(
    "pathways_mastery",
    metadata,
    Column("district", String(64), nullable=False),
    Column("learner_id", String(64), primary_key=True),
    Column("competency_id", String(255), primary_key=True),
    Column("decision_id", String(128), nullable=False),
    Column("mastered", Boolean, nullable=False),
    Column("level", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("evidence_ids", JSON, nullable=False),
    Column("scores", JSON, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)


class PoliciesProjection:
    name = "pathways-policies"
    stream = "PATHWAYS"
    subjects = ("pathways.*.settings.policy_set",)

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data = event.envelope.data
        if isinstance(data, PathwayPolicySet):
            await put_row(
                session,
                policies,
                {"district": event.envelope.district},
                version=data.version,
                body=data.model_dump(mode="json"),
            )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(policies))


class LearnerFactsProjection:
    name = "pathways-learner-facts"
    stream = "PROFILES"
    subjects = (
        "profiles.*.*.updated",
        "profiles.*.*.enrolled",
        "profiles.*.*.withdrawn",
        "profiles.*.*.guardian_linked",
        "profiles.*.*.guardian_unlinked",
    )

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data, district = event.envelope.data, event.envelope.district
        if isinstance(data, ProfileUpdated) and data.interests is not None:
            key = {"learner_id": data.learner_id}
            await put_row(session, interests, key, interests=list(data.interests))
        elif isinstance(data, ClassEnrolled):
            key = {"person_id": data.person_id, "class_id": data.class_id}
            await put_row(session, enrollments, key, district=district, role=data.role)
        elif isinstance(data, ClassWithdrawn):
            await delete_rows(
                session, enrollments, person_id=data.person_id, class_id=data.class_id
            )
        elif isinstance(data, GuardianLinked):
            key = {"learner_id": data.learner_id, "guardian_id": data.guardian_id}
            await put_row(session, guardians, key)
        elif isinstance(data, GuardianUnlinked):
            await delete_rows(
                session, guardians, learner_id=data.learner_id, guardian_id=data.guardian_id
            )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(interests))
        await session.execute(delete(enrollments))
        await session.execute(delete(guardians))


class MasteryProjection:
    name = "pathways-mastery"
    stream = "EVIDENCE"
    subjects = ("evidence.*.*.mastery",)

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        await self.apply_batch(session, [event])

    async def apply_batch(self, session: AsyncSession, events: Sequence[StoredEvent]) -> None:
        """Only the latest decision per learner and competency stays: one delete and one
        insert for the whole batch."""
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for event in events:
            data = event.envelope.data
            if not isinstance(data, MasteryDecided):
                continue
            latest[(data.learner_id, data.competency_id)] = {
                "learner_id": data.learner_id,
                "competency_id": data.competency_id,
                "district": event.envelope.district,
                "decision_id": event.envelope.id,
                "mastered": data.mastered,
                "level": data.new_level,
                "score": data.new_score,
                "evidence_ids": [e.evidence_id for e in data.evidence],
                "scores": [e.score for e in data.evidence],
                "decided_at": event.envelope.time,
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
        await session.execute(delete(mastery))


async def policy_of(session: AsyncSession, district: str) -> PathwayPolicySet | None:
    body = await session.scalar(select(policies.c.body).where(policies.c.district == district))
    return None if body is None else PathwayPolicySet.model_validate(body)


async def interests_of(session: AsyncSession, learner_id: str) -> list[str]:
    found = await session.scalar(
        select(interests.c.interests).where(interests.c.learner_id == learner_id)
    )
    return list(found or [])


async def may_read(
    session: AsyncSession, subject: str, roles: frozenset[str], learner_id: str
) -> bool:
    """The learner themself, a linked guardian, a teacher of one of their classes; district
    admins and auditors (within their district, checked by the caller)."""
    if roles & {"district_admin", "auditor"} or subject == learner_id:
        return True
    if "guardian" in roles:
        linked = await session.scalar(
            select(guardians.c.guardian_id).where(
                (guardians.c.learner_id == learner_id) & (guardians.c.guardian_id == subject)
            )
        )
        if linked is not None:
            return True
    if "teacher" in roles:
        return learner_id in await learners_taught(session, subject)
    return False


async def learners_taught(
    session: AsyncSession, teacher_id: str, class_id: str | None = None
) -> set[str]:
    taught = select(enrollments.c.class_id).where(
        (enrollments.c.person_id == teacher_id) & (enrollments.c.role == "teacher")
    )
    if class_id is not None:
        taught = taught.where(enrollments.c.class_id == class_id)
    rows = await session.execute(
        select(enrollments.c.person_id).where(
            enrollments.c.class_id.in_(taught) & (enrollments.c.role == "student")
        )
    )
    return {row[0] for row in rows}
