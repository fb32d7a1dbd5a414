import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from evidence.domain.levels import LevelScale
from evidence.domain.policies import (
    DEFAULT_POLICY,
    Method,
    Policy,
    Rollup,
    Scored,
    rollup,
)

MONDAY = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
DEFAULT_SCALE = LevelScale()
BKT = {"prior": 0.3, "learn": 0.2, "guess": 0.2, "slip": 0.1, "forget": 0.0}


def observed(*scores: float) -> list[Scored]:
    """Evidence e1, e2, … observed a day apart, in the order given."""
    return [Scored(f"e{i}", score, MONDAY + timedelta(days=i)) for i, score in enumerate(scores, 1)]


def policy(
    method: Method,
    params: Mapping[str, float] | None = None,
    mastery_threshold: float = 0.9,
    scale: LevelScale = DEFAULT_SCALE,
) -> Policy:
    return Policy(f"test-{method}", method, 1, params or {}, mastery_threshold, scale)


def decide(method: Method, scores: list[float], **params: float) -> Rollup:
    return rollup(policy(method, params), observed(*scores))


def test_highest_takes_the_best_score() -> None:
    assert decide("highest", [0.5, 0.95, 0.6]).score == 0.95


def test_latest_takes_the_last_observation() -> None:
    assert decide("latest", [0.95, 0.5, 0.6]).score == 0.6


def test_average_is_the_mean_of_every_score() -> None:
    assert decide("average", [0.5, 0.7, 0.9]).score == pytest.approx(0.7)


def test_canvas_weighted_average_example_gives_4_125() -> None:
    result = decide("weighted_average", [1, 2, 3, 4, 5], weight=0.65)
    assert result.score == pytest.approx(4.125)


def test_weighted_average_of_a_single_score_is_that_score() -> None:
    assert decide("weighted_average", [0.4], weight=0.65).score == 0.4


def test_decaying_average_moves_rate_of_the_way_to_each_new_score() -> None:
    # 0.5 → 0.5·0.35 + 1.0·0.65 = 0.825 → 0.825·0.35 + 0.2·0.65 = 0.41875
    result = decide("decaying_average", [0.5, 1.0, 0.2], rate=0.65)
    assert result.score == pytest.approx(0.41875)


def test_decaying_average_at_rate_1_is_the_latest_score() -> None:
    assert decide("decaying_average", [0.9, 0.1, 0.3], rate=1.0).score == pytest.approx(0.3)


def test_district_default_is_a_65_percent_decaying_average() -> None:
    assert DEFAULT_POLICY.method == "decaying_average"
    assert DEFAULT_POLICY.params == {"rate": 0.65}
    assert rollup(DEFAULT_POLICY, observed(0.5, 1.0)).score == pytest.approx(0.825)


def test_n_mastery_is_mastered_with_exactly_n_scores_at_mastery_points() -> None:
    result = decide("n_mastery", [0.9, 0.3, 0.8], n=2, mastery_points=0.8)
    assert result.mastered
    assert result.score == pytest.approx(0.85)  # only the scores that reached 0.8


def test_n_mastery_with_fewer_than_n_scores_is_not_mastered() -> None:
    result = decide("n_mastery", [1.0, 1.0], n=3, mastery_points=0.8)
    assert not result.mastered
    assert result.score == 1.0
    assert result.level == "proficient"


def test_n_mastery_with_none_at_mastery_points_averages_everything() -> None:
    result = decide("n_mastery", [0.2, 0.6, 0.7], n=1, mastery_points=0.8)
    assert not result.mastered
    assert result.score == pytest.approx(0.5)


def test_n_mastery_one_short_of_n_is_not_mastered() -> None:
    result = decide("n_mastery", [0.9, 0.2, 0.85, 0.5], n=3, mastery_points=0.8)
    assert not result.mastered
    assert result.score == pytest.approx(0.6125)


def test_bkt_scores_the_probability_the_skill_is_known() -> None:
    # After a correct answer: 0.3·0.9 / (0.3·0.9 + 0.7·0.2) = 0.27 / 0.41, then learning.
    posterior = 0.27 / 0.41
    result = decide("bkt", [1.0], **BKT)
    assert result.score == pytest.approx(posterior + (1 - posterior) * 0.2)
    assert not result.mastered


def test_bkt_counts_a_score_from_correct_at_as_correct() -> None:
    lenient = decide("bkt", [0.6], **BKT, correct_at=0.5)
    strict = decide("bkt", [0.6], **BKT, correct_at=0.7)
    assert lenient.score is not None and strict.score is not None
    assert lenient.score > BKT["prior"] > strict.score


def test_bkt_is_mastered_from_095_by_default() -> None:
    two_right = decide("bkt", [1.0, 1.0], **BKT)  # P(L) ≈ 0.938
    three_right = decide("bkt", [1.0, 1.0, 1.0], **BKT)  # P(L) ≈ 0.988
    assert (two_right.mastered, two_right.level) == (False, "proficient")
    assert (three_right.mastered, three_right.level) == (True, "mastered")


def test_bkt_is_mastered_at_its_own_threshold_not_the_policy_one() -> None:
    result = rollup(policy("bkt", {**BKT, "threshold": 0.9}, mastery_threshold=1.0), observed(1, 1))
    assert result.mastered


