"""Which role may set which part of a learner's profile.

Learners own their interests and aspirations; guardians may add interests and set the home
language; teachers record learning needs and supports; district admins may set everything.
"""

from __future__ import annotations

from collections.abc import Iterable

FIELDS = ("interests", "aspirations", "learning_needs", "supports", "language")

EDITABLE: dict[str, frozenset[str]] = {
    "learner": frozenset({"interests", "aspirations", "language"}),
    "guardian": frozenset({"interests", "language"}),
    "teacher": frozenset({"interests", "learning_needs", "supports"}),
    "district_admin": frozenset(FIELDS),
}

SETS_GOALS = frozenset({"learner", "guardian", "teacher", "district_admin"})


class NotAllowed(ValueError):
    """A role tried to change a field it may not; the message names field and rule."""


def check_profile_change(role: str, fields: Iterable[str]) -> None:
    allowed = EDITABLE.get(role, frozenset())
    for field in fields:
        if field not in allowed:
            raise NotAllowed(f"{field}: a {role} may not set it (may set: {sorted(allowed)})")


def check_goal(role: str) -> None:
    if role not in SETS_GOALS:
        raise NotAllowed(f"goal: a {role} may not set goals")
