"""A 1EdTech CASE 1.0 package (a CFPackage, as JSON) read as one version of a framework.

Strict about what a pathway stands on: identifiers, statements, the hierarchy (`isChildOf`), the
prerequisites (`precedes`), association types and ends. A package that gets any of these wrong is
refused with every problem found. Lenient about the rest, because frameworks in the wild bend the
CASE schema in harmless ways: an integer given as a string, a null where CASE wants an optional
value, a property CASE does not define, a missing field nobody here reads. Each is accepted with a
warning that names its location.

Judgement calls:
- Unknown properties are warned about only where the CASE schema closes the object (the package,
  CFDefinitions, rubrics, node links). CFDocument, CFItems and CFAssociations are open in the
  schema, and real exports use that (OpenSALT adds `CFItemAssociationURI`, `educationalLevel`).
- `isChildOf` must go from an item of the package to an item or to its CFDocument. An item with
  several `isChildOf` takes its parent from the one with the lowest sequenceNumber (none counts as
  last), then the first in the file, with a warning: CASE allows several parents, a pathway holds
  one. The others are kept as associations, not acted on.
- An item with no `isChildOf` at all sits at the top level, with a warning. Siblings with the same
  sequenceNumber (or none) follow their codes in natural order: "L1.2" before "L1.10".
- A package with no CFItems is refused, though CASE allows it (OpenSALT's EmptyExternalFramework
  is such a stub): a pathway through nothing cannot be assigned.
- `precedes` naming the CFDocument is refused. `precedes` naming something outside the package is
  not: the OpenSALT sample export does it, pointing at the external original of one of its own
  items. When exactly one item of the package is an `exactMatchOf` that outside node, the edge is
  read as naming that item (with a warning); otherwise it is kept as an association and not acted
  on (with a warning), since a pathway can only wait on competencies it holds.
- Every other association type may point outside the package (exactMatchOf another framework, an
  exemplar web page): kept as it is, never acted on.
- An unknown association type is refused: a misspelt `isChildOf` would otherwise lose structure.
- The CFDocument identifier becomes a subject token, so it must be one (a UUID always is).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared_events.events.pathways import (
    Association,
    CompetencyDefinition,
    FrameworkChanges,
    Prerequisite,
)
from shared_events.subjects import TOKEN


@dataclass(frozen=True)
class Problem:
    """Why a package cannot be imported: where (a JSON path) and what is wrong there."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class CaseRefused(ValueError):
    """Nothing imported; `problems` lists every problem found (not only the first)."""

    problems: tuple[Problem, ...]

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class ParsedFramework:
    """What a CASE package says that a pathway can use, in a deterministic order."""

    framework_id: str
    title: str
    competencies: tuple[CompetencyDefinition, ...]
    """Depth-first through the hierarchy; siblings by sequence, code, statement, identifier."""
    prerequisites: tuple[Prerequisite, ...]
    """From `precedes`, sorted."""
    associations: tuple[Association, ...]
    """Every association not acted on (e.g. `exactMatchOf`, `isRelatedTo`), sorted."""
    warnings: tuple[str, ...]
    content_hash: str
    """sha256 of what was parsed; export timestamps do not count."""


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

# The shape of a CASE 1.0 package, enough to name each deviation. Each kind lists its properties
# as `name[!][:shape]`: `!` when CASE requires it; shape "str" (the default), "int", "num",
# "uuid", another kind, "x[]" (a list of x), "[]" (an empty list), alternatives joined by "|",
# and "?" when null is allowed. _READ marks what the parser reads strictly itself.
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


