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


@dataclass(frozen=True)
class RawStored:
    """A message as stored, undecoded: raw partner submissions in INGEST are not envelopes."""

    stream: str
    sequence: int
    subject: str
    stored_at: datetime
    body: bytes
    headers: dict[str, str]

    @classmethod
    def from_msg(cls, msg: Msg) -> RawStored:
        meta = msg.metadata
        return cls(
            meta.stream,
            meta.sequence.stream,
            msg.subject,
            meta.timestamp,
            msg.data,
            dict(msg.headers or {}),
        )
