from datetime import date

import pytest

from profiles.domain.derived import CompetencyStanding, gaps, skills, strengths
from profiles.domain.goals import goal_status
from profiles.domain.profile_rules import NotAllowed, check_goal, check_profile_change

SET_ON, DUE = date(2026, 9, 1), date(2026, 12, 31)
TARGETS = ("c1", "c2", "c3", "c4")


def test_a_goal_with_every_target_mastered_is_achieved():
    assert goal_status(TARGETS, SET_ON, DUE, set(TARGETS), date(2026, 10, 1)) == "achieved"


def test_a_goal_keeping_pace_is_on_track():
    assert goal_status(TARGETS, SET_ON, DUE, {"c1", "c2"}, date(2026, 11, 1)) == "on_track"


def test_a_goal_far_behind_its_calendar_is_at_risk():
    assert goal_status(TARGETS, SET_ON, DUE, set(), date(2026, 11, 15)) == "at_risk"


def test_a_goal_past_its_date_and_unfinished_is_at_risk():
    assert goal_status(TARGETS, SET_ON, DUE, {"c1", "c2", "c3"}, date(2027, 1, 2)) == "at_risk"


STANDINGS = [
    CompetencyStanding("c1", "mastered", 0.97, True, 5),
    CompetencyStanding("c2", "mastered", 0.95, True, 2),
    CompetencyStanding("c3", "familiar", 0.55, False, 3),
    CompetencyStanding("c4", "proficient", 0.85, False, 4),
    CompetencyStanding("c5", "mastered", 0.99, True, 2),
]


def test_skills_are_the_mastered_competencies():
    assert skills(STANDINGS) == ["c1", "c2", "c5"]


def test_gaps_are_below_proficient_or_under_intervention():
    assert gaps(STANDINGS, ["c4"]) == ["c3", "c4"]
    assert gaps(STANDINGS, []) == ["c3"]


def test_strengths_are_what_was_mastered_fastest():
    assert strengths(STANDINGS, top=2) == ["c5", "c2"]


def test_roles_set_only_their_parts_of_a_profile():
    check_profile_change("learner", ["interests", "aspirations"])
    check_profile_change("teacher", ["learning_needs", "supports"])
    with pytest.raises(NotAllowed, match="learning_needs: a learner may not set it"):
        check_profile_change("learner", ["interests", "learning_needs"])
    with pytest.raises(NotAllowed, match="aspirations: a guardian"):
        check_profile_change("guardian", ["aspirations"])
    with pytest.raises(NotAllowed, match="goal"):
        check_goal("auditor")
