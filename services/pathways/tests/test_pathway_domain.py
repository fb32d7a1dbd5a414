"""The pathway decision on scripted histories: unlocks, waivers, roll-ups, completion, pace,
interventions, corrections — and a replay of the log reaching the same state."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from pathways.domain.decisions import decide
from pathways.domain.graph import Graph
from pathways.domain.pathway import DEFAULT_POLICY, LearnerPathways, fold, take_in
from pathways.domain.views import suggested, view
from shared_events.events.pathways import (
    CompetencyDefinition,
    CompetencyOverridden,
    CompetencyReopened,
    CompetencyUnlocked,
    FrameworkImported,
    GoalAtRisk,
    GoalBackOnTrack,
    InterventionRecommended,
    InterventionResolved,
    MasteryObserved,
    PathwayAdvanced,
    PathwayAssigned,
    PathwayCompleted,
    Prerequisite,
    RollupRule,
)

START = date(2026, 9, 1)
# Number sense (N) has count → add → sub; shapes (S) has circles and squares, in no order.
FRAMEWORK = FrameworkImported(
    framework_id="math",
    version=1,
    title="Math",
    competencies=(
        CompetencyDefinition(competency_id="N", statement="Number sense"),
        CompetencyDefinition(competency_id="count", statement="Count to 100", parent_id="N"),
        CompetencyDefinition(competency_id="add", statement="Add within 20", parent_id="N"),
        CompetencyDefinition(competency_id="sub", statement="Subtract within 20", parent_id="N"),
        CompetencyDefinition(competency_id="S", statement="Shapes"),
        CompetencyDefinition(
            competency_id="circles",
            statement="Circles in art",
            parent_id="S",
            keywords=("space",),
        ),
        CompetencyDefinition(competency_id="squares", statement="Squares", parent_id="S"),
    ),
    prerequisites=(
        Prerequisite(before="count", after="add"),
        Prerequisite(before="add", after="sub"),
    ),
    content_hash="0" * 64,
)
GRAPH = Graph.of(FRAMEWORK)
_numbers = itertools.count()


def graph_of(framework_id: str, version: int) -> Graph:
    assert (framework_id, version) == ("math", 1)
    return GRAPH


def assigned(target: date | None = None) -> PathwayAssigned:
    return PathwayAssigned(
        learner_id="l1",
        pathway_id="p1",
        framework_id="math",
        framework_version=1,
        competencies=GRAPH.scope(),
        assigned_by="t1",
        target_date=target,
        start_date=START,
    )


def decision(
    competency: str, scores: list[float], mastered: bool, level: str = "attempted", day: int = 1
) -> MasteryObserved:
    n = next(_numbers)
    return MasteryObserved(
        learner_id="l1",
        competency_id=competency,
        decision_id=f"d{n}",
        mastered=mastered,
        level="mastered" if mastered else level,
        score=scores[-1],
        evidence_ids=tuple(f"e{n}-{i}" for i in range(len(scores))),
        scores=tuple(scores),
        decided_at=datetime(2026, 9, day, 12, tzinfo=UTC),
    )


class Learner:
    """A learner's log, decided fact by fact as the service does."""

    def __init__(self, target: date | None = None, policy=DEFAULT_POLICY) -> None:
        self.log: list = []
        self.policy = policy
        self.state = LearnerPathways("l1")
        self.step([assigned(target)], START)

    def step(self, facts, today: date, sweep: bool = False) -> list:
        """The events that followed `facts` (the facts themselves left out)."""
        decided = decide(self.state, facts, graph_of, self.policy, today, ("cause",), sweep)
        self.log.extend(decided)
        self.state = fold("l1", self.log)
        return decided[len(facts) :]

    def master(self, competency: str, day: int = 2) -> list:
        return self.step([decision(competency, [0.95], True, day=day)], date(2026, 9, day))


def kinds(events) -> list[tuple[str, str]]:
    return [(type(e).__name__, getattr(e, "competency_id", "")) for e in events]


def states(learner: Learner) -> dict[str, str]:
    pathway = learner.state.pathways["p1"]
    return {v.competency_id: v.state for v in view(learner.state, pathway, GRAPH, learner.policy)}


