"""Tamper evidence: each event carries the hash of the previous event of the same entity.

The hash is sha256 over the previous event's stored bytes, which include its own `prevhash`, so
changing, removing or reordering any stored event breaks the next link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass


def link_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    sequence: int
    expected: str | None
    found: str | None

    def __str__(self) -> str:
        return (
            f"event at sequence {self.sequence}: "
            f"prevhash {self.found!r}, expected {self.expected!r}"
        )


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_chain(events: Iterable[tuple[int, bytes]]) -> ChainReport:
    """Check `(sequence, stored body)` pairs of one entity in log order; name the first break."""
    expected: str | None = None
    checked = 0
    for sequence, body in events:
        try:
            found = json.loads(body).get("prevhash")
        except (ValueError, AttributeError):
            found = "<not an event>"
        if found != expected:
            return ChainReport(checked, BrokenLink(sequence, expected, found))
        expected = link_hash(body)
        checked += 1
    return ChainReport(checked, None)
