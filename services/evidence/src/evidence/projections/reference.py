"""What the evidence service must know to accept evidence: registered learners (PROFILES),
competencies of imported frameworks (PATHWAYS), and each district's ingest settings, policies
and alignments (its own EVIDENCE stream)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, String, Table, delete
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import put_row
from eventlog.stored import StoredEvent
from shared_events.events.evidence import AlignmentsSet, IngestConfigured, PolicySet
from shared_events.events.pathways import FrameworkImported
from shared_events.events.profiles import LearnerErased, LearnerRegistered

metadata = MetaData()

learners = Table(
    "evidence_learners",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False),
    Column("status", String(16), nullable=False),
)

competencies = Table(
    "evidence_competencies",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("ref", String(500), primary_key=True),  # the identifier, its URI or its code
    Column("competency_id", String(255), nullable=False),
    Column("framework_id", String(64), nullable=False),
)

districts = Table(
    "evidence_districts",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("partners", JSON, nullable=False),
    Column("sis_home_pages", JSON, nullable=False),
)

alignments = Table(
    "evidence_alignments",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("activity_id", String(500), primary_key=True),
    Column("competency_id", String(255), nullable=False),
)

policies = Table(
    "evidence_policies",
    metadata,
    Column("district", String(64), primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("scope_id", String(255), primary_key=True),
    Column("policy_id", String(100), nullable=False),
    Column("method", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("params", JSON, nullable=False),
    Column("mastery_threshold", Float, nullable=False),
    Column("level_names", JSON, nullable=False),
    Column("level_thresholds", JSON, nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)


class LearnersProjection:
    name = "evidence-learners"
    stream = "PROFILES"
    subjects = ("profiles.*.*.registered", "profiles.*.*.erased")

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data, district = event.envelope.data, event.envelope.district
        if isinstance(data, LearnerRegistered):
            await put_row(
                session,
                learners,
                {"learner_id": data.learner_id},
                district=district,
                status="active",
            )
        elif isinstance(data, LearnerErased):
            await session.execute(
                learners.update()
                .where(learners.c.learner_id == data.learner_id)
                .values(status="erased")
            )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(learners))


class CompetenciesProjection:
    name = "evidence-competencies"
    stream = "PATHWAYS"
    subjects = ("frameworks.*.*.imported",)

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data, district = event.envelope.data, event.envelope.district
        if not isinstance(data, FrameworkImported):
            return
        for item in data.competencies:
            for ref in {item.competency_id, item.uri, item.code} - {None}:
                await put_row(
                    session,
                    competencies,
                    {"district": district, "ref": ref},
                    competency_id=item.competency_id,
                    framework_id=data.framework_id,
                )

    async def reset(self, session: AsyncSession) -> None:
        await session.execute(delete(competencies))


class SettingsProjection:
    name = "evidence-settings"
    stream = "EVIDENCE"
    subjects = (
        "evidence.*.*.ingest_configured",
        "evidence.*.*.alignments_set",
        "evidence.*.*.policy_set",
    )

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        data, district = event.envelope.data, event.envelope.district
        if isinstance(data, IngestConfigured):
            await put_row(
                session,
                districts,
                {"district": district},
                partners=list(data.partners),
                sis_home_pages=list(data.sis_home_pages),
            )
        elif isinstance(data, AlignmentsSet):
            for activity_id, competency_id in data.alignments.items():
                key = {"district": district, "activity_id": activity_id}
                await put_row(session, alignments, key, competency_id=competency_id)
        elif isinstance(data, PolicySet):
            await put_row(
                session,
                policies,
                {"district": district, "scope": data.scope, "scope_id": data.scope_id},
                policy_id=data.policy.policy_id,
                method=data.policy.method,
                version=data.policy.version,
                params=data.policy.params,
                mastery_threshold=data.mastery_threshold,
                level_names=list(data.level_names),
                level_thresholds=list(data.level_thresholds),
                set_at=event.envelope.time,
            )

    async def reset(self, session: AsyncSession) -> None:
        for table in (districts, alignments, policies):
            await session.execute(delete(table))
