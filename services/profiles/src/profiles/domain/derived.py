"""What a profile derives from other services' events: skills, gaps and strengths."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CompetencyStanding:
    """A learner's latest mastery decision on one competency."""

    competency_id: str
    level: str
    score: float
    mastered: bool
    evidence_count: int


def skills(standings: Iterable[CompetencyStanding]) -> list[str]:
    """Competencies mastered."""
    return sorted(s.competency_id for s in standings if s.mastered)


def gaps(standings: Iterable[CompetencyStanding], open_interventions: Iterable[str]) -> list[str]:
    """Competencies with an open intervention, or worked on and still below proficient."""
    below = {s.competency_id for s in standings if not s.mastered and s.level != "proficient"}
    return sorted(below | set(open_interventions))


def strengths(standings: Iterable[CompetencyStanding], top: int = 3) -> list[str]:
    """Where progress was fastest: competencies mastered on the fewest pieces of evidence."""
    mastered = [s for s in standings if s.mastered]
    mastered.sort(key=lambda s: (s.evidence_count, -s.score, s.competency_id))
    return [s.competency_id for s in mastered[:top]]
