"""An event as it sits in the log: its envelope plus where and when the log stored it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nats.aio.msg import Msg

from shared_events import Envelope, decode


@dataclass(frozen=True)
class StoredEvent:
    stream: str
    sequence: int
    subject: str
    stored_at: datetime
    body: bytes
    envelope: Envelope

    @classmethod
    def from_msg(cls, msg: Msg) -> StoredEvent:
        """From a JetStream consumer delivery (raises UndecodableEvent for foreign bytes)."""
        meta = msg.metadata
        return cls(
            stream=meta.stream,
            sequence=meta.sequence.stream,
            subject=msg.subject,
            stored_at=meta.timestamp,
            body=msg.data,
            envelope=decode(msg.data),
        )
