"""Create or update the streams of the contract, idempotently, at every start."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared_events.streams import ALL, StreamSpec

log = logging.getLogger(__name__)


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        num_replicas=replicas,
        duplicate_window=float(spec.duplicate_window_seconds),
        max_msg_size=spec.max_msg_size,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
        allow_rollup_hdrs=False,
    )


_COMPARED = (
    "subjects",
    "description",
    "duplicate_window",
    "max_msg_size",
    "deny_delete",
    "deny_purge",
    "allow_direct",
    "num_replicas",
)


async def ensure_streams(
    js: JetStreamContext, specs: Iterable[StreamSpec] = ALL, replicas: int = 1
) -> list[str]:
    """Create missing streams and update changed ones; returns what was done, one line each."""
    done: list[str] = []
    for spec in specs:
        wanted = stream_config(spec, replicas)
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(wanted)
            done.append(f"created {spec.name}")
            continue
        current = info.config
        changed = [f for f in _COMPARED if _norm(getattr(current, f)) != _norm(getattr(wanted, f))]
        if changed:
            await js.update_stream(wanted)
            done.append(f"updated {spec.name}: {', '.join(changed)}")
    for line in done:
        log.info("stream %s", line)
    return done


def _norm(value: object) -> object:
    if isinstance(value, list):
        return sorted(value)
    if isinstance(value, float):
        return round(value, 3)
    return value
