"""Mastery policies: how one learner's scored evidence for one competency rolls up into a score,
a mastered flag and a level.

A rollup is always over the whole history ordered by observation time, so evidence that arrives
late simply takes its place among the rest and a new rollup reflects it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Literal, assert_never, get_args

from evidence.domain import bkt
from evidence.domain.levels import LevelScale

Method = Literal[
    "highest", "latest", "average", "n_mastery", "weighted_average", "decaying_average", "bkt"
]


@dataclass(frozen=True)
class Scored:
    """One piece of evidence as a policy sees it: a score and when it was observed."""

    evidence_id: str
    score: float
    observed_at: datetime


class Params(Mapping[str, float]):
    """A policy's named parameters: read like a mapping, frozen and hashable like a value."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, float] | None = None) -> None:
        numbers: dict[str, float] = {}
        for name, value in (values or {}).items():
            try:
                numbers[name] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"params.{name}: must be a number") from None
        self._values = dict(sorted(numbers.items()))

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        return f"Params({self._values!r})"


_Rule = tuple[str, Callable[[float], bool]]
_PROBABILITY: _Rule = ("must be in [0, 1]", lambda v: 0 <= v <= 1)
_FRACTION: _Rule = ("must be in (0, 1), e.g. 0.65 for Canvas's 65", lambda v: 0 < v < 1)
_RATE: _Rule = ("must be in (0, 1]", lambda v: 0 < v <= 1)
_COUNT: _Rule = ("must be a whole number of at least 1", lambda v: v >= 1 and v.is_integer())

_REQUIRED: Mapping[Method, Mapping[str, _Rule]] = {
    "highest": {},
    "latest": {},
    "average": {},
    "n_mastery": {"n": _COUNT, "mastery_points": _PROBABILITY},
    "weighted_average": {"weight": _FRACTION},
    "decaying_average": {"rate": _RATE},
    "bkt": {name: _PROBABILITY for name in ("prior", "learn", "guess", "slip", "forget")},
}
_OPTIONAL: Mapping[Method, Mapping[str, _Rule]] = {
    "bkt": {"threshold": _PROBABILITY, "correct_at": _PROBABILITY},
}
BKT_DEFAULTS: Mapping[str, float] = {"threshold": 0.95, "correct_at": 0.5}

_NO_PARAMS = Params()
_DEFAULT_SCALE = LevelScale()


@dataclass(frozen=True)
class Policy:
    """How a competency's evidence is decided, as recorded with every decision made under it.

    `params` are fractions, never Canvas-style percents; any mapping given is kept as `Params`.
    `mastery_threshold` is the score that counts as mastered for every method except `bkt` and
    `n_mastery`, which decide mastery by their own params.
    """

    policy_id: str
    method: Method
    version: int = 1
    params: Mapping[str, float] = _NO_PARAMS
    mastery_threshold: float = 0.9
    scale: LevelScale = _DEFAULT_SCALE

    def __post_init__(self) -> None:
        if not isinstance(self.params, Params):
            # The dataclass is frozen; this is the one place the given mapping is made immutable.
            object.__setattr__(self, "params", Params(self.params))

    def validate(self) -> None:
        """Raise ValueError("<field>: <rule>") for the first thing this policy gets wrong."""
        if self.method not in _REQUIRED:
            raise ValueError(f"method: must be one of {', '.join(get_args(Method))}")
        if not 0 <= self.mastery_threshold <= 1:
            raise ValueError("mastery_threshold: must be in [0, 1]")
        required, optional = _REQUIRED[self.method], _OPTIONAL.get(self.method, {})
        for name in self.params:
            if name not in required and name not in optional:
                raise ValueError(f"params.{name}: not a parameter of {self.method}")
        for name in required:
            if name not in self.params:
                raise ValueError(f"params.{name}: required for {self.method}")
        for name, (rule, holds) in {**required, **optional}.items():
            if name in self.params and not holds(self.params[name]):
                raise ValueError(f"params.{name}: {rule}")
        if self.method == "bkt" and self.params["guess"] + self.params["slip"] >= 1:
            raise ValueError("params.slip: guess + slip must be below 1")


