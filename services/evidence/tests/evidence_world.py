"""A running evidence service with a district configured, a framework imported and a learner
registered — all through the real log."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eventlog.event_store import EventStore
from shared_events import Envelope, Timeline, decode
from shared_events.events.pathways import CompetencyDefinition, FrameworkImported
from shared_events.events.profiles import LearnerRegistered
from shared_events.pii import Sealed

DISTRICT = "d1"
PARTNER = "acme"
HOME = "https://sis.d1.example.org"
FRAC = "math.frac.1"
FRAC_URI = "https://case.example.org/uri/math.frac.1"
GEO = "math.geo.1"


@dataclass
class World:
    client: Any
    app: Any
    js: Any
    admin: dict[str, str]
    partner: dict[str, str]
    until: Callable[..., Awaitable[Any]]  # the suite's `until` fixture

    @property
    def ctx(self) -> Any:
        return self.app.state.evidence

    def learner(self, sis_id: str) -> str:
        return self.ctx.ids.learner_id(DISTRICT, sis_id)

    async def register(self, sis_id: str) -> str:
        learner_id = self.learner(sis_id)
        event = LearnerRegistered(
            learner_id=learner_id,
            identity=Sealed(key_id="k", nonce="bm9uY2Vub25jZTE", ciphertext="c2VhbGVk"),
        )
        envelope = Envelope.wrap(event, source="profiles", subject=learner_id, district=DISTRICT)
        await EventStore(self.js).append(Timeline("profiles", DISTRICT, learner_id), [envelope])
        return learner_id

    async def events(self, learner_id: str, kind: str | None = None) -> list[Any]:
        stored = await EventStore(self.js).read(Timeline("evidence", DISTRICT, learner_id))
        return [s.envelope.data for s in stored if kind is None or s.subject.endswith(f".{kind}")]

    async def rejections(self) -> list[Any]:
        info = await self.js.stream_info("EVIDENCE")
        found = []
        for seq in range(1, info.state.last_seq + 1):
            msg = await self.js.get_msg("EVIDENCE", seq)
            if msg.subject == f"rejections.{PARTNER}":
                found.append(decode(msg.data).data)
        return found

    async def publish(self, fmt: str, payload: Any, headers: dict[str, str] | None = None) -> int:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        ack = await self.js.publish(f"ingest.{PARTNER}.{fmt}", body, headers=headers)
        return ack.seq


def framework_event() -> Envelope:
    event = FrameworkImported(
        framework_id="fw-math",
        version=1,
        title="Mathematics",
        competencies=(
            CompetencyDefinition(competency_id=FRAC, uri=FRAC_URI, statement="Fractions"),
            CompetencyDefinition(competency_id=GEO, statement="Geometry"),
        ),
        content_hash="0" * 64,
    )
    return Envelope.wrap(event, source="pathways", subject="fw-math", district=DISTRICT)


def native(
    source_id: str, sis_id: str, score: float, observed: str, **extra: Any
) -> dict[str, Any]:
    return {
        "id": source_id,
        "district": DISTRICT,
        "learner_sis_id": sis_id,
        "competency": FRAC,
        "scaled": score,
        "observed_at": observed,
        **extra,
    }
