"""The CFAssociations of a package: typed links between nodes, read strictly.

A link's ends are only identifiers here; whether they name items of the package, its CFDocument
or something outside it is for the structure to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pathways.domain.case_problems import Notes
from pathways.domain.case_shape import check_object, described, integer_in_string, required_text
from shared_events.events.pathways import Association

ASSOCIATION_TYPES = (
    "isChildOf",
    "isPeerOf",
    "isPartOf",
    "exactMatchOf",
    "precedes",
    "isRelatedTo",
    "replacedBy",
    "exemplar",
    "hasSkillLevel",
)


@dataclass(frozen=True)
class Link:
    """A CFAssociation whose type and ends could be read; `index` is its place in CFAssociations."""

    index: int
    kind: str
    origin: str
    destination: str
    sequence: int | None

    def at(self, end: str = "") -> str:
        """Where messages point: the association, or the identifier of its `end`."""
        where = f"CFAssociations[{self.index}]"
        return f"{where}.{end}NodeURI.identifier" if end else where

    def association(self) -> Association:
        """The link kept as it is, for a pathway not to act on."""
        return Association(
            origin=self.origin, association_type=self.kind, destination=self.destination
        )


def read_links(package: dict[str, Any], notes: Notes) -> list[Link]:
    """The CFAssociations whose type and ends are readable."""
    raw = package.get("CFAssociations")
    if raw is None:
        if "CFAssociations" in package:
            notes.warn("CFAssociations", "null where CASE wants a list; read as empty")
        return []
    if not isinstance(raw, list):
        notes.refuse("CFAssociations", f"{described(raw)} where CASE wants a list")
        return []
    links: list[Link] = []
    for index, entry in enumerate(raw):
        where = f"CFAssociations[{index}]"
        if not isinstance(entry, dict):
            notes.refuse(where, f"{described(entry)} where CASE wants an object")
            continue
        check_object(entry, "association", where, notes)
        kind = entry.get("associationType")
        if kind not in ASSOCIATION_TYPES:
            rule = f"unknown: {kind!r} is not a CASE 1.0 association type"
            notes.refuse(f"{where}.associationType", "missing" if kind is None else rule)
        origin = _end(entry, "originNodeURI", where, notes)
        destination = _end(entry, "destinationNodeURI", where, notes)
        sequence = _sequence(entry, where, notes)
        if isinstance(kind, str) and kind in ASSOCIATION_TYPES and origin and destination:
            links.append(Link(index, kind, origin, destination, sequence))
    return links


def _end(entry: dict[str, Any], key: str, where: str, notes: Notes) -> str | None:
    node = entry.get(key)
    if not isinstance(node, dict):
        wrong = f"{described(node)} where CASE wants an object"
        notes.refuse(
            f"{where}.{key}", "missing: an association needs both ends" if node is None else wrong
        )
        return None
    check_object(node, "end", f"{where}.{key}", notes)
    return required_text(
        node, "identifier", f"{where}.{key}", notes, "an association end needs one"
    )


def _sequence(entry: dict[str, Any], where: str, notes: Notes) -> int | None:
    """sequenceNumber orders siblings, so a value that is not an integer at all is refused."""
    if "sequenceNumber" not in entry:
        return None
    value, where = entry["sequenceNumber"], f"{where}.sequenceNumber"
    if value is None:
        notes.warn(where, "null where CASE wants an integer; read as absent")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if (read := integer_in_string(value, where, notes)) is not None:
        return read
    notes.refuse(where, f"{described(value)} where CASE wants an integer")
    return None
