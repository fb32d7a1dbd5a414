"""Reads of the directory read model shared by commands and queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from profiles.domain.access import LearnerRelations
from profiles.domain.roster import KnownRoster, Pseudonymizer
from profiles.projections.directory import classes, enrollments, guardian_links, people


async def person(session: AsyncSession, person_id: str) -> RowMapping | None:
    query = select(people).where(people.c.person_id == person_id)
    return (await session.execute(query)).mappings().first()


async def relations(session: AsyncSession, learner_id: str) -> LearnerRelations | None:
    """Who is linked to the learner; None when no such learner is registered."""
    row = await person(session, learner_id)
    if row is None or row["kind"] != "learner":
        return None
    guardians = await session.scalars(
        select(guardian_links.c.guardian_id).where(guardian_links.c.learner_id == learner_id)
    )
    class_ids = await session.scalars(
        select(enrollments.c.class_id).where(enrollments.c.person_id == learner_id)
    )
    return LearnerRelations(
        learner_id,
        row["district"],
        frozenset(guardians),
        frozenset(class_ids),
        erased=row["status"] == "erased",
    )


async def classes_taught(session: AsyncSession, person_id: str) -> frozenset[str]:
    result = await session.scalars(
        select(enrollments.c.class_id).where(
            (enrollments.c.person_id == person_id) & (enrollments.c.role == "teacher")
        )
    )
    return frozenset(result)


async def known_roster(session: AsyncSession, district: str, ids: Pseudonymizer) -> KnownRoster:
    """Everything the log says about the district's roster, as the roster planner needs it."""
    rows = (
        await session.execute(
            select(people.c.person_id, people.c.identity_digest, people.c.status).where(
                people.c.district == district
            )
        )
    ).all()
    in_district = {r.person_id for r in rows}
    links = (await session.execute(select(guardian_links))).all()
    enrolled = (
        await session.execute(select(enrollments.c.person_id, enrollments.c.class_id))
    ).all()
    listed = (
        await session.execute(select(classes).where(classes.c.district == district))
    ).mappings()
    return KnownRoster(
        digests={r.person_id: r.identity_digest for r in rows if r.status != "erased"},
        links=frozenset(
            (r.learner_id, r.guardian_id) for r in links if r.learner_id in in_district
        ),
        enrollments=frozenset(
            (r.person_id, r.class_id) for r in enrolled if r.person_id in in_district
        ),
        classes={
            c["class_id"]: ids.digest(
                {"title": c["title"], "school": c["school_id"], "code": c["class_code"]}
            )
            for c in listed
        },
        erased=frozenset(r.person_id for r in rows if r.status == "erased"),
    )
