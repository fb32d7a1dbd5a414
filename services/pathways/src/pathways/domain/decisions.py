"""The decision: given the state after a new fact (a mastery decision taken in, an override, an
assignment, a new day), the events that follow — competencies counted or reopened, unlocked,
the pathway completed, the goal at risk or back on track, interventions recommended or
resolved."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pathways.domain.interventions import recommendations, stalled
from pathways.domain.pathway import GraphOf, LearnerPathways, Pathway, evolve
from pathways.domain.standing import pace, standing
from shared_events.envelope import Event
from shared_events.events.pathways import (
    CompetencyReopened,
    CompetencyUnlocked,
    GoalAtRisk,
    GoalBackOnTrack,
    PathwayAdvanced,
    PathwayCompleted,
    PathwayPolicySet,
)


def consequences(
    state: LearnerPathways,
    graph_of: GraphOf,
    policy: PathwayPolicySet,
    today: date,
    because: tuple[str, ...] = (),
    sweep: bool = False,
) -> list[Event]:
    """The events the state now calls for, as of `today`. `because` names the fact that led
    here (a decision or override id). `sweep` is the daily look at every pathway's pace, the
    only time a stalled learner is noticed."""
    events: list[Event] = []
    learner = state.learner_id
    for pathway in state.active():
        graph = graph_of(pathway.framework_id, pathway.version)
        done = standing(state, pathway, graph, policy)
        for competency in pathway.competencies:
            if competency in done and competency not in pathway.counted:
                events.append(
                    PathwayAdvanced(
                        learner_id=learner,
                        pathway_id=pathway.pathway_id,
                        competency_id=competency,
                        how=done[competency],
                        mastered_count=len(done),
                        total_count=len(pathway.competencies),
                        on=today,
                        because=because,
                    )
                )
            elif competency in pathway.counted and competency not in done:
                events.append(
                    CompetencyReopened(
                        learner_id=learner,
                        pathway_id=pathway.pathway_id,
                        competency_id=competency,
                        because=because,
                    )
                )
        for competency in pathway.competencies:
            before = graph.prerequisites.get(competency, ())
            if (
                before
                and competency not in pathway.unlocked
                and competency not in done
                and all(b in done for b in before)
            ):
                events.append(
                    CompetencyUnlocked(
                        learner_id=learner,
                        pathway_id=pathway.pathway_id,
                        competency_id=competency,
                        because=_reasons(state, pathway, before),
                    )
                )
        if pathway.competencies and len(done) == len(pathway.competencies):
            events.append(
                PathwayCompleted(
                    learner_id=learner,
                    pathway_id=pathway.pathway_id,
                    total_count=len(pathway.competencies),
                    goal_id=pathway.goal_id,
                )
            )
            continue
        progress = pace(pathway, len(done), today, policy)
        if progress.at_risk != pathway.at_risk:
            kind = GoalAtRisk if progress.at_risk else GoalBackOnTrack
            events.append(
                kind(
                    learner_id=learner,
                    pathway_id=pathway.pathway_id,
                    goal_id=pathway.goal_id,
                    as_of=today,
                    expected_share=progress.expected,
                    actual_share=progress.actual,
                )
            )
        if sweep and progress.at_risk:
            events.extend(stalled(state, pathway, graph, done, today, policy))
    events.extend(recommendations(state, graph_of, policy, because))
    return events


def _reasons(
    state: LearnerPathways, pathway: Pathway, competencies: Iterable[str]
) -> tuple[str, ...]:
    reasons = []
    for competency in competencies:
        if competency in pathway.overrides:
            reasons.append(f"override:{competency}")
        elif competency in state.observed:
            reasons.append(state.observed[competency].decision_id)
        else:
            reasons.append(f"rolled_up:{competency}")
    return tuple(reasons)


def decide(
    state: LearnerPathways,
    facts: Iterable[Event],
    graph_of: GraphOf,
    policy: PathwayPolicySet,
    today: date,
    because: tuple[str, ...] = (),
    sweep: bool = False,
) -> list[Event]:
    """`facts` (an assignment, a decision taken in, an override…) and everything they lead to,
    until nothing more follows."""
    events = list(facts)
    for event in events:
        state = evolve(state, event)
    for _ in range(8):
        more = consequences(state, graph_of, policy, today, because, sweep)
        if not more:
            break
        events.extend(more)
        for event in more:
            state = evolve(state, event)
        sweep = False
    return events
