"""Partner submissions from INGEST, a batch at a time: parse, resolve, de-duplicate, then record,
hold, void or reject — and note each outcome for whoever waits on it (the HTTP routes).

Two submissions that share a learner or a partner id are carried out in INGEST order, one after
the other; the rest of the batch runs concurrently. A learner's submissions that nothing else
orders (no partner id shared, no other learner in them) are carried out together: their events
go out in one append, the same events a one-at-a-time run would append.

What the intake reads from SQL is read once per batch (outcomes already reached, partner ids
already seen, learners' statuses), kept up to date in memory while the batch runs, and written
back in one transaction at its end — after the events it describes are in the log. A crash in
between is mended by redelivery: every event the intake appends has an id derived from its
input, and a learner's state already holding an evidence id makes its second recording a no-op.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import insert, select, tuple_, update

from eventlog.sql import in_chunks
from eventlog.stored import RawStored
from evidence.context import EvidenceContext
from evidence.ingest.native import parse_native
from evidence.ingest.observation import (
    MAX_SUBMISSION_BYTES,
    NoEvidence,
    Observation,
    Parsed,
    Rejection,
    Voiding,
)
from evidence.intake import bookkeeping as books
from evidence.intake.decisions import Step, apply_steps, apply_to_learner, recorded_from_held
from evidence.intake.resolve import (
    Reference,
    Resolved,
    agent_key,
    learner_status,
    learner_statuses,
    reference,
    resolve,
)
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
    """A digest of what the item says, the same for the same content whatever its layout."""
    canonical = json.dumps(_plain(item), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plain(value: Any) -> Any:
    # dataclasses.asdict, without its deep copies: the parsed items hold only plain values.
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def evidence_id(partner: str, source_id: str) -> str:
    return derived_event_id(f"evidence/{partner}/{source_id}")


class DependencyFailed(RuntimeError):
    """An earlier submission for the same learner or partner id failed; this one waits for the
    redelivery of both rather than overtake it."""


@dataclass
class Item:
    parsed: Parsed
    digest: str
    prefix: str
    resolved: Resolved | None = None


@dataclass
class Submission:
    message: RawStored
    partner: str
    fmt: str
    items: list[Item] = field(default_factory=list)
    rejection: Rejection | None = None
    keys: set[str] = field(default_factory=set)
    statements: list[Any] | None = None  # xAPI: the statements as received, for the index

    def sources(self) -> set[tuple[str, str]]:
        found = {(self.partner, i.parsed.source_id) for i in self.items}
        found |= {
            (self.partner, i.parsed.voided_source_id)
            for i in self.items
            if isinstance(i.parsed, Voiding)
        }
        return found


@dataclass
class Batch:
    """What the intake knows while a batch runs, and what it will write at the end."""

    reference: Reference
    sources: dict[tuple[str, str], dict[str, Any]]
    statuses: dict[str, str]
    pending: dict[tuple[str, str], dict[str, Any]]  # rows of batches not yet written
    source_rows: list[dict[str, Any]] = field(default_factory=list)
    voided: list[tuple[str, str]] = field(default_factory=list)
    outcome_rows: list[dict[str, Any]] = field(default_factory=list)
    statement_rows: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)

    def seen(self, source: tuple[str, str]) -> dict[str, Any] | None:
        """What is known of a partner id: from a batch still in flight, else from SQL."""
        return self.pending.get(source) or self.sources.get(source)


async def process_batch(
    ctx: EvidenceContext, messages: Sequence[RawStored]
) -> list[Exception | None]:
    """Carry out every message; one result per message (None, or what failed it).

    Batches may overlap: a submission waits for earlier ones sharing a key in this batch or in
    one still in flight, and the batches' bookkeeping is written in the order they came. A batch
    that overlapped one whose bookkeeping could not be written fails too: it may have relied on
    what that one had learnt only in memory."""
    flight = ctx.in_flight
    previous = flight.written
    overlapped = previous if previous is not None and not previous.done() else None
    written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    written.add_done_callback(lambda done: done.exception())  # read, whether or not awaited
    flight.written = written
    batch: Batch | None = None
    try:
        batch, results = await _carry_out_batch(ctx, messages)
        if overlapped is not None:
            try:
                await overlapped
            except Exception as exc:
                raise DependencyFailed(f"the batch before could not be written: {exc}") from exc
        if batch is not None:
            await _write(ctx, batch)
    except Exception as exc:
        written.set_exception(exc)
        if batch is not None:
            every = {s.message.sequence: exc for s in batch.submissions}
            note_outcomes(flight.failed, batch.submissions, every)
        raise
    else:
        written.set_result(None)
    finally:
        if not written.done():  # the process is going down
            written.set_exception(DependencyFailed("the intake stopped"))
        if batch is not None:
            # Written, or not at all: either way the database, not memory, now says what is
            # known, and a redelivery after a failed write carries the rows out again.
            for row in batch.source_rows:
                source = (row["partner"], row["source_id"])
                if batch.pending.get(source) is row:
                    del batch.pending[source]
    return results


async def _carry_out_batch(
    ctx: EvidenceContext, messages: Sequence[RawStored]
) -> tuple[Batch | None, list[Exception | None]]:
    flight = ctx.in_flight
    # Independent reads run side by side, each on a connection of its own.
    done, ref = await asyncio.gather(_reached(ctx, messages), reference(ctx))
    # In log order, also when a redelivered message arrives beside newer ones.
    todo = sorted((m for m in messages if m.sequence not in done), key=lambda m: m.sequence)
    if not todo:
        return None, [None] * len(messages)
    submissions = [await _read(ctx, ref, m) for m in todo]
    sources, statuses = await asyncio.gather(
        _known_sources(ctx, set().union(*(s.sources() for s in submissions))),
        learner_statuses(
            ctx, {i.resolved.learner_id for s in submissions for i in s.items if i.resolved}
        ),
    )
    batch = Batch(ref, sources, statuses, flight.pending)
    batch.submissions = submissions
    last = flight.last
    for key in [k for k, task in last.items() if task.done()]:
        del last[key]
    for submission in submissions:
        submission.keys = _keys(batch, submission, submissions)
    shared = Counter(key for submission in submissions for key in submission.keys)
    now = asyncio.get_running_loop().time()
    here = {s.message.sequence for s in submissions}  # retried here: ordered by the tasks below
    held: dict[int, Exception] = {}
    tasks: dict[int, asyncio.Task[None]] = {}
    together: dict[str, tuple[list[Submission], asyncio.Task[None]]] = {}
    for submission in submissions:
        keys, sequence = submission.keys, submission.message.sequence
        blocker = _failed_before(flight.failed, keys, sequence, now, here)
        if blocker is not None:
            # An older submission with the same learner or partner id failed and has not been
            # retried yet: this one waits for it (it is NAKed and comes back after it).
            held[sequence] = DependencyFailed(f"waits for ingest {blocker}, which failed")
            continue
        learner = _sole_learner(submission, shared, last)
        if learner in together and last[learner] is together[learner][1]:
            # Next in line for this learner, and nothing else waits on it: it joins the
            # submissions before it, which have not started (nothing was awaited since).
            members, task = together[learner]
            members.append(submission)
        else:
            after = [last[k] for k in keys if k in last]
            members = [submission]
            task = asyncio.create_task(_after(after, partial(_settle, ctx, batch, members)))
            if learner is not None:
                together[learner] = (members, task)
        tasks[sequence] = task
        last |= dict.fromkeys(keys, task)
    started = list(dict.fromkeys(tasks.values()))
    ended = await asyncio.gather(*started, return_exceptions=True)
    outcomes = dict(zip(started, ended, strict=True))
    for outcome in outcomes.values():
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome  # the process is going down: nothing more is written
    failed = {seq: o for seq, t in tasks.items() if isinstance(o := outcomes[t], Exception)}
    note_outcomes(flight.failed, [s for s in submissions if s.message.sequence not in held], failed)
    failed |= held
    return batch, [failed.get(m.sequence) for m in messages]


def _sole_learner(
    submission: Submission, shared: Mapping[str, int], last: Mapping[str, object]
) -> str | None:
    """The ordering key of the one learner a submission records evidence for, when nothing
    else orders it: its partner ids are in no other submission of the batch or in flight. Such
    submissions of a learner are carried out together, with one append."""
    if submission.rejection is not None or not submission.items:
        return None
    learners = {item.resolved.learner_id if item.resolved else None for item in submission.items}
    if len(learners) != 1 or None in learners:
        return None
    key = f"learner/{learners.pop()}"
    if any(shared[k] > 1 or k in last for k in submission.keys - {key}):
        return None
    return key


FAILED_HOLDS_FOR = 30.0  # seconds: longer than a message's retries take (RetryPolicy backoff)


def _failed_before(
    registry: dict[str, tuple[int, float]],
    keys: set[str],
    sequence: int,
    now: float,
    here: set[int],
) -> int | None:
    found = [
        registry[k][0]
        for k in keys
        if k in registry
        and registry[k][0] < sequence
        and registry[k][1] > now
        and registry[k][0] not in here
    ]
    return min(found) if found else None


def note_outcomes(
    registry: dict[str, tuple[int, float]],
    submissions: Iterable[Submission],
    failed: Mapping[int, Exception],
) -> None:
    """Remember the keys of what failed; forget them once the same submission got through."""
    until = asyncio.get_running_loop().time() + FAILED_HOLDS_FOR
    for submission in submissions:
        sequence = submission.message.sequence
        for key in submission.keys:
            if sequence in failed:
                if key not in registry or registry[key][0] >= sequence:
                    registry[key] = (sequence, until)
            elif key in registry and registry[key][0] == sequence:
                del registry[key]


async def _after(earlier: list[asyncio.Task[None]], step: Callable[[], Awaitable[None]]) -> None:
    for task in earlier:
        try:
            await asyncio.shield(task)
        except Exception as exc:
            raise DependencyFailed(f"an earlier submission failed: {exc}") from exc
    await step()


def _keys(batch: Batch, submission: Submission, everything: list[Submission]) -> set[str]:
    """What orders this submission after earlier ones: its learners and its partner ids."""
    keys = {f"source/{partner}/{sid}" for partner, sid in submission.sources()}
    for item in submission.items:
        if item.resolved is not None:
            keys.add(f"learner/{item.resolved.learner_id}")
        elif isinstance(item.parsed, Voiding):
            voided = (submission.partner, item.parsed.voided_source_id)
            learner = _learner_of_source(batch, voided, everything)
            if learner:
                keys.add(f"learner/{learner}")
    return keys


def _learner_of_source(
    batch: Batch, source: tuple[str, str], everything: list[Submission]
) -> str | None:
    known = batch.seen(source)
    if known is not None and known.get("learner_id"):
        return str(known["learner_id"])
    for submission in everything:
        for item in submission.items:
            if item.resolved and (submission.partner, item.parsed.source_id) == source:
                return item.resolved.learner_id
    return None


async def _read(ctx: EvidenceContext, ref: Reference, message: RawStored) -> Submission:
    """Parse and resolve, with no regard to other submissions (that comes later, in order)."""
    subject = parse(message.subject)
    partner = getattr(subject, "partner", "unknown")
    fmt = getattr(subject, "format", "native")
    assert fmt in INGEST_FORMATS
    submission = Submission(message, partner, fmt)
    try:
        if len(message.body) > MAX_SUBMISSION_BYTES:
            raise Rejection(
                "body",
                f"oversized: {len(message.body)} bytes, more than the "
                f"{MAX_SUBMISSION_BYTES} a submission may have",
            )
        parsed = PARSERS[fmt](message.body, message.stored_at, message.headers)
        for index, one in enumerate(parsed):
            prefix = f"[{index}]." if len(parsed) > 1 else ""
            item = Item(one, content_hash(one), prefix)
            if isinstance(one, Observation):
                if one.observed_at > message.stored_at + FUTURE_TOLERANCE:
                    raise Rejection(f"{prefix}observed_at", "is in the future", one.source_id)
                item.resolved = await resolve(ctx, ref, partner, one, prefix)
            submission.items.append(item)
    except Rejection as rejection:
        submission.rejection = rejection
        submission.items = []
    return submission


async def _reached(ctx: EvidenceContext, messages: Sequence[RawStored]) -> set[int]:
    async with ctx.service.sessions()() as session:
        return await books.reached(session, [m.sequence for m in messages])


async def _known_sources(
    ctx: EvidenceContext, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    async with ctx.service.sessions()() as session:
        for chunk in in_chunks(sorted(wanted)):
            rows = await session.execute(
                select(books.sources).where(
                    tuple_(books.sources.c.partner, books.sources.c.source_id).in_(chunk)
                )
            )
            for row in rows.mappings():
                found[(row["partner"], row["source_id"])] = dict(row)
    return found


async def _settle(ctx: EvidenceContext, batch: Batch, members: list[Submission]) -> None:
    """Carry out submissions in order. Each is checked against what is already known (all its
    items or none); then the items' events are appended, one append for each run of steps on
    the same learner's timeline; then their bookkeeping is noted."""
    accepted: list[tuple[Submission, list[Planned]]] = []
    fresh: dict[tuple[str, str], dict[str, Any]] = {}  # rows planned here, not yet noted
    for submission in members:
        try:
            if submission.rejection is not None:
                raise submission.rejection
            for item in submission.items:
                _check(batch, submission, item)
        except Rejection as rejection:
            await _reject(ctx, batch, submission, rejection)
            continue
        planned = [
            _plan(batch, submission, index, item, fresh)
            for index, item in enumerate(submission.items)
        ]
        accepted.append((submission, planned))
    await _append(ctx, batch, [p for _, planned in accepted for p in planned])
    for submission, planned in accepted:
        batch.outcome_rows.append(
            {
                "ingest_sequence": submission.message.sequence,
                "partner": submission.partner,
                "status": "accepted",
                "items": [_note(ctx, batch, submission, p) for p in planned],
            }
        )


