"""A learner's pathways: the state folded from their PATHWAYS events.

`evolve` folds one event in; `fold` a whole log. The state holds everything the decision reads
(`decisions.decide`), so live handling and replay, which share these functions, reach the same
events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from pathways.domain.graph import Graph
from shared_events.envelope import Event
from shared_events.events.pathways import (
    CompetencyOverridden,
    CompetencyReopened,
    CompetencyUnlocked,
    GoalAtRisk,
    GoalBackOnTrack,
    InterventionRecommended,
    InterventionResolved,
    MasteryObserved,
    PathwayAdvanced,
    PathwayAssigned,
    PathwayCompleted,
    PathwayMoved,
    PathwayPolicySet,
)

DEFAULT_POLICY = PathwayPolicySet(version=0, set_by="built-in default")

GraphOf = Callable[[str, int], Graph]
"""(framework id, version) → that version's graph."""


@dataclass(frozen=True)
class Pathway:
    pathway_id: str
    framework_id: str
    version: int
    competencies: tuple[str, ...]
    start: date
    target: date | None = None
    goal_id: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Competency → the teacher's last override (waived, mastered, not_mastered)."""
    counted: Mapping[str, str] = field(default_factory=dict)
    """Competency → how the pathway counted it (mastered, waived, rolled_up)."""
    unlocked: frozenset[str] = frozenset()
    completed: bool = False
    at_risk: bool = False
    last_progress: date | None = None


@dataclass(frozen=True)
class Observation:
    decision_id: str
    mastered: bool
    level: str
    score: float
    evidence_ids: tuple[str, ...]
    scores: tuple[float, ...]
    on: date


@dataclass(frozen=True)
class Intervention:
    intervention_id: str
    competency_id: str
    tier: int
    reason: str


@dataclass(frozen=True)
class LearnerPathways:
    learner_id: str
    pathways: Mapping[str, Pathway] = field(default_factory=dict)
    observed: Mapping[str, Observation] = field(default_factory=dict)
    """Competency → the latest mastery decision taken in."""
    seen: frozenset[str] = frozenset()
    """Every decision id taken in: a redelivered decision changes nothing."""
    interventions: Mapping[str, Intervention] = field(default_factory=dict)
    """Competency → its open intervention."""

    def active(self) -> list[Pathway]:
        return [p for p in self.pathways.values() if not p.completed]


def evolve(state: LearnerPathways, event: Event) -> LearnerPathways:
    match event:
        case PathwayAssigned():
            start = event.start_date or date.min
            pathway = Pathway(
                event.pathway_id,
                event.framework_id,
                event.framework_version,
                event.competencies,
                start,
                event.target_date,
                event.goal_id,
                last_progress=start,
            )
            return replace(state, pathways={**state.pathways, event.pathway_id: pathway})
        case PathwayMoved():
            return _on_pathway(
                state, event.pathway_id, version=event.to_version, competencies=event.competencies
            )
        case MasteryObserved():
            observation = Observation(
                event.decision_id,
                event.mastered,
                event.level,
                event.score,
                event.evidence_ids,
                event.scores,
                event.decided_at.date(),
            )
            return replace(
                state,
                observed={**state.observed, event.competency_id: observation},
                seen=state.seen | {event.decision_id},
            )
        case CompetencyOverridden():
            pathway = state.pathways[event.pathway_id]
            overrides = {**pathway.overrides, event.competency_id: event.action}
            if event.action == "cleared":
                del overrides[event.competency_id]
            return _on_pathway(state, event.pathway_id, overrides=overrides)
        case PathwayAdvanced():
            pathway = state.pathways[event.pathway_id]
            counted = {**pathway.counted, event.competency_id: event.how}
            progress = event.on or pathway.last_progress
            return _on_pathway(state, event.pathway_id, counted=counted, last_progress=progress)
        case CompetencyReopened():
            pathway = state.pathways[event.pathway_id]
            counted = {k: v for k, v in pathway.counted.items() if k != event.competency_id}
            return _on_pathway(state, event.pathway_id, counted=counted)
        case CompetencyUnlocked():
            unlocked = state.pathways[event.pathway_id].unlocked | {event.competency_id}
            return _on_pathway(state, event.pathway_id, unlocked=unlocked)
        case PathwayCompleted():
            return _on_pathway(state, event.pathway_id, completed=True, at_risk=False)
        case GoalAtRisk():
            return _on_pathway(state, event.pathway_id, at_risk=True)
        case GoalBackOnTrack():
            return _on_pathway(state, event.pathway_id, at_risk=False)
        case InterventionRecommended():
            intervention = Intervention(
                event.intervention_id, event.competency_id, event.tier, event.reason
            )
            interventions = {**state.interventions, event.competency_id: intervention}
            return replace(state, interventions=interventions)
        case InterventionResolved():
            interventions = {
                k: v for k, v in state.interventions.items() if k != event.competency_id
            }
            return replace(state, interventions=interventions)
    return state


def _on_pathway(state: LearnerPathways, pathway_id: str, **changes: object) -> LearnerPathways:
    pathway = replace(state.pathways[pathway_id], **changes)  # type: ignore[arg-type]
    return replace(state, pathways={**state.pathways, pathway_id: pathway})


def fold(learner_id: str, events: Iterable[Event]) -> LearnerPathways:
    state = LearnerPathways(learner_id)
    for event in events:
        state = evolve(state, event)
    return state


def take_in(state: LearnerPathways, decided: MasteryObserved) -> bool:
    """Whether a mastery decision matters here: new, and on a competency a pathway holds."""
    if decided.decision_id in state.seen:
        return False
    return any(decided.competency_id in p.competencies for p in state.pathways.values())
