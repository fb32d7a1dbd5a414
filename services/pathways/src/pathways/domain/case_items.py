"""The CFItems of a package: the competencies a pathway is made of, read strictly."""

from __future__ import annotations

from dataclasses import dataclass

from pathways.domain.case_problems import Notes
from pathways.domain.case_shape import check_object, described, required_text


@dataclass(frozen=True)
class Item:
    """A CFItem, as much of it as a competency needs; `index` is its place in CFItems."""

    index: int
    identifier: str
    statement: str
    code: str | None
    uri: str | None
    item_type: str | None
    keywords: tuple[str, ...]

    @property
    def label(self) -> str:
        """How messages name the item: by its code where it has one."""
        return self.code or self.identifier


def read_items(raw: object, framework_id: str | None, notes: Notes) -> dict[str, Item]:
    """The CFItems by identifier, in file order; refuses blanks, duplicates and non-items."""
    if not isinstance(raw, list):
        rule = "missing: a framework needs at least one item" if raw is None else "not a list"
        notes.refuse("CFItems", rule)
        return {}
    if not raw:
        notes.refuse("CFItems", "empty: a framework needs at least one item")
    items: dict[str, Item] = {}
    for index, entry in enumerate(raw):
        where = f"CFItems[{index}]"
        if not isinstance(entry, dict):
            notes.refuse(where, f"{described(entry)} where CASE wants an object")
            continue
        check_object(entry, "item", where, notes)
        identifier = required_text(entry, "identifier", where, notes, "a competency needs one")
        statement = required_text(
            entry, "fullStatement", where, notes, "a competency needs a statement"
        )
        code = entry.get("humanCodingScheme")
        if code is None and "humanCodingScheme" in entry:
            notes.warn(
                f"{where}.humanCodingScheme", "null where CASE wants a string; read as absent"
            )
        elif code is not None and not isinstance(code, str):
            notes.refuse(
                f"{where}.humanCodingScheme", f"{described(code)} where CASE wants a string"
            )
        if identifier is None:
            continue
        if identifier in items:
            first = items[identifier].index
            notes.refuse(
                f"{where}.identifier", f"duplicate: '{identifier}' is also CFItems[{first}]"
            )
            continue
        if identifier == framework_id:
            notes.refuse(f"{where}.identifier", "duplicate: it is the CFDocument's identifier")
        keywords = entry.get("conceptKeywords")
        items[identifier] = Item(
            index=index,
            identifier=identifier,
            statement=statement or "",  # refused already; kept so its associations still resolve
            code=_string(code),
            uri=_string(entry.get("uri")),
            item_type=_string(entry.get("CFItemType")),
            keywords=tuple(k for k in keywords if isinstance(k, str))
            if isinstance(keywords, list)
            else (),
        )
    return items


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
