"""Tables the intake handler owns (not projections): the partner-id idempotency index and the
outcome of each INGEST message, which the HTTP ingest routes wait for.

Both are written after the events they describe are in the log; a crash in between is mended
by redelivery, because every event the intake appends has an id derived from its input. Writing
the same notes twice (a redelivered submission, a retried transaction) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from eventlog.sql import in_chunks, insert_new, sessions

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


async def known_sources(
    engine: AsyncEngine, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The rows of these partner ids that are already noted."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if not wanted:
        return found
    async with sessions(engine)() as session:
        for chunk in in_chunks(sorted(wanted)):
            key = tuple_(sources.c.partner, sources.c.source_id)
            for row in (await session.execute(select(sources).where(key.in_(chunk)))).mappings():
                found[(row["partner"], row["source_id"])] = dict(row)
    return found


async def outcome(session: AsyncSession, ingest_sequence: int) -> RowMapping | None:
    query = select(outcomes).where(outcomes.c.ingest_sequence == ingest_sequence)
    return (await session.execute(query)).mappings().first()


async def reached(session: AsyncSession, ingest_sequences: list[int]) -> set[int]:
    """Which of these INGEST messages already have an outcome."""
    query = select(outcomes.c.ingest_sequence).where(
        outcomes.c.ingest_sequence.in_(ingest_sequences)
    )
    return set((await session.scalars(query)).all())


@dataclass
class Notes:
    """What the intake notes once some submissions' events are in the log."""

    sources: list[dict[str, Any]] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    voided: list[tuple[str, str]] = field(default_factory=list)  # partner, source id
    released: list[str] = field(default_factory=list)  # evidence ids no longer held
    outcomes: list[dict[str, Any]] = field(default_factory=list)


async def write(session: AsyncSession, many: Sequence[Notes]) -> None:
    """Write `many` notes in the caller's transaction; rows already there are left alone."""
    await insert_new(session, sources, [row for notes in many for row in notes.sources])
    await insert_new(session, statements, [row for notes in many for row in notes.statements])
    for partner, source_id in [pair for notes in many for pair in notes.voided]:
        await session.execute(
            update(sources)
            .where((sources.c.partner == partner) & (sources.c.source_id == source_id))
            .values(status="voided")
        )
        await session.execute(
            update(statements)
            .where((statements.c.partner == partner) & (statements.c.statement_id == source_id))
            .values(voided=True)
        )
    released = [eid for notes in many for eid in notes.released]
    if released:
        await session.execute(
            update(sources).where(sources.c.evidence_id.in_(released)).values(status="recorded")
        )
    rows = [{"field": None, "rule": None} | row for notes in many for row in notes.outcomes]
    await insert_new(session, outcomes, rows)
