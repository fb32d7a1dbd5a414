"""Pipelined publishes answer as JetStream does: the sequence, duplicates, the server's errors
with their codes, and no stream listening."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.errors import APIError, NoStreamResponseError

from eventlog.acks import publish_acked

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("pipelined", [True, False])
async def test_acks_errors_and_duplicates_come_back_to_their_publish(js, nc, pipelined):
    via = nc if pipelined else js

    first, second = await asyncio.gather(
        publish_acked(via, "ingest.p.native", b"1", {"Nats-Msg-Id": "a"}, stream="INGEST"),
        publish_acked(via, "ingest.p.native", b"2", {"Nats-Msg-Id": "b"}, stream="INGEST"),
    )
    assert {first["seq"], second["seq"]} == {1, 2}
    again = await publish_acked(via, "ingest.p.native", b"1", {"Nats-Msg-Id": "a"})
    assert again["duplicate"] is True
    assert again["seq"] == first["seq"]

    with pytest.raises(APIError) as wrong:
        await publish_acked(
            via,
            "ingest.p.native",
            b"3",
            {"Nats-Expected-Last-Subject-Sequence": "1"},
            stream="INGEST",
        )
    assert wrong.value.err_code == 10071
    with pytest.raises(APIError):
        await publish_acked(via, "ingest.p.native", b"4", {}, stream="EVIDENCE")
    with pytest.raises(NoStreamResponseError):
        await publish_acked(via, "nowhere.at.all", b"5", {})