@dataclass
class _Notes:
    """What reading a package found: problems refuse it, warnings go along with it."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def refuse(self, where: str, rule: str) -> None:
        self.problems.append(Problem(where, rule))

    def warn(self, where: str, text: str) -> None:
        self.warnings.append(f"{where}: {text}")


@dataclass(frozen=True)
class _Item:
    index: int
    identifier: str
    statement: str
    code: str | None
    uri: str | None
    item_type: str | None
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class _Link:
    index: int
    kind: str
    origin: str
    destination: str
    sequence: int | None

    def at(self, end: str = "") -> str:
        where = f"CFAssociations[{self.index}]"
        return f"{where}.{end}NodeURI.identifier" if end else where


def parse_package(package: object) -> ParsedFramework:
    """Read a CFPackage; raise CaseRefused naming every problem when it cannot be imported."""
    notes = _Notes()
    document = package.get("CFDocument") if isinstance(package, dict) else None
    if not isinstance(package, dict) or not isinstance(document, dict):
        raise CaseRefused([Problem("CFDocument", "missing: not a CASE CFPackage")])
    _check_object(package, "package", "", notes)
    _check_object(document, "document", "CFDocument", notes)
    framework_id = _text(document, "identifier", "CFDocument", notes, "a framework needs one")
    if framework_id is not None and not TOKEN.match(framework_id):
        notes.refuse("CFDocument.identifier", "not usable as a subject token (A-Z a-z 0-9 _ -)")
    title = _text(document, "title", "CFDocument", notes, "a framework needs one")
    items = _items(package.get("CFItems"), framework_id, notes)
    links = _links(package, notes) if items else []  # with no items, every end would be unknown
    parents = _parents(framework_id, items, links, notes)
    prerequisites, associations = _prerequisites(framework_id, items, links, notes)
    associations += [
        Association(origin=lk.origin, association_type=lk.kind, destination=lk.destination)
        for lk in links
        if lk.kind == "isChildOf" and parents.get(lk.origin) not in (None, lk)
    ]
    labels = {identifier: item.code or identifier for identifier, item in items.items()}
    _refuse_cycles(
        "isChildOf", [lk for lk in parents.values() if lk.destination in items], labels, notes
    )
    _refuse_cycles("precedes", prerequisites, labels, notes)
    if notes.problems or framework_id is None or title is None:
        raise CaseRefused(notes.problems)
    competencies = _ordered(items, parents, framework_id, notes)
    edges = sorted(
        {Prerequisite(before=lk.origin, after=lk.destination) for lk in prerequisites}, key=_edge
    )
    kept = sorted(set(associations), key=lambda a: (a.origin, a.association_type, a.destination))
    return ParsedFramework(
        framework_id=framework_id,
        title=title,
        competencies=competencies,
        prerequisites=tuple(edges),
        associations=tuple(kept),
        warnings=tuple(notes.warnings),
        content_hash=_content_hash(title, competencies, edges, kept),
    )


def changes_between(
    previous_version: int,
    previous: Sequence[CompetencyDefinition],
    previous_prerequisites: Sequence[Prerequisite],
    new: ParsedFramework,
) -> FrameworkChanges | None:
    """None when nothing a pathway depends on differs (competency ids, statement, code, parent,
    sequence; prerequisites). Ids come in framework order, edges sorted."""
    before = {c.competency_id: c for c in previous}
    after = {c.competency_id: c for c in new.competencies}
    old_edges, new_edges = set(previous_prerequisites), set(new.prerequisites)
    changes = FrameworkChanges(
        from_version=previous_version,
        added=tuple(c for c in after if c not in before),
        removed=tuple(c for c in before if c not in after),
        changed=tuple(c for c in after if c in before and _stance(after[c]) != _stance(before[c])),
        prerequisites_added=tuple(sorted(new_edges - old_edges, key=_edge)),
        prerequisites_removed=tuple(sorted(old_edges - new_edges, key=_edge)),
    )
    if changes == FrameworkChanges(from_version=previous_version):
        return None
    return changes


def _stance(c: CompetencyDefinition) -> tuple[str, str | None, str | None, int | None]:
    return (c.statement, c.code, c.parent_id, c.sequence)


def _edge(edge: Prerequisite) -> tuple[str, str]:
    return (edge.before, edge.after)


def _items(raw: object, framework_id: str | None, notes: _Notes) -> dict[str, _Item]:
    """The CFItems by identifier, in file order; refuses blanks, duplicates and non-items."""
    if not isinstance(raw, list):
        rule = "missing: a framework needs at least one item" if raw is None else "not a list"
        notes.refuse("CFItems", rule)
        return {}
    if not raw:
        notes.refuse("CFItems", "empty: a framework needs at least one item")
    items: dict[str, _Item] = {}
    for index, entry in enumerate(raw):
        where = f"CFItems[{index}]"
        if not isinstance(entry, dict):
            notes.refuse(where, f"{_described(entry)} where CASE wants an object")
            continue
        _check_object(entry, "item", where, notes)
        identifier = _text(entry, "identifier", where, notes, "a competency needs one")
        statement = _text(entry, "fullStatement", where, notes, "a competency needs a statement")
        code = entry.get("humanCodingScheme")
        if code is None and "humanCodingScheme" in entry:
            notes.warn(
                f"{where}.humanCodingScheme", "null where CASE wants a string; read as absent"
            )
        elif code is not None and not isinstance(code, str):
            notes.refuse(
                f"{where}.humanCodingScheme", f"{_described(code)} where CASE wants a string"
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
        items[identifier] = _Item(
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


def _links(package: dict[str, Any], notes: _Notes) -> list[_Link]:
    """The CFAssociations whose type and ends are readable."""
    raw = package.get("CFAssociations")
    if raw is None:
        if "CFAssociations" in package:
            notes.warn("CFAssociations", "null where CASE wants a list; read as empty")
        return []
    if not isinstance(raw, list):
        notes.refuse("CFAssociations", f"{_described(raw)} where CASE wants a list")
        return []
    links: list[_Link] = []
    for index, entry in enumerate(raw):
        where = f"CFAssociations[{index}]"
        if not isinstance(entry, dict):
            notes.refuse(where, f"{_described(entry)} where CASE wants an object")
            continue
        _check_object(entry, "association", where, notes)
        kind = entry.get("associationType")
        if kind not in ASSOCIATION_TYPES:
            rule = f"unknown: {kind!r} is not a CASE 1.0 association type"
            notes.refuse(f"{where}.associationType", "missing" if kind is None else rule)
        origin = _end(entry, "originNodeURI", where, notes)
        destination = _end(entry, "destinationNodeURI", where, notes)
        sequence = _sequence(entry, where, notes)
        if isinstance(kind, str) and kind in ASSOCIATION_TYPES and origin and destination:
            links.append(_Link(index, kind, origin, destination, sequence))
    return links


def _end(entry: dict[str, Any], key: str, where: str, notes: _Notes) -> str | None:
    node = entry.get(key)
    if not isinstance(node, dict):
        wrong = f"{_described(node)} where CASE wants an object"
        notes.refuse(
            f"{where}.{key}", "missing: an association needs both ends" if node is None else wrong
        )
        return None
    _check_object(node, "end", f"{where}.{key}", notes)
    return _text(node, "identifier", f"{where}.{key}", notes, "an association end needs one")


def _sequence(entry: dict[str, Any], where: str, notes: _Notes) -> int | None:
    """sequenceNumber orders siblings, so a value that is not an integer at all is refused."""
    if "sequenceNumber" not in entry:
        return None
    value, where = entry["sequenceNumber"], f"{where}.sequenceNumber"
    if value is None:
        notes.warn(where, "null where CASE wants an integer; read as absent")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        notes.warn(where, f"a string ({value!r}) where CASE wants an integer; read as {int(value)}")
        return int(value)
    notes.refuse(where, f"{_described(value)} where CASE wants an integer")
    return None


def _parents(
    framework_id: str | None, items: Mapping[str, _Item], links: Iterable[_Link], notes: _Notes
) -> dict[str, _Link]:
    """Each item's one `isChildOf`: the lowest sequenceNumber (none is last), then first in file."""
    options: dict[str, list[_Link]] = {}
    for link in links:
        if link.kind != "isChildOf":
            continue
        if link.origin not in items:
            notes.refuse(link.at("origin"), _elsewhere(link.origin, framework_id, "a child"))
        if link.destination not in items and framework_id not in (None, link.destination):
            # (with no document identifier, already refused, any other node may be the document)
            notes.refuse(link.at("destination"), "names neither an item here nor the CFDocument")
        elif link.origin in items:
            options.setdefault(link.origin, []).append(link)
    parents: dict[str, _Link] = {}
    for child, links_of_child in options.items():
        kept = min(links_of_child, key=lambda lk: (lk.sequence is None, lk.sequence or 0, lk.index))
        parents[child] = kept
        if len(links_of_child) > 1:
            label = items[child].code or child
            notes.warn(
                ", ".join(lk.at() for lk in links_of_child),
                f"{label} has {len(links_of_child)} isChildOf associations; its parent is "
                f"from {kept.at()} (lowest sequenceNumber, then first in file), the others are "
                "kept as associations only",
            )
    return parents


