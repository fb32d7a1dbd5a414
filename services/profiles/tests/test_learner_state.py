from profiles.domain.learner import Learner, replay
from shared_events.events.profiles import LearnerErased, LearnerRegistered
from shared_events.pii import Sealed

SEALED = Sealed(key_id="k", nonce="n", ciphertext="c")


def test_a_registered_then_erased_learner_keeps_no_school_or_grades():
    registered = LearnerRegistered(
        learner_id="l1", school_id="s1", grade_levels=("09",), identity=SEALED
    )
    erased = LearnerErased(learner_id="l1", requested_by="admin", reason="parent request")

    assert replay("l1", [registered]) == Learner("l1", "active", ("09",), "s1")
    assert replay("l1", [registered, erased]) == Learner("l1", "erased", (), None)


def test_an_unknown_learner_has_no_history():
    assert replay("l2", []).status == "unknown"
