"""Publishes acknowledged over one reply subscription answer as JetStream does: the sequence,
duplicates, the server's errors with their codes, and no responders."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import NoRespondersError
from nats.js.errors import APIError

from eventlog.acks import publish_acked, publish_all_acked

pytestmark = pytest.mark.integration


async def test_acks_errors_and_duplicates_come_back_to_their_publish(js):
    nc = js._nc
    first, second = await asyncio.gather(
        publish_acked(nc, "ingest.p.native", b"1", {"Nats-Msg-Id": "a"}, stream="INGEST"),
        publish_acked(nc, "ingest.p.native", b"2", {"Nats-Msg-Id": "b"}, stream="INGEST"),
    )
    assert {first["seq"], second["seq"]} == {1, 2}
    again = await publish_acked(nc, "ingest.p.native", b"1", {"Nats-Msg-Id": "a"})
    assert again["duplicate"] is True
    assert again["seq"] == first["seq"]

    with pytest.raises(APIError) as wrong:
        await publish_acked(
            nc,
            "ingest.p.native",
            b"3",
            {"Nats-Expected-Last-Subject-Sequence": "1"},
            stream="INGEST",
        )
    assert wrong.value.err_code == 10071
    with pytest.raises(APIError):
        await publish_acked(nc, "ingest.p.native", b"4", {}, stream="EVIDENCE")
    with pytest.raises(NoRespondersError):
        await publish_acked(nc, "nowhere.at.all", b"5", {})


class _Stalled(asyncio.Queue):
    """A flush queue that never wakes nats-py's flusher."""

    def put_nowait(self, item) -> None:
        pass

    async def put(self, item) -> None:
        pass

    def empty(self) -> bool:
        return False


async def test_published_messages_reach_the_server_without_waiting_for_the_flusher(js, monkeypatch):
    """A batch waking many tasks would otherwise hold every append back until all had run."""
    nc = js._nc
    await publish_acked(nc, "ingest.p.native", b"0", {}, stream="INGEST")  # replies subscribed
    monkeypatch.setattr(nc, "_flush_queue", _Stalled())
    acks = await publish_all_acked(
        nc,
        [("ingest.p.native", b"1", {}), ("ingest.p.native", b"2", {})],
        stream="INGEST",
        timeout=3.0,
    )
    assert [ack["seq"] for ack in acks if isinstance(ack, dict)] == [2, 3], acks
