"""Carrying out submissions whose order is settled: de-duplicate, decide, append, note.

`settle` takes submissions in INGEST order (one, or a learner's run of them) and returns the
`Notes` to commit once their events are in the log. Every event appended here has an id derived
from its input and is planned against the learner's state, so doing the same again — after a
redelivery, a crash, a retry — appends nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evidence.context import EvidenceContext
from evidence.domain.learner_evidence import received_otherwise
from evidence.ingest.observation import NoEvidence, Observation, Rejection, Voiding
from evidence.intake.bookkeeping import Notes
from evidence.intake.decisions import Step, apply_steps, apply_to_learner, recorded_from_held
from evidence.intake.resolve import Reference, agent_key, learner_status
from evidence.intake.submission import Item, Submission, evidence_id
from shared_events import Envelope, Event
from shared_events.envelope import derived_event_id
from shared_events.events.evidence import (
    EvidenceHeld,
    EvidenceRecorded,
    EvidenceRejected,
    EvidenceVoided,
)
from shared_events.subjects import RejectionLog

Row = dict[str, Any]


@dataclass
class Known:
    """What the intake knows of a batch's partner ids and learners, read once for the batch
    (and again for a run that waited on earlier work with the same keys)."""

    reference: Reference
    sources: dict[tuple[str, str], Row]
    statuses: dict[str, str]


@dataclass
class Planned:
    """An item checked and ready: its bookkeeping row (None for a duplicate) and the step it
    adds to a learner's timeline, if any."""

    index: int
    source_id: str
    row: Row | None
    step: Step | None = None
    timeline: tuple[str, str] = ("", "")  # district, learner
    voided: Row | None = None  # the row of the evidence it voids
    duplicate_of: str | None = None  # a duplicate: the evidence id it was recorded under


@dataclass
class _Accepted:
    submission: Submission
    planned: list[Planned] = field(default_factory=list)


async def settle(ctx: EvidenceContext, known: Known, members: Sequence[Submission]) -> Notes:
    """Check each submission against what is known (all its items or none), append the
    accepted items' events (one append per run of steps on a learner's timeline), and return
    what is to be noted of every member."""
    notes = Notes()
    accepted: list[_Accepted] = []
    fresh: dict[tuple[str, str], Row] = {}  # rows planned here, for later members
    for submission in members:
        try:
            if submission.rejection is not None:
                raise submission.rejection
            for item in submission.items:
                _check(known, fresh, submission, item)
        except Rejection as rejection:
            notes.outcomes.append(await reject(ctx, submission, rejection))
            continue
        plan = _Accepted(submission)
        plan.planned = [
            _plan(known, fresh, submission, index, item)
            for index, item in enumerate(submission.items)
        ]
        accepted.append(plan)
    await _append(ctx, known.reference, [p for a in accepted for p in a.planned])
    for done in accepted:
        notes.outcomes.append(_note(ctx, notes, done.submission, done.planned))
    return notes


def _seen(known: Known, fresh: dict[tuple[str, str], Row], source: tuple[str, str]) -> Row | None:
    return fresh.get(source) or known.sources.get(source)


def _check(
    known: Known, fresh: dict[tuple[str, str], Row], submission: Submission, item: Item
) -> None:
    parsed, prefix = item.parsed, item.prefix
    seen = _seen(known, fresh, (submission.partner, parsed.source_id))
    if seen is not None and seen["content_hash"] != item.digest:
        raise Rejection(
            f"{prefix}id",
            f"conflict: {parsed.source_id!r} was already received with different content",
            parsed.source_id,
        )
    if item.resolved is not None and known.statuses.get(item.resolved.learner_id) == "erased":
        raise Rejection(
            f"{prefix}learner",
            "the learner's record was erased: no evidence is kept for them",
            parsed.source_id,
        )
    if isinstance(parsed, Voiding):
        voided = _seen(known, fresh, (submission.partner, parsed.voided_source_id))
        if voided is None or voided["evidence_id"] is None:
            raise Rejection(
                f"{prefix}object.id",
                f"voids {parsed.voided_source_id!r}, which was never recorded",
                parsed.source_id,
            )


