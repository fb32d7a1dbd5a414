"""The values Caliper properties hold: the lexical forms it prescribes for identifiers,
date-times and durations, and the JSON type each kind of property takes."""

from __future__ import annotations

import math
import re
import reprlib
from datetime import datetime

from evidence.ingest.caliper_vocabulary import Prop

_UUID_URN = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
# An absolute http(s) IRI with a host; spaces, controls and the characters RFC 3987 excludes
# never appear in one.
_HTTP_IRI = re.compile(
    r"https?://[^\x00-\x20\x7f<>\"{}|\\^`/?#]+[^\x00-\x20\x7f<>\"{}|\\^`]*", re.IGNORECASE
)
# A full date and time with an explicit zone: `2016-11-15T10:15:00.000Z` or `…+02:00`.
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
_DURATION = re.compile(
    r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?"
    r"(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
)


def is_uuid_urn(value: str) -> bool:
    """Whether the value is a UUID written as a URN (`urn:uuid:…`), as Event ids must be."""
    return _UUID_URN.fullmatch(value) is not None


def is_iri(value: str) -> bool:
    """Whether the value is an identifier Caliper accepts for a node: an http(s) IRI or a
    `urn:uuid:` URN."""
    return is_uuid_urn(value) or _HTTP_IRI.fullmatch(value) is not None


def parse_datetime(value: str) -> datetime | None:
    """The moment a full ISO 8601 date-time with a zone names, or None for anything less (a
    bare date, a local time) or an impossible date."""
    if _DATETIME.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def is_duration(value: str) -> bool:
    """Whether the value is an ISO 8601 duration such as `PT50M12S`."""
    return _DURATION.fullmatch(value) is not None


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 60
_SHORT.maxlevel = 2


def shown(value: object) -> str:
    """A value as a rejection may quote it: its repr, cut short however big the value is."""
    return _SHORT.repr(value)


def scalar_rule(prop: Prop, value: object) -> str | None:
    """Why `value` cannot stand for a scalar `prop`, or None when it can."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and _finite(value)
    text = value if isinstance(value, str) else None
    match prop.kind:
        case "string":
            return None if text is not None else f"must be a string, not {shown(value)}"
        case "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            return None if ok else f"must be an integer, not {shown(value)}"
        case "number":
            return None if number else f"must be a number, not {shown(value)}"
        case "boolean":
            return None if isinstance(value, bool) else f"must be true or false, not {shown(value)}"
        case "map":
            return None if isinstance(value, dict) else "must be an object"
        case "datetime":
            ok = text is not None and parse_datetime(text) is not None
            return None if ok else f"must be an ISO 8601 date and time with zone: {shown(value)}"
        case "duration":
            ok = text is not None and is_duration(text)
            return None if ok else f"must be an ISO 8601 duration such as PT5M: {shown(value)}"
        case "iri":
            ok = text is not None and is_iri(text)
            return None if ok else f"must be an http(s) IRI or a urn:uuid: {shown(value)}"
        case "uuid":
            ok = text is not None and is_uuid_urn(text)
            return None if ok else f"must be a UUID as a urn:uuid: URN: {shown(value)}"
        case "enum":
            ok = text is not None and text in prop.values
            return None if ok else f"unknown value {shown(value)}"
        case _:
            raise AssertionError(f"no rule for a {prop.kind} property")


def _finite(number: float) -> bool:
    # 1e400 parses as infinity and a 400-digit integer overflows a float: no score is either.
    try:
        return math.isfinite(number)
    except OverflowError:
        return False
