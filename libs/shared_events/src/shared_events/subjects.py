"""Subject builders and parsers for every subject in the system.

Tokens are restricted to letters, digits, `_` and `-`, so no token can contain `.`, `*`, `>` or
whitespace and change the meaning of a subject or a filter. Learner tokens are pseudonymous ids;
nothing here ever sees a name or an external id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

IngestFormat = Literal["native", "xapi", "caliper"]
INGEST_FORMATS: tuple[IngestFormat, ...] = ("native", "xapi", "caliper")

Family = Literal["evidence", "profiles", "pathways", "frameworks", "notifications"]
FAMILIES: tuple[Family, ...] = ("evidence", "profiles", "pathways", "frameworks", "notifications")


class UnsafeSubjectToken(ValueError):
    """A value cannot be used as a subject token."""


def token(value: str, *, field: str) -> str:
    """Return `value` if it is a safe subject token, else raise naming the field and the rule."""
    if not isinstance(value, str) or not TOKEN.match(value):
        raise UnsafeSubjectToken(
            f"{field}: {value!r} is not a subject token "
            "(1-64 characters from A-Z a-z 0-9 _ -; no '.', '*', '>' or spaces)"
        )
    return value


@dataclass(frozen=True)
class Timeline:
    """One entity's events within a stream, e.g. every evidence event of one learner.

    `family.<district>.<entity>.<kind>` subjects; the filter `family.<district>.<entity>.>`
    selects all of them, and the per-entity hash chain and concurrency check run over it.
    """

    family: Family
    district: str
    entity: str

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise UnsafeSubjectToken(f"family: {self.family!r} is not one of {FAMILIES}")
        token(self.district, field="district")
        token(self.entity, field="entity")

    @property
    def filter(self) -> str:
        return f"{self.family}.{self.district}.{self.entity}.>"

    def subject(self, kind: str) -> str:
        return f"{self.family}.{self.district}.{self.entity}.{token(kind, field='kind')}"

    @classmethod
    def of_subject(cls, subject: str) -> Timeline:
        parsed = parse(subject)
        if not isinstance(parsed, EntitySubject):
            raise UnsafeSubjectToken(f"subject: {subject!r} does not belong to an entity")
        return parsed.timeline


def learner(family: Family, district: str, learner_id: str) -> Timeline:
    return Timeline(family, district, learner_id)


def framework(district: str, framework_id: str) -> Timeline:
    return Timeline("frameworks", district, framework_id)


def ingest(partner: str, fmt: str) -> str:
    if fmt not in INGEST_FORMATS:
        raise UnsafeSubjectToken(f"format: {fmt!r} is not one of {INGEST_FORMATS}")
    return f"ingest.{token(partner, field='partner')}.{fmt}"


def ingest_filter(partner: str) -> str:
    """What a partner may publish to: only its own ingest subjects."""
    return f"ingest.{token(partner, field='partner')}.>"


def handover(service: str, replica: str) -> str:
    """Core NATS (kept in no stream): work one replica of a service hands to another, the
    owner of the learners it concerns (`eventlog.handover`)."""
    return f"handover.{token(service, field='service')}.{token(replica, field='replica')}"


def rejections(partner: str) -> str:
    return f"rejections.{token(partner, field='partner')}"


@dataclass(frozen=True)
class RejectionLog:
    """A partner's rejections, `rejections.<partner>`: chained and appended like a timeline."""

    partner: str
    family: Literal["rejections"] = "rejections"

    def __post_init__(self) -> None:
        token(self.partner, field="partner")

    @property
    def filter(self) -> str:
        return f"rejections.{self.partner}"

    def subject(self, kind: str) -> str:
        return self.filter


Chain = Timeline | RejectionLog
"""Anything the event store appends to: one entity's (or one partner's) hash-chained events."""


@dataclass(frozen=True)
class EntitySubject:
    timeline: Timeline
    kind: str


@dataclass(frozen=True)
class IngestSubject:
    partner: str
    format: IngestFormat


@dataclass(frozen=True)
class RejectionSubject:
    partner: str


def parse(subject: str) -> EntitySubject | IngestSubject | RejectionSubject:
    """Parse any subject of the system; ValueError names what is wrong."""
    parts = subject.split(".")
    head = parts[0]
    if head == "ingest" and len(parts) == 3:
        partner, fmt = token(parts[1], field="partner"), parts[2]
        if fmt not in INGEST_FORMATS:
            raise UnsafeSubjectToken(f"format: {fmt!r} is not one of {INGEST_FORMATS}")
        return IngestSubject(partner, fmt)
    if head == "rejections" and len(parts) == 2:
        return RejectionSubject(token(parts[1], field="partner"))
    if head in FAMILIES and len(parts) == 4:
        timeline = Timeline(head, parts[1], parts[2])
        return EntitySubject(timeline, token(parts[3], field="kind"))
    raise UnsafeSubjectToken(f"subject: {subject!r} matches no subject of the system")
