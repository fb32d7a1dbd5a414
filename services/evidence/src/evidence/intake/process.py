"""One INGEST message, start to end: parse, resolve, de-duplicate, then record, hold, void or
reject — and note the outcome for whoever waits on it (the HTTP routes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from eventlog.stored import RawStored
from evidence.context import EvidenceContext
from evidence.ingest.native import parse_native
from evidence.ingest.observation import NoEvidence, Observation, Parsed, Rejection, Voiding
from evidence.intake import bookkeeping as books
from evidence.intake.decisions import apply_to_learner, recorded_from_held
from evidence.intake.resolve import Resolved, learner_status, resolve
from shared_events import Envelope, Event
from shared_events.envelope import derived_event_id
from shared_events.events.evidence import (
    EvidenceHeld,
    EvidenceRecorded,
    EvidenceRejected,
    EvidenceVoided,
)
from shared_events.subjects import INGEST_FORMATS, RejectionLog, parse

FUTURE_TOLERANCE = timedelta(minutes=5)


def _xapi(body: bytes, received_at: datetime, headers: dict[str, str]) -> list[Parsed]:
    from evidence.ingest.xapi import parse_statements

    version = headers.get("X-Experience-API-Version")
    return parse_statements(body, received_at=received_at, version=version)


def _caliper(body: bytes, received_at: datetime, headers: dict[str, str]) -> list[Parsed]:
    from evidence.ingest.caliper import parse_envelope

    return parse_envelope(body, received_at=received_at)


PARSERS: dict[str, Callable[[bytes, datetime, dict[str, str]], list[Parsed]]] = {
    "native": lambda body, received_at, _headers: parse_native(body, received_at=received_at),
    "xapi": _xapi,
    "caliper": _caliper,
}


def content_hash(item: Parsed) -> str:
    canonical = json.dumps(asdict(item), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def evidence_id(partner: str, source_id: str) -> str:
    return derived_event_id(f"evidence/{partner}/{source_id}")


async def process(ctx: EvidenceContext, message: RawStored) -> None:
    async with ctx.service.sessions()() as session:
        if await books.outcome(session, message.sequence) is not None:
            return  # handled before a crash or a redelivery; its events are in the log
    subject = parse(message.subject)
    partner = getattr(subject, "partner", "unknown")
    fmt = getattr(subject, "format", "native")
    assert fmt in INGEST_FORMATS
    try:
        items = PARSERS[fmt](message.body, message.stored_at, message.headers)
        plans = [
            await _plan(ctx, partner, item, i, len(items) > 1, message)
            for i, item in enumerate(items)
        ]
    except Rejection as rejection:
        await _reject(ctx, partner, fmt, message.sequence, rejection)
        return
    results = [
        await _carry_out(ctx, partner, fmt, message, i, plan) for i, plan in enumerate(plans)
    ]
    async with ctx.service.sessions()() as session, session.begin():
        await session.execute(
            insert(books.outcomes).values(
                ingest_sequence=message.sequence, partner=partner, status="accepted", items=results
            )
        )


async def _plan(
    ctx: EvidenceContext, partner: str, item: Parsed, index: int, batch: bool, message: RawStored
) -> tuple[Parsed, Resolved | None, str]:
    """Check one item fully before anything of the submission is appended (all or nothing)."""
    prefix = f"[{index}]." if batch else ""
    digest = content_hash(item)
    async with ctx.service.sessions()() as session:
        seen = await books.source(session, partner, item.source_id)
    if seen is not None and seen["content_hash"] != digest:
        raise Rejection(
            f"{prefix}id",
            f"conflict: {item.source_id!r} was already received with different content",
            item.source_id,
        )
    if isinstance(item, Observation):
        if item.observed_at > message.stored_at + FUTURE_TOLERANCE:
            raise Rejection(f"{prefix}observed_at", "is in the future", item.source_id)
        return item, await resolve(ctx, partner, item, prefix), digest
    if isinstance(item, Voiding):
        async with ctx.service.sessions()() as session:
            voided = await books.source(session, partner, item.voided_source_id)
        if voided is None or voided["evidence_id"] is None:
            raise Rejection(
                f"{prefix}object.id",
                f"voids {item.voided_source_id!r}, which was never recorded",
                item.source_id,
            )
    return item, None, digest


async def _carry_out(
    ctx: EvidenceContext,
    partner: str,
    fmt: str,
    message: RawStored,
    index: int,
    plan: tuple[Parsed, Resolved | None, str],
) -> dict[str, Any]:
    item, resolved, digest = plan
    async with ctx.service.sessions()() as session:
        seen = await books.source(session, partner, item.source_id)
    if seen is not None:
        return {
            "source_id": item.source_id,
            "status": "duplicate",
            "evidence_id": seen["evidence_id"],
        }
    row: dict[str, Any] = {
        "partner": partner,
        "source_id": item.source_id,
        "content_hash": digest,
        "ingest_sequence": message.sequence,
        "item": index,
    }
    cause = f"ingest/{message.sequence}/{index}"
    if isinstance(item, Observation) and resolved is not None:
        eid = evidence_id(partner, item.source_id)
        row |= {
            "evidence_id": eid,
            "learner_id": resolved.learner_id,
            "district": resolved.district,
            "competency_id": resolved.competency_id,
        }
        event: Event
        if resolved.learner_status == "active":
            event = EvidenceRecorded(
                evidence_id=eid,
                learner_id=resolved.learner_id,
                competency_id=resolved.competency_id,
                score=item.score,
                observed_at=item.observed_at,
                recorded_at=message.stored_at,
                partner=partner,
                source_id=item.source_id,
                source_format=fmt,
                ingest_sequence=message.sequence,
            )
            row["status"] = "recorded"
        else:
            event = EvidenceHeld(
                evidence_id=eid,
                learner_id=resolved.learner_id,
                competency_id=resolved.competency_id,
                score=item.score,
                observed_at=item.observed_at,
                partner=partner,
                source_id=item.source_id,
                source_format=fmt,
                ingest_sequence=message.sequence,
            )
            row["status"] = "held"
        await apply_to_learner(
            ctx, resolved.district, resolved.learner_id, cause, _once(eid, event)
        )
        if row["status"] == "held" and await learner_status(ctx, resolved.learner_id) == "active":
            # Registered while this was being held: the release may already have run.
            await release_held(ctx, resolved.district, resolved.learner_id, f"{cause}/release")
            row["status"] = "recorded"
    elif isinstance(item, Voiding):
        async with ctx.service.sessions()() as session:
            voided = await books.source(session, partner, item.voided_source_id)
        assert voided is not None
        event = EvidenceVoided(
            evidence_id=voided["evidence_id"],
            learner_id=voided["learner_id"],
            competency_id=voided["competency_id"],
            reason=f"voided by {partner} statement {item.source_id}",
        )
        await apply_to_learner(
            ctx, voided["district"], voided["learner_id"], cause, _unless_voided(event)
        )
        row |= {"status": "voiding", "evidence_id": None}
        async with ctx.service.sessions()() as session, session.begin():
            await session.execute(
                update(books.sources)
                .where(
                    (books.sources.c.partner == partner)
                    & (books.sources.c.source_id == item.voided_source_id)
                )
                .values(status="voided")
            )
    else:
        assert isinstance(item, NoEvidence)
        row["status"] = "no_evidence"
    async with ctx.service.sessions()() as session, session.begin():
        await session.execute(insert(books.sources).values(**row))
    return {
        "source_id": item.source_id,
        "status": row["status"],
        "evidence_id": row.get("evidence_id"),
    }


def _once(evidence_id_: str, event: Event) -> Callable[[Any], list[Event]]:
    def plan(state: Any) -> list[Event]:
        known = evidence_id_ in state.recorded or evidence_id_ in state.held
        return [] if known else [event]

    return plan


def _unless_voided(event: EvidenceVoided) -> Callable[[Any], list[Event]]:
    def plan(state: Any) -> list[Event]:
        return [] if event.evidence_id in state.voided else [event]

    return plan


async def _reject(
    ctx: EvidenceContext, partner: str, fmt: str, sequence: int, rejection: Rejection
) -> None:
    event = EvidenceRejected(
        partner=partner,
        source_format=fmt,
        ingest_sequence=sequence,
        source_id=rejection.source_id,
        field=rejection.field[:500],
        rule=rejection.rule[:2000],
    )
    envelope = Envelope.wrap(
        event,
        source="evidence",
        subject=partner,
        district="-",
        id=derived_event_id(f"reject/{sequence}"),
        causationid=f"ingest/{sequence}",
    )
    await ctx.service.store.append(RejectionLog(partner), [envelope])
    async with ctx.service.sessions()() as session, session.begin():
        await session.execute(
            insert(books.outcomes).values(
                ingest_sequence=sequence,
                partner=partner,
                status="rejected",
                field=event.field,
                rule=event.rule,
                items=[],
            )
        )


async def release_held(ctx: EvidenceContext, district: str, learner_id: str, cause: str) -> None:
    """Record (and decide) everything held for a learner who is now registered."""
    now = datetime.now(UTC)

    def plan(state: Any) -> list[Event]:
        return [recorded_from_held(held, now) for held in state.held.values()]

    released = await apply_to_learner(ctx, district, learner_id, cause, plan)
    ids = [e.evidence_id for e in released if isinstance(e, EvidenceRecorded)]
    if ids:
        async with ctx.service.sessions()() as session, session.begin():
            await session.execute(
                update(books.sources)
                .where(books.sources.c.evidence_id.in_(ids))
                .values(status="recorded")
            )
