"""The `frameworks` read model: every imported framework version, whole, for the graph queries
and for the handlers (which read a pathway's version from here)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.stored import StoredEvent
from shared_events.events.pathways import FrameworkImported

metadata = MetaData()

frameworks = Table(
    "pathways_frameworks",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("framework_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("title", String(500), nullable=False),
    Column("competency_count", Integer, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

framework_bodies = Table(
    "pathways_framework_bodies",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("framework_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("body", JSON, nullable=False),
)


class FrameworksProjection:
    name = "pathways-frameworks"
    stream = "PATHWAYS"
    subjects = ("frameworks.*.*.imported",)

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        envelope = event.envelope
        if not isinstance(envelope.data, FrameworkImported):
            return
        imported = envelope.data
        await session.execute(
            frameworks.insert().values(
                framework_id=imported.framework_id,
                version=imported.version,
                district=envelope.district,
                title=imported.title,
                competency_count=len(imported.competencies),
                imported_at=envelope.time,
            )
        )
        await session.execute(
            framework_bodies.insert().values(
                district=envelope.district,
                framework_id=imported.framework_id,
                version=imported.version,
                content_hash=imported.content_hash,
                body=imported.model_dump(mode="json"),
            )
        )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(frameworks.delete())
        await session.execute(framework_bodies.delete())


async def framework_version(
    session: AsyncSession, district: str, framework_id: str, version: int | None = None
) -> FrameworkImported | None:
    """A framework version as imported (the latest without `version`); None if unknown."""
    query = select(framework_bodies.c.body).where(
        (framework_bodies.c.district == district)
        & (framework_bodies.c.framework_id == framework_id)
    )
    if version is not None:
        query = query.where(framework_bodies.c.version == version)
    body = await session.scalar(query.order_by(framework_bodies.c.version.desc()).limit(1))
    return None if body is None else FrameworkImported.model_validate(body)


async def latest_versions(session: AsyncSession, district: str) -> list[FrameworkImported]:
    """The latest version of every framework of the district."""
    rows = await session.execute(
        select(framework_bodies.c.framework_id, framework_bodies.c.body)
        .where(framework_bodies.c.district == district)
        .order_by(framework_bodies.c.framework_id, framework_bodies.c.version)
    )
    latest = {framework_id: body for framework_id, body in rows}
    return [FrameworkImported.model_validate(body) for body in latest.values()]
