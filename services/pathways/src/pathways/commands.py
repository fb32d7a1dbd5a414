"""The changes to a learner's pathways, each a `Step` for `PathwaysContext.settle`: take a
mastery decision in, assign a pathway, override a competency, move a pathway to a newer
framework version, look at pace on a new day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pathways.context import Step
from pathways.domain.decisions import decide
from pathways.domain.graph import Graph
from pathways.domain.pathway import GraphOf, LearnerPathways, take_in
from shared_events import Event
from shared_events.events.pathways import (
    CompetencyOverridden,
    MasteryObserved,
    PathwayAssigned,
    PathwayMoved,
    PathwayPolicySet,
)


class Refused(ValueError):
    """A command that cannot apply: `field: rule`."""


def observe(observed: MasteryObserved) -> Step:
    def step(state: LearnerPathways, policy: PathwayPolicySet, graph_of: GraphOf) -> list[Event]:
        if not take_in(state, observed):
            return []
        today = observed.decided_at.date()
        return decide(state, [observed], graph_of, policy, today, (observed.decision_id,))

    return step


def assign(
    assigned: PathwayAssigned, known_mastery: Sequence[MasteryObserved], today: date
) -> Step:
    """A new pathway, starting from the mastery already decided for its competencies."""

    def step(state: LearnerPathways, policy: PathwayPolicySet, graph_of: GraphOf) -> list[Event]:
        if assigned.pathway_id in state.pathways:
            return []
        held = set(assigned.competencies)
        facts: list[Event] = [assigned]
        facts.extend(
            m for m in known_mastery if m.competency_id in held and m.decision_id not in state.seen
        )
        return decide(state, facts, graph_of, policy, today, (assigned.pathway_id,))

    return step


def override(overridden: CompetencyOverridden, today: date, cause: str) -> Step:
    def step(state: LearnerPathways, policy: PathwayPolicySet, graph_of: GraphOf) -> list[Event]:
        pathway = state.pathways.get(overridden.pathway_id)
        if pathway is None:
            raise Refused(f"pathway_id: no pathway {overridden.pathway_id!r} for this learner")
        if overridden.competency_id not in pathway.competencies:
            raise Refused(
                f"competency_id: {overridden.competency_id!r} is not on pathway "
                f"{overridden.pathway_id!r}"
            )
        return decide(state, [overridden], graph_of, policy, today, (cause,))

    return step


def move(pathway_id: str, to: Graph, moved_by: str, today: date, cause: str) -> Step:
    """Move a pathway to another version of its framework: the same targets, read in the new
    version (competencies it dropped leave the pathway; ones it added under them join)."""

    def step(state: LearnerPathways, policy: PathwayPolicySet, graph_of: GraphOf) -> list[Event]:
        pathway = state.pathways.get(pathway_id)
        if pathway is None:
            raise Refused(f"pathway_id: no pathway {pathway_id!r} for this learner")
        if pathway.framework_id != to.framework_id:
            raise Refused("version: a pathway moves within its own framework")
        if pathway.version == to.version:
            return []
        old = graph_of(pathway.framework_id, pathway.version)
        roots = [c for c in pathway.competencies if old.parent.get(c) not in pathway.competencies]
        whole = set(pathway.competencies) == set(old.order)
        competencies = to.scope(() if whole else [c for c in roots if c in to])
        moved = PathwayMoved(
            learner_id=state.learner_id,
            pathway_id=pathway_id,
            from_version=pathway.version,
            to_version=to.version,
            competencies=competencies,
            moved_by=moved_by,
        )
        return decide(state, [moved], graph_of, policy, today, (cause,))

    return step


def look_at_pace(today: date) -> Step:
    def step(state: LearnerPathways, policy: PathwayPolicySet, graph_of: GraphOf) -> list[Event]:
        if not state.active():
            return []
        return decide(state, [], graph_of, policy, today, (f"pace:{today}",), sweep=True)

    return step
