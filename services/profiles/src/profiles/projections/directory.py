"""The directory read model: people, guardian links, classes, enrollments, profiles, goals and
disclosures, all from the PROFILES stream. Sealed values stay sealed here; the API opens them
for the people allowed to read them, so erasure (destroying the key) reaches this copy too.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    MetaData,
    String,
    Table,
    delete,
    insert,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import delete_rows, put_row
from eventlog.stored import StoredEvent
from shared_events import Envelope, Event
from shared_events.events import profiles as ev

metadata = MetaData()

people = Table(
    "profiles_people",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # learner, staff, guardian
    Column("role", String(32), nullable=False),
    Column("school_ids", JSON, nullable=False),
    Column("grade_levels", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # active, erased
    Column("identity", JSON),  # a Sealed value
    Column("identity_digest", String(64)),
    Column("registered_at", DateTime(timezone=True)),
    Column("erased_at", DateTime(timezone=True)),
)

guardian_links = Table(
    "profiles_guardian_links",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("guardian_id", String(64), primary_key=True, index=True),
    Column("relationship", String(16), nullable=False),
)

classes = Table(
    "profiles_classes",
    metadata,
    Column("class_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False),
    Column("title", String(500), nullable=False),
    Column("school_id", String(255)),
    Column("class_code", String(255)),
)

enrollments = Table(
    "profiles_enrollments",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("class_id", String(64), primary_key=True, index=True),
    Column("role", String(16), nullable=False),
)

profiles = Table(
    "profiles_profiles",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("interests", JSON, nullable=False),
    Column("aspirations", JSON),
    Column("learning_needs", JSON),
    Column("supports", JSON),
    Column("language", String(16)),
    Column("updated_at", DateTime(timezone=True)),
    Column("updated_by", String(64)),
)

goals = Table(
    "profiles_goals",
    metadata,
    Column("goal_id", String(64), primary_key=True),
    Column("learner_id", String(64), nullable=False, index=True),
    Column("target_competencies", JSON, nullable=False),
    Column("target_date", Date, nullable=False),
    Column("description", JSON),
    Column("set_on", Date, nullable=False),
    Column("set_by", String(64), nullable=False),
)

disclosures = Table(
    "profiles_disclosures",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("learner_id", String(64), nullable=False, index=True),
    Column("viewer_id", String(64), nullable=False),
    Column("viewer_role", String(32), nullable=False),
    Column("record", String(64), nullable=False),
    Column("purpose", String(500), nullable=False),
    Column("disclosed_at", DateTime(timezone=True), nullable=False),
)

TABLES = (people, guardian_links, classes, enrollments, profiles, goals, disclosures)


class DirectoryProjection:
    name = "profiles-directory"
    stream = "PROFILES"
    subjects = ("profiles.>",)

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        await _apply(session, event.envelope, event.envelope.data)

    async def reset(self, session: AsyncSession) -> None:
        for table in TABLES:
            await session.execute(delete(table))


async def _register(
    session: AsyncSession, env: Envelope, person_id: str, kind: str, role: str, **extra: object
) -> None:
    values = {"school_ids": [], "grade_levels": [], **extra}
    await put_row(
        session,
        people,
        {"person_id": person_id},
        district=env.district,
        kind=kind,
        role=role,
        status="active",
        registered_at=env.time,
        **values,
    )


async def _apply(session: AsyncSession, env: Envelope, data: Event) -> None:
    match data:
        case ev.LearnerRegistered():
            await _register(
                session,
                env,
                data.learner_id,
                "learner",
                "student",
                school_ids=[data.school_id] if data.school_id else [],
                grade_levels=list(data.grade_levels),
                identity=data.identity.model_dump(),
                identity_digest=data.identity_digest,
            )
            await put_row(session, profiles, {"learner_id": data.learner_id}, interests=[])
        case ev.StaffRegistered():
            await _register(
                session,
                env,
                data.person_id,
                "staff",
                data.role,
                school_ids=list(data.school_ids),
                identity=data.identity.model_dump(),
                identity_digest=data.identity_digest,
            )
        case ev.GuardianRegistered():
            await _register(
                session,
                env,
                data.person_id,
                "guardian",
                "guardian",
                identity=data.identity.model_dump(),
                identity_digest=data.identity_digest,
            )
        case ev.IdentityUpdated():
            await session.execute(
                update(people)
                .where(people.c.person_id == data.person_id)
                .values(identity=data.identity.model_dump(), identity_digest=data.identity_digest)
            )
        case ev.GuardianLinked():
            link = {"learner_id": data.learner_id, "guardian_id": data.guardian_id}
            await put_row(session, guardian_links, link, relationship=data.relationship)
        case ev.GuardianUnlinked():
            await delete_rows(
                session, guardian_links, learner_id=data.learner_id, guardian_id=data.guardian_id
            )
        case ev.ClassListed():
            await put_row(
                session,
                classes,
                {"class_id": data.class_id},
                district=env.district,
                title=data.title,
                school_id=data.school_id,
                class_code=data.class_code,
            )
        case ev.ClassEnrolled():
            member = {"person_id": data.person_id, "class_id": data.class_id}
            await put_row(session, enrollments, member, role=data.role)
        case ev.ClassWithdrawn():
            await delete_rows(
                session, enrollments, person_id=data.person_id, class_id=data.class_id
            )
        case ev.ProfileUpdated():
            changes = {
                name: getattr(data, name).model_dump()
                for name in ("aspirations", "learning_needs", "supports")
                if getattr(data, name) is not None
            }
            if data.interests is not None:
                changes["interests"] = list(data.interests)
            if data.language is not None:
                changes["language"] = data.language
            await session.execute(
                update(profiles)
                .where(profiles.c.learner_id == data.learner_id)
                .values(updated_at=env.time, updated_by=data.author_id, **changes)
            )
        case ev.GoalSet():
            await put_row(
                session,
                goals,
                {"goal_id": data.goal_id},
                learner_id=data.learner_id,
                target_competencies=list(data.target_competencies),
                target_date=data.target_date,
                description=data.description.model_dump() if data.description else None,
                set_on=env.time.date(),
                set_by=data.author_id,
            )
        case ev.RecordDisclosed():
            await session.execute(
                insert(disclosures).values(
                    event_id=env.id,
                    learner_id=data.learner_id,
                    viewer_id=data.viewer_id,
                    viewer_role=data.viewer_role,
                    record=data.record,
                    purpose=data.purpose,
                    disclosed_at=env.time,
                )
            )
        case ev.LearnerErased():
            await session.execute(
                update(people)
                .where(people.c.person_id == data.learner_id)
                .values(
                    status="erased",
                    identity=None,
                    identity_digest=None,
                    school_ids=[],
                    grade_levels=[],
                    erased_at=env.time,
                )
            )
            await session.execute(
                update(profiles)
                .where(profiles.c.learner_id == data.learner_id)
                .values(interests=[], aspirations=None, learning_needs=None, supports=None)
            )
            await session.execute(
                update(goals).where(goals.c.learner_id == data.learner_id).values(description=None)
            )
