"""Envelope ⇄ NATS message: a JSON body, the event id as `Nats-Msg-Id`, trace context in headers.

The codec knows nothing of NATS clients; it works on bytes and a header mapping so the same code
serves live handling, replay and audit tools.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from shared_events.envelope import Envelope, ensure_registered, event_class
from shared_events.upcasting import upcast

MSG_ID = "Nats-Msg-Id"
EVENT_TYPE = "Ledger-Event-Type"
TRACE_HEADERS = ("traceparent", "tracestate")


class UndecodableEvent(ValueError):
    """Stored bytes that are not an event of this contract; the message names field and rule."""


def encode(
    envelope: Envelope, trace: Mapping[str, str] | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers to publish for `envelope`."""
    headers = {MSG_ID: envelope.id, EVENT_TYPE: envelope.type}
    for name in TRACE_HEADERS:
        if trace and name in trace:
            headers[name] = trace[name]
    return envelope.model_dump_json().encode(), headers


def trace_context(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The W3C trace context carried by a message, if any."""
    return {k: v for k, v in (headers or {}).items() if k in TRACE_HEADERS}


def decode(body: bytes) -> Envelope:
    """Parse stored bytes into the current version of their event (upcasting older ones)."""
    ensure_registered()
    try:
        raw: dict[str, Any] = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UndecodableEvent(f"body: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise UndecodableEvent("body: must be a JSON object")
    try:
        cls = event_class(str(raw.get("type")))
        version = int(raw.get("schemaversion", 0))
        data = upcast(cls.event_type, version, raw.get("data") or {}, cls.schema_version)
        return Envelope.model_validate(
            {
                **raw,
                "schemaversion": cls.schema_version,
                "dataschema": cls.dataschema(),
                "data": cls.model_validate(data),
            }
        )
    except KeyError as exc:
        raise UndecodableEvent(f"type: {exc.args[0]}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UndecodableEvent(f"{where}: {first['msg']}") from None
    except ValueError as exc:
        raise UndecodableEvent(str(exc)) from None
