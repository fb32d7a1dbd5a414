"""A learner as the profiles service knows them: a fold over their profile events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from shared_events import Event
from shared_events.events.profiles import LearnerErased, LearnerRegistered

Status = Literal["unknown", "active", "erased"]


@dataclass(frozen=True)
class Learner:
    learner_id: str
    status: Status = "unknown"
    grade_levels: tuple[str, ...] = ()
    school_id: str | None = None


def evolve(state: Learner, event: Event) -> Learner:
    """The learner after `event`; events this state does not track leave it unchanged."""
    match event:
        case LearnerRegistered():
            return replace(
                state,
                status="active",
                grade_levels=event.grade_levels,
                school_id=event.school_id,
            )
        case LearnerErased():
            return replace(state, status="erased", grade_levels=(), school_id=None)
    return state


def replay(learner_id: str, events: list[Event]) -> Learner:
    state = Learner(learner_id)
    for event in events:
        state = evolve(state, event)
    return state
