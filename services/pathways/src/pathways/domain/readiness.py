"""Which competencies a learner is ready to learn: the outer fringe of what they know."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def ready_to_learn(
    competencies: Iterable[str],
    prerequisites: Mapping[str, Iterable[str]],
    mastered: set[str],
) -> set[str]:
    """Not yet mastered, with every prerequisite mastered."""
    return {
        competency
        for competency in competencies
        if competency not in mastered
        and all(before in mastered for before in prerequisites.get(competency, ()))
    }
