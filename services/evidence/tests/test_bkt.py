import json
from pathlib import Path

import pytest

from evidence.domain.bkt import BktParams, p_correct, predictions, trace, update

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "bkt" / "reference"

# The answers pyBKT predicted on (1 = correct, attempt 0 first), as regenerated in the fixtures
# README (seed 6, 30 students, 5 attempts each). Row i*5+t of the goldens is student i, attempt t.
README_TABLE = """
student0  00001   student10 01111   student20 00111
student1  10100   student11 00010   student21 00011
student2  11111   student12 00001   student22 00001
student3  00001   student13 00010   student23 01010
student4  01100   student14 11111   student24 00011
student5  11111   student15 00010   student25 10101
student6  11111   student16 01011   student26 01011
student7  00011   student17 01010   student27 10111
student8  01111   student18 00100   student28 01011
student9  11111   student19 11111   student29 00010
"""
_cells = README_TABLE.split()
_by_student = dict(zip(_cells[::2], _cells[1::2], strict=True))
ANSWERS = [_by_student[f"student{i}"] for i in range(len(_by_student))]


def test_trace_starts_at_the_prior_and_ends_after_the_last_answer() -> None:
    params = BktParams(prior=0.3, learn=0.2, guess=0.2, slip=0.1)
    known = trace(params, [True, False])
    assert len(known) == 3
    assert known[0] == 0.3
    assert known[1] == pytest.approx(update(0.3, True, params))
    assert known[2] == pytest.approx(update(known[1], False, params))


def test_a_wrong_answer_lowers_belief_before_learning_raises_it() -> None:
    params = BktParams(prior=0.5, learn=0.1, guess=0.2, slip=0.1)
    # Bayes: 0.5·0.1 / (0.5·0.1 + 0.5·0.8) = 1/9, then 1/9 + (8/9)·0.1 = 0.2
    assert update(0.5, False, params) == pytest.approx(0.2)


def test_forgetting_pulls_known_learners_back() -> None:
    remembers = BktParams(prior=0.9, learn=0.0, guess=0.0, slip=0.0)
    forgets = BktParams(prior=0.9, learn=0.0, guess=0.0, slip=0.0, forget=0.25)
    assert update(0.9, True, remembers) == 1.0
    assert update(0.9, True, forgets) == 0.75


def test_an_answer_the_model_rules_out_leaves_belief_where_it_was() -> None:
    never_guesses = BktParams(prior=0.0, learn=0.0, guess=0.0, slip=0.1)
    assert update(0.0, True, never_guesses) == 0.0


def test_p_correct_mixes_slip_and_guess() -> None:
    params = BktParams(prior=0.3, learn=0.2, guess=0.2, slip=0.1)
    assert p_correct(0.3, params) == pytest.approx(0.3 * 0.9 + 0.7 * 0.2)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"pyBKT goldens not found at {REFERENCE}")
def test_predictions_match_pybkt_goldens_for_every_build_and_case() -> None:
    goldens = json.loads((REFERENCE / "model_outputs.json").read_text())
    assert len(ANSWERS) == 30
    compared = 0
    for build in ("python", "compiled"):
        for case in ("default", "forgets"):
            stored = goldens[build][case]
            prior, learn, guess, slip, forget = stored["params"]
            params = BktParams(prior, learn, guess, slip, forget)
            correct: list[float] = []
            known: list[float] = []
            for answers in ANSWERS:
                student_correct, student_known = predictions(params, [a == "1" for a in answers])
                correct += student_correct
                known += student_known
            for ours, theirs in [
                (correct, stored["correct_predictions"]),
                (known, stored["state_predictions"]),
            ]:
                assert len(ours) == len(theirs) == 150
                for row, (mine, golden) in enumerate(zip(ours, theirs, strict=True)):
                    assert mine == pytest.approx(golden, abs=1e-6), (build, case, row)
                    compared += 1
    assert compared == 1200