def _plan(
    known: Known,
    fresh: dict[tuple[str, str], Row],
    submission: Submission,
    index: int,
    item: Item,
) -> Planned:
    partner, message, parsed = submission.partner, submission.message, item.parsed
    source = (partner, parsed.source_id)
    seen = _seen(known, fresh, source)
    if seen is not None:
        return Planned(index, parsed.source_id, None, duplicate_of=seen["evidence_id"])
    row: Row = {
        "partner": partner,
        "source_id": parsed.source_id,
        "content_hash": item.digest,
        "ingest_sequence": message.sequence,
        "item": index,
        "evidence_id": None,
        "learner_id": None,
        "district": None,
        "competency_id": None,
    }
    fresh[source] = row
    planned = Planned(index, parsed.source_id, row)
    cause = f"ingest/{message.sequence}/{index}"
    if isinstance(parsed, Observation) and item.resolved is not None:
        resolved = item.resolved
        eid = evidence_id(partner, parsed.source_id)
        common = {
            "evidence_id": eid,
            "learner_id": resolved.learner_id,
            "competency_id": resolved.competency_id,
            "score": parsed.score,
            "observed_at": parsed.observed_at,
            "partner": partner,
            "source_id": parsed.source_id,
            "source_format": submission.fmt,
            "ingest_sequence": message.sequence,
        }
        event: EvidenceRecorded | EvidenceHeld
        if known.statuses.get(resolved.learner_id) == "active":
            event = EvidenceRecorded(recorded_at=message.stored_at, **common)
            planned.step = Step(cause, _once(event, item), mend=(resolved.competency_id,))
        else:
            event = EvidenceHeld(**common)
            planned.step = Step(cause, _once(event, item))
        planned.timeline = (resolved.district, resolved.learner_id)
        row |= {
            "evidence_id": eid,
            "learner_id": resolved.learner_id,
            "district": resolved.district,
            "competency_id": resolved.competency_id,
            "status": "recorded" if isinstance(event, EvidenceRecorded) else "held",
        }
    elif isinstance(parsed, Voiding):
        voided = _seen(known, fresh, (partner, parsed.voided_source_id))
        assert voided is not None  # checked before anything was carried out
        voiding = EvidenceVoided(
            evidence_id=voided["evidence_id"],
            learner_id=voided["learner_id"],
            competency_id=voided["competency_id"],
            reason=f"voided by {partner} statement {parsed.source_id}",
        )
        planned.step = Step(cause, _unless_voided(voiding), mend=(voiding.competency_id,))
        planned.timeline = (voided["district"], voided["learner_id"])
        planned.voided = voided
        row["status"] = "voiding"
    else:
        assert isinstance(parsed, NoEvidence)
        row["status"] = "no_evidence"
    return planned


async def _append(ctx: EvidenceContext, ref: Reference, planned: Sequence[Planned]) -> None:
    """The planned steps, in order; consecutive steps on one timeline in one append."""
    runs: list[list[Planned]] = []
    for one in planned:
        if one.step is None:
            continue
        if runs and runs[-1][0].timeline == one.timeline:
            runs[-1].append(one)
        else:
            runs.append([one])
    for run in runs:
        district, learner_id = run[0].timeline
        await apply_steps(ctx, district, learner_id, [one.step for one in run if one.step], ref)
        held = [one for one in run if one.row is not None and one.row["status"] == "held"]
        if held and await learner_status(ctx, learner_id) == "active":
            # Registered while this was being held: the release may already have run.
            assert held[0].step is not None
            await release_held(ctx, district, learner_id, f"{held[0].step.cause}/release")
            for one in held:
                assert one.row is not None
                one.row["status"] = "recorded"