def test_a_new_pathway_is_ready_only_where_nothing_comes_first():
    assert states(Learner()) == {
        "N": "ready",
        "count": "ready",
        "add": "locked",
        "sub": "locked",
        "S": "ready",
        "circles": "ready",
        "squares": "ready",
    }


def test_unlocks_happen_exactly_when_the_prerequisites_are_mastered():
    learner = Learner()
    assert kinds(learner.master("count")) == [
        ("PathwayAdvanced", "count"),
        ("CompetencyUnlocked", "add"),
    ]
    unlocked = [e for e in learner.log if isinstance(e, CompetencyUnlocked)]
    assert unlocked[0].because == (learner.state.observed["count"].decision_id,)
    assert states(learner)["sub"] == "locked"
    assert kinds(learner.master("add")) == [
        ("PathwayAdvanced", "add"),
        ("CompetencyUnlocked", "sub"),
    ]


def test_a_waived_competency_unlocks_its_successors():
    learner = Learner()
    waiver = CompetencyOverridden(
        learner_id="l1",
        pathway_id="p1",
        competency_id="count",
        action="waived",
        reason="mastered in a previous school",
        by="t1",
    )
    events = learner.step([waiver], date(2026, 9, 3))
    assert kinds(events) == [("PathwayAdvanced", "count"), ("CompetencyUnlocked", "add")]
    assert events[0].how == "waived"
    assert states(learner)["count"] == "waived"


def test_a_parent_rolls_up_when_its_children_are_mastered_and_the_pathway_completes():
    learner = Learner()
    learner.master("circles")
    events = learner.master("squares")
    rolled = [e for e in events if getattr(e, "competency_id", "") == "S"]
    assert [(type(e).__name__, e.how) for e in rolled] == [("PathwayAdvanced", "rolled_up")]
    for competency in ("count", "add"):
        learner.master(competency)
    events = learner.master("sub")
    assert ("PathwayAdvanced", "N") in kinds(events)
    assert kinds(events)[-1] == ("PathwayCompleted", "")
    assert learner.step([], date(2026, 9, 20), sweep=True) == []


def test_a_points_rule_rolls_up_with_required_children_and_enough_points():
    rule = RollupRule(method="points", required=("count",), points={"add": 2}, points_needed=3)
    policy = DEFAULT_POLICY.model_copy(update={"rollups": {"N": rule}})
    learner = Learner(policy=policy)
    learner.master("count")  # 1 point, the required child done
    assert states(learner)["N"] == "ready"
    events = learner.master("add")  # 1 + 2 points: enough without "sub"
    assert ("PathwayAdvanced", "N") in kinds(events)


def test_repeated_attempts_raise_an_intervention_that_mastery_resolves():
    learner = Learner()
    assert learner.step([decision("count", [0.3, 0.4], False)], date(2026, 9, 2)) == []
    events = learner.step([decision("count", [0.3, 0.4, 0.5], False)], date(2026, 9, 3))
    assert kinds(events) == [("InterventionRecommended", "count")]
    raised = events[0]
    assert (raised.tier, raised.reason) == (1, "repeated_attempts")
    assert len(raised.evidence_ids) == 3
    # Nothing new while it stays open at that tier; escalated at twice the attempts.
    assert learner.step([decision("count", [0.3, 0.4, 0.5, 0.5], False)], START) == []
    events = learner.step([decision("count", [0.3, 0.4, 0.5, 0.5, 0.6, 0.6], False)], START)
    assert kinds(events) == [("InterventionRecommended", "count")]
    assert events[0].tier == 2 and events[0].intervention_id == raised.intervention_id
    events = learner.master("count", day=9)
    resolved = [e for e in events if isinstance(e, InterventionResolved)]
    assert [r.intervention_id for r in resolved] == [raised.intervention_id]
    assert resolved[0].because == learner.state.observed["count"].decision_id
    assert learner.state.interventions == {}


def test_a_falling_trend_raises_a_tier_two_intervention_and_proficient_resolves_it():
    learner = Learner()
    events = learner.step([decision("circles", [0.8, 0.6, 0.4], False)], START)
    assert kinds(events) == [("InterventionRecommended", "circles")]
    assert (events[0].tier, events[0].reason) == (2, "falling_trend")
    proficient = decision("circles", [0.8, 0.6, 0.4, 0.85], False, level="proficient")
    assert kinds(learner.step([proficient], START)) == [("InterventionResolved", "circles")]


