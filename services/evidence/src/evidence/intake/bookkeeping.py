"""Tables the intake handler owns (not projections): the partner-id idempotency index and the
outcome of each INGEST message, which the HTTP ingest routes wait for.

Both are written after the events they describe are in the log; a crash in between is mended
by redelivery, because every event the intake appends has an id derived from its input.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

metadata = MetaData()

sources = Table(
    "evidence_sources",
    metadata,
    Column("partner", String(64), primary_key=True),
    Column("source_id", String(255), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("evidence_id", String(64)),
    Column("learner_id", String(64)),
    Column("district", String(64)),
    Column("competency_id", String(255)),
    Column("status", String(16), nullable=False),  # recorded, held, voided, voiding, no_evidence
    Column("ingest_sequence", BigInteger, nullable=False),
    Column("item", BigInteger, nullable=False),
)

outcomes = Table(
    "evidence_ingest_outcomes",
    metadata,
    Column("ingest_sequence", BigInteger, primary_key=True),
    Column("partner", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # accepted, rejected
    Column("field", String(500)),
    Column("rule", String(2000)),
    Column("items", JSON, nullable=False),
    Column("decided_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)


statements = Table(
    "evidence_xapi_statements",
    metadata,
    Column("partner", String(64), primary_key=True),
    Column("statement_id", String(255), primary_key=True),
    Column("ingest_sequence", BigInteger, nullable=False),
    Column("item", BigInteger, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
    Column("verb", String(2000), nullable=False),
    Column("object_id", String(2000)),
    Column("agent_key", String(64)),  # a pseudonym of the actor's identifier, never the IFI
    Column("voided", Boolean, nullable=False, default=False),
    Index("evidence_xapi_statements_order", "partner", "ingest_sequence", "item"),
)
"""The partner's xAPI statements as the Statement resource queries them (the statements
themselves stay in INGEST, exactly as received)."""


async def source(session: AsyncSession, partner: str, source_id: str) -> RowMapping | None:
    query = select(sources).where(
        (sources.c.partner == partner) & (sources.c.source_id == source_id)
    )
    return (await session.execute(query)).mappings().first()


async def outcome(session: AsyncSession, ingest_sequence: int) -> RowMapping | None:
    query = select(outcomes).where(outcomes.c.ingest_sequence == ingest_sequence)
    return (await session.execute(query)).mappings().first()


async def reached(session: AsyncSession, ingest_sequences: list[int]) -> set[int]:
    """Which of these INGEST messages already have an outcome."""
    query = select(outcomes.c.ingest_sequence).where(
        outcomes.c.ingest_sequence.in_(ingest_sequences)
    )
    return set((await session.scalars(query)).all())
