"""What xAPI requires of Agents and Groups: the people a statement is about, by, or for.

An Agent is identified by exactly one inverse functional identifier (IFI): `mbox`,
`mbox_sha1sum`, `openid` or `account`. A Group has at most one; without one it is anonymous
and is known only by its members.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidence.ingest.observation import Rejection
from evidence.ingest.xapi_formats import at, iri, mbox, members, sha1, string

IDENTIFIERS = ("mbox", "mbox_sha1sum", "openid", "account")
_AGENT_KEYS = ("objectType", "name", *IDENTIFIERS)
_GROUP_KEYS = (*_AGENT_KEYS, "member")


def agent_or_group(value: Any, path: str) -> str:
    """An Agent or a Group; answers which ("Agent" when `objectType` is left out)."""
    if not isinstance(value, Mapping):
        raise Rejection(path, "must be an Agent or Group object")
    kind = value.get("objectType", "Agent")
    if kind == "Agent":
        agent(value, path)
    elif kind == "Group":
        group(value, path)
    else:
        raise Rejection(at(path, "objectType"), "must be Agent or Group")
    return str(kind)


def agent(value: Any, path: str) -> Mapping[str, Any]:
    found = members(value, path, _AGENT_KEYS)
    if found.get("objectType", "Agent") != "Agent":
        raise Rejection(at(path, "objectType"), "must be Agent")
    if _identifiers(found, path) != 1:
        raise Rejection(
            path, "an Agent needs exactly one identifier: mbox, mbox_sha1sum, openid or account"
        )
    return found


def group(value: Any, path: str) -> Mapping[str, Any]:
    found = members(value, path, _GROUP_KEYS)
    if found.get("objectType") != "Group":
        raise Rejection(at(path, "objectType"), "must be Group")
    identified = _identifiers(found, path)
    if identified > 1:
        raise Rejection(path, "a Group has at most one identifier (none when anonymous)")
    where = at(path, "member")
    listed = found.get("member", [])
    if not isinstance(listed, list):
        raise Rejection(where, "must be an array of Agents")
    if not identified and not listed:
        raise Rejection(where, "an anonymous Group needs at least one member")
    for index, person in enumerate(listed):
        agent(person, at(where, index))
    return found


def authority(value: Any, path: str) -> None:
    """Who vouches for the statement: an Agent, or the two-member Group of an OAuth consumer
    and the user it acts for."""
    if agent_or_group(value, path) == "Group" and len(value.get("member", [])) != 2:
        raise Rejection(at(path, "member"), "an authority Group has exactly two members")


def identifier(found: Mapping[str, Any]) -> str:
    """The IFI of a checked Agent or Group as one string, e.g. `mbox:mailto:x@example.org`."""
    for key in IDENTIFIERS:
        if key in found:
            value = found[key]
            if key == "account":
                return f"account:{value['homePage']}|{value['name']}"
            return f"{key}:{value}"
    raise ValueError("an anonymous Group has no identifier")


def _identifiers(found: Mapping[str, Any], path: str) -> int:
    """How many IFIs `found` has, each checked."""
    if "mbox" in found:
        mbox(found["mbox"], at(path, "mbox"))
    if "mbox_sha1sum" in found:
        sha1(found["mbox_sha1sum"], at(path, "mbox_sha1sum"))
    if "openid" in found:
        iri(found["openid"], at(path, "openid"))
    if "account" in found:
        where = at(path, "account")
        account = members(found["account"], where, ("homePage", "name"), ("homePage", "name"))
        iri(account["homePage"], at(where, "homePage"))
        if not string(account["name"], at(where, "name")):
            raise Rejection(at(where, "name"), "must not be empty")
    if "name" in found:
        string(found["name"], at(path, "name"))
    return sum(key in found for key in IDENTIFIERS)