def test_a_slow_pace_puts_the_goal_at_risk_and_progress_brings_it_back():
    patient = DEFAULT_POLICY.model_copy(update={"stalled_days": 90})  # pace alone here
    learner = Learner(target=START + timedelta(days=70), policy=patient)
    assert learner.step([], START + timedelta(days=5), sweep=True) == []
    events = learner.step([], START + timedelta(days=35), sweep=True)
    assert kinds(events) == [("GoalAtRisk", "")]
    assert (events[0].expected_share, events[0].actual_share) == (0.5, 0.0)
    assert learner.step([], START + timedelta(days=36), sweep=True) == []  # said once
    day_39 = START + timedelta(days=39)  # 0.56 of the time spent
    for competency in ("count", "add"):
        events = learner.step([decision(competency, [0.95], True)], day_39)
    assert not any(isinstance(e, GoalBackOnTrack) for e in events)  # 2 of 7 + 0.25 < 0.56
    events = learner.step([decision("circles", [0.95], True)], day_39)  # 3 of 7 + 0.25
    assert isinstance(events[-1], GoalBackOnTrack)
    assert events[-1].actual_share == round(3 / 7, 4)


def test_no_progress_while_at_risk_gets_a_tier_three_intervention_on_the_sweep():
    learner = Learner(target=START + timedelta(days=30))
    learner.step([decision("count", [0.2], False)], START)
    events = learner.step([], START + timedelta(days=20), sweep=True)
    assert kinds(events) == [("GoalAtRisk", ""), ("InterventionRecommended", "count")]
    stalled = events[1]
    assert (stalled.tier, stalled.reason) == (3, "stalled_at_risk")
    assert "20 days" in stalled.detail
    assert learner.step([], START + timedelta(days=21), sweep=True) == []


def test_mastery_lost_reopens_the_competency():
    learner = Learner()
    learner.master("count")
    corrected = decision("count", [0.4], False)  # the high score was voided
    events = learner.step([corrected], date(2026, 9, 5))
    assert kinds(events) == [("CompetencyReopened", "count")]
    assert isinstance(events[0], CompetencyReopened)
    assert states(learner)["add"] == "locked"


def test_a_decision_taken_in_twice_or_off_the_pathway_changes_nothing():
    learner = Learner()
    once = decision("count", [0.95], True)
    learner.step([once], START)
    assert not take_in(learner.state, once)
    elsewhere = once.model_copy(update={"decision_id": "x", "competency_id": "history"})
    assert not take_in(learner.state, elsewhere)


def test_a_replay_of_the_log_reaches_the_same_state_and_decides_nothing_more():
    learner = Learner(target=START + timedelta(days=40))
    learner.master("count")
    learner.step([decision("circles", [0.9, 0.5, 0.2], False)], START)
    learner.step([], START + timedelta(days=30), sweep=True)
    replayed = fold("l1", list(learner.log))
    assert replayed == learner.state
    assert decide(replayed, [], graph_of, DEFAULT_POLICY, START + timedelta(days=30)) == []
    for kind in (InterventionRecommended, GoalAtRisk, PathwayAdvanced):
        assert any(isinstance(e, kind) for e in learner.log)
    assert not any(isinstance(e, PathwayCompleted) for e in learner.log)


def test_suggestions_favour_interests_and_never_skip_a_prerequisite():
    learner = Learner()
    pathway = learner.state.pathways["p1"]
    views = view(learner.state, pathway, GRAPH, DEFAULT_POLICY)
    assert suggested(views, GRAPH, []) == ["count", "circles", "squares"]
    assert suggested(views, GRAPH, ["Space"]) == ["circles", "count", "squares"]
    learner.step([decision("squares", [0.4], False)], START)
    views = view(learner.state, pathway, GRAPH, DEFAULT_POLICY)
    assert suggested(views, GRAPH, ["space"])[0] == "squares"  # work in progress first
    assert "add" not in suggested(views, GRAPH, ["add within"])


def test_a_goal_pathway_holds_the_targets_what_is_under_them_and_what_they_need():
    assert GRAPH.scope(["sub"]) == ("count", "add", "sub")
    assert GRAPH.scope(["N"]) == ("N", "count", "add", "sub")
    assert GRAPH.scope([]) == GRAPH.order
