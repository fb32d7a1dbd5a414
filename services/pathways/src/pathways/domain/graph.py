"""One version of a competency framework as pathways read it: hierarchy, prerequisites, order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared_events.events.pathways import FrameworkImported

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> frozenset[str]:
    """Lower-case words of `text`, for matching a learner's interests to competencies."""
    return frozenset(w.casefold() for w in _WORD.findall(text))


@dataclass(frozen=True)
class Graph:
    framework_id: str
    version: int
    order: tuple[str, ...]
    """Every competency, parents before children, siblings in the framework's order."""
    parent: Mapping[str, str | None]
    children: Mapping[str, tuple[str, ...]]
    prerequisites: Mapping[str, tuple[str, ...]]
    """Competency → the ones that must be mastered first (CASE `precedes`)."""
    labels: Mapping[str, str]
    """Competency → its code, or its statement when it has none (for people reading a report)."""
    topics: Mapping[str, frozenset[str]]
    """Competency → the words of its statement, code, type and keywords."""

    @classmethod
    def of(cls, framework: FrameworkImported) -> Graph:
        children: dict[str, list[str]] = {c.competency_id: [] for c in framework.competencies}
        for item in framework.competencies:
            if item.parent_id in children:
                children[item.parent_id].append(item.competency_id)
        prerequisites: dict[str, list[str]] = {}
        for edge in framework.prerequisites:
            prerequisites.setdefault(edge.after, []).append(edge.before)
        return cls(
            framework_id=framework.framework_id,
            version=framework.version,
            order=tuple(c.competency_id for c in framework.competencies),
            parent={c.competency_id: c.parent_id for c in framework.competencies},
            children={k: tuple(v) for k, v in children.items()},
            prerequisites={k: tuple(v) for k, v in prerequisites.items()},
            labels={c.competency_id: c.code or c.statement for c in framework.competencies},
            topics={
                c.competency_id: words(
                    " ".join([c.statement, c.code or "", c.item_type or "", *c.keywords])
                )
                for c in framework.competencies
            },
        )

    def __contains__(self, competency_id: object) -> bool:
        return competency_id in self.parent

    def scope(self, targets: Iterable[str] = ()) -> tuple[str, ...]:
        """The competencies a pathway toward `targets` holds, in framework order: the targets,
        everything under them (they roll up from it) and every prerequisite of any of those,
        transitively. No targets: the whole framework."""
        wanted = list(targets)
        if not wanted:
            return self.order
        held: set[str] = set()
        while wanted:
            competency = wanted.pop()
            if competency in held:
                continue
            held.add(competency)
            wanted.extend(self.children.get(competency, ()))
            wanted.extend(self.prerequisites.get(competency, ()))
        return tuple(c for c in self.order if c in held)

    def is_leaf(self, competency_id: str) -> bool:
        return not self.children.get(competency_id)
