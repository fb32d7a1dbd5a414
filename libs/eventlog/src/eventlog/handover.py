"""Work handed to the replica that owns it, so each learner is worked by one replica.

A stream whose subjects do not name the learner (INGEST: `ingest.<partner>.<format>`) is read
through one consumer that every replica fetches from, so any replica may get any learner's
message. Two replicas working the same learner at once both append to the learner's timeline,
and one of them meets a sequence conflict, reads the history again and decides again: replicas
would add work instead of sharing it. So each key (a learner) has one owner among the replicas
alive, chosen by rendezvous hashing — every replica computes the same owner from the same
membership, and when a replica joins or leaves only the keys it gains or loses move — and a
replica that fetched messages owned by another hands them over with a core NATS request to the
owner's handover subject, then answers JetStream with the owner's verdicts.

Handing over is a shortcut, never a dependency: when the owner does not answer in time (gone,
frozen, the broker away) the replica does the work itself, and keeps away from that owner for a
membership ttl. Work done twice is harmless, since every append is checked against the
learner's sequence and every effect is idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.js import JetStreamContext

from eventlog.redelivery import reason_of
from eventlog.sharing import Membership
from eventlog.stored import RawStored
from shared_events.subjects import handover as handover_subject

log = logging.getLogger(__name__)

Work = Callable[[Sequence[RawStored]], Awaitable[Sequence[Exception | None]]]
KeysOf = Callable[[Sequence[RawStored]], Awaitable[Sequence[str | None]]]
"""The key (learner) of each message; None: worked wherever it was fetched."""

REQUEST_BYTES = 512 * 1024
"""A request carries messages up to this size (base64 included), below the server's 1 MiB
`max_payload`; a message larger than that is worked where it was fetched."""


def request_size(message: RawStored) -> int:
    """What a message adds to a request: its body in base64, and its other fields."""
    return len(message.body) * 4 // 3 + 256


class HandedOverFailed(Exception):
    """The owner worked the message and it failed there: it is to come again."""


def owner_of(key: str, replicas: Sequence[str]) -> str:
    """The replica that owns `key`: the highest of hash(replica, key) (rendezvous hashing)."""
    return max(
        replicas, key=lambda r: hashlib.blake2b(f"{r}/{key}".encode(), digest_size=8).digest()
    )


def encode_messages(messages: Sequence[RawStored]) -> bytes:
    return json.dumps(
        [
            {
                "stream": m.stream,
                "sequence": m.sequence,
                "subject": m.subject,
                "stored_at": m.stored_at.isoformat(),
                "body": base64.b64encode(m.body).decode(),
                "headers": m.headers,
            }
            for m in messages
        ]
    ).encode()


def decode_messages(data: bytes) -> list[RawStored]:
    return [
        RawStored(
            str(m["stream"]),
            int(m["sequence"]),
            str(m["subject"]),
            datetime.fromisoformat(m["stored_at"]),
            base64.b64decode(m["body"]),
            {str(k): str(v) for k, v in dict(m["headers"]).items()},
        )
        for m in json.loads(data)
    ]


class Handover:
    """One replica's side: its membership, its handover subject, and `share`."""

    def __init__(
        self, service: str, work: Work, *, ttl: float = 10.0, timeout: float = 2.0
    ) -> None:
        self.service, self.work, self.ttl, self.timeout = service, work, ttl, timeout
        self.membership: Membership | None = None
        self.replica = ""
        self._nc: Client | None = None
        self._sub: Subscription | None = None
        self._serving: set[asyncio.Task[None]] = set()
        self._shunned: dict[str, float] = {}  # replica → until when it is not handed work
        self.handed = self.served = self.fallbacks = 0

    async def start(
        self, nc: Client, js: JetStreamContext, replica: str, ttl: float | None = None
    ) -> None:
        self._nc, self.replica, self.ttl = nc, replica, ttl or self.ttl
        self.membership = Membership(js, f"handover-{self.service}", replica, self.ttl)
        self._sub = await nc.subscribe(handover_subject(self.service, replica), cb=self._on_request)
        with contextlib.suppress(Exception):  # the broker away: announced at the next batch
            await self.membership.members(every=0)

    async def stop(self) -> None:
        """Stop taking work over, finish what was taken, and leave the membership."""
        if self._sub is not None and self._nc is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        if self._serving:
            await asyncio.wait(self._serving, timeout=self.timeout)
        if self.membership is not None:
            await self.membership.leave()
        log.info(
            "%s handover: handed %d messages to their owners, served %d, worked %d here when "
            "the owner did not answer",
            self.service,
            self.handed,
            self.served,
            self.fallbacks,
        )

    async def owners(self) -> tuple[str, ...]:
        """The replicas work may be handed to now: alive and not shunned; this one always."""
        assert self.membership is not None
        try:
            members = await self.membership.members(every=min(1.0, self.ttl / 3))
        except Exception as exc:
            log.warning("%s handover: membership unread: %s", self.service, reason_of(exc))
            return (self.replica,)
        now = time.monotonic()
        return tuple(m for m in members if m == self.replica or self._shunned.get(m, 0) < now)

    async def share(self, batch: Sequence[RawStored], keys_of: KeysOf) -> list[Exception | None]:
        """Work `batch`: what this replica owns (or what has no key) here, the rest handed to
        its owners; one verdict per message, in order."""
        owners = await self.owners()
        keys = await keys_of(batch) if len(owners) > 1 else [None] * len(batch)
        by_owner: dict[str, list[int]] = {}
        for index, (message, key) in enumerate(zip(batch, keys, strict=True)):
            owner = owner_of(key, owners) if key is not None else self.replica
            if owner != self.replica and request_size(message) > REQUEST_BYTES:
                owner = self.replica
            by_owner.setdefault(owner, []).append(index)
        results: list[Exception | None] = [None] * len(batch)

        async def worked(owner: str, indexes: list[int]) -> None:
            messages = [batch[i] for i in indexes]
            verdicts = await self._hand_to(owner, messages) if owner != self.replica else None
            if verdicts is None:
                verdicts = list(await self.work(messages))
            for index, verdict in zip(indexes, verdicts, strict=True):
                results[index] = verdict

        await asyncio.gather(*(worked(owner, indexes) for owner, indexes in by_owner.items()))
        return results

    async def _hand_to(
        self, owner: str, messages: Sequence[RawStored]
    ) -> list[Exception | None] | None:
        """The owner's verdicts, or None when it did not answer (then work them here)."""
        assert self._nc is not None
        verdicts: list[Exception | None] = []
        for chunk in chunks(messages):
            try:
                reply = await self._nc.request(
                    handover_subject(self.service, owner), encode_messages(chunk), self.timeout
                )
                answered = json.loads(reply.data)
                if not isinstance(answered, list) or len(answered) != len(chunk):
                    raise ValueError(f"answer {str(answered)[:80]} for {len(chunk)} messages")
            except Exception as exc:
                if not isinstance(exc, NoRespondersError):
                    self._shunned[owner] = time.monotonic() + self.ttl
                log.info("%s handover to %s: %s; working here", self.service, owner, reason_of(exc))
                self.fallbacks += len(messages) - len(verdicts)
                rest = list(await self.work(messages[len(verdicts) :]))
                return verdicts + rest
            verdicts += [None if v is None else HandedOverFailed(str(v)) for v in answered]
            self.handed += len(chunk)
        return verdicts

    async def _on_request(self, msg: Msg) -> None:
        task = asyncio.create_task(self._serve(msg))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _serve(self, msg: Msg) -> None:
        try:
            messages = decode_messages(msg.data)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s handover: unreadable request: %s", self.service, exc)
            return  # no answer: the sender works its messages itself
        answer: list[str | None] | None
        try:
            verdicts = await self.work(messages)
        except Exception as exc:  # not a verdict: the sender works the messages itself
            log.warning("%s handover: work failed here: %s", self.service, reason_of(exc))
            answer = None
        else:
            self.served += len(messages)
            answer = [None if v is None else reason_of(v)[:500] for v in verdicts]
        with contextlib.suppress(Exception):  # the sender gave up, or the broker is away
            await msg.respond(json.dumps(answer).encode())


def chunks(messages: Sequence[RawStored]) -> list[list[RawStored]]:
    """The messages, in order, in requests of at most `REQUEST_BYTES` each (as encoded)."""
    chunks: list[list[RawStored]] = [[]]
    size = 0
    for message in messages:
        encoded = request_size(message)
        if chunks[-1] and size + encoded > REQUEST_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(message)
        size += encoded
    return [c for c in chunks if c]
