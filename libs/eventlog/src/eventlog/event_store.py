"""Append to and read from one entity's timeline in a JetStream stream.

`append` is the only way events enter the log. It holds three guarantees:
- per-entity optimistic concurrency: `Nats-Expected-Last-Subject-Sequence` over the entity's
  wildcard filter (`...-Subject` header) on an append's first event, and on each later one
  `Nats-Expected-Last-Msg-Id` naming the event before it (nothing may come between them), so
  two writers cannot both extend the same history;
- idempotency: `Nats-Msg-Id` is the event id; a retried publish whose first try landed reports
  success, whether the server answers "duplicate" or "wrong last sequence" (the lost-ack case);
- a per-entity hash chain: each event's `prevhash` is the hash of the entity's previous event,
  computed under the same concurrency check.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, RawStreamMsg
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError
from opentelemetry.trace import SpanKind

from eventlog.acks import publish_acked, publish_all_acked
from eventlog.hashchain import link_hash
from eventlog.stored import StoredEvent
from eventlog.telemetry import current_trace_headers, span, tracer
from shared_events import Envelope, encode
from shared_events.codec import MSG_ID
from shared_events.streams import STREAM_OF_FAMILY
from shared_events.subjects import Chain

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

EXPECTED_LAST_SUBJECT_SEQUENCE: Final = "Nats-Expected-Last-Subject-Sequence"
EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: Final = "Nats-Expected-Last-Subject-Sequence-Subject"
EXPECTED_LAST_MSG_ID: Final = "Nats-Expected-Last-Msg-Id"
WRONG_LAST_SEQUENCE: Final = 10071


class Expect(Enum):
    """`ANY`: append after whatever is there (still chained and checked against races)."""

    ANY = "any"


ANY: Final = Expect.ANY
NO_EVENTS: Final = 0


class ConcurrencyConflict(Exception):
    """The entity's history moved on since the caller read it; reload, decide again."""

    def __init__(self, timeline: Chain, expected: int, actual: int) -> None:
        super().__init__(f"{timeline.filter}: expected last sequence {expected}, found {actual}")
        self.timeline, self.expected, self.actual = timeline, expected, actual


@dataclass(frozen=True)
class Appended:
    sequences: tuple[int, ...]
    last_sequence: int
    already_stored: bool = False
    last_hash: str | None = None
    """Hash of the last event appended: pass it back as `prevhash` with `expected` next time."""


def _seq(msg: RawStreamMsg | None) -> int:
    return int(msg.seq or 0) if msg is not None else 0


def stream_of(timeline: Chain) -> str:
    return STREAM_OF_FAMILY[timeline.family].name


