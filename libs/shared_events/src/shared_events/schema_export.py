"""JSON Schema for every event and one AsyncAPI 3.0 document for the whole system.

Partners validate what they publish, and auditors what they read, against these files; they are
generated from the models, so they cannot drift from the code.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from shared_events import streams
from shared_events.envelope import Envelope, Event, registered_events
from shared_events.subjects import INGEST_FORMATS

TITLE = "Learner Ledger"
CONTRACT_VERSION = "1.0.0"


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """The schema of a whole stored message (envelope and data) for one event type."""
    envelope = Envelope.model_json_schema()
    data = cls.model_json_schema()
    defs = {**envelope.pop("$defs", {}), **data.pop("$defs", {})}
    defs.pop("Event", None)
    schema = copy.deepcopy(envelope)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = cls.dataschema()
    schema["title"] = f"{cls.__name__} (v{cls.schema_version})"
    schema["description"] = (cls.__doc__ or "").strip()
    props = schema["properties"]
    props["type"] = {"const": cls.event_type}
    props["schemaversion"] = {"const": cls.schema_version}
    props["dataschema"] = {"const": cls.dataschema()}
    props["data"] = data
    if defs:
        schema["$defs"] = defs
    return schema


def _address(cls: type[Event]) -> tuple[str, list[str]]:
    if cls.family == "rejections":
        return "rejections.{partner}", ["partner"]
    entity = "framework" if cls.family == "frameworks" else "learner"
    return f"{cls.family}.{{district}}.{{{entity}}}.{cls.kind}", ["district", entity]


def _stream_of(cls: type[Event]) -> streams.StreamSpec:
    return streams.STREAM_OF_FAMILY.get(cls.family, streams.EVIDENCE)


def asyncapi_document() -> dict[str, Any]:
    """Every channel, message and publishing operation of the system, AsyncAPI 3.0."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type, cls in registered_events().items():
        name = cls.__name__
        address, params = _address(cls)
        channel_id = event_type.replace(".", "_")
        schemas[name] = event_schema(cls)
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else name,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "= the event id"},
                    "Ledger-Event-Type": {"const": event_type},
                    "traceparent": {"type": "string"},
                },
                "required": ["Nats-Msg-Id"],
            },
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        channels[channel_id] = {
            "address": address,
            "description": f"Stream {_stream_of(cls).name}",
            "parameters": {p: {"description": "a subject token (pseudonymous)"} for p in params},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"The {event_type.split('.')[0]} service appends {name}.",
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"}],
        }
    channels["ingest"] = {
        "address": "ingest.{partner}.{format}",
        "description": "Stream INGEST: raw partner submissions (native JSON, xAPI, Caliper).",
        "parameters": {
            "partner": {"description": "the partner's id; partners publish only under their own"},
            "format": {"enum": list(INGEST_FORMATS)},
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": TITLE,
            "version": CONTRACT_VERSION,
            "description": "Events of the Learner Ledger, carried by NATS JetStream.",
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "localhost:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def export(directory: Path) -> list[Path]:
    """Write `events/<type>.v<version>.json` for every event and `asyncapi.json`."""
    written: list[Path] = []
    events_dir = directory / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for event_type, cls in registered_events().items():
        path = events_dir / f"{event_type}.v{cls.schema_version}.json"
        path.write_text(json.dumps(event_schema(cls), indent=2, sort_keys=True) + "\n")
        written.append(path)
    path = directory / "asyncapi.json"
    path.write_text(json.dumps(asyncapi_document(), indent=2) + "\n")
    written.append(path)
    return written
