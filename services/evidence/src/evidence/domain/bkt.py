"""Bayesian Knowledge Tracing: the probability that a learner knows a skill, revised after each
right or wrong answer.

The learner is in one of two hidden states, known or not known. A known learner still answers
wrongly with probability `slip`; a learner who does not know answers rightly with probability
`guess`. Between attempts an unknown skill is learnt with probability `learn` and a known one is
forgotten with probability `forget`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BktParams:
    """One skill's model; every value is a probability in [0, 1]."""

    prior: float
    learn: float
    guess: float
    slip: float
    forget: float = 0.0


def p_correct(p_known: float, params: BktParams) -> float:
    """The probability of a correct answer from a learner who knows the skill with `p_known`."""
    return p_known * (1 - params.slip) + (1 - p_known) * params.guess


def update(p_known: float, correct: bool, params: BktParams) -> float:
    """P(known) at the next attempt, after seeing this attempt's answer."""
    if correct:
        evidence_if_known = p_known * (1 - params.slip)
        evidence_if_unknown = (1 - p_known) * params.guess
    else:
        evidence_if_known = p_known * params.slip
        evidence_if_unknown = (1 - p_known) * (1 - params.guess)
    total = evidence_if_known + evidence_if_unknown
    # An answer the model rules out carries no information; keep the belief, don't divide by 0.
    posterior = evidence_if_known / total if total > 0 else p_known
    return posterior * (1 - params.forget) + (1 - posterior) * params.learn


def trace(params: BktParams, answers: Sequence[bool]) -> list[float]:
    """P(known) before each attempt, then once more after the last: `len(answers) + 1` values."""
    known = [params.prior]
    for correct in answers:
        known.append(update(known[-1], correct, params))
    return known


def predictions(params: BktParams, answers: Sequence[bool]) -> tuple[list[float], list[float]]:
    """(P(correct), P(known)) before each attempt, one pair per answer, as pyBKT predicts them."""
    known = trace(params, answers)[:-1]
    return [p_correct(p, params) for p in known], known
