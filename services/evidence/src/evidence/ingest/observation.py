"""What every ingest format is translated into before the evidence service sees it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

IngestFormat = Literal["native", "xapi", "caliper"]

MAX_SUBMISSION_BYTES = 512 * 1024
"""The largest submission the intake accepts, over NATS or HTTP. NATS itself refuses a publish
above the server's max_payload (1 MiB by default) before anything is stored; between the two,
the submission is stored in INGEST and rejected as oversized."""


@dataclass(frozen=True)
class LearnerRef:
    """How a submission names the learner.

    `sis_id` (with the `home_page` that issued it, for xAPI/Caliper accounts) when the partner
    uses the district's student id; otherwise another identifier (`mbox`, `openid`, …) kept only
    to be pseudonymized. Neither is ever written to the log in clear.
    """

    sis_id: str | None = None
    home_page: str | None = None
    other: str | None = None


@dataclass(frozen=True)
class Observation:
    """One scored observation of a learner, normalised: score in [0, 1], aware timestamp."""

    source_id: str
    learner: LearnerRef
    score: float
    observed_at: datetime
    # Where the competency may be named, most specific first: a competency URI/identifier given
    # directly (native), or activity ids to resolve through frameworks or the alignment map.
    competency_refs: tuple[str, ...]
    district: str | None = None
    assessment_id: str | None = None
    assessment_kind: str | None = None
    assessment_title: str | None = None


@dataclass(frozen=True)
class Voiding:
    """A voiding statement: the evidence recorded from `voided_source_id` no longer counts."""

    source_id: str
    voided_source_id: str


@dataclass(frozen=True)
class NoEvidence:
    """A valid submission that carries nothing to record (e.g. a statement without a score)."""

    source_id: str
    reason: str


Parsed = Observation | Voiding | NoEvidence


@dataclass(frozen=True)
class Rejection(Exception):
    """Why a submission (or one item of a batch) is refused: the field and the rule."""

    field: str
    rule: str
    source_id: str | None = None
    extra: dict[str, str] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"
