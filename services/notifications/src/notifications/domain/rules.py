"""What triggers a notification and who receives it: rules as data, per district.

An occasion is something that happened to a learner that someone may want to hear about; the
district's rules say which occasions notify which audiences (the learner, their guardians, their
teachers); each recipient's preferences pick the channels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared_events.envelope import Event
from shared_events.events.evidence import MasteryDecided
from shared_events.events.notifications import Audience, NotificationRule, Trigger
from shared_events.events.pathways import GoalAtRisk, InterventionRecommended, PathwayCompleted

DEFAULT_RULES: tuple[NotificationRule, ...] = (
    NotificationRule(trigger="mastery_gained", audiences=("learner", "guardians")),
    NotificationRule(trigger="mastery_lost", audiences=("learner", "guardians")),
    NotificationRule(trigger="intervention_recommended", audiences=("teachers",)),
    NotificationRule(trigger="goal_at_risk", audiences=("learner", "guardians")),
    NotificationRule(trigger="goal_achieved", audiences=("learner", "guardians")),
    NotificationRule(trigger="pathway_completed", audiences=("learner", "guardians", "teachers")),
)

URGENT: frozenset[Trigger] = frozenset({"intervention_recommended"})
"""Sent at once: never held for a digest."""


@dataclass(frozen=True)
class Occasion:
    trigger: Trigger
    learner_id: str
    cause_event_id: str
    at: datetime
    facts: dict[str, str] = field(default_factory=dict)


def occasion_of(
    event: Event, cause_event_id: str, at: datetime, was_mastered: bool | None = None
) -> Occasion | None:
    """The occasion an event is, if any. A mastery decision is one when mastery changes:
    gained (now mastered, before not or never decided), lost (mastered before, not now)."""
    match event:
        case MasteryDecided():
            facts = {
                "competency_id": event.competency_id,
                "level": event.new_level,
                "score": f"{event.new_score:.2f}",
            }
            if event.mastered and not was_mastered:
                return Occasion("mastery_gained", event.learner_id, cause_event_id, at, facts)
            if was_mastered and not event.mastered:
                return Occasion("mastery_lost", event.learner_id, cause_event_id, at, facts)
        case InterventionRecommended():
            facts = {
                "competency_id": event.competency_id,
                "tier": str(event.tier),
                "reason": event.reason,
                "detail": event.detail,
            }
            return Occasion("intervention_recommended", event.learner_id, cause_event_id, at, facts)
        case GoalAtRisk():
            facts = {
                "pathway_id": event.pathway_id,
                "expected": f"{event.expected_share:.0%}",
                "actual": f"{event.actual_share:.0%}",
            }
            return Occasion("goal_at_risk", event.learner_id, cause_event_id, at, facts)
        case PathwayCompleted():
            facts = {"pathway_id": event.pathway_id, "total": str(event.total_count)}
            trigger: Trigger = "goal_achieved" if event.goal_id else "pathway_completed"
            return Occasion(trigger, event.learner_id, cause_event_id, at, facts)
    return None


def mastery_changes(
    decisions: Iterable[tuple[MasteryDecided, str, datetime]],
    mastered: Mapping[tuple[str, str], bool],
) -> Iterator[Occasion]:
    """The occasions among `(decision, cause event id, at)` taken in turn: `mastered` holds the
    last flag seen per (learner, competency) before them, and each decision's flag is the
    next one's `was_mastered`."""
    flags = dict(mastered)
    for decided, cause, at in decisions:
        key = (decided.learner_id, decided.competency_id)
        occasion = occasion_of(decided, cause, at, flags.get(key))
        flags[key] = decided.mastered
        if occasion is not None:
            yield occasion


def audiences_for(rules: tuple[NotificationRule, ...], trigger: Trigger) -> tuple[Audience, ...]:
    found: list[Audience] = []
    for rule in rules:
        if rule.trigger == trigger and rule.enabled:
            found.extend(a for a in rule.audiences if a not in found)
    return tuple(found)
