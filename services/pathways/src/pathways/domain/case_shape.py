"""The shape the CASE 1.0 schema gives a package, and how far a value may bend it.

What a pathway stands on is read strictly by the parser (marked `read` in the table below); a
missing or blank required string there is a problem. Everything else is only checked: a value
that bends the schema harmlessly (an integer given as a string, a null, a property CASE does not
define) is accepted with a warning naming where it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pathways.domain.case_problems import Notes

# Each kind lists its properties as `name[!][:shape]`: `!` when CASE requires it; shape "str"
# (the default), "int", "num", "uuid", another kind, "x[]" (a list of x), "[]" (an empty list),
# alternatives joined by "|", and "?" when null is allowed. _READ marks what the parser reads
# strictly itself, so the checker leaves it alone rather than warn twice.
_READ = "read"


@dataclass(frozen=True)
class _Kind:
    shapes: Mapping[str, str]
    required: frozenset[str]
    closed: bool


def _kind(spec: str, *, closed: bool = True) -> _Kind:
    shapes: dict[str, str] = {}
    required: set[str] = set()
    for entry in spec.split():
        name, _, shape = entry.partition(":")
        if name.endswith("!"):
            name = name[:-1]
            required.add(name)
        shapes[name] = shape or "str"
    return _Kind(shapes, frozenset(required), closed)


_STAMPED = "identifier!:uuid uri! lastChangeDateTime!"
_KINDS: dict[str, _Kind] = {
    "package": _kind(
        "CFDocument!:read CFItems:read CFAssociations:read CFDefinitions:definitions|[] "
        "CFRubrics:rubric[]"
    ),
    "document": _kind(
        "identifier!:read uri! creator! title!:read lastChangeDateTime! officialSourceURL "
        "publisher description subject:str[]|str subjectURI:link[] language version "
        "adoptionStatus statusStartDate:str? statusEndDate:str? licenseURI:link? notes",
        closed=False,
    ),
    "item": _kind(
        "identifier!:read fullStatement!:read humanCodingScheme:read alternativeLabel "
        "CFItemType uri! listEnumeration abbreviatedStatement conceptKeywords:str[]? "
        "conceptKeywordsURI:link? notes language educationLevel:str[]|str CFItemTypeURI:link "
        "licenseURI:link statusStartDate statusEndDate lastChangeDateTime!",
        closed=False,
    ),
    "association": _kind(
        "identifier!:uuid associationType!:read sequenceNumber:read uri! originNodeURI!:read "
        "destinationNodeURI!:read CFAssociationGroupingURI:link? lastChangeDateTime!",
        closed=False,
    ),
    "end": _kind("title! identifier!:read uri!"),
    "link": _kind("title! identifier!:uuid uri!"),
    "definitions": _kind(
        "CFConcepts:concept[] CFSubjects:subject[] CFLicenses:license[] CFItemTypes:itemType[] "
        "CFAssociationGroupings:grouping[]"
    ),
    "concept": _kind(f"{_STAMPED} title! keywords hierarchyCode! description"),
    "subject": _kind(f"{_STAMPED} title! hierarchyCode! description"),
    "license": _kind(f"{_STAMPED} title! description licenseText!"),
    "itemType": _kind(f"{_STAMPED} title! description hierarchyCode! typeCode:str?"),
    "grouping": _kind(f"{_STAMPED} title! description"),
    "rubric": _kind(f"{_STAMPED} title description CFRubricCriteria:criterion[]"),
    "criterion": _kind(
        f"{_STAMPED} category description CFItemURI:link weight:num position:int rubricId:uuid "
        "CFRubricCriterionLevels:level[]"
    ),
    "level": _kind(
        f"{_STAMPED} description quality score:num feedback position:int rubricCriterionId:uuid"
    ),
}
_WANTED = {"str": "a string", "int": "an integer", "num": "a number", "uuid": "a UUID"}
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


def check_object(raw: Mapping[str, Any], kind_name: str, where: str, notes: Notes) -> None:
    """Warn about each way `raw` bends the CASE shape of its kind; _READ fields are left alone."""
    kind = _KINDS[kind_name]
    for key, shape in kind.shapes.items():
        if key in kind.required and key not in raw and shape != _READ:
            notes.warn(_at(where, key), "missing, though CASE requires it; not needed here")
    for key, value in raw.items():
        expected = kind.shapes.get(key)
        if expected is None:
            if kind.closed:
                notes.warn(_at(where, key), "a property CASE does not define here; ignored")
        elif expected != _READ:
            _check(value, expected, _at(where, key), notes)


def required_text(
    raw: Mapping[str, Any], key: str, where: str, notes: Notes, why: str
) -> str | None:
    """A string that must be there and not blank, else a problem at `where.key`."""
    value = raw.get(key)
    if isinstance(value, str) and value.strip():
        return value
    if value is None:
        rule = f"missing: {why}"
    elif isinstance(value, str):
        rule = f"blank: {why}"
    else:
        rule = f"{described(value)} where CASE wants a string"
    notes.refuse(f"{where}.{key}", rule)
    return None


def integer_in_string(value: object, where: str, notes: Notes) -> int | None:
    """The integer a string holds (" 2" holds 2), read with a warning; None for anything else."""
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        notes.warn(where, f"a string ({value!r}) where CASE wants an integer; read as {int(value)}")
        return int(value)
    return None


def described(value: object) -> str:
    """A JSON value as a message names it: its kind, and the value when it is a scalar."""
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "null"


def _check(value: object, shape: str, where: str, notes: Notes) -> None:
    if value is None:
        if not shape.endswith("?"):
            notes.warn(where, f"null where CASE wants {_wanted(shape)}; read as absent")
        return
    if not any(_fits(value, one, where, notes) for one in shape.rstrip("?").split("|")):
        notes.warn(where, f"{described(value)} where CASE wants {_wanted(shape)}; ignored")


def _fits(value: object, shape: str, where: str, notes: Notes) -> bool:
    """Whether `value` has `shape`; checks (and warns about) what is inside when it does."""
    if shape == "[]":
        return value == []
    if shape.endswith("[]"):
        if not isinstance(value, list):
            return False
        for index, element in enumerate(value):
            _check(element, shape[:-2], f"{where}[{index}]", notes)
        return True
    if shape in _KINDS:
        if isinstance(value, dict):
            check_object(value, shape, where, notes)
        return isinstance(value, dict)
    if shape == "int" and integer_in_string(value, where, notes) is not None:
        return True
    if shape in ("int", "num"):
        wanted = int if shape == "int" else int | float
        return isinstance(value, wanted) and not isinstance(value, bool)
    if shape == "uuid" and isinstance(value, str) and not _UUID.search(value):
        notes.warn(where, f"{value!r} where CASE wants a UUID; kept as given")
    return isinstance(value, str)


def _wanted(shape: str) -> str:
    return " or ".join(_WANTED.get(one, _container(one)) for one in shape.rstrip("?").split("|"))


def _container(shape: str) -> str:
    if shape == "[]":
        return "an empty list"
    return "a list" if shape.endswith("[]") else "an object"


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
