"""Append evidence events for one learner together with the mastery decisions they call for.

The learner's state is read from their EVIDENCE timeline, the new events are folded in, every
touched competency is decided under the policy in force, and everything is appended at the
sequence that was read. If another writer got there first, the whole step is done again on the
newer history — so two replicas, or a redelivery, never make a decision twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from eventlog.event_store import ConcurrencyConflict, EventStore
from eventlog.hashchain import link_hash
from evidence.context import EvidenceContext, KnownTimeline
from evidence.domain.learner_evidence import LearnerEvidence, decide, evolve
from evidence.intake.resolve import Reference, reference
from shared_events import Event, Timeline
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


async def apply_to_learner(
    ctx: EvidenceContext,
    district: str,
    learner_id: str,
    cause: str,
    plan: Plan,
    ref: Reference | None = None,
    mend: Sequence[str] = (),
) -> list[Event]:
    """Append `plan(state)` and the decisions that follow (under the policies in `ref`, by
    default the current ones); returns what was appended.

    When the plan has nothing to add (a redelivery), the competencies in `mend` are decided
    all the same: if the process died between appending evidence and appending its decision,
    the decision is made now rather than never."""
    store = ctx.service.store
    timeline = Timeline("evidence", district, learner_id)
    for attempt in range(ATTEMPTS):
        known = ctx.timelines.get(learner_id) if attempt == 0 else None
        if known is None:
            known = await load(store, timeline)
        state = after = known.state
        planned = list(plan(state))
        undecided = [] if planned else [c for c in mend if c in state.undecided]
        events: list[Event] = []
        if planned or undecided:
            ref = ref or await reference(ctx)
            events, after = _with_decisions(ref, district, state, planned, undecided)
        if not events:
            ctx.remember(learner_id, known)
            return []
        envelopes = derived_envelopes(
            events,
            cause=cause,
            step=cause if planned else f"{cause}/mend",
            source=SOURCE,
            subject=learner_id,
            district=district,
        )
        try:
            appended = await store.append(
                timeline, envelopes, expected=known.sequence, prevhash=known.last_hash
            )
        except ConcurrencyConflict:
            ctx.timelines.pop(learner_id, None)
            if attempt + 1 == ATTEMPTS:
                raise
            continue
        if appended.already_stored or appended.last_hash is None:
            ctx.timelines.pop(learner_id, None)
        else:
            ctx.remember(
                learner_id, KnownTimeline(after, appended.last_sequence, appended.last_hash)
            )
        return events
    return []


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