def _check(batch: Batch, submission: Submission, item: Item) -> None:
    parsed, prefix = item.parsed, item.prefix
    seen = batch.seen((submission.partner, parsed.source_id))
    if seen is not None and seen["content_hash"] != item.digest:
        raise Rejection(
            f"{prefix}id",
            f"conflict: {parsed.source_id!r} was already received with different content",
            parsed.source_id,
        )
    if item.resolved is not None and batch.statuses.get(item.resolved.learner_id) == "erased":
        raise Rejection(
            f"{prefix}learner",
            "the learner's record was erased: no evidence is kept for them",
            parsed.source_id,
        )
    if isinstance(parsed, Voiding):
        voided = batch.seen((submission.partner, parsed.voided_source_id))
        if voided is None or voided["evidence_id"] is None:
            raise Rejection(
                f"{prefix}object.id",
                f"voids {parsed.voided_source_id!r}, which was never recorded",
                parsed.source_id,
            )


@dataclass
class Planned:
    """An item checked and ready: its bookkeeping row (None for a duplicate) and the step it
    adds to a learner's timeline, if any."""

    index: int
    source_id: str
    row: dict[str, Any] | None
    step: Step | None = None
    timeline: tuple[str, str] = ("", "")  # district, learner
    voided: dict[str, Any] | None = None  # the row of the evidence it voids
    duplicate_of: str | None = None  # a duplicate: the evidence id it was recorded under


