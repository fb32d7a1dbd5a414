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
from collections.abc import Sequence
from dataclasses import dataclass

from pathways.domain.case_associations import ASSOCIATION_TYPES, read_links
from pathways.domain.case_items import read_items
from pathways.domain.case_problems import CaseRefused, Notes, Problem
from pathways.domain.case_shape import check_object, required_text
from pathways.domain.case_structure import (
    ordered_competencies,
    parent_links,
    prerequisite_links,
    refuse_cycles,
)
from shared_events.events.pathways import (
    Association,
    CompetencyDefinition,
    FrameworkChanges,
    Prerequisite,
)
from shared_events.subjects import TOKEN

__all__ = [
    "ASSOCIATION_TYPES",
    "CaseRefused",
    "ParsedFramework",
    "Problem",
    "changes_between",
    "parse_package",
]


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


def parse_package(package: object) -> ParsedFramework:
    """Read a CFPackage; raise CaseRefused naming every problem when it cannot be imported."""
    notes = Notes()
    document = package.get("CFDocument") if isinstance(package, dict) else None
    if not isinstance(package, dict) or not isinstance(document, dict):
        raise CaseRefused([Problem("CFDocument", "missing: not a CASE CFPackage")])
    check_object(package, "package", "", notes)
    check_object(document, "document", "CFDocument", notes)
    framework_id = required_text(
        document, "identifier", "CFDocument", notes, "a framework needs one"
    )
    if framework_id is not None and not TOKEN.match(framework_id):
        notes.refuse("CFDocument.identifier", "not usable as a subject token (A-Z a-z 0-9 _ -)")
    title = required_text(document, "title", "CFDocument", notes, "a framework needs one")
    items = read_items(package.get("CFItems"), framework_id, notes)
    links = read_links(package, notes) if items else []  # with no items, every end is unknown
    parents = parent_links(framework_id, items, links, notes)
    prerequisites, associations = prerequisite_links(framework_id, items, links, notes)
    associations += [
        lk.association()
        for lk in links
        if lk.kind == "isChildOf" and parents.get(lk.origin) not in (None, lk)
    ]
    labels = {identifier: item.label for identifier, item in items.items()}
    refuse_cycles(
        "isChildOf", [lk for lk in parents.values() if lk.destination in items], labels, notes
    )
    refuse_cycles("precedes", prerequisites, labels, notes)
    if notes.problems or framework_id is None or title is None:
        raise CaseRefused(notes.problems)
    competencies = ordered_competencies(items, parents, framework_id, notes)
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
