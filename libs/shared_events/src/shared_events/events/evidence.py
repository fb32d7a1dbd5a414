"""Events published by the evidence service, on `evidence.<district>.<learner>.<kind>` and
`rejections.<partner>`."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared_events.envelope import Event, Value

IngestFormat = Literal["native", "xapi", "caliper"]


class EvidenceRecorded(Event):
    """A partner's observation of a learner on a competency, normalised to a score in [0, 1]."""

    event_type = "evidence.evidence_recorded"
    kind = "recorded"

    evidence_id: str
    learner_id: str
    competency_id: str
    score: float = Field(ge=0.0, le=1.0)
    observed_at: AwareDatetime
    recorded_at: AwareDatetime
    partner: str
    source_id: str = Field(description="the partner's own id for the submission")
    source_format: IngestFormat
    ingest_sequence: int = Field(ge=1)


class EvidenceRejected(Event):
    """A submission was refused; the raw bytes stay in INGEST at `ingest_sequence`."""

    event_type = "evidence.evidence_rejected"
    kind = "rejected"
    family = "rejections"

    partner: str
    source_format: IngestFormat
    ingest_sequence: int = Field(ge=1)
    source_id: str | None = None
    field: str = Field(description="where the problem is, e.g. result.score.scaled")
    rule: str = Field(description="the rule that was broken, in words")


class EvidenceVoided(Event):
    """Earlier evidence no longer counts (e.g. an xAPI voiding statement)."""

    event_type = "evidence.evidence_voided"
    kind = "voided"

    evidence_id: str
    learner_id: str
    competency_id: str
    reason: str


class EvidenceHeld(Event):
    """Evidence for a learner the district has not registered yet; recorded and decided once
    they are (it carries everything EvidenceRecorded needs)."""

    event_type = "evidence.evidence_held"
    kind = "held"

    evidence_id: str
    learner_id: str
    competency_id: str
    score: float = Field(ge=0.0, le=1.0)
    observed_at: AwareDatetime
    partner: str
    source_id: str
    source_format: IngestFormat
    ingest_sequence: int = Field(ge=1)


class PolicyRef(Value):
    """The mastery policy a decision used: enough to compute it again."""

    policy_id: str
    method: Literal[
        "highest",
        "latest",
        "average",
        "n_mastery",
        "weighted_average",
        "decaying_average",
        "bkt",
    ]
    version: int = Field(ge=1)
    params: dict[str, float] = Field(default_factory=dict)


class PolicySet(Event):
    """The mastery policy for a district, a framework or one competency, from now on."""

    event_type = "evidence.policy_set"
    kind = "policy_set"

    scope: Literal["district", "framework", "competency"]
    scope_id: str
    policy: PolicyRef
    mastery_threshold: float = Field(ge=0.0, le=1.0)
    level_names: tuple[str, ...]
    level_thresholds: tuple[float, ...]
    set_by: str


class AlignmentsSet(Event):
    """Which competency an assessment activity (an xAPI/Caliper object id) provides evidence of."""

    event_type = "evidence.alignments_set"
    kind = "alignments_set"

    alignments: dict[str, str] = Field(description="activity id → competency id")
    set_by: str


class IngestConfigured(Event):
    """Which partners may send a district's evidence, and which SIS account home pages are the
    district's (an xAPI/Caliper account on one of them names a learner by SIS id)."""

    event_type = "evidence.ingest_configured"
    kind = "ingest_configured"

    partners: tuple[str, ...]
    sis_home_pages: tuple[str, ...] = ()
    set_by: str


class EvidenceUsed(Value):
    evidence_id: str
    score: float = Field(ge=0.0, le=1.0)
    observed_at: AwareDatetime


class MasteryDecided(Event):
    """A mastery decision and everything an auditor needs to reproduce it."""

    event_type = "evidence.mastery_decided"
    kind = "mastery"

    learner_id: str
    competency_id: str
    policy: PolicyRef
    evidence: tuple[EvidenceUsed, ...] = Field(description="in observation order")
    previous_level: str | None
    new_level: str
    previous_score: float | None
    new_score: float
    mastered: bool
