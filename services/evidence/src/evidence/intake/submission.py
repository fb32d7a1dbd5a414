"""One partner submission as the intake reads it: parsed in its format, each item's learner,
district and competency resolved — or the rejection that says why not.

Reading never fails for the input's sake: whatever a parser raises becomes a Rejection of this
submission alone, naming the field and the rule where the parser knows them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eventlog.redelivery import reason_of
from eventlog.retrying import is_infrastructure
from eventlog.stored import RawStored
from evidence.context import EvidenceContext
from evidence.ingest.native import parse_native
from evidence.ingest.observation import (
    MAX_SUBMISSION_BYTES,
    Observation,
    Parsed,
    Rejection,
    Voiding,
)
from evidence.intake.resolve import Reference, Resolved, resolve
from shared_events.envelope import derived_event_id
from shared_events.subjects import INGEST_FORMATS, parse

FUTURE_TOLERANCE = timedelta(minutes=5)


def _xapi(body: bytes, received_at: datetime, headers: dict[str, str]) -> list[Parsed]:
    from evidence.ingest.xapi import parse_statements

    version = headers.get("X-Experience-API-Version")
    return parse_statements(body, received_at=received_at, version=version)


def _caliper(body: bytes, received_at: datetime, headers: dict[str, str]) -> list[Parsed]:
    from evidence.ingest.caliper import parse_envelope

    return parse_envelope(body, received_at=received_at)


PARSERS: dict[str, Callable[[bytes, datetime, dict[str, str]], list[Parsed]]] = {
    "native": lambda body, received_at, _headers: parse_native(body, received_at=received_at),
    "xapi": _xapi,
    "caliper": _caliper,
}


def content_hash(item: Parsed) -> str:
    """A digest of what the item says, the same for the same content whatever its layout."""
    canonical = json.dumps(_plain(item), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plain(value: Any) -> Any:
    # dataclasses.asdict, without its deep copies: the parsed items hold only plain values.
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def evidence_id(partner: str, source_id: str) -> str:
    return derived_event_id(f"evidence/{partner}/{source_id}")


@dataclass
class Item:
    parsed: Parsed
    digest: str
    prefix: str
    resolved: Resolved | None = None


@dataclass
class Submission:
    message: RawStored
    partner: str
    fmt: str
    items: list[Item] = field(default_factory=list)
    rejection: Rejection | None = None
    statements: list[Any] | None = None  # xAPI: the statements as received, for the index

    @property
    def sequence(self) -> int:
        return self.message.sequence

    def sources(self) -> set[tuple[str, str]]:
        """The partner ids it names: its items' own, and those its voidings void."""
        found = {(self.partner, i.parsed.source_id) for i in self.items}
        found |= {
            (self.partner, i.parsed.voided_source_id)
            for i in self.items
            if isinstance(i.parsed, Voiding)
        }
        return found

    def learners(self) -> set[str]:
        return {i.resolved.learner_id for i in self.items if i.resolved is not None}


async def read(ctx: EvidenceContext, ref: Reference, message: RawStored) -> Submission:
    """Parse and resolve, with no regard to other submissions (that comes later, in order).

    Only an infrastructure failure while resolving (the read models unreachable) is raised; the
    caller tries again."""
    partner, fmt = partner_and_format(message)
    submission = Submission(message, partner, fmt)
    try:
        for item in _parsed(message, fmt):
            if isinstance(item.parsed, Observation):
                item.resolved = await resolve(ctx, ref, partner, item.parsed, item.prefix)
            submission.items.append(item)
    except Rejection as rejection:
        submission.rejection = rejection
        submission.items = []
    except Exception as exc:
        if is_infrastructure(exc):
            raise
        submission.rejection = Rejection("body", f"could not be read: {reason_of(exc)[:300]}")
        submission.items = []
    return submission


def partner_and_format(message: RawStored) -> tuple[str, str]:
    """Who sent it and in which format, as its INGEST subject says."""
    subject = parse(message.subject)
    fmt = getattr(subject, "format", "native")
    assert fmt in INGEST_FORMATS
    return getattr(subject, "partner", "unknown"), fmt


def _parsed(message: RawStored, fmt: str) -> list[Item]:
    if len(message.body) > MAX_SUBMISSION_BYTES:
        raise Rejection(
            "body",
            f"oversized: {len(message.body)} bytes, more than the "
            f"{MAX_SUBMISSION_BYTES} a submission may have",
        )
    parsed = PARSERS[fmt](message.body, message.stored_at, message.headers)
    items = []
    for index, one in enumerate(parsed):
        prefix = f"[{index}]." if len(parsed) > 1 else ""
        if isinstance(one, Observation) and one.observed_at > message.stored_at + FUTURE_TOLERANCE:
            raise Rejection(f"{prefix}observed_at", "is in the future", one.source_id)
        items.append(Item(one, content_hash(one), prefix))
    return items
