"""What xAPI requires of an Activity: an IRI id and an optional definition whose names and
descriptions are language maps and whose interaction, if any, is of a known type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidence.ingest.observation import Rejection
from evidence.ingest.xapi_formats import at, extensions, iri, language_map, members, string

INTERACTION_TYPES = frozenset(
    {
        "true-false",
        "choice",
        "fill-in",
        "long-fill-in",
        "matching",
        "performance",
        "sequencing",
        "likert",
        "numeric",
        "other",
    }
)
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
_DEFINITION_KEYS = frozenset(
    {
        "name",
        "description",
        "type",
        "moreInfo",
        "interactionType",
        "correctResponsesPattern",
        "extensions",
        *COMPONENT_LISTS,
    }
)


def activity(value: Any, path: str) -> Mapping[str, Any]:
    """An Activity object (its `objectType`, when given, is "Activity")."""
    found = members(value, path, ("objectType", "id", "definition"), required=("id",))
    if found.get("objectType", "Activity") != "Activity":
        raise Rejection(at(path, "objectType"), "must be Activity")
    iri(found["id"], at(path, "id"))
    if "definition" in found:
        _definition(found["definition"], at(path, "definition"))
    return found


def _definition(value: Any, path: str) -> None:
    found = members(value, path, _DEFINITION_KEYS)
    for key in ("name", "description"):
        if key in found:
            language_map(found[key], at(path, key))
    for key in ("type", "moreInfo"):
        if key in found:
            iri(found[key], at(path, key))
    kind = found.get("interactionType", "other")
    if not isinstance(kind, str) or kind not in INTERACTION_TYPES:
        raise Rejection(
            at(path, "interactionType"),
            "must be one of " + ", ".join(sorted(INTERACTION_TYPES)),
        )
    if "correctResponsesPattern" in found:
        patterns = found["correctResponsesPattern"]
        where = at(path, "correctResponsesPattern")
        if not isinstance(patterns, list):
            raise Rejection(where, "must be an array of strings")
        for index, pattern in enumerate(patterns):
            string(pattern, at(where, index))
    for key in COMPONENT_LISTS:
        if key in found:
            _components(found[key], at(path, key))
    if "extensions" in found:
        extensions(found["extensions"], at(path, "extensions"))


def _components(value: Any, path: str) -> None:
    """Interaction components: each an `id` (distinct in its list) and a `description`."""
    if not isinstance(value, list):
        raise Rejection(path, "must be an array of interaction components")
    seen: set[str] = set()
    for index, component in enumerate(value):
        where = at(path, index)
        found = members(component, where, ("id", "description"), required=("id",))
        ident = string(found["id"], at(where, "id"))
        if ident in seen:
            raise Rejection(at(where, "id"), f"{ident!r} repeats an id of this list")
        seen.add(ident)
        if "description" in found:
            language_map(found["description"], at(where, "description"))
