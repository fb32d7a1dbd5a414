"""The value formats xAPI statements are built from — IRIs, UUIDs, RFC 5646 language tags,
ISO 8601 timestamps and durations — and the JSON objects that carry them.

Each check takes the value and its field path (`actor.account.homePage`) and raises a
`Rejection` naming that path and the rule, or returns the value in its checked form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from evidence.ingest.observation import Rejection

_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_MBOX = re.compile(r"mailto:[^@\s]+@[^@\s]+")
_SHA1 = re.compile(r"[0-9a-fA-F]{40}")
_SHA2 = re.compile(r"[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128}")
# RFC 5646 `langtag` and `privateuse`, checked by grammar only: the subtag registry is data
# this pure module does not carry, and the grammar already refuses every malformed tag.
_LANGTAG = re.compile(
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"  # language, with extended subtags
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*"  # extensions
    r"(?:-x(?:-[a-z0-9]{1,8})+)?"  # private use
    r"|x(?:-[a-z0-9]{1,8})+",
    re.IGNORECASE,
)
# The irregular grandfathered tags, which the langtag grammar cannot express.
_GRANDFATHERED = frozenset(
    {
        "en-gb-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon",
        "i-lux", "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu",
        "sgn-be-fr", "sgn-be-nl", "sgn-ch-de",
    }
)  # fmt: skip
_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"P(?:{_NUM}W|(?=\d|T\d)(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?)"
)
# RFC 3339 reserves a negative zero offset for "local time unknown": no timezone after all.
_UNKNOWN_OFFSET = re.compile(r"-00(?::?00)?$")


class JsonObject(dict[str, Any]):
    """A JSON object as read from the body; `repeated` is a key its text gave more than once."""

    repeated: str | None = None


def read_json(text: str) -> Any:
    """Parse JSON, keeping note of repeated keys (which `json` would silently collapse)."""
    return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)


def _object(pairs: list[tuple[str, Any]]) -> JsonObject:
    found = JsonObject(pairs)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            found.repeated = key
            break
        seen.add(key)
    return found


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def at(path: str, key: str | int) -> str:
    """The path of `key` inside the value at `path`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def members(
    value: Any, path: str, allowed: Collection[str], required: Collection[str] = ()
) -> Mapping[str, Any]:
    """`value` as a JSON object holding only `allowed` keys, each at most once, and `required`."""
    if not isinstance(value, Mapping):
        raise Rejection(path or "statement", "must be a JSON object")
    repeated = getattr(value, "repeated", None)
    if repeated is not None:
        raise Rejection(at(path, repeated), "appears more than once")
    for key in value:
        if key not in allowed:
            raise Rejection(at(path, key), "is not a property xAPI allows here")
    for key in required:
        if key not in value:
            raise Rejection(at(path, key), "is required")
    return value


def string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise Rejection(path, "must be a string")
    return value


def iri(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _IRI.fullmatch(value):
        raise Rejection(path, "must be an absolute IRI (scheme:rest)")
    return value


def uuid(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise Rejection(path, "must be a UUID in its hyphenated hex form")
    return value


def mbox(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _MBOX.fullmatch(value):
        raise Rejection(path, "must be a mailto: IRI with an email address")
    return value


def sha1(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _SHA1.fullmatch(value):
        raise Rejection(path, "must be a SHA-1 hash: 40 hex digits")
    return value


def sha2(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _SHA2.fullmatch(value):
        raise Rejection(path, "must be a SHA-2 hash in hex")
    return value


def language_tag(value: Any, path: str) -> str:
    if not isinstance(value, str) or not (
        _LANGTAG.fullmatch(value) or value.lower() in _GRANDFATHERED
    ):
        raise Rejection(path, f"{value!r} is not an RFC 5646 language tag")
    return value


def language_map(value: Any, path: str) -> Mapping[str, Any]:
    """A language map: RFC 5646 tags to strings."""
    if not isinstance(value, Mapping):
        raise Rejection(path, "must be a language map (an object of language tag to string)")
    found = members(value, path, value.keys())
    for tag, text in found.items():
        language_tag(tag, path)
        string(text, at(path, tag))
    return found


def number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejection(path, "must be a number")
    try:
        return float(value)
    except OverflowError:  # an integer of thousands of digits, which JSON lets through
        raise Rejection(path, "must be a number within the range of a double") from None


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise Rejection(path, "must be true or false")
    return value


def timestamp(value: Any, path: str) -> datetime:
    """An ISO 8601 date and time with a timezone (offset or Z)."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or _UNKNOWN_OFFSET.search(value):
        raise Rejection(path, "must be an ISO 8601 date and time with a timezone")
    return moment


def duration(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise Rejection(path, "must be an ISO 8601 duration, e.g. PT1H30M")
    return value


def extensions(value: Any, path: str) -> Mapping[str, Any]:
    """Extensions: any JSON under IRI keys."""
    if not isinstance(value, Mapping):
        raise Rejection(path, "must be an object of IRI to any value")
    for key in members(value, path, value.keys()):
        iri(key, at(path, key))
    return value
