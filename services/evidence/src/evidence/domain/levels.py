"""Named mastery levels: a score in [0, 1] placed on a scale by thresholds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LevelScale:
    """Levels from lowest to highest. `names[0]` means no evidence yet; a score reaches
    `names[i + 1]` from `thresholds[i]` on."""

    names: tuple[str, ...] = ("not_started", "attempted", "familiar", "proficient", "mastered")
    thresholds: tuple[float, ...] = (0.0, 0.4, 0.7, 0.9)

    def __post_init__(self) -> None:
        if len(self.thresholds) != len(self.names) - 1:
            raise ValueError("thresholds: need exactly one fewer than names")
        if list(self.thresholds) != sorted(self.thresholds):
            raise ValueError("thresholds: must be in increasing order")

    def level(self, score: float | None) -> str:
        """The level of `score`; no evidence at all is the lowest level."""
        if score is None:
            return self.names[0]
        level = self.names[0]
        for name, least in zip(self.names[1:], self.thresholds, strict=True):
            if score >= least:
                level = name
        return level
