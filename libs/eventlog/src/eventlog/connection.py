"""Connecting to NATS: reconnect forever, and say so in the logs."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)


async def connect(url: str, *, name: str) -> Client:
    """A NATS connection that never gives up reconnecting (nats-py stops after 60 tries)."""

    async def disconnected() -> None:
        log.warning("nats disconnected", extra={"nats_client": name})

    async def reconnected() -> None:
        log.info("nats reconnected", extra={"nats_client": name})

    async def error(exc: Exception) -> None:
        log.warning("nats error: %s", type(exc).__name__, extra={"nats_client": name})

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )
