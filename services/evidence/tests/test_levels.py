import pytest

from evidence.domain.levels import LevelScale


def test_scores_fall_on_the_default_scale():
    scale = LevelScale()
    assert scale.level(None) == "not_started"
    assert scale.level(0.0) == "attempted"
    assert scale.level(0.39) == "attempted"
    assert scale.level(0.4) == "familiar"
    assert scale.level(0.7) == "proficient"
    assert scale.level(0.89) == "proficient"
    assert scale.level(0.9) == "mastered"
    assert scale.level(1.0) == "mastered"


def test_a_scale_with_a_mastered_threshold():
    scale = LevelScale(
        names=("none", "started", "proficient", "mastered"), thresholds=(0.0, 0.6, 0.95)
    )
    assert scale.level(0.95) == "mastered"
    assert scale.level(0.949) == "proficient"


def test_a_malformed_scale_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="thresholds"):
        LevelScale(names=("a", "b"), thresholds=(0.1, 0.2))
    with pytest.raises(ValueError, match="increasing"):
        LevelScale(names=("a", "b", "c"), thresholds=(0.5, 0.2))