def _note(
    ctx: EvidenceContext, notes: Notes, submission: Submission, planned: list[Planned]
) -> Row:
    """Once its events are in the log: each item's bookkeeping, and the submission's outcome."""
    items = []
    for one in planned:
        row = one.row
        if row is None:
            items.append(
                {"source_id": one.source_id, "status": "duplicate", "evidence_id": one.duplicate_of}
            )
            continue
        if one.voided is not None:
            notes.voided.append((submission.partner, one.voided["source_id"]))
        notes.sources.append(row)
        if submission.fmt == "xapi":
            notes.statements.append(_statement_row(ctx, submission, one.index, one.source_id))
        items.append(
            {"source_id": one.source_id, "status": row["status"], "evidence_id": row["evidence_id"]}
        )
    return {
        "ingest_sequence": submission.sequence,
        "partner": submission.partner,
        "status": "accepted",
        "items": items,
    }


def _statement_row(
    ctx: EvidenceContext, submission: Submission, index: int, statement_id: str
) -> Row:
    if submission.statements is None:
        received = json.loads(submission.message.body.decode("utf-8-sig"))
        submission.statements = received if isinstance(received, list) else [received]
    statement = submission.statements[index]
    target = statement["object"]
    return {
        "partner": submission.partner,
        "statement_id": statement_id,
        "ingest_sequence": submission.sequence,
        "item": index,
        "stored_at": submission.message.stored_at,
        "verb": statement["verb"]["id"],
        "object_id": target.get("id"),
        "agent_key": agent_key(ctx, statement["actor"]),
        "voided": False,
    }


def _once(event: EvidenceRecorded | EvidenceHeld, item: Item) -> Callable[[Any], list[Event]]:
    """The evidence, unless the learner's log already has it; a log holding the same id with
    other content (noted nowhere else yet: a crash, another replica) refuses the item."""

    def plan(state: Any) -> list[Event]:
        if received_otherwise(state, event):
            raise Rejection(
                f"{item.prefix}id",
                f"conflict: {event.source_id!r} was already received with different content",
                event.source_id,
            )
        known = event.evidence_id in state.recorded or event.evidence_id in state.held
        return [] if known else [event]

    return plan


def _unless_voided(event: EvidenceVoided) -> Callable[[Any], list[Event]]:
    def plan(state: Any) -> list[Event]:
        return [] if event.evidence_id in state.voided else [event]

    return plan


def _printable(text: str | None, limit: int) -> str | None:
    """Text as it may go into the log: valid UTF-8 whatever the input held, and bounded."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


async def reject(ctx: EvidenceContext, submission: Submission, rejection: Rejection) -> Row:
    """Append the submission's rejection to its partner's log; return its outcome row."""
    sequence, partner = submission.sequence, submission.partner
    event = EvidenceRejected(
        partner=partner,
        source_format=submission.fmt,
        ingest_sequence=sequence,
        source_id=_printable(rejection.source_id, 255),
        field=_printable(rejection.field, 500) or "body",
        rule=_printable(rejection.rule, 2000) or "refused",
    )
    envelope = Envelope.wrap(
        event,
        source="evidence",
        subject=partner,
        district="-",
        id=derived_event_id(f"reject/{sequence}"),
        causationid=f"ingest/{sequence}",
    )
    async with ctx.rejection_lock(partner):
        await ctx.service.store.append(RejectionLog(partner), [envelope])
    return {
        "ingest_sequence": sequence,
        "partner": partner,
        "status": "rejected",
        "field": event.field,
        "rule": event.rule,
        "items": [],
    }


async def release_held(ctx: EvidenceContext, district: str, learner_id: str, cause: str) -> None:
    """Record (and decide) everything held for a learner who is now registered."""
    now = datetime.now(UTC)

    def plan(state: Any) -> list[Event]:
        return [recorded_from_held(held, now) for held in state.held.values()]

    released = await apply_to_learner(ctx, district, learner_id, cause, plan)
    ids = [e.evidence_id for e in released if isinstance(e, EvidenceRecorded)]
    if ids:
        await ctx.notes.commit(ctx.service.engine, Notes(released=ids))
