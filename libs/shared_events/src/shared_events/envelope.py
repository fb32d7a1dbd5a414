"""The envelope every event travels in, and the base class of every event.

Attribute names follow CloudEvents 1.0 where one exists (`id`, `type`, `source`, `time`,
`subject`, `dataschema`), plus the ledger's own: `district`, `schemaversion`, `causationid`,
`correlationid` and `prevhash`, the hash of the previous event of the same entity in its stream.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializeAsAny

SCHEMA_URN = "urn:learner-ledger:event"

_REGISTRY: dict[str, type[Event]] = {}


class Value(BaseModel):
    """An immutable value carried inside an event (a policy reference, a sealed field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(BaseModel):
    """Something that happened, in the past tense. Data only, no behaviour.

    Subclasses declare `event_type` (`<publisher>.<what_happened>`), the last subject token `kind`
    they are filed under, and `schema_version`, raised whenever the shape changes; an upcaster in
    `shared_events.upcasting` turns every older stored shape into the current one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    kind: ClassVar[str]
    schema_version: ClassVar[int] = 1
    family: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is None:
            return
        if not cls.__dict__.get("family"):
            cls.family = event_type.split(".")[0]
        if event_type in _REGISTRY:
            raise TypeError(f"event type {event_type!r} is declared twice")
        _REGISTRY[event_type] = cls

    @classmethod
    def dataschema(cls) -> str:
        return f"{SCHEMA_URN}:{cls.event_type}:{cls.schema_version}"


def event_class(event_type: str) -> type[Event]:
    """The current model for an event type; KeyError names an unknown type."""
    try:
        return _REGISTRY[event_type]
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r}") from None


def registered_events() -> dict[str, type[Event]]:
    """Every event type of the contract, by type name."""
    ensure_registered()
    return dict(sorted(_REGISTRY.items()))


_loaded = False


def ensure_registered() -> None:
    """Import every event module once, so that each type name resolves."""
    global _loaded
    if not _loaded:
        from shared_events import events  # noqa: F401  (importing registers every event module)

        _loaded = True


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One stored event: the CloudEvents attributes around the event's data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=128)
    type: str
    source: str
    time: AwareDatetime = Field(default_factory=_now)
    subject: str = Field(description="The entity the event is about: a pseudonymous learner id.")
    district: str
    dataschema: str
    schemaversion: int = Field(ge=1)
    causationid: str | None = None
    correlationid: str | None = None
    prevhash: str | None = Field(
        default=None, description="sha256 of the previous stored event of the same entity."
    )
    data: SerializeAsAny[Event]

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        source: str,
        subject: str,
        district: str,
        causationid: str | None = None,
        correlationid: str | None = None,
        id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """Put an event in a fresh envelope; the appender fills in `prevhash`."""
        extra: dict[str, Any] = {}
        if id is not None:
            extra["id"] = id
        if time is not None:
            extra["time"] = time
        return cls(
            type=event.event_type,
            source=source,
            subject=subject,
            district=district,
            dataschema=event.dataschema(),
            schemaversion=event.schema_version,
            causationid=causationid,
            correlationid=correlationid or causationid,
            data=event,
            **extra,
        )


_ID_NAMESPACE = uuid.UUID("6f1c3a52-3b0e-4d53-9a36-0f6f7c1f2b10")


def derived_event_id(cause: str, index: int = 0) -> str:
    """A deterministic event id for the `index`-th event decided from `cause`.

    Deciding the same cause twice (a redelivery, a second replica) yields the same ids, so the
    log's de-duplication sees one event.
    """
    # uuid.uuid5(_ID_NAMESPACE, name), spelled out: it is on every append's path and the UUID
    # object costs more than the hash. A test holds the two equal.
    digest = bytearray(
        hashlib.sha1(_ID_NAMESPACE.bytes + f"{cause}/{index}".encode()).digest()[:16]  # noqa: S324
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def derived_envelopes(
    events: Sequence[Event], *, cause: str, source: str, subject: str, district: str, step: str = ""
) -> list[Envelope]:
    """Envelopes for the events decided from `cause`, with ids derived from it (or from `step`,
    a later step of the same cause), so deciding the same cause again yields the same ids."""
    return [
        Envelope.wrap(
            event,
            source=source,
            subject=subject,
            district=district,
            id=derived_event_id(step or cause, index),
            causationid=cause,
        )
        for index, event in enumerate(events)
    ]
