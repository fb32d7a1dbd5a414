from pathways.domain.readiness import ready_to_learn

COMPETENCIES = ["count", "add", "subtract", "multiply", "fractions"]
PREREQUISITES = {
    "add": ["count"],
    "subtract": ["add"],
    "multiply": ["add"],
    "fractions": ["multiply", "subtract"],
}


def test_a_new_learner_is_ready_only_for_what_has_no_prerequisite():
    assert ready_to_learn(COMPETENCIES, PREREQUISITES, set()) == {"count"}


def test_mastering_a_prerequisite_unlocks_what_follows_it():
    assert ready_to_learn(COMPETENCIES, PREREQUISITES, {"count", "add"}) == {
        "subtract",
        "multiply",
    }


def test_a_competency_waits_for_every_prerequisite():
    mastered = {"count", "add", "multiply"}
    assert ready_to_learn(COMPETENCIES, PREREQUISITES, mastered) == {"subtract"}
    assert "fractions" in ready_to_learn(COMPETENCIES, PREREQUISITES, mastered | {"subtract"})
