"""What counts as done on a pathway (mastered, waived, rolled up) and the pace it keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from pathways.domain.graph import Graph
from pathways.domain.pathway import LearnerPathways, Observation, Pathway
from shared_events.events.pathways import PathwayPolicySet


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
