"""The five streams of the system, as data. The runtime turns them into JetStream configs.

All are file-backed and append-only (`deny_delete`, `deny_purge`); `allow_direct` lets readers
fetch the last event of a learner without a consumer; the duplicate window backs `Nats-Msg-Id`
de-duplication for retried publishes.
"""

from __future__ import annotations

from dataclasses import dataclass

DUPLICATE_WINDOW_SECONDS = 2 * 60 * 60
MAX_MESSAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    description: str
    duplicate_window_seconds: int = DUPLICATE_WINDOW_SECONDS
    max_msg_size: int = MAX_MESSAGE_BYTES
    replicas: int = 1


INGEST = StreamSpec("INGEST", ("ingest.*.*",), "Raw partner submissions, kept exactly as received.")
EVIDENCE = StreamSpec(
    "EVIDENCE",
    ("evidence.*.*.*", "rejections.*"),
    "Recorded, voided and held evidence, mastery decisions, and rejections with their reasons.",
)
PROFILES = StreamSpec(
    "PROFILES", ("profiles.*.*.*",), "Learner registrations, profile and goal changes, erasures."
)
PATHWAYS = StreamSpec(
    "PATHWAYS",
    ("pathways.*.*.*", "frameworks.*.*.*"),
    "Competency frameworks, pathway assignments, unlocks, interventions.",
)
NOTIFICATIONS = StreamSpec(
    "NOTIFICATIONS", ("notifications.*.*.*",), "Notifications queued, delivered and failed."
)

ALL: tuple[StreamSpec, ...] = (INGEST, EVIDENCE, PROFILES, PATHWAYS, NOTIFICATIONS)

STREAM_OF_FAMILY = {
    "evidence": EVIDENCE,
    "rejections": EVIDENCE,
    "profiles": PROFILES,
    "pathways": PATHWAYS,
    "frameworks": PATHWAYS,
    "notifications": NOTIFICATIONS,
}
