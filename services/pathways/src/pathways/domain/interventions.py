"""When a learner is stuck, from the latest decision on a competency or the pace sweep: MTSS
tiers 1 to 3 with the reason and the evidence behind it; resolved when proficiency follows."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from datetime import date

from pathways.domain.graph import Graph
from pathways.domain.pathway import (
    GraphOf,
    LearnerPathways,
    Observation,
    Pathway,
)
from pathways.domain.standing import proficient, standing
from shared_events.envelope import Event
from shared_events.events.pathways import (
    InterventionRecommended,
    InterventionResolved,
    PathwayPolicySet,
)


def recommendations(
    state: LearnerPathways, graph_of: GraphOf, policy: PathwayPolicySet, because: tuple[str, ...]
) -> list[Event]:
    """Open, escalate or resolve interventions for every competency held by an active
    pathway, from its latest decision (or its override)."""
    events: list[Event] = []
    done_anywhere: set[str] = set()
    held: list[str] = []
    for pathway in state.pathways.values():
        graph = graph_of(pathway.framework_id, pathway.version)
        done_anywhere.update(standing(state, pathway, graph, policy))
        if not pathway.completed:
            held.extend(c for c in pathway.competencies if c not in held)
    for competency, intervention in state.interventions.items():
        seen = state.observed.get(competency)
        reached = seen is not None and proficient(seen, policy)
        if reached or competency in done_anywhere:
            events.append(
                InterventionResolved(
                    learner_id=state.learner_id,
                    intervention_id=intervention.intervention_id,
                    competency_id=competency,
                    because=(
                        seen.decision_id
                        if seen is not None and reached
                        else (because[0] if because else "counted on the pathway")
                    ),
                )
            )
    for competency in held:
        seen = state.observed.get(competency)
        if seen is None or competency in done_anywhere or proficient(seen, policy):
            continue
        found = _stuck(seen, policy)
        if found is None:
            continue
        tier, reason, detail = found
        open_one = state.interventions.get(competency)
        if open_one is not None and open_one.tier >= tier:
            continue
        events.append(
            InterventionRecommended(
                learner_id=state.learner_id,
                intervention_id=(
                    open_one.intervention_id
                    if open_one
                    else intervention_id(state.learner_id, competency, seen.decision_id)
                ),
                competency_id=competency,
                tier=tier,
                reason=reason,
                evidence_ids=seen.evidence_ids,
                detail=detail,
            )
        )
    return events


def _stuck(seen: Observation, policy: PathwayPolicySet) -> tuple[int, str, str] | None:
    """(tier, reason, detail) when the history says the learner is stuck, else None."""
    attempts = len(seen.evidence_ids)
    window = policy.falling_trend_window
    recent = seen.scores[-window:]
    falling = len(recent) == window and all(a > b for a, b in itertools.pairwise(recent))
    needed = policy.attempts_without_proficient
    if falling:
        trend = " → ".join(f"{s:.2f}" for s in recent)
        return 2, "falling_trend", f"the last {window} scores fall: {trend}"
    if attempts >= 2 * needed:
        return 2, "repeated_attempts", f"{attempts} attempts without reaching proficient"
    if attempts >= needed:
        return 1, "repeated_attempts", f"{attempts} attempts without reaching proficient"
    return None


def stalled(
    state: LearnerPathways,
    pathway: Pathway,
    graph: Graph,
    done: Mapping[str, str],
    today: date,
    policy: PathwayPolicySet,
) -> list[Event]:
    """Tier 3 when a goal at risk has seen no progress for `stalled_days`: on the ready
    competency the learner has tried most (the first ready one if none was tried)."""
    last = pathway.last_progress or pathway.start
    idle = (today - last).days
    if idle < policy.stalled_days:
        return []
    ready = [
        c
        for c in pathway.competencies
        if c not in done
        and graph.is_leaf(c)
        and all(b in done for b in graph.prerequisites.get(c, ()))
    ]
    if not ready:
        return []
    tried = [c for c in ready if c in state.observed]
    competency = (
        max(tried, key=lambda c: len(state.observed[c].evidence_ids)) if tried else ready[0]
    )
    open_one = state.interventions.get(competency)
    if open_one is not None and open_one.tier >= 3:
        return []
    seen = state.observed.get(competency)
    return [
        InterventionRecommended(
            learner_id=state.learner_id,
            intervention_id=(
                open_one.intervention_id
                if open_one
                else intervention_id(state.learner_id, competency, f"stalled:{today}")
            ),
            competency_id=competency,
            tier=3,
            reason="stalled_at_risk",
            evidence_ids=seen.evidence_ids if seen else (),
            detail=f"no progress for {idle} days while the goal is at risk",
        )
    ]


def intervention_id(learner_id: str, competency_id: str, opened_by: str) -> str:
    digest = hashlib.sha256(f"{learner_id}\x1f{competency_id}\x1f{opened_by}".encode()).hexdigest()
    return f"iv-{digest[:24]}"