class EventStore:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        client: Client | None = None,
        publish_timeout: float = 5.0,
        publish_attempts: int = 4,
        any_attempts: int = 20,
    ) -> None:
        """`client`, the connection `js` came from, lets an append's events be pipelined
        (`acks`); without it each waits for the ack of the one before."""
        self.js = js
        self.publisher: Client | JetStreamContext = client or js
        self.publish_timeout = publish_timeout
        self.publish_attempts = publish_attempts
        self.any_attempts = any_attempts

    async def append(
        self,
        timeline: Chain,
        envelopes: Sequence[Envelope],
        expected: int | Expect = ANY,
        trace: Mapping[str, str] | None = None,
        prevhash: str | None = None,
    ) -> Appended:
        """Append `envelopes` to the end of `timeline`, which must end at `expected`.

        A caller that knows the hash of the event at `expected` (from its last append) passes it
        as `prevhash` and saves a read, as does one expecting an empty timeline; the server's
        sequence check keeps both honest. The
        current trace context travels in the headers unless `trace` is given.
        """
        if not envelopes:
            raise ValueError("append: nothing to append")
        stream = stream_of(timeline)
        with span(
            _tracer,
            f"append {stream}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": stream,
                "ledger.event_types": ",".join(e.type for e in envelopes),
                "messaging.batch.message_count": len(envelopes),
            },
        ):
            headers = dict(trace) if trace is not None else current_trace_headers()
            for attempt in range(self.any_attempts):
                try:
                    # The previous event's hash is known (or there is none: an empty
                    # timeline), so no read is needed; the server's check keeps that honest.
                    known = prevhash is not None or expected == NO_EVENTS
                    if known and isinstance(expected, int) and attempt == 0:
                        return await self._publish_all(
                            stream_of(timeline), timeline, envelopes, expected, prevhash, headers
                        )
                    return await self._append_once(timeline, envelopes, expected, headers)
                except ConcurrencyConflict:
                    if expected is not ANY or attempt + 1 == self.any_attempts:
                        raise
                    await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311 (jitter)
        raise AssertionError("unreachable")

    async def _append_once(
        self,
        timeline: Chain,
        envelopes: Sequence[Envelope],
        expected: int | Expect,
        trace: Mapping[str, str] | None,
    ) -> Appended:
        stream = stream_of(timeline)
        last = await self._last_raw(stream, timeline.filter)
        last_seq = _seq(last)
        if isinstance(expected, int) and expected != last_seq:
            landed = await self._find_landed(stream, timeline, expected, [e.id for e in envelopes])
            if landed is not None:
                return Appended(landed, landed[-1], already_stored=True)
            raise ConcurrencyConflict(timeline, expected, last_seq)
        prevhash = link_hash(last.data) if last and last.data else None
        return await self._publish_all(stream, timeline, envelopes, last_seq, prevhash, trace)

    async def _publish_all(
        self,
        stream: str,
        timeline: Chain,
        envelopes: Sequence[Envelope],
        last_seq: int,
        prevhash: str | None,
        trace: Mapping[str, str] | None,
    ) -> Appended:
        """Publish the events chained, the first checked against the timeline's last sequence.

        The events of one append go out back to back: each after the first expects the stream's
        last stored message to be its predecessor (`Nats-Expected-Last-Msg-Id`), so nothing can
        come between them, and none waits for the ack of the one before. From the first that
        did not land so (another publisher on the stream got in between, a lost ack), the rest
        are published one at a time, each checked against the timeline's sequence before it."""
        outgoing: list[tuple[str, bytes, dict[str, str]]] = []
        for envelope in envelopes:
            chained = envelope.model_copy(update={"prevhash": prevhash})
            body, headers = encode(chained, trace)
            if outgoing:
                headers[EXPECTED_LAST_MSG_ID] = outgoing[-1][2][MSG_ID]
            else:
                headers[EXPECTED_LAST_SUBJECT_SEQUENCE] = str(last_seq)
                headers[EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT] = timeline.filter
            outgoing.append((timeline.subject(envelope.data.kind), body, headers))
            prevhash = link_hash(body)
        sequences: list[int] = []
        if len(outgoing) > 1:
            acks = await publish_all_acked(
                self.publisher, outgoing, stream=stream, timeout=self.publish_timeout
            )
            for ack in acks:
                if isinstance(ack, Exception):
                    break
                sequences.append(int(ack["seq"]))
            last_seq = sequences[-1] if sequences else last_seq
        for index in range(len(sequences), len(outgoing)):
            subject, body, headers = outgoing[index]
            if index:  # sent expecting its predecessor: now checked by the sequence before it
                headers = {k: v for k, v in headers.items() if k != EXPECTED_LAST_MSG_ID}
                headers[EXPECTED_LAST_SUBJECT_SEQUENCE] = str(last_seq)
                headers[EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT] = timeline.filter
            last_seq = await self._publish(stream, timeline, subject, body, headers, last_seq)
            sequences.append(last_seq)
        return Appended(tuple(sequences), last_seq, last_hash=prevhash)

    async def _publish(
        self,
        stream: str,
        timeline: Chain,
        subject: str,
        body: bytes,
        headers: dict[str, str],
        expected: int,
    ) -> int:
        """Publish one event, retrying lost acks; the stored sequence or ConcurrencyConflict."""
        msg_id = headers[MSG_ID]
        for attempt in range(self.publish_attempts):
            try:
                ack = await publish_acked(
                    self.publisher,
                    subject,
                    body,
                    headers,
                    stream=stream,
                    timeout=self.publish_timeout,
                )
                return int(ack["seq"])
            except (TimeoutError, NatsTimeout, NoRespondersError, NoStreamResponseError):
                log.warning("append: no ack for %s (try %d), retrying", msg_id, attempt + 1)
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
            except APIError as exc:
                if exc.err_code != WRONG_LAST_SEQUENCE:
                    raise
                landed = await self._find_landed(stream, timeline, expected, [msg_id])
                if landed is not None:
                    return landed[0]
                actual = await self.last_sequence(timeline)
                raise ConcurrencyConflict(timeline, expected, actual) from None
        raise TimeoutError(f"append: no acknowledgement for event {msg_id}")

    async def _find_landed(
        self, stream: str, timeline: Chain, after: int, ids: Sequence[str]
    ) -> tuple[int, ...] | None:
        """If events with `ids` were already stored after `after`, their sequences, in order."""
        wanted = list(ids)
        found: list[int] = []
        seq = after + 1
        while wanted:
            try:
                msg = await self.js.get_msg(
                    stream, seq=seq, subject=timeline.filter, next=True, direct=True
                )
            except NotFoundError:
                return None
            if (msg.headers or {}).get(MSG_ID) == wanted[0]:
                found.append(_seq(msg))
                wanted.pop(0)
            elif found:
                return None
            seq = _seq(msg) + 1
        return tuple(found)

    async def _last_raw(self, stream: str, subject_filter: str) -> RawStreamMsg | None:
        try:
            return await self.js.get_last_msg(stream, subject_filter, direct=True)
        except NotFoundError:
            return None

    async def last_sequence(self, timeline: Chain) -> int:
        """The stream sequence of the entity's last event; 0 if it has none."""
        last = await self._last_raw(stream_of(timeline), timeline.filter)
        return _seq(last)

    async def read(self, timeline: Chain, until: datetime | None = None) -> list[StoredEvent]:
        """The entity's events in log order, optionally only those stored up to `until`."""
        stream = stream_of(timeline)
        last = await self._last_raw(stream, timeline.filter)
        if last is None:
            return []
        events: list[StoredEvent] = []
        sub = await self.js.subscribe(
            timeline.filter,
            stream=stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=5.0)
                event = StoredEvent.from_msg(msg)
                if until is not None and event.stored_at > until:
                    break
                events.append(event)
                if event.sequence >= _seq(last):
                    break
        finally:
            await sub.unsubscribe()
        return events
