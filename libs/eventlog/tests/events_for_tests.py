"""Small builders of real contract events for the runtime's tests."""

from __future__ import annotations

from datetime import UTC, datetime

from shared_events import Envelope
from shared_events.events.evidence import EvidenceRecorded


def recorded(learner: str, n: int, *, district: str = "d1", id: str | None = None) -> Envelope:
    event = EvidenceRecorded(
        evidence_id=f"ev-{learner}-{n}",
        learner_id=learner,
        competency_id="math-1",
        score=0.5,
        observed_at=datetime(2026, 1, 1, tzinfo=UTC),
        recorded_at=datetime(2026, 1, 2, tzinfo=UTC),
        partner="acme",
        source_id=f"src-{n}",
        source_format="native",
        ingest_sequence=n,
    )
    return Envelope.wrap(event, source="evidence", subject=learner, district=district, id=id)
