"""Who can receive what, from the profiles service's events: people with their identity as it
travels in the log (sealed with each person's own data key, opened only to send), guardian
links, class enrollments, erasures; and competency statements (PATHWAYS frameworks), so
messages name what was learned."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, MetaData, String, Table, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import delete_rows, put_row
from eventlog.stored import StoredEvent
from shared_events.events.notifications import Audience
from shared_events.events.pathways import FrameworkImported
from shared_events.events.profiles import (
    ClassEnrolled,
    ClassWithdrawn,
    GuardianLinked,
    GuardianRegistered,
    GuardianUnlinked,
    IdentityUpdated,
    LearnerErased,
    LearnerRegistered,
    StaffRegistered,
)

metadata = MetaData()

people = Table(
    "notifications_people",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("identity", JSON, nullable=False),
    Column("erased", Boolean, nullable=False, default=False),
)

guardians = Table(
    "notifications_guardians",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("guardian_id", String(64), primary_key=True),
)

enrollments = Table(
    "notifications_enrollments",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("class_id", String(255), primary_key=True),
    Column("role", String(32), nullable=False),
)

competencies = Table(
    "notifications_competencies",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("competency_id", String(255), primary_key=True),
    Column("statement", Text, nullable=False),
)


class RecipientsProjection:
    name = "notifications-recipients"
    stream = "PROFILES"
    subjects = (
        "profiles.*.*.registered",
        "profiles.*.*.staff_registered",
        "profiles.*.*.guardian_registered",
        "profiles.*.*.identity_updated",
        "profiles.*.*.guardian_linked",
        "profiles.*.*.guardian_unlinked",
        "profiles.*.*.enrolled",
        "profiles.*.*.withdrawn",
        "profiles.*.*.erased",
    )

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data, district = event.envelope.data, event.envelope.district
        match data:
            case LearnerRegistered() | StaffRegistered() | GuardianRegistered():
                person = data.learner_id if isinstance(data, LearnerRegistered) else data.person_id
                kind = {LearnerRegistered: "learner", GuardianRegistered: "guardian"}.get(
                    type(data), "staff"
                )
                await put_row(
                    session,
                    people,
                    {"person_id": person},
                    district=district,
                    kind=kind,
                    identity=data.identity.model_dump(),
                    erased=False,
                )
            case IdentityUpdated():
                await session.execute(
                    people.update()
                    .where(people.c.person_id == data.person_id)
                    .values(identity=data.identity.model_dump())
                )
            case LearnerErased():
                await session.execute(
                    people.update().where(people.c.person_id == data.learner_id).values(erased=True)
                )
            case GuardianLinked():
                key = {"learner_id": data.learner_id, "guardian_id": data.guardian_id}
                await put_row(session, guardians, key)
            case GuardianUnlinked():
                await delete_rows(
                    session, guardians, learner_id=data.learner_id, guardian_id=data.guardian_id
                )
            case ClassEnrolled():
                key = {"person_id": data.person_id, "class_id": data.class_id}
                await put_row(session, enrollments, key, role=data.role)
            case ClassWithdrawn():
                await delete_rows(
                    session, enrollments, person_id=data.person_id, class_id=data.class_id
                )

    async def reset(self, session: AsyncSession) -> None:
        for table in (people, guardians, enrollments):
            await session.execute(delete(table))


class CompetenciesProjection:
    name = "notifications-competencies"
    stream = "PATHWAYS"
    subjects = ("frameworks.*.*.imported",)

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data = event.envelope.data
        if not isinstance(data, FrameworkImported):
            return
        for item in data.competencies:
            key = {"district": event.envelope.district, "competency_id": item.competency_id}
            await put_row(session, competencies, key, statement=item.statement)

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(competencies))


async def audience_of(session: AsyncSession, learner_id: str) -> dict[Audience, list[str]]:
    """The learner, their guardians, and the teachers of their classes."""
    linked = await session.scalars(
        select(guardians.c.guardian_id).where(guardians.c.learner_id == learner_id)
    )
    classes = select(enrollments.c.class_id).where(
        (enrollments.c.person_id == learner_id) & (enrollments.c.role == "student")
    )
    teachers = await session.scalars(
        select(enrollments.c.person_id)
        .where(enrollments.c.class_id.in_(classes) & (enrollments.c.role == "teacher"))
        .distinct()
    )
    return {"learner": [learner_id], "guardians": sorted(linked), "teachers": sorted(teachers)}


async def person(session: AsyncSession, person_id: str) -> dict[str, object] | None:
    row = (await session.execute(select(people).where(people.c.person_id == person_id))).first()
    return None if row is None else dict(row._mapping)


async def statement_of(session: AsyncSession, district: str, competency_id: str) -> str:
    found = await session.scalar(
        select(competencies.c.statement).where(
            (competencies.c.district == district) & (competencies.c.competency_id == competency_id)
        )
    )
    return found or competency_id
