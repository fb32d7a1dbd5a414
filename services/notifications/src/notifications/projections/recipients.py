"""Who can receive what, from the profiles service's events: people with their identity as it
travels in the log (sealed with each person's own data key, opened only to send), guardian
links, class enrollments, erasures; and competency statements (PATHWAYS frameworks), so
messages name what was learned."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import JSON, Boolean, Column, MetaData, String, Table, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import delete_rows, in_chunks, put_row
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


async def audiences_of(
    session: AsyncSession, learner_ids: Sequence[str]
) -> dict[str, dict[Audience, list[str]]]:
    """Per learner: the learner, their guardians, and the teachers of their classes."""
    linked: dict[str, set[str]] = {learner: set() for learner in learner_ids}
    taught: dict[str, set[str]] = {learner: set() for learner in learner_ids}
    student, teacher = enrollments.alias("student"), enrollments.alias("teacher")
    for chunk in in_chunks(learner_ids):
        rows = await session.execute(
            select(guardians.c.learner_id, guardians.c.guardian_id).where(
                guardians.c.learner_id.in_(chunk)
            )
        )
        for learner, guardian in rows:
            linked[learner].add(guardian)
        rows = await session.execute(
            select(student.c.person_id, teacher.c.person_id)
            .join(teacher, teacher.c.class_id == student.c.class_id)
            .where(
                student.c.person_id.in_(chunk)
                & (student.c.role == "student")
                & (teacher.c.role == "teacher")
            )
            .distinct()
        )
        for learner, staff in rows:
            taught[learner].add(staff)
    return {
        learner: {
            "learner": [learner],
            "guardians": sorted(linked[learner]),
            "teachers": sorted(taught[learner]),
        }
        for learner in learner_ids
    }


async def person(session: AsyncSession, person_id: str) -> dict[str, object] | None:
    row = (await session.execute(select(people).where(people.c.person_id == person_id))).first()
    return None if row is None else dict(row._mapping)


async def erased_among(session: AsyncSession, person_ids: Sequence[str]) -> set[str]:
    """Those of `person_ids` who were erased."""
    found: set[str] = set()
    for chunk in in_chunks(person_ids):
        found.update(
            await session.scalars(
                select(people.c.person_id).where(
                    people.c.person_id.in_(chunk) & people.c.erased.is_(True)
                )
            )
        )
    return found


async def statements_of(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The statements of those `(district, competency_id)` that have one."""
    by_district: dict[str, list[str]] = defaultdict(list)
    for district, competency in sorted(set(keys)):
        by_district[district].append(competency)
    found: dict[tuple[str, str], str] = {}
    for district, competency_ids in by_district.items():
        for chunk in in_chunks(competency_ids):
            rows = await session.execute(
                select(competencies.c.competency_id, competencies.c.statement).where(
                    (competencies.c.district == district) & competencies.c.competency_id.in_(chunk)
                )
            )
            found.update({(district, competency): statement for competency, statement in rows})
    return found
