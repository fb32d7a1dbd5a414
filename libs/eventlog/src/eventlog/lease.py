"""A lease on a name, held by one replica at a time, kept in a JetStream key-value bucket.

The value says who holds the lease and until when; every change is a compare-and-set on the
key's revision, so two replicas can never both take it. The holder renews it well before it runs
out; a replica that dies simply stops renewing, and another takes the lease once it has expired.
Clocks only need to agree to within a small part of the lease's length.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

BUCKET = "ledger_leases"


@dataclass(frozen=True)
class Holding:
    holder: str
    until: float  # seconds since the epoch


class Lease:
    def __init__(self, js: JetStreamContext, name: str, holder: str, ttl: float = 10.0) -> None:
        self.js = js
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self._revision: int | None = None
        self._until = 0.0
        self._kv: KeyValue | None = None

    @property
    def held(self) -> bool:
        """Held by this replica, and not yet run out by this replica's own clock."""
        return self._revision is not None and time.time() < self._until

    @property
    def remaining(self) -> float:
        """Seconds until the lease runs out (0 when not held)."""
        return max(0.0, self._until - time.time()) if self._revision is not None else 0.0

    async def acquire(self) -> bool:
        """Take the lease if it is free or has expired; True when this replica holds it."""
        if self.held:
            return await self.renew()
        kv = await self._bucket()
        try:
            entry = await kv.get(self.name)
        except KeyNotFoundError:
            entry = None
        if entry is None or entry.value is None:
            return await self._write(kv, last=None if entry is None else entry.revision)
        current = _holding(entry.value)
        if current is not None and current.holder != self.holder and time.time() < current.until:
            return False
        return await self._write(kv, last=entry.revision)

    async def renew(self) -> bool:
        """Extend the lease; False (and no longer held) when another replica has taken it."""
        if self._revision is None:
            return False
        return await self._write(await self._bucket(), last=self._revision)

    async def release(self) -> None:
        """Give the lease up at once, so a standby need not wait for it to expire."""
        if self._revision is None:
            return
        kv = await self._bucket()
        value = json.dumps({"holder": self.holder, "until": 0}).encode()
        with contextlib.suppress(KeyWrongLastSequenceError):  # already taken over
            await kv.update(self.name, value, last=self._revision)
        self._revision = None
        self._until = 0.0

    async def holding(self) -> Holding | None:
        """Who holds the lease now, as the bucket says."""
        try:
            entry = await (await self._bucket()).get(self.name)
        except KeyNotFoundError:
            return None
        found = _holding(entry.value) if entry.value else None
        return found if found is not None and time.time() < found.until else None

    async def _write(self, kv: KeyValue, last: int | None) -> bool:
        until = time.time() + self.ttl
        value = json.dumps({"holder": self.holder, "until": until}).encode()
        try:
            if last is None:
                revision = await kv.create(self.name, value)
            else:
                revision = await kv.update(self.name, value, last=last)
        except KeyWrongLastSequenceError:
            if self._revision is not None:
                log.warning("lease %s: taken over by another replica", self.name)
            self._revision = None
            self._until = 0.0
            return False
        if self._revision is None:
            log.info("lease %s: held by this replica", self.name)
        self._revision = revision
        self._until = until
        return True

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await bucket(self.js)
        return self._kv


async def bucket(js: JetStreamContext) -> KeyValue:
    """The key-value bucket leases (and memberships) are kept in, made when missing."""
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(bucket=BUCKET, history=1)


def _holding(value: bytes) -> Holding | None:
    try:
        data = json.loads(value)
        return Holding(str(data["holder"]), float(data["until"]))
    except (ValueError, KeyError, TypeError):
        return None
