"""What a reader sees of a pathway: each competency's state and the suggested next steps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pathways.domain.graph import Graph, words
from pathways.domain.pathway import LearnerPathways, Pathway
from pathways.domain.standing import standing
from shared_events.events.pathways import PathwayPolicySet


@dataclass(frozen=True)
class CompetencyView:
    competency_id: str
    state: str
    """mastered, waived, rolled_up, in_progress, ready or locked."""
    level: str | None
    score: float | None
    waiting_for: tuple[str, ...] = ()


def view(
    state: LearnerPathways, pathway: Pathway, graph: Graph, policy: PathwayPolicySet
) -> list[CompetencyView]:
    """Each competency of the pathway with its state, in framework order. Ready to learn: not
    done, every prerequisite done (the outer fringe); in progress: the same, with evidence."""
    done = standing(state, pathway, graph, policy)
    views = []
    for competency in pathway.competencies:
        seen = state.observed.get(competency)
        level, score = (seen.level, seen.score) if seen else (None, None)
        if competency in done:
            views.append(CompetencyView(competency, done[competency], level, score))
            continue
        waiting = tuple(b for b in graph.prerequisites.get(competency, ()) if b not in done)
        if waiting:
            views.append(CompetencyView(competency, "locked", level, score, waiting))
        else:
            views.append(
                CompetencyView(competency, "in_progress" if seen else "ready", level, score)
            )
    return views


def suggested(views: Iterable[CompetencyView], graph: Graph, interests: Iterable[str]) -> list[str]:
    """The ready set in the order to suggest it: work already started first, then the
    competencies whose topics meet more of the learner's interests, then framework order.
    Only ready competencies are ever suggested, so no prerequisite is skipped; parents are
    left out (they roll up from their children)."""
    liked = [words(i) for i in interests]
    rank = {c: n for n, c in enumerate(graph.order)}

    def key(item: CompetencyView) -> tuple[int, int, int]:
        topics = graph.topics.get(item.competency_id, frozenset())
        matches = sum(1 for interest in liked if interest and interest <= topics)
        return (item.state != "in_progress", -matches, rank.get(item.competency_id, 0))

    ready = [
        v for v in views if v.state in ("ready", "in_progress") and graph.is_leaf(v.competency_id)
    ]
    return [v.competency_id for v in sorted(ready, key=key)]
