"""The native format: our own JSON, one object or an array of them.

    {"id", "district", "learner_sis_id", "competency", "score", "max_score" | "scaled",
     "observed_at", "assessment": {"id", "kind", "title"}?}

`id` is the partner's unique id. The score is `score / max_score`, or `scaled` (already in
[0, 1]). Its JSON Schema is `NATIVE_SCHEMA` (exported for partners by `ledgerctl schemas`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from evidence.ingest.json_body import loaded, no_constant, unique_keys
from evidence.ingest.observation import LearnerRef, Observation, Parsed, Rejection


class NativeAssessment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=500)
    kind: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=500)


class NativeEvidence(BaseModel):
    """One observation as a partner sends it in the native format."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=255)
    district: str = Field(min_length=1, max_length=64)
    learner_sis_id: str = Field(min_length=1, max_length=255)
    competency: str = Field(min_length=1, max_length=500)
    score: float | None = None
    max_score: float | None = Field(default=None, gt=0)
    scaled: float | None = None
    observed_at: AwareDatetime
    assessment: NativeAssessment | None = None

    @model_validator(mode="after")
    def one_way_to_score(self) -> NativeEvidence:
        if self.scaled is None and (self.score is None or self.max_score is None):
            raise ValueError("give either scaled, or score with max_score")
        if self.scaled is not None and self.score is not None:
            raise ValueError("give either scaled, or score with max_score, not both")
        return self


NATIVE_SCHEMA: dict[str, Any] = NativeEvidence.model_json_schema()


def parse_native(body: bytes, *, received_at: datetime) -> list[Parsed]:
    """All items or none: the first invalid one raises a Rejection naming `[i].field`."""
    raw = loaded(
        lambda: json.loads(
            body.decode("utf-8"), object_pairs_hook=unique_keys, parse_constant=no_constant
        )
    )
    items = raw if isinstance(raw, list) else [raw]
    batch = isinstance(raw, list)
    parsed: list[Parsed] = []
    for index, item in enumerate(items):
        prefix = f"[{index}]." if batch else ""
        source_id = item.get("id") if isinstance(item, dict) else None
        try:
            evidence = NativeEvidence.model_validate(item)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "body"
            raise Rejection(f"{prefix}{where}", error["msg"], source_id) from None
        score = evidence.scaled if evidence.scaled is not None else _ratio(evidence, prefix)
        if not 0.0 <= score <= 1.0:
            field = "scaled" if evidence.scaled is not None else "score"
            raise Rejection(f"{prefix}{field}", f"score {score:.4g} is outside [0, 1]", evidence.id)
        parsed.append(
            Observation(
                source_id=evidence.id,
                learner=LearnerRef(sis_id=evidence.learner_sis_id),
                score=score,
                observed_at=evidence.observed_at,
                competency_refs=(evidence.competency,),
                district=evidence.district,
                assessment_id=evidence.assessment.id if evidence.assessment else None,
                assessment_kind=evidence.assessment.kind if evidence.assessment else None,
                assessment_title=evidence.assessment.title if evidence.assessment else None,
            )
        )
    if not parsed:
        raise Rejection("body", "an empty batch")
    return parsed


def _ratio(evidence: NativeEvidence, prefix: str) -> float:
    assert evidence.score is not None and evidence.max_score is not None
    return evidence.score / evidence.max_score
