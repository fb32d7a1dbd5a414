"""Whether a goal is achieved, on track or at risk, from mastery and the calendar."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Literal

GoalStatus = Literal["achieved", "on_track", "at_risk"]

# A goal is at risk when the share of its competencies mastered trails the share of its time
# already spent by more than this.
PACE_TOLERANCE = 0.25


def goal_status(
    targets: Iterable[str], set_on: date, target_date: date, mastered: set[str], today: date
) -> GoalStatus:
    wanted = set(targets)
    done = len(wanted & mastered)
    if done == len(wanted):
        return "achieved"
    if today > target_date:
        return "at_risk"
    span = (target_date - set_on).days
    elapsed = (today - set_on).days / span if span > 0 else 1.0
    return "at_risk" if done / len(wanted) + PACE_TOLERANCE < elapsed else "on_track"
