"""Learners split between the replicas of a service, each learner's events in one place.

A stream's events for many entities are read through `count` partitions: partition `i` takes
the entities whose key (some tokens of the subject, e.g. district and learner) hashes to `i`.
Each partition is a durable consumer worked by one replica at a time, under its own lease, so
an entity's events are handled in log order by one process — and replicas share the work by
holding different partitions. Every replica announces itself in a membership record; with `n`
replicas alive each holds at most ceil(count / n) partitions, giving back its surplus when a
new replica appears and taking up the partitions of one that stops renewing.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from eventlog.lease import Lease, bucket


@dataclass(frozen=True)
class Partition:
    """Partition `index` of `count`, keyed by the subject tokens at `tokens`."""

    index: int
    count: int
    tokens: tuple[int, ...]

    def holds(self, subject: str) -> bool:
        parts = subject.split(".")
        key = ".".join(parts[t] for t in self.tokens if t < len(parts))
        return zlib.crc32(key.encode()) % self.count == self.index


class Leased(Protocol):
    lease: Lease | None


class Membership:
    """The replicas of one partitioned consumer that are alive, as a key in the lease bucket:
    `{holder: until}`, changed by compare-and-set."""

    def __init__(self, js: JetStreamContext, name: str, holder: str, ttl: float) -> None:
        self.js, self.key, self.holder, self.ttl = js, f"members.{name}", holder, ttl
        self._members: tuple[str, ...] = (holder,)
        self._renewed_at = 0.0

    async def alive(self) -> int:
        """How many replicas are alive, this one included (renewing its own entry when due)."""
        return len(await self.members())

    async def members(self, every: float | None = None) -> tuple[str, ...]:
        """The replicas alive, this one included, sorted; this one's entry is renewed (and the
        others read) when `every` seconds have passed — by default a third of the ttl."""
        if time.time() - self._renewed_at < (self.ttl / 3 if every is None else every):
            return self._members
        members = await self._change(lambda found: found | {self.holder: time.time() + self.ttl})
        self._renewed_at = time.time()
        self._members = tuple(sorted(set(members) | {self.holder}))
        return self._members

    async def leave(self) -> None:
        with contextlib.suppress(Exception):
            await self._change(lambda found: {k: v for k, v in found.items() if k != self.holder})

    async def _change(
        self, change: Callable[[dict[str, float]], dict[str, float]]
    ) -> dict[str, float]:
        kv = await bucket(self.js)
        for _ in range(10):
            try:
                entry = await kv.get(self.key)
                revision, found = entry.revision, dict(json.loads(entry.value or b"{}"))
            except KeyNotFoundError:
                revision, found = None, {}
            now = time.time()
            members = change({k: float(v) for k, v in found.items() if float(v) > now})
            value = json.dumps(members).encode()
            try:
                if revision is None:
                    await kv.create(self.key, value)
                else:
                    await kv.update(self.key, value, last=revision)
                return members
            except KeyWrongLastSequenceError:
                continue  # another replica wrote in between: read again
        return found


class FairShare:
    """One replica's side of a partitioned consumer: which of its partitions may hold a lease."""

    def __init__(self, name: str, count: int) -> None:
        self.name, self.count = name, count
        self.replica = uuid.uuid4().hex[:8]  # this replica, as its leases and membership say
        self.partitions: list[Leased] = []
        self.membership: Membership | None = None

    def join(self, js: JetStreamContext, ttl: float) -> None:
        if self.membership is None:
            self.membership = Membership(js, self.name, self.replica, ttl)

    async def may_hold(self, partition: Leased) -> bool:
        """Whether `partition` may (go on) hold(ing) its lease: this replica holds at most its
        fair share; beyond it, the last partition it holds gives its lease back."""
        assert self.membership is not None
        fair = math.ceil(self.count / await self.membership.alive())
        held = [p for p in self.partitions if p.lease is not None and p.lease.held]
        if partition in held:
            return len(held) <= fair or partition is not held[-1]
        return len(held) < fair

    async def leave(self) -> None:
        if self.membership is not None and not any(
            p.lease is not None and p.lease.held for p in self.partitions
        ):
            await self.membership.leave()