def _prerequisites(
    framework_id: str | None, items: Mapping[str, _Item], links: Sequence[_Link], notes: _Notes
) -> tuple[list[_Link], list[Association]]:
    """`precedes` between items of the package, and every association not acted on."""
    twins: dict[str, set[str]] = {}
    for link in links:
        if link.kind == "exactMatchOf" and (link.origin in items) != (link.destination in items):
            inside, outside = sorted((link.origin, link.destination), key=lambda n: n not in items)
            twins.setdefault(outside, set()).add(inside)
    edges: list[_Link] = []
    kept: list[Association] = []
    for link in links:
        if link.kind != "precedes":
            if link.kind != "isChildOf":
                kept.append(
                    Association(
                        origin=link.origin, association_type=link.kind, destination=link.destination
                    )
                )
            continue
        ends = {"origin": link.origin, "destination": link.destination}
        for end, node in list(ends.items()):
            if node == framework_id:
                notes.refuse(link.at(end), "names the CFDocument; only items precede one another")
            elif node not in items and len(twins.get(node, ())) == 1:
                (twin,) = twins[node]
                notes.warn(
                    link.at(end),
                    f"'{node}' is outside this package; read as {items[twin].code or twin}, "
                    "its exactMatchOf here",
                )
                ends[end] = twin
        if all(node in items for node in ends.values()):
            edges.append(_Link(link.index, link.kind, ends["origin"], ends["destination"], None))
        elif framework_id not in ends.values():
            outside = next(end for end, node in ends.items() if node not in items)
            notes.warn(
                link.at(outside),
                f"'{ends[outside]}' is outside this package; kept as an association, "
                "not a prerequisite",
            )
            kept.append(
                Association(
                    origin=link.origin, association_type="precedes", destination=link.destination
                )
            )
    return edges, kept


