"""What the pathways service's handlers and routes share: learners' pathway states as last
read, and the one way to change them — load, decide, append with the log's sequence checked."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from eventlog.event_store import ConcurrencyConflict
from eventlog.hashchain import link_hash
from eventlog.service import ServiceBound
from pathways.domain.graph import Graph
from pathways.domain.pathway import DEFAULT_POLICY, GraphOf, LearnerPathways, evolve, fold
from pathways.projections.frameworks import framework_version
from pathways.projections.reference import policy_of
from shared_events import Envelope, Event, Timeline
from shared_events.envelope import derived_envelopes
from shared_events.events.pathways import FrameworkImported, PathwayPolicySet

SOURCE = "pathways"
ATTEMPTS = 5

Step = Callable[[LearnerPathways, PathwayPolicySet, GraphOf], list[Event]]
"""state, district policy, graphs → the events to append (none: nothing to do)."""


class UnknownFramework(LookupError):
    pass


@dataclass(frozen=True)
class Known:
    state: LearnerPathways
    sequence: int
    last_hash: str | None = None
    """Hash of the event at `sequence` (None: not known), passed as the next append's
    `prevhash` so the append need not read the timeline's last event first."""


class PathwaysContext(ServiceBound):
    def __init__(self, cached_learners: int = 10_000) -> None:
        super().__init__()
        self.timelines: OrderedDict[tuple[str, str], Known] = OrderedDict()
        self.graphs: dict[tuple[str, str, int], Graph] = {}
        self._cached_learners = cached_learners

    async def load(self, district: str, learner_id: str) -> Known:
        """The learner's pathways as the log has them now (a cached fold when still current)."""
        timeline = Timeline("pathways", district, learner_id)
        store = self.service.store
        last = await store.last_sequence(timeline)
        known = self.timelines.get((district, learner_id))
        if known is not None and known.sequence == last:
            return known
        stored = await store.read(timeline) if last else []
        at_last = [link_hash(e.body) for e in stored if e.sequence == last]
        state = fold(learner_id, (e.envelope.data for e in stored))
        known = Known(state, last, at_last[0] if at_last else None)
        self._remember(district, learner_id, known)
        return known

    def _remember(self, district: str, learner_id: str, known: Known) -> None:
        self.timelines[(district, learner_id)] = known
        self.timelines.move_to_end((district, learner_id))
        while len(self.timelines) > self._cached_learners:
            self.timelines.popitem(last=False)

    async def policy(self, district: str) -> PathwayPolicySet:
        async with self.service.sessions()() as session:
            return await policy_of(session, district) or DEFAULT_POLICY

    async def policies(self, districts: Iterable[str]) -> dict[str, PathwayPolicySet]:
        """The policies of several districts, read at once (a batch of decisions)."""
        async with self.service.sessions()() as session:
            return {d: await policy_of(session, d) or DEFAULT_POLICY for d in set(districts)}

    async def framework(
        self, district: str, framework_id: str, version: int | None = None
    ) -> FrameworkImported:
        found = await self._framework(district, framework_id, version)
        if found is None:
            # Perhaps imported a moment ago: look again once the read model has caught up.
            await self.service.projector("pathways-frameworks").wait_caught_up()
            found = await self._framework(district, framework_id, version)
        if found is None:
            raise UnknownFramework(framework_id)
        self.graphs.setdefault((district, found.framework_id, found.version), Graph.of(found))
        return found

    async def _framework(
        self, district: str, framework_id: str, version: int | None
    ) -> FrameworkImported | None:
        async with self.service.sessions()() as session:
            return await framework_version(session, district, framework_id, version)

    async def graph(self, district: str, framework_id: str, version: int) -> Graph:
        key = (district, framework_id, version)
        if key not in self.graphs:
            await self.framework(district, framework_id, version)
        return self.graphs[key]

    async def graphs_for(
        self, district: str, state: LearnerPathways, extra: Iterable[tuple[str, int]] = ()
    ) -> GraphOf:
        wanted = {(p.framework_id, p.version) for p in state.pathways.values()} | set(extra)
        for framework_id, version in wanted:
            await self.graph(district, framework_id, version)
        return lambda framework_id, version: self.graphs[(district, framework_id, version)]

    async def settle(
        self,
        district: str,
        learner_id: str,
        step: Step,
        cause: str,
        extra: Sequence[tuple[str, int]] = (),
        policy: PathwayPolicySet | None = None,
    ) -> list[Event]:
        """Run `step` on the learner's current state and append what it decides (see
        `settle_all`); raises what the step raises."""
        [failed], decided = await self._settle(district, learner_id, [(step, cause)], extra, policy)
        if failed is not None:
            raise failed
        return decided

    async def settle_all(
        self,
        district: str,
        learner_id: str,
        steps: Sequence[tuple[Step, str]],
        extra: Sequence[tuple[str, int]] = (),
        policy: PathwayPolicySet | None = None,
    ) -> list[Exception | None]:
        """Run the steps in order, each on the state the ones before it left, and append what
        they decide in one append with the learner's last sequence checked; on a conflict
        (another replica moved first, or the state this replica remembered is behind) read
        again and decide again. One result per step: None, or why it failed — a failed step's
        later steps fail with it, so they come back behind it, while what the steps before it
        decided is appended. Event ids derive from each step's cause, so a retried cause that
        decides the same again is a duplicate the log drops. `policy` saves a read when the
        caller has the district's policy."""
        results, _ = await self._settle(district, learner_id, steps, extra, policy)
        return results

    async def _settle(
        self,
        district: str,
        learner_id: str,
        steps: Sequence[tuple[Step, str]],
        extra: Sequence[tuple[str, int]],
        policy: PathwayPolicySet | None,
    ) -> tuple[list[Exception | None], list[Event]]:
        """`settle_all`'s results, and the events the steps decided."""
        timeline = Timeline("pathways", district, learner_id)
        policy = policy or await self.policy(district)
        for attempt in range(ATTEMPTS):
            # The state remembered is tried first: the append's sequence check tells if it is
            # behind the log (a learner's decisions come to the replica holding their
            # partition, so it rarely is).
            remembered = self.timelines.get((district, learner_id)) if attempt == 0 else None
            known = remembered or await self.load(district, learner_id)
            state, events, envelopes, results = await self._decide_all(
                district, learner_id, known.state, steps, extra, policy
            )
            if not envelopes:
                return results, events
            try:
                appended = await self.service.store.append(
                    timeline, envelopes, known.sequence, prevhash=known.last_hash
                )
            except ConcurrencyConflict:
                self.timelines.pop((district, learner_id), None)
                if attempt + 1 == ATTEMPTS:
                    raise
                continue
            if not appended.already_stored:
                self._remember(
                    district, learner_id, Known(state, appended.last_sequence, appended.last_hash)
                )
            return results, events
        raise AssertionError("unreachable")

    async def _decide_all(
        self,
        district: str,
        learner_id: str,
        state: LearnerPathways,
        steps: Sequence[tuple[Step, str]],
        extra: Sequence[tuple[str, int]],
        policy: PathwayPolicySet,
    ) -> tuple[LearnerPathways, list[Event], list[Envelope], list[Exception | None]]:
        """The state the steps leave, what they decided (as events and as envelopes), and
        each step's result."""
        decided: list[Event] = []
        envelopes: list[Envelope] = []
        results: list[Exception | None] = []
        failed: Exception | None = None
        for step, cause in steps:
            if failed is None:
                try:
                    graph_of = await self.graphs_for(district, state, extra)
                    events = step(state, policy, graph_of)
                except Exception as exc:
                    failed = exc
            if failed is not None:
                results.append(failed)
                continue
            for event in events:
                state = evolve(state, event)
            envelopes += derived_envelopes(
                events, cause=cause, source=SOURCE, subject=learner_id, district=district
            )
            decided += events
            results.append(None)
        return state, decided, envelopes, results

    async def append_setting(self, district: str, event: Event) -> str:
        timeline = Timeline("pathways", district, "settings")
        envelope = Envelope.wrap(event, source=SOURCE, subject="settings", district=district)
        await self.service.store.append(timeline, [envelope])
        return envelope.id
