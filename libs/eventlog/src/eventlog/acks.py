"""JetStream publishes whose acknowledgements come back on one reply subscription per
connection, matched to their publish by the reply subject's last token — nats-py's public
`Client.subscribe` and `Client.publish` only.

nats-py's `JetStreamContext.publish` makes each publish a request with its own future, timeout
task and parsed PubAck object; on the append path, which publishes every event, that costs about
a tenth of the evidence intake's throughput (`docs/benchmarks.md`). Its `publish_async` would
pipeline, but in nats-py 2.16 an error answer (a failed sequence check, which every append
relies on) raises inside its reply callback and leaves the future pending until a timeout
(`test_acks.py` pins the answers we need). The semantics are the same:
the stored sequence, or the server's error raised as nats-py's own `APIError` (so callers read
`err_code` as before), `NoStreamResponseError` when no stream listens, `TimeoutError` when no answer
comes. The reply subscription is re-made by nats-py after a reconnect; an ack lost meanwhile is a
timeout, which the caller retries with the same `Nats-Msg-Id`.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Sequence
from itertools import count
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError

EXPECTED_STREAM = "Nats-Expected-Stream"


class _Awaited:
    """The answers one `publish_all_acked` waits for; `complete` once all are in."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expected: int) -> None:
        self.answers: dict[str, Msg] = {}
        self.expected = expected
        self.complete: asyncio.Future[None] = loop.create_future()

    def answer(self, reply: str, msg: Msg) -> None:
        self.answers[reply] = msg
        if len(self.answers) == self.expected:
            self.finish()

    def finish(self) -> None:
        """Stop waiting: all answers are in, or the time is up (those missing are timeouts)."""
        if not self.complete.done():
            self.complete.set_result(None)


class _Replies:
    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.prefix = nc.new_inbox()
        self.waiting: dict[str, _Awaited] = {}
        self.tokens = count(1)
        self.ready: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        await self.nc.subscribe(f"{self.prefix}.*", cb=self._answer)

    async def _answer(self, msg: Msg) -> None:
        awaited = self.waiting.pop(msg.subject, None)
        if awaited is not None:
            awaited.answer(msg.subject, msg)


_replies: weakref.WeakKeyDictionary[Client, _Replies] = weakref.WeakKeyDictionary()


async def _ready_replies(nc: Client) -> _Replies:
    replies = _replies.get(nc)
    if replies is None:
        replies = _replies[nc] = _Replies(nc)
        replies.ready = asyncio.ensure_future(replies.start())
    assert replies.ready is not None
    if not replies.ready.done():  # only the first publishes on a connection wait for this
        await asyncio.shield(replies.ready)
    replies.ready.result()  # the subscription failed: say so, rather than time out
    return replies


def _ack_of(answer: Msg) -> dict[str, Any]:
    if answer.headers and answer.headers.get("Status") == "503":
        raise NoStreamResponseError  # as nats-py says it: no stream listens there
    if not answer.data:
        raise NoStreamResponseError
    ack: dict[str, Any] = json.loads(answer.data)
    if "error" in ack:
        APIError.from_error(ack["error"])  # raises the matching APIError subclass
    return ack


async def publish_acked(
    nc: Client | JetStreamContext,
    subject: str,
    body: bytes,
    headers: dict[str, str],
    *,
    stream: str | None = None,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Publish to a stream and return its acknowledgement (`seq`, `duplicate`, …)."""
    [ack] = await publish_all_acked(nc, [(subject, body, headers)], stream=stream, timeout=timeout)
    if isinstance(ack, Exception):
        raise ack
    return ack


Outgoing = tuple[str, bytes, dict[str, str]]
"""subject, body, headers"""


async def publish_all_acked(
    nc: Client | JetStreamContext,
    messages: Sequence[Outgoing],
    *,
    stream: str | None = None,
    timeout: float = 5.0,
) -> list[dict[str, Any] | Exception]:
    """Publish `messages` back to back, none waiting for the ack of the one before, and return
    each one's acknowledgement in order, or the error its answer (or its silence: TimeoutError)
    stands for. The publishes go out in this order on this connection, with nothing of this
    process between them. Given only a JetStream context (no client), each publish waits for
    the ack of the one before."""
    if isinstance(nc, JetStreamContext):
        return [await _one_by_one(nc, message, stream, timeout) for message in messages]
    replies = await _ready_replies(nc)
    loop = asyncio.get_running_loop()
    awaited = _Awaited(loop, len(messages))
    sent: list[str] = []
    # One future for all the answers, awaited directly: each layer between an answer and the
    # publisher (asyncio.wait's, wait_for's) costs a turn of the loop, long when it is busy.
    timer = loop.call_later(timeout, awaited.finish)
    try:
        for subject, body, headers in messages:
            reply = f"{replies.prefix}.{next(replies.tokens)}"
            replies.waiting[reply] = awaited
            sent.append(reply)
            if stream is not None:
                headers = {**headers, EXPECTED_STREAM: stream}
            await nc.publish(subject, body, reply=reply, headers=headers)
        await awaited.complete
    finally:
        timer.cancel()
        for reply in sent:
            replies.waiting.pop(reply, None)
    results: list[dict[str, Any] | Exception] = []
    for reply in sent:
        answer = awaited.answers.get(reply)
        if answer is None:
            results.append(TimeoutError("no acknowledgement"))
            continue
        try:
            results.append(_ack_of(answer))
        except Exception as exc:  # handed back, one per message
            results.append(exc)
    return results


async def _one_by_one(
    js: JetStreamContext, message: Outgoing, stream: str | None, timeout: float
) -> dict[str, Any] | Exception:
    subject, body, headers = message
    try:
        ack = await js.publish(subject, body, timeout=timeout, stream=stream, headers=dict(headers))
    except Exception as exc:  # handed back, one per message, as the pipelined path does
        return TimeoutError("no acknowledgement") if isinstance(exc, NatsTimeout) else exc
    return {"seq": ack.seq, "stream": ack.stream, "duplicate": bool(ack.duplicate)}