def _elsewhere(node: str, framework_id: str | None, role: str) -> str:
    if node == framework_id:
        return f"names the CFDocument; only an item can be {role}"
    return "names an item not in this package"


def _refuse_cycles(
    kind: str, links: Sequence[_Link], labels: Mapping[str, str], notes: _Notes
) -> None:
    """Refuse each cycle met walking `links` depth-first, named by codes where items have them."""
    following: dict[str, list[_Link]] = {}
    for link in links:
        following.setdefault(link.origin, []).append(link)
    state: dict[str, bool] = {}  # True while on the current path, False once done
    for start in following:
        if start in state:
            continue
        path: list[_Link] = []
        stack = [(start, iter(following[start]))]
        state[start] = True
        while stack:
            node, onward = stack[-1]
            step = next(onward, None)
            if step is None:
                state[node] = False
                stack.pop()
                if path:
                    path.pop()
            elif step.destination not in state:
                state[step.destination] = True
                path.append(step)
                stack.append((step.destination, iter(following.get(step.destination, ()))))
            elif state[step.destination]:
                loop = _loop(path, step)
                names = " -> ".join([labels[lk.origin] for lk in loop] + [labels[step.destination]])
                notes.refuse(loop[0].at(), f"cycle: {names} (each {kind} the next)")


