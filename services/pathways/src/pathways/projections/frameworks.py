"""The `frameworks` read model: every imported framework version."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.stored import StoredEvent
from shared_events.events.pathways import FrameworkImported

metadata = MetaData()

frameworks = Table(
    "pathways_frameworks",
    metadata,
    Column("framework_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("district", String(64), nullable=False, index=True),
    Column("title", String(500), nullable=False),
    Column("competency_count", Integer, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
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

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(frameworks.delete())
