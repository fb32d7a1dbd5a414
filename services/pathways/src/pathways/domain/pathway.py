"""A learner's pathways: a fold over their PATHWAYS events, and what each new fact leads to.

`evolve` folds one event in. `consequences` is the decision: given the state after a new fact
(a mastery decision taken in, an override, an assignment, a new day), the events that follow —
competencies counted or reopened, unlocked, the pathway completed, the goal at risk or back on
track, interventions recommended or resolved. Live handling and replay call the same functions,
and the state holds everything they read, so a replay reaches the same events.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from pathways.domain.graph import Graph, words
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


# --- what counts as mastered -------------------------------------------------------------


def standing(
    state: LearnerPathways, pathway: Pathway, graph: Graph, policy: PathwayPolicySet
) -> dict[str, str]:
    """Competency → how it counts as done on this pathway (mastered, waived, rolled_up); the
    others are not done. Overrides beat evidence; a parent rolls up from its children."""
    done: dict[str, str] = {}
    for competency in pathway.competencies:
        override = pathway.overrides.get(competency)
        seen = state.observed.get(competency)
        from_evidence = override is None and seen is not None and seen.mastered
        if override in ("waived", "mastered"):
            done[competency] = override
        elif from_evidence:
            done[competency] = "mastered"
    held = set(pathway.competencies)
    for competency in reversed(graph.order):  # children before their parents
        children = [c for c in graph.children.get(competency, ()) if c in held]
        if competency not in held or competency in done or not children:
            continue
        if pathway.overrides.get(competency) == "not_mastered":
            continue
        if rolls_up(policy, competency, children, done):
            done[competency] = "rolled_up"
    return done


def rolls_up(
    policy: PathwayPolicySet, parent: str, children: list[str], done: Mapping[str, str]
) -> bool:
    rule = policy.rollups.get(parent)
    if rule is None or rule.method == "all":
        return all(child in done for child in children)
    if not all(child in done for child in rule.required):
        return False
    points = sum(rule.points.get(child, 1) for child in children if child in done)
    return points >= rule.points_needed


def proficient(observation: Observation, policy: PathwayPolicySet) -> bool:
    return observation.mastered or observation.level in policy.proficient_levels


# --- pace ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pace:
    expected: float
    actual: float
    at_risk: bool


def pace(pathway: Pathway, done: int, today: date, policy: PathwayPolicySet) -> Pace:
    """Share of the pathway done against share of its time spent. At risk when it trails by
    more than the policy's tolerance, or the target date has passed with work left."""
    end = pathway.target or pathway.start + timedelta(days=policy.default_pace_days)
    span = max((end - pathway.start).days, 1)
    expected = min(max((today - pathway.start).days / span, 0.0), 1.0)
    actual = done / len(pathway.competencies) if pathway.competencies else 1.0
    behind = actual < 1.0 and (today > end or actual + policy.pace_tolerance < expected)
    return Pace(round(expected, 4), round(actual, 4), behind)


# --- the decision --------------------------------------------------------------------------


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
            events.extend(_stalled(state, pathway, graph, done, today, policy))
    events.extend(_interventions(state, graph_of, policy, because))
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


def _interventions(
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


def _stalled(
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


def take_in(state: LearnerPathways, decided: MasteryObserved) -> bool:
    """Whether a mastery decision matters here: new, and on a competency a pathway holds."""
    if decided.decision_id in state.seen:
        return False
    return any(decided.competency_id in p.competencies for p in state.pathways.values())


# --- what a reader sees --------------------------------------------------------------------


@dataclass(frozen=True)
class CompetencyView:
    competency_id: str
    state: str
    """mastered, waived, rolled_up, in_progress, ready or locked."""
    level: str | None
    score: float | None
    waiting_for: tuple[str, ...] = ()


def view(
    state: LearnerPathways, pathway: Pathway, graph: Graph, policy: PathwayPolicySet
) -> list[CompetencyView]:
    """Each competency of the pathway with its state, in framework order. Ready to learn: not
    done, every prerequisite done (the outer fringe); in progress: the same, with evidence."""
    done = standing(state, pathway, graph, policy)
    views = []
    for competency in pathway.competencies:
        seen = state.observed.get(competency)
        level, score = (seen.level, seen.score) if seen else (None, None)
        if competency in done:
            views.append(CompetencyView(competency, done[competency], level, score))
            continue
        waiting = tuple(b for b in graph.prerequisites.get(competency, ()) if b not in done)
        if waiting:
            views.append(CompetencyView(competency, "locked", level, score, waiting))
        else:
            views.append(
                CompetencyView(competency, "in_progress" if seen else "ready", level, score)
            )
    return views


def suggested(views: Iterable[CompetencyView], graph: Graph, interests: Iterable[str]) -> list[str]:
    """The ready set in the order to suggest it: work already started first, then the
    competencies whose topics meet more of the learner's interests, then framework order.
    Only ready competencies are ever suggested, so no prerequisite is skipped; parents are
    left out (they roll up from their children)."""
    liked = [words(i) for i in interests]
    rank = {c: n for n, c in enumerate(graph.order)}

    def key(item: CompetencyView) -> tuple[int, int, int]:
        topics = graph.topics.get(item.competency_id, frozenset())
        matches = sum(1 for interest in liked if interest and interest <= topics)
        return (item.state != "in_progress", -matches, rank.get(item.competency_id, 0))

    ready = [
        v for v in views if v.state in ("ready", "in_progress") and graph.is_leaf(v.competency_id)
    ]
    return [v.competency_id for v in sorted(ready, key=key)]


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