def _loop(path: Sequence[_Link], closing: _Link) -> list[_Link]:
    """The links of the cycle that `closing` makes with the current depth-first path."""
    origins = [lk.origin for lk in path]
    start = origins.index(closing.destination) if closing.destination in origins else len(path)
    return [*path[start:], closing]


def _ordered(
    items: Mapping[str, _Item], parents: Mapping[str, _Link], framework_id: str, notes: _Notes
) -> tuple[CompetencyDefinition, ...]:
    """Depth-first through the hierarchy; an item with no `isChildOf` sits at the top level."""
    children: dict[str | None, list[CompetencyDefinition]] = {}
    for item in items.values():
        link = parents.get(item.identifier)
        if link is None:
            notes.warn(f"CFItems[{item.index}]", "no isChildOf association; top level assumed")
        parent_id = None if link is None or link.destination == framework_id else link.destination
        children.setdefault(parent_id, []).append(
            CompetencyDefinition(
                competency_id=item.identifier,
                uri=item.uri,
                code=item.code,
                statement=item.statement,
                parent_id=parent_id,
                sequence=link.sequence if link else None,
                item_type=item.item_type,
                keywords=item.keywords,
            )
        )
    ordered: list[CompetencyDefinition] = []
    stack = sorted(children.get(None, []), key=_sibling_order, reverse=True)
    while stack:
        competency = stack.pop()
        ordered.append(competency)
        below = children.get(competency.competency_id, [])
        stack.extend(sorted(below, key=_sibling_order, reverse=True))
    return tuple(ordered)


def _sibling_order(c: CompetencyDefinition) -> tuple[Any, ...]:
    """By sequence, code, statement, identifier; an absent sequence or code comes last."""
    absent = c.sequence is None
    return (absent, c.sequence or 0, _natural(c.code), _natural(c.statement), c.competency_id)


def _natural(text: str | None) -> tuple[bool, tuple[tuple[str, int], ...], str]:
    """Sorts "1.2" before "1.10", and absent last."""
    if text is None:
        return (True, (), "")
    chunks = re.split(r"(\d+)", text)
    pairs = tuple(
        (chunks[i], int(chunks[i + 1]) if i + 1 < len(chunks) else -1)
        for i in range(0, len(chunks), 2)
    )
    return (False, pairs, text)


def _content_hash(
    title: str,
    competencies: Sequence[CompetencyDefinition],
    prerequisites: Sequence[Prerequisite],
    associations: Sequence[Association],
) -> str:
    canonical = {
        "title": title,
        "competencies": [c.model_dump(mode="json") for c in competencies],
        "prerequisites": [p.model_dump(mode="json") for p in prerequisites],
        "associations": [a.model_dump(mode="json") for a in associations],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _text(raw: Mapping[str, Any], key: str, where: str, notes: _Notes, why: str) -> str | None:
    """A string that must be there and not blank, else a problem at `where.key`."""
    value = raw.get(key)
    if isinstance(value, str) and value.strip():
        return value
    if value is None:
        rule = f"missing: {why}"
    elif isinstance(value, str):
        rule = f"blank: {why}"
    else:
        rule = f"{_described(value)} where CASE wants a string"
    notes.refuse(f"{where}.{key}", rule)
    return None


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _check_object(raw: Mapping[str, Any], kind_name: str, where: str, notes: _Notes) -> None:
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


def _check(value: object, shape: str, where: str, notes: _Notes) -> None:
    if value is None:
        if not shape.endswith("?"):
            notes.warn(where, f"null where CASE wants {_wanted(shape)}; read as absent")
        return
    if not any(_fits(value, one, where, notes) for one in shape.rstrip("?").split("|")):
        notes.warn(where, f"{_described(value)} where CASE wants {_wanted(shape)}; ignored")


def _fits(value: object, shape: str, where: str, notes: _Notes) -> bool:
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
            _check_object(value, shape, where, notes)
        return isinstance(value, dict)
    if shape == "int" and isinstance(value, str) and _INTEGER.fullmatch(value):
        notes.warn(where, f"a string ({value!r}) where CASE wants an integer; read as {int(value)}")
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


def _described(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "null"


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
