"""Append evidence events for one learner together with the mastery decisions they call for.

The learner's state is read from their EVIDENCE timeline, the new events are folded in, every
touched competency is decided under the policy in force, and everything is appended at the
sequence that was read. If another writer got there first, the whole step is done again on the
newer history — so two replicas, or a redelivery, never make a decision twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from eventlog.event_store import ConcurrencyConflict, EventStore
from eventlog.hashchain import link_hash
from evidence.context import EvidenceContext, KnownTimeline
from evidence.domain.learner_evidence import LearnerEvidence, decide, evolve
from evidence.intake.resolve import Reference, reference
from shared_events import Envelope, Event, Timeline
from shared_events.envelope import derived_envelopes
from shared_events.events.evidence import EvidenceHeld, EvidenceRecorded, EvidenceVoided

SOURCE = "evidence"
ATTEMPTS = 5

Plan = Callable[[LearnerEvidence], Sequence[Event]]


async def load(store: EventStore, timeline: Timeline) -> KnownTimeline:
    state = LearnerEvidence(timeline.entity)
    last, last_hash = 0, None
    for stored in await store.read(timeline):
        state = evolve(state, stored.envelope.data)
        last, last_hash = stored.sequence, link_hash(stored.body)
    return KnownTimeline(state, last, last_hash)


@dataclass(frozen=True)
class Step:
    """What one input adds to a learner's timeline: `plan(state)` and the decisions that
    follow. `cause` names the input (the events' ids derive from it); the competencies in
    `mend` are decided even when the plan adds nothing (see `apply_steps`)."""

    cause: str
    plan: Plan
    mend: Sequence[str] = ()


async def apply_to_learner(
    ctx: EvidenceContext,
    district: str,
    learner_id: str,
    cause: str,
    plan: Plan,
    ref: Reference | None = None,
    mend: Sequence[str] = (),
) -> list[Event]:
    """One step (see `apply_steps`); returns what it appended."""
    [events] = await apply_steps(ctx, district, learner_id, [Step(cause, plan, mend)], ref)
    return events


async def apply_steps(
    ctx: EvidenceContext,
    district: str,
    learner_id: str,
    steps: Sequence[Step],
    ref: Reference | None = None,
) -> list[list[Event]]:
    """Append, in one append, each step's planned events and the decisions that follow them
    (under the policies in `ref`, by default the current ones), step after step; returns what
    each step appended. The events and their ids are those the steps would append one at a time.

    When a step's plan has nothing to add (a redelivery), the competencies in its `mend` are
    decided all the same: if the process died between appending evidence and appending its
    decision, the decision is made now rather than never."""
    store = ctx.service.store
    timeline = Timeline("evidence", district, learner_id)
    for attempt in range(ATTEMPTS):
        known = ctx.timelines.get(learner_id) if attempt == 0 else None
        if known is None:
            known = await load(store, timeline)
        state = known.state
        appended: list[list[Event]] = []
        envelopes: list[Envelope] = []
        for step in steps:
            planned = list(step.plan(state))
            undecided = [] if planned else [c for c in step.mend if c in state.undecided]
            events: list[Event] = []
            if planned or undecided:
                ref = ref or await reference(ctx)
                events, state = _with_decisions(ref, district, state, planned, undecided)
                envelopes += derived_envelopes(
                    events,
                    cause=step.cause,
                    step=step.cause if planned else f"{step.cause}/mend",
                    source=SOURCE,
                    subject=learner_id,
                    district=district,
                )
            appended.append(events)
        if not envelopes:
            ctx.remember(learner_id, known)
            return appended
        try:
            stored = await store.append(
                timeline, envelopes, expected=known.sequence, prevhash=known.last_hash
            )
        except ConcurrencyConflict:
            ctx.timelines.pop(learner_id, None)
            if attempt + 1 == ATTEMPTS:
                raise
            continue
        if stored.already_stored or stored.last_hash is None:
            ctx.timelines.pop(learner_id, None)
        else:
            ctx.remember(learner_id, KnownTimeline(state, stored.last_sequence, stored.last_hash))
        return appended
    return [[] for _ in steps]


def _with_decisions(
    ref: Reference,
    district: str,
    state: LearnerEvidence,
    planned: list[Event],
    undecided: Sequence[str],
) -> tuple[list[Event], LearnerEvidence]:
    """The planned events, the decisions they call for (and those `undecided` still waits for),
    and the state once all of them are folded in."""
    touched = list(undecided)
    for event in planned:
        state = evolve(state, event)
        if (
            isinstance(event, EvidenceRecorded | EvidenceVoided)
            and event.competency_id not in touched
        ):
            touched.append(event.competency_id)
    events = list(planned)
    for competency_id in touched:
        decision = decide(state, competency_id, ref.policy_for(district, competency_id))
        if decision is not None:
            events.append(decision)
            state = evolve(state, decision)
    return events, state


def recorded_from_held(held: EvidenceHeld, recorded_at: datetime) -> EvidenceRecorded:
    """Held evidence, recorded now that its learner is registered."""
    return EvidenceRecorded(
        evidence_id=held.evidence_id,
        learner_id=held.learner_id,
        competency_id=held.competency_id,
        score=held.score,
        observed_at=held.observed_at,
        recorded_at=recorded_at,
        partner=held.partner,
        source_id=held.source_id,
        source_format=held.source_format,
        ingest_sequence=held.ingest_sequence,
    )