def _plan(
    batch: Batch,
    submission: Submission,
    index: int,
    item: Item,
    fresh: dict[tuple[str, str], dict[str, Any]],
) -> Planned:
    partner, message, parsed = submission.partner, submission.message, item.parsed
    source = (partner, parsed.source_id)
    seen = fresh.get(source) or batch.seen(source)
    if seen is not None:
        return Planned(index, parsed.source_id, None, duplicate_of=seen["evidence_id"])
    row: dict[str, Any] = {
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
        event: Event
        if batch.statuses.get(resolved.learner_id) == "active":
            event = EvidenceRecorded(recorded_at=message.stored_at, **common)
            planned.step = Step(cause, _once(eid, event), mend=(resolved.competency_id,))
        else:
            event = EvidenceHeld(**common)
            planned.step = Step(cause, _once(eid, event))
        planned.timeline = (resolved.district, resolved.learner_id)
        row |= {
            "evidence_id": eid,
            "learner_id": resolved.learner_id,
            "district": resolved.district,
            "competency_id": resolved.competency_id,
            "status": "recorded" if isinstance(event, EvidenceRecorded) else "held",
        }
    elif isinstance(parsed, Voiding):
        voided = batch.seen((partner, parsed.voided_source_id))
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


async def _append(ctx: EvidenceContext, batch: Batch, planned: Sequence[Planned]) -> None:
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
        steps = [one.step for one in run if one.step]
        await apply_steps(ctx, district, learner_id, steps, batch.reference)
        held = [one for one in run if one.row is not None and one.row["status"] == "held"]
        if held and await learner_status(ctx, learner_id) == "active":
            # Registered while this was being held: the release may already have run.
            assert held[0].step is not None
            await release_held(ctx, district, learner_id, f"{held[0].step.cause}/release")
            for one in held:
                assert one.row is not None
                one.row["status"] = "recorded"


def _note(
    ctx: EvidenceContext, batch: Batch, submission: Submission, planned: Planned
) -> dict[str, Any]:
    """Once its events are in the log: the item's bookkeeping, and what its outcome says."""
    row = planned.row
    if row is None:
        return {
            "source_id": planned.source_id,
            "status": "duplicate",
            "evidence_id": planned.duplicate_of,
        }
    if planned.voided is not None:
        planned.voided["status"] = "voided"
        batch.voided.append((submission.partner, planned.voided["source_id"]))
    batch.pending[(submission.partner, planned.source_id)] = row
    batch.source_rows.append(row)
    if submission.fmt == "xapi":
        batch.statement_rows.append(
            _statement_row(ctx, submission, planned.index, planned.source_id)
        )
    return {
        "source_id": planned.source_id,
        "status": row["status"],
        "evidence_id": row["evidence_id"],
    }


def _statement_row(
    ctx: EvidenceContext, submission: Submission, index: int, statement_id: str
) -> dict[str, Any]:
    if submission.statements is None:
        received = json.loads(submission.message.body.decode("utf-8-sig"))
        submission.statements = received if isinstance(received, list) else [received]
    statement = submission.statements[index]
    target = statement["object"]
    return {
        "partner": submission.partner,
        "statement_id": statement_id,
        "ingest_sequence": submission.message.sequence,
        "item": index,
        "stored_at": submission.message.stored_at,
        "verb": statement["verb"]["id"],
        "object_id": target.get("id"),
        "agent_key": agent_key(ctx, statement["actor"]),
        "voided": False,
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
    ctx: EvidenceContext, batch: Batch, submission: Submission, rejection: Rejection
) -> None:
    sequence, partner = submission.message.sequence, submission.partner
    event = EvidenceRejected(
        partner=partner,
        source_format=submission.fmt,
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
    async with ctx.rejection_lock(partner):
        await ctx.service.store.append(RejectionLog(partner), [envelope])
    batch.outcome_rows.append(
        {
            "ingest_sequence": sequence,
            "partner": partner,
            "status": "rejected",
            "field": event.field,
            "rule": event.rule,
            "items": [],
        }
    )


async def _write(ctx: EvidenceContext, batch: Batch) -> None:
    """The batch's bookkeeping, in one transaction, after its events are in the log."""
    async with ctx.service.sessions()() as session, session.begin():
        if batch.source_rows:
            await session.execute(insert(books.sources), batch.source_rows)
        if batch.statement_rows:
            await session.execute(insert(books.statements), batch.statement_rows)
        for partner, source_id in batch.voided:
            await session.execute(
                update(books.sources)
                .where(
                    (books.sources.c.partner == partner) & (books.sources.c.source_id == source_id)
                )
                .values(status="voided")
            )
            await session.execute(
                update(books.statements)
                .where(
                    (books.statements.c.partner == partner)
                    & (books.statements.c.statement_id == source_id)
                )
                .values(voided=True)
            )
        if batch.outcome_rows:
            rows = [{"field": None, "rule": None} | row for row in batch.outcome_rows]
            await session.execute(insert(books.outcomes), rows)


async def release_held(ctx: EvidenceContext, district: str, learner_id: str, cause: str) -> None:
    """Record (and decide) everything held for a learner who is now registered."""
    now = datetime.now(UTC)

    def plan(state: Any) -> list[Event]:
        return [recorded_from_held(held, now) for held in state.held.values()]

    released = await apply_to_learner(ctx, district, learner_id, cause, plan)
    ids = [e.evidence_id for e in released if isinstance(e, EvidenceRecorded)]
    for row in ctx.in_flight.pending.values():  # held by a batch whose rows are not written yet
        if row["evidence_id"] in ids:
            row["status"] = "recorded"
    if ids:
        async with ctx.service.sessions()() as session, session.begin():
            await session.execute(
                update(books.sources)
                .where(books.sources.c.evidence_id.in_(ids))
                .values(status="recorded")
            )
