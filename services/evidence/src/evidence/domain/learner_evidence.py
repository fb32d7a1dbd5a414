"""A learner's evidence as the evidence service knows it: a fold over their EVIDENCE timeline,
and the mastery decision that follows from it under a policy.

A decision is always computed over the whole corrected history of one competency (voided
evidence left out, everything ordered by observation time), so late and voided evidence simply
produce a new decision; earlier decisions stay in the log untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from evidence.domain.policies import Policy, Scored, rollup
from shared_events import Event
from shared_events.events.evidence import (
    EvidenceHeld,
    EvidenceRecorded,
    EvidenceUsed,
    EvidenceVoided,
    MasteryDecided,
    PolicyRef,
)


@dataclass(frozen=True)
class Recorded:
    evidence_id: str
    competency_id: str
    score: float
    observed_at: datetime


@dataclass(frozen=True)
class Decision:
    level: str
    score: float
    evidence_ids: tuple[str, ...]


@dataclass(frozen=True)
class LearnerEvidence:
    learner_id: str
    recorded: dict[str, Recorded] = field(default_factory=dict)
    voided: frozenset[str] = frozenset()
    held: dict[str, EvidenceHeld] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    undecided: frozenset[str] = frozenset()
    """Competencies whose latest evidence or voiding no decision has followed yet."""


def evolve(state: LearnerEvidence, event: Event) -> LearnerEvidence:
    match event:
        case EvidenceRecorded():
            recorded = Recorded(
                event.evidence_id, event.competency_id, event.score, event.observed_at
            )
            held = {k: v for k, v in state.held.items() if k != event.evidence_id}
            return replace(
                state,
                recorded={**state.recorded, event.evidence_id: recorded},
                held=held,
                undecided=state.undecided | {event.competency_id},
            )
        case EvidenceHeld():
            return replace(state, held={**state.held, event.evidence_id: event})
        case EvidenceVoided():
            return replace(
                state,
                voided=state.voided | {event.evidence_id},
                undecided=state.undecided | {event.competency_id},
            )
        case MasteryDecided():
            decision = Decision(
                event.new_level, event.new_score, tuple(e.evidence_id for e in event.evidence)
            )
            return replace(
                state,
                decisions={**state.decisions, event.competency_id: decision},
                undecided=state.undecided - {event.competency_id},
            )
    return state


def received_otherwise(state: LearnerEvidence, evidence: EvidenceRecorded | EvidenceHeld) -> bool:
    """Whether the log already holds this evidence id with other content (another competency,
    score or time): a partner reusing an id for a different observation."""
    known = state.recorded.get(evidence.evidence_id) or state.held.get(evidence.evidence_id)
    if known is None:
        return False
    return (known.competency_id, known.score, known.observed_at) != (
        evidence.competency_id,
        evidence.score,
        evidence.observed_at,
    )


def history(state: LearnerEvidence, competency_id: str) -> list[Scored]:
    """The competency's evidence that still counts, in observation order."""
    scored = [
        Scored(r.evidence_id, r.score, r.observed_at)
        for r in state.recorded.values()
        if r.competency_id == competency_id and r.evidence_id not in state.voided
    ]
    return sorted(scored, key=lambda s: (s.observed_at, s.evidence_id))


def decide(state: LearnerEvidence, competency_id: str, policy: Policy) -> MasteryDecided | None:
    """The decision the current history calls for; None when it is the one already made."""
    result = rollup(policy, history(state, competency_id))
    used = tuple(s.evidence_id for s in result.used)
    score = result.score if result.score is not None else 0.0
    previous = state.decisions.get(competency_id)
    if previous is not None and previous.evidence_ids == used and previous.score == score:
        return None
    return MasteryDecided(
        learner_id=state.learner_id,
        competency_id=competency_id,
        policy=PolicyRef(
            policy_id=policy.policy_id,
            method=policy.method,
            version=policy.version,
            params=dict(policy.params),
        ),
        evidence=tuple(
            EvidenceUsed(evidence_id=s.evidence_id, score=s.score, observed_at=s.observed_at)
            for s in result.used
        ),
        previous_level=previous.level if previous else None,
        new_level=result.level,
        previous_score=previous.score if previous else None,
        new_score=score,
        mastered=result.mastered,
    )