@dataclass(frozen=True)
class Rollup:
    """The outcome of a policy over a history.

    `score` is None only when there is no evidence. `level` always agrees with `mastered`: the
    scale's top level when mastered, never the top level otherwise. `used` is the history the
    rollup was computed over, in observation order.
    """

    score: float | None
    mastered: bool
    level: str
    used: tuple[Scored, ...]


def rollup(policy: Policy, history: Sequence[Scored]) -> Rollup:
    """Decide `history` under `policy`, whatever order the evidence arrived in."""
    policy.validate()
    ordered = tuple(sorted(history, key=lambda s: (s.observed_at, s.evidence_id)))
    if not ordered:
        return Rollup(None, False, policy.scale.level(None), ())
    score, mastered = _score(policy, [s.score for s in ordered])
    return Rollup(score, mastered, _level(policy.scale, score, mastered), ordered)


def _score(policy: Policy, scores: list[float]) -> tuple[float, bool]:
    params = policy.params
    match policy.method:
        case "highest":
            return _against_threshold(policy, max(scores))
        case "latest":
            return _against_threshold(policy, scores[-1])
        case "average":
            return _against_threshold(policy, fmean(scores))
        case "weighted_average":
            return _against_threshold(policy, _weighted_average(scores, params["weight"]))
        case "decaying_average":
            return _against_threshold(policy, _decaying_average(scores, params["rate"]))
        case "n_mastery":
            return _n_mastery(scores, int(params["n"]), params["mastery_points"])
        case "bkt":
            return _bkt(scores, params)
        case _:
            assert_never(policy.method)


def _against_threshold(policy: Policy, score: float) -> tuple[float, bool]:
    return score, score >= policy.mastery_threshold


def _weighted_average(scores: list[float], weight: float) -> float:
    """Canvas's legacy "decaying average": the latest score weighed against the earlier mean."""
    *earlier, latest = scores
    if not earlier:
        return latest
    return latest * weight + fmean(earlier) * (1 - weight)


def _decaying_average(scores: list[float], rate: float) -> float:
    """An exponential moving average: each new score moves the result `rate` of the way to it."""
    first, *rest = scores
    average = first
    for score in rest:
        average = average * (1 - rate) + score * rate
    return average


def _n_mastery(scores: list[float], n: int, mastery_points: float) -> tuple[float, bool]:
    """Canvas's "n Number of Times": mastered once `n` scores reach `mastery_points`, scored as
    the mean of the scores that reached it.

    Until then (including while there are fewer than `n` scores at all) it is not mastered and
    scored as the mean of every score. Canvas itself gives no score at all in that case; a mean
    keeps the learner's progress visible on the level scale.
    """
    reached = [score for score in scores if score >= mastery_points]
    if len(reached) >= n:
        return fmean(reached), True
    return fmean(scores), False


def _bkt(scores: list[float], params: Mapping[str, float]) -> tuple[float, bool]:
    """P(known) after the last observation, each score counted correct from `correct_at` on."""
    settings = {**BKT_DEFAULTS, **params}
    model = bkt.BktParams(
        params["prior"], params["learn"], params["guess"], params["slip"], params["forget"]
    )
    answers = [score >= settings["correct_at"] for score in scores]
    known = bkt.trace(model, answers)[-1]
    return known, known >= settings["threshold"]


def _level(scale: LevelScale, score: float, mastered: bool) -> str:
    top = scale.names[-1]
    if mastered:
        return top
    level = scale.level(score)
    if level == top and len(scale.names) > 1:
        return scale.names[-2]
    return level


DEFAULT_POLICY = Policy("district-default", "decaying_average", 1, {"rate": 0.65})
