"""What xAPI 1.0.3 and 2.0 require of a statement, as an LRS checks it before storing it.

`check_statement` raises a `Rejection` naming the first broken part by its path inside the
statement (`object.definition.name`, `context.contextActivities.parent[1].id`) and the rule.
Properties xAPI does not define are refused, as 2.0 requires of an LRS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from evidence.ingest.observation import Rejection
from evidence.ingest.xapi_activity import activity
from evidence.ingest.xapi_agents import agent, agent_or_group, authority, group
from evidence.ingest.xapi_formats import (
    at,
    boolean,
    duration,
    extensions,
    iri,
    language_map,
    language_tag,
    members,
    number,
    sha2,
    string,
    timestamp,
    uuid,
)

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
_SHARED_KEYS = ("actor", "verb", "object", "result", "context", "timestamp", "attachments")
_NOT_IN_SUBSTATEMENT = ("id", "stored", "version", "authority")
_STATEMENT_KEYS = (*_SHARED_KEYS, *_NOT_IN_SUBSTATEMENT)
_SUBSTATEMENT_KEYS = ("objectType", *_SHARED_KEYS)
_CONTEXT_KEYS = (
    "registration", "instructor", "team", "contextActivities", "revision", "platform",
    "language", "statement", "extensions",
)  # fmt: skip
_CONTEXT_KEYS_2_0 = ("contextAgents", "contextGroups")
_ATTACHMENT_NEEDS = ("usageType", "display", "contentType", "length", "sha2")
_ATTACHMENT_KEYS = (*_ATTACHMENT_NEEDS, "description", "fileUrl")
_STATEMENT_VERSION = re.compile(r"[12]\.0(?:\.\d+)?")
_SCORE_PARTS = ("scaled", "raw", "min", "max")


def check_statement(value: Any, *, xapi_2_0: bool) -> Mapping[str, Any]:
    """A whole statement; `xapi_2_0` allows the properties that version added."""
    found = members(value, "", _STATEMENT_KEYS, required=("actor", "verb", "object"))
    if "id" in found:
        uuid(found["id"], "id")
    _parts(found, "", xapi_2_0=xapi_2_0, nested=False)
    if "stored" in found:
        timestamp(found["stored"], "stored")
    if "authority" in found:
        authority(found["authority"], "authority")
    version = found.get("version", "2.0.0")
    if not isinstance(version, str) or not _STATEMENT_VERSION.fullmatch(version):
        raise Rejection("version", "must be 1.0.x or 2.0.x")
    return found


def _parts(found: Mapping[str, Any], path: str, *, xapi_2_0: bool, nested: bool) -> None:
    """What a statement and a SubStatement share."""
    agent_or_group(found["actor"], at(path, "actor"))
    verb = members(found["verb"], at(path, "verb"), ("id", "display"), required=("id",))
    iri(verb["id"], at(path, "verb.id"))
    if "display" in verb:
        language_map(verb["display"], at(path, "verb.display"))
    kind = _object(found["object"], at(path, "object"), xapi_2_0=xapi_2_0, nested=nested)
    if verb["id"] == VOIDED and kind != "StatementRef":
        raise Rejection(at(path, "object"), "a voiding statement's object must be a StatementRef")
    if "result" in found:
        _result(found["result"], at(path, "result"))
    if "context" in found:
        _context(found["context"], at(path, "context"), xapi_2_0, kind == "Activity")
    if "timestamp" in found:
        timestamp(found["timestamp"], at(path, "timestamp"))
    if "attachments" in found:
        _attachments(found["attachments"], at(path, "attachments"))


def _object(value: Any, path: str, *, xapi_2_0: bool, nested: bool) -> str:
    if not isinstance(value, Mapping):
        raise Rejection(path, "must be an Activity, Agent, Group, StatementRef or SubStatement")
    kind = value.get("objectType", "Activity")
    if kind == "Activity":
        activity(value, path)
    elif kind in ("Agent", "Group"):
        agent_or_group(value, path)
    elif kind == "StatementRef":
        _statement_ref(value, path)
    elif kind == "SubStatement" and nested:
        raise Rejection(at(path, "objectType"), "a SubStatement cannot contain a SubStatement")
    elif kind == "SubStatement":
        for key in _NOT_IN_SUBSTATEMENT:
            if key in value:
                raise Rejection(at(path, key), "is not allowed in a SubStatement")
        sub = members(value, path, _SUBSTATEMENT_KEYS, required=("actor", "verb", "object"))
        _parts(sub, path, xapi_2_0=xapi_2_0, nested=True)
    else:
        raise Rejection(
            at(path, "objectType"), "must be Activity, Agent, Group, StatementRef or SubStatement"
        )
    return str(kind)


def _statement_ref(value: Any, path: str) -> None:
    found = members(value, path, ("objectType", "id"), required=("objectType", "id"))
    if found["objectType"] != "StatementRef":
        raise Rejection(at(path, "objectType"), "must be StatementRef")
    uuid(found["id"], at(path, "id"))


def _result(value: Any, path: str) -> None:
    keys = ("score", "success", "completion", "response", "duration", "extensions")
    found = members(value, path, keys)
    if "score" in found:
        _score(found["score"], at(path, "score"))
    for key, check in (("success", boolean), ("completion", boolean), ("response", string)):
        if key in found:
            check(found[key], at(path, key))
    if "duration" in found:
        duration(found["duration"], at(path, "duration"))
    if "extensions" in found:
        extensions(found["extensions"], at(path, "extensions"))


def _score(value: Any, path: str) -> None:
    found = {k: number(v, at(path, k)) for k, v in members(value, path, _SCORE_PARTS).items()}
    if not -1.0 <= found.get("scaled", 0.0) <= 1.0:
        raise Rejection(at(path, "scaled"), "must be between -1 and 1")
    low, high, raw = found.get("min"), found.get("max"), found.get("raw")
    if low is not None and high is not None and not low < high:
        raise Rejection(at(path, "max"), "must be greater than min")
    if raw is not None and low is not None and raw < low:
        raise Rejection(at(path, "raw"), "must not be below min")
    if raw is not None and high is not None and raw > high:
        raise Rejection(at(path, "raw"), "must not be above max")


def _context(value: Any, path: str, xapi_2_0: bool, about_activity: bool) -> None:
    keys = (*_CONTEXT_KEYS, *_CONTEXT_KEYS_2_0) if xapi_2_0 else _CONTEXT_KEYS
    found = members(value, path, keys)
    if "registration" in found:
        uuid(found["registration"], at(path, "registration"))
    if "instructor" in found:
        agent_or_group(found["instructor"], at(path, "instructor"))
    if "team" in found:
        group(found["team"], at(path, "team"))
    if "contextActivities" in found:
        _context_activities(found["contextActivities"], at(path, "contextActivities"))
    for key in ("revision", "platform"):
        if key in found:
            string(found[key], at(path, key))
            if not about_activity:
                raise Rejection(at(path, key), "is only allowed when the object is an Activity")
    if "language" in found:
        language_tag(found["language"], at(path, "language"))
    if "statement" in found:
        _statement_ref(found["statement"], at(path, "statement"))
    if "extensions" in found:
        extensions(found["extensions"], at(path, "extensions"))
    for key, kind in (("contextAgents", "contextAgent"), ("contextGroups", "contextGroup")):
        if key in found:
            _context_people(found[key], at(path, key), kind)


def _context_activities(value: Any, path: str) -> None:
    """Each of parent, grouping, category, other: an Activity or an array of Activities."""
    for key, entry in members(value, path, ("parent", "grouping", "category", "other")).items():
        if isinstance(entry, list):
            for index, item in enumerate(entry):
                activity(item, at(at(path, key), index))
        else:
            activity(entry, at(path, key))


def _context_people(value: Any, path: str, kind: str) -> None:
    """xAPI 2.0 contextAgents / contextGroups: who else took part, and in what role."""
    role = "agent" if kind == "contextAgent" else "group"
    if not isinstance(value, list):
        raise Rejection(path, f"must be an array of {kind} objects")
    for index, entry in enumerate(value):
        where = at(path, index)
        found = members(entry, where, ("objectType", role, "relevantTypes"), ("objectType", role))
        if found["objectType"] != kind:
            raise Rejection(at(where, "objectType"), f"must be {kind}")
        (agent if role == "agent" else group)(found[role], at(where, role))
        if "relevantTypes" in found:
            types, listed = found["relevantTypes"], at(where, "relevantTypes")
            if not isinstance(types, list) or not types:
                raise Rejection(listed, "must be a non-empty array of IRIs")
            for position, type_iri in enumerate(types):
                iri(type_iri, at(listed, position))


def _attachments(value: Any, path: str) -> None:
    if not isinstance(value, list):
        raise Rejection(path, "must be an array of attachment objects")
    for index, entry in enumerate(value):
        where = at(path, index)
        found = members(entry, where, _ATTACHMENT_KEYS, required=_ATTACHMENT_NEEDS)
        iri(found["usageType"], at(where, "usageType"))
        language_map(found["display"], at(where, "display"))
        if "description" in found:
            language_map(found["description"], at(where, "description"))
        string(found["contentType"], at(where, "contentType"))
        length = found["length"]
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise Rejection(at(where, "length"), "must be a whole number of octets")
        sha2(found["sha2"], at(where, "sha2"))
        if "fileUrl" in found:
            iri(found["fileUrl"], at(where, "fileUrl"))