def test_late_evidence_lands_in_its_place_by_observation_time() -> None:
    on_time = observed(0.2, 0.9)
    late = Scored("e0", 1.0, MONDAY)  # observed before both, recorded after them
    result = rollup(policy("latest"), [*on_time, late])
    assert result.score == 0.9
    assert [s.evidence_id for s in result.used] == ["e0", "e1", "e2"]


def test_evidence_observed_at_the_same_moment_is_ordered_by_id() -> None:
    same_time = [Scored("b", 0.3, MONDAY), Scored("a", 0.8, MONDAY)]
    assert rollup(policy("latest"), same_time).score == 0.3


def test_no_evidence_is_not_started() -> None:
    assert rollup(DEFAULT_POLICY, []) == Rollup(None, False, "not_started", ())


def test_a_score_at_the_threshold_is_mastered_at_the_top_level() -> None:
    result = decide("latest", [0.9])
    assert result.mastered
    assert result.level == "mastered"


def test_mastered_below_the_top_threshold_still_reaches_the_top_level() -> None:
    result = rollup(policy("latest", mastery_threshold=0.8), observed(0.85))
    assert result.mastered
    assert result.level == "mastered"


def test_not_mastered_never_shows_the_top_level() -> None:
    result = rollup(policy("latest", mastery_threshold=0.95), observed(0.92))
    assert not result.mastered
    assert result.level == "proficient"


def test_level_follows_a_policy_scale() -> None:
    scale = LevelScale(names=("none", "started", "secure"), thresholds=(0.0, 0.6))
    assert rollup(policy("latest", scale=scale), observed(0.7)).level == "started"
    assert rollup(policy("latest", scale=scale), observed(0.95)).level == "secure"


def test_a_policy_is_a_hashable_value_whatever_mapping_it_was_given() -> None:
    a = Policy("p", "decaying_average", 1, {"rate": 0.5})
    b = Policy("p", "decaying_average", 1, {"rate": 0.5})
    assert a == b
    assert hash(a) == hash(b)
    assert dict(a.params) == {"rate": 0.5}


@pytest.mark.parametrize(
    ("method", "params", "named"),
    [
        ("weighted_average", {}, "params.weight: required"),
        ("weighted_average", {"weight": 65}, "params.weight: must be in (0, 1)"),
        ("weighted_average", {"weight": 0}, "params.weight: must be in (0, 1)"),
        ("weighted_average", {"weight": 1}, "params.weight: must be in (0, 1)"),
        ("decaying_average", {"rate": 0}, "params.rate: must be in (0, 1]"),
        ("decaying_average", {"rate": 1.5}, "params.rate: must be in (0, 1]"),
        ("decaying_average", {"rate": float("nan")}, "params.rate: must be in (0, 1]"),
        ("n_mastery", {"mastery_points": 0.8}, "params.n: required"),
        ("n_mastery", {"n": 0, "mastery_points": 0.8}, "params.n: must be a whole number"),
        ("n_mastery", {"n": 2.5, "mastery_points": 0.8}, "params.n: must be a whole number"),
        ("n_mastery", {"n": 2}, "params.mastery_points: required"),
        ("n_mastery", {"n": 2, "mastery_points": 3}, "params.mastery_points: must be in"),
        ("latest", {"rate": 0.5}, "params.rate: not a parameter of latest"),
        ("decaying_average", {"rate": 0.5, "weight": 0.5}, "params.weight: not a parameter"),
        ("bkt", {**BKT, "learn": -0.1}, "params.learn: must be in [0, 1]"),
        ("bkt", {**BKT, "forget": 2}, "params.forget: must be in [0, 1]"),
        ("bkt", {k: v for k, v in BKT.items() if k != "slip"}, "params.slip: required"),
        ("bkt", {**BKT, "guess": 0.5, "slip": 0.5}, "params.slip: guess + slip must be below 1"),
        ("bkt", {**BKT, "threshold": 1.2}, "params.threshold: must be in [0, 1]"),
        ("bkt", {**BKT, "correct_at": -1}, "params.correct_at: must be in [0, 1]"),
        ("bkt", {**BKT, "rate": 0.5}, "params.rate: not a parameter of bkt"),
    ],
)
def test_a_bad_param_is_refused_by_name(
    method: Method, params: dict[str, float], named: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(named)}"):
        policy(method, params).validate()


def test_a_param_that_is_not_a_number_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^params\.rate: must be a number"):
        policy("decaying_average", {"rate": "fast"})  # type: ignore[dict-item]


def test_a_mastery_threshold_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^mastery_threshold:"):
        policy("latest", mastery_threshold=1.5).validate()


def test_an_invalid_policy_cannot_decide() -> None:
    with pytest.raises(ValueError, match=r"^params\.rate:"):
        rollup(policy("decaying_average"), observed(0.5))


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("highest", {}),
        ("latest", {}),
        ("average", {}),
        ("n_mastery", {"n": 3, "mastery_points": 0.8}),
        ("weighted_average", {"weight": 0.65}),
        ("decaying_average", {"rate": 1}),
        ("bkt", {**BKT, "threshold": 0.9, "correct_at": 0.6}),
    ],
)
def test_every_method_accepts_its_params(method: Method, params: dict[str, float]) -> None:
    policy(method, params).validate()
