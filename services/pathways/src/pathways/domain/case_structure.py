"""What a pathway stands on in a package: each item's one parent, the prerequisites between
items, no cycle in either, and the competencies in the order of the hierarchy."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pathways.domain.case_associations import Link
from pathways.domain.case_items import Item
from pathways.domain.case_problems import Notes
from shared_events.events.pathways import Association, CompetencyDefinition


def parent_links(
    framework_id: str | None, items: Mapping[str, Item], links: Iterable[Link], notes: Notes
) -> dict[str, Link]:
    """Each item's one `isChildOf`: the lowest sequenceNumber (none is last), then first in file."""
    options: dict[str, list[Link]] = {}
    for link in links:
        if link.kind != "isChildOf":
            continue
        if link.origin not in items:
            if link.origin == framework_id:
                notes.refuse(link.at("origin"), "names the CFDocument; only an item can be a child")
            else:
                notes.refuse(link.at("origin"), "names an item not in this package")
        if link.destination not in items and framework_id not in (None, link.destination):
            # (with no document identifier, already refused, any other node may be the document)
            notes.refuse(link.at("destination"), "names neither an item here nor the CFDocument")
        elif link.origin in items:
            options.setdefault(link.origin, []).append(link)
    parents: dict[str, Link] = {}
    for child, links_of_child in options.items():
        kept = min(links_of_child, key=lambda lk: (lk.sequence is None, lk.sequence or 0, lk.index))
        parents[child] = kept
        if len(links_of_child) > 1:
            notes.warn(
                ", ".join(lk.at() for lk in links_of_child),
                f"{items[child].label} has {len(links_of_child)} isChildOf associations; its "
                f"parent is from {kept.at()} (lowest sequenceNumber, then first in file), the "
                "others are kept as associations only",
            )
    return parents


def prerequisite_links(
    framework_id: str | None, items: Mapping[str, Item], links: Sequence[Link], notes: Notes
) -> tuple[list[Link], list[Association]]:
    """`precedes` between items of the package, and every other association but `isChildOf`,
    kept as it is."""
    twins: dict[str, set[str]] = {}
    for link in links:
        if link.kind == "exactMatchOf" and (link.origin in items) != (link.destination in items):
            inside, outside = sorted((link.origin, link.destination), key=lambda n: n not in items)
            twins.setdefault(outside, set()).add(inside)
    edges: list[Link] = []
    kept: list[Association] = []
    for link in links:
        if link.kind != "precedes":
            if link.kind != "isChildOf":
                kept.append(link.association())
            continue
        ends = {"origin": link.origin, "destination": link.destination}
        for end, node in list(ends.items()):
            if node == framework_id:
                notes.refuse(link.at(end), "names the CFDocument; only items precede one another")
            elif node not in items and len(twins.get(node, ())) == 1:
                (twin,) = twins[node]
                notes.warn(
                    link.at(end),
                    f"'{node}' is outside this package; read as {items[twin].label}, "
                    "its exactMatchOf here",
                )
                ends[end] = twin
        if all(node in items for node in ends.values()):
            edges.append(Link(link.index, link.kind, ends["origin"], ends["destination"], None))
        elif framework_id not in ends.values():
            outside = next(end for end, node in ends.items() if node not in items)
            notes.warn(
                link.at(outside),
                f"'{ends[outside]}' is outside this package; kept as an association, "
                "not a prerequisite",
            )
            kept.append(link.association())
    return edges, kept


def refuse_cycles(
    kind: str, links: Sequence[Link], labels: Mapping[str, str], notes: Notes
) -> None:
    """Refuse each cycle met walking `links` depth-first, named by codes where items have them."""
    following: dict[str, list[Link]] = {}
    for link in links:
        following.setdefault(link.origin, []).append(link)
    state: dict[str, bool] = {}  # True while on the current path, False once done
    for start in following:
        if start in state:
            continue
        path: list[Link] = []
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


def _loop(path: Sequence[Link], closing: Link) -> list[Link]:
    """The links of the cycle that `closing` makes with the current depth-first path."""
    origins = [lk.origin for lk in path]
    start = origins.index(closing.destination) if closing.destination in origins else len(path)
    return [*path[start:], closing]


def ordered_competencies(
    items: Mapping[str, Item], parents: Mapping[str, Link], framework_id: str, notes: Notes
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
