"""Resolve what a submission names — district, competency, policy — against the read models.

Districts, competencies, alignments and policies change rarely and are asked about for every
item, so the intake keeps them in memory as a `Reference`, reloaded whenever the checkpoint of
one of their projections has moved. A lookup that fails is asked again after the read models have
caught up with the log, so a district configured or a framework imported a moment ago is not
refused as unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import checkpoints
from evidence.context import EvidenceContext
from evidence.domain.levels import LevelScale
from evidence.domain.policies import DEFAULT_POLICY, Policy
from evidence.ingest.observation import LearnerRef, Observation, Rejection
from evidence.ingest.xapi_agents import identifier
from evidence.projections.reference import (
    CompetenciesProjection,
    SettingsProjection,
    alignments,
    competencies,
    districts,
    learners,
    policies,
)

WATCHED = (CompetenciesProjection.name, SettingsProjection.name)


@dataclass(frozen=True)
class District:
    district: str
    partners: frozenset[str]
    sis_home_pages: frozenset[str]


@dataclass(frozen=True)
class Reference:
    """The reference read models as of `version` (their projections' checkpoints)."""

    version: tuple[int, ...]
    districts: tuple[District, ...] = ()
    refs: dict[tuple[str, str], str] = field(default_factory=dict)
    frameworks: dict[tuple[str, str], str] = field(default_factory=dict)
    aligned: dict[tuple[str, str], str] = field(default_factory=dict)
    policies: dict[tuple[str, str, str], Policy] = field(default_factory=dict)

    def district_of(self, partner: str, observation: Observation, prefix: str) -> str:
        allowed = [d for d in self.districts if partner in d.partners]
        if observation.district is not None:
            if not any(d.district == observation.district for d in self.districts):
                raise Rejection(f"{prefix}district", f"unknown district {observation.district!r}")
            if not any(d.district == observation.district for d in allowed):
                raise Rejection(
                    f"{prefix}district",
                    f"partner {partner!r} may not send evidence for {observation.district!r}",
                )
            return observation.district
        home = observation.learner.home_page
        by_home = [d.district for d in allowed if home and home in d.sis_home_pages]
        if len(by_home) == 1:
            return by_home[0]
        if len(allowed) == 1 and not by_home:
            return allowed[0].district
        raise Rejection(
            f"{prefix}actor.account.homePage",
            f"cannot tell the district: {home!r} is not a SIS home page of a district "
            f"that partner {partner!r} sends for",
        )

    def competency_of(self, district: str, observation: Observation, prefix: str) -> str:
        for ref in observation.competency_refs:
            found = self.refs.get((district, ref)) or self.aligned.get((district, ref))
            if found:
                return found
        named = ", ".join(repr(r) for r in observation.competency_refs[:3]) or "nothing"
        raise Rejection(
            f"{prefix}competency",
            f"unknown competency: {named} is neither a competency of an imported framework "
            "nor an aligned activity",
        )

    def policy_for(self, district: str, competency_id: str) -> Policy:
        """The most specific policy in force: competency, then framework, then district."""
        framework = self.frameworks.get((district, competency_id), "")
        for scope, scope_id in (
            ("competency", competency_id),
            ("framework", framework),
            ("district", district),
        ):
            found = self.policies.get((district, scope, scope_id))
            if found is not None:
                return found
        return DEFAULT_POLICY


@dataclass(frozen=True)
class Resolved:
    district: str
    competency_id: str
    learner_id: str


async def reference(ctx: EvidenceContext) -> Reference:
    """The cached reference, reloaded when its projections have moved since it was read."""
    async with ctx.service.sessions()() as session:
        rows = await session.execute(
            select(checkpoints.c.projection, checkpoints.c.last_sequence).where(
                checkpoints.c.projection.in_(WATCHED)
            )
        )
        at = {str(name): seq for name, seq in rows.all()}
        version = tuple(int(at.get(name, 0)) for name in WATCHED)
        cached: Reference | None = ctx.reference
        if cached is None or cached.version != version:
            cached = await _load(session, version)
            ctx.reference = cached
    return cached


async def resolve(
    ctx: EvidenceContext, ref: Reference, partner: str, observation: Observation, prefix: str
) -> Resolved:
    """District, competency and learner of an observation; a miss is asked again once the read
    models have caught up, and that second answer stands."""
    try:
        district = ref.district_of(partner, observation, prefix)
        competency = ref.competency_of(district, observation, prefix)
    except Rejection:
        await ctx.reference_caught_up()
        ref = await reference(ctx)
        district = ref.district_of(partner, observation, prefix)
        competency = ref.competency_of(district, observation, prefix)
    return Resolved(district, competency, learner_id_of(ctx, district, observation.learner))


def learner_id_of(ctx: EvidenceContext, district: str, learner: LearnerRef) -> str:
    if learner.sis_id is not None:
        return ctx.ids.learner_id(district, learner.sis_id)
    # Not a district id (an email, an openid): pseudonymised all the same, never registered.
    return ctx.ids.learner_id(district, f"ifi:{learner.other}")


def agent_key(ctx: EvidenceContext, actor: Any) -> str | None:
    """A pseudonym of an Agent's identifier (mbox, account…), to find its statements by."""
    try:
        return ctx.ids.learner_id("xapi-agent", identifier(actor))
    except (ValueError, KeyError, TypeError):
        return None


async def learner_statuses(ctx: EvidenceContext, learner_ids: Iterable[str]) -> dict[str, str]:
    """active or erased for each learner the read model knows; a learner missing from the
    answer is asked again after the read model has caught up."""
    wanted = set(learner_ids)
    found = await _statuses(ctx, wanted)
    if wanted - found.keys():
        await ctx.reference_caught_up()
        found |= await _statuses(ctx, wanted - found.keys())
    return found


async def learner_status(ctx: EvidenceContext, learner_id: str) -> str | None:
    """active or erased as far as the read model knows now; None when never registered."""
    return (await _statuses(ctx, {learner_id})).get(learner_id)


async def _statuses(ctx: EvidenceContext, learner_ids: set[str]) -> dict[str, str]:
    if not learner_ids:
        return {}
    async with ctx.service.sessions()() as session:
        rows = await session.execute(
            select(learners.c.learner_id, learners.c.status).where(
                learners.c.learner_id.in_(sorted(learner_ids))
            )
        )
        return {str(k): str(v) for k, v in rows.all()}


async def _load(session: AsyncSession, version: tuple[int, ...]) -> Reference:
    def rows(table: Any) -> Any:
        return session.execute(select(table))

    found_districts = tuple(
        District(r["district"], frozenset(r["partners"]), frozenset(r["sis_home_pages"]))
        for r in (await rows(districts)).mappings()
    )
    refs: dict[tuple[str, str], str] = {}
    frameworks: dict[tuple[str, str], str] = {}
    for r in (await rows(competencies)).mappings():
        refs[(r["district"], r["ref"])] = r["competency_id"]
        frameworks[(r["district"], r["competency_id"])] = r["framework_id"]
    aligned = {
        (r["district"], r["activity_id"]): r["competency_id"]
        for r in (await rows(alignments)).mappings()
    }
    found_policies = {
        (r["district"], r["scope"], r["scope_id"]): Policy(
            policy_id=r["policy_id"],
            method=r["method"],
            version=r["version"],
            params=r["params"],
            mastery_threshold=r["mastery_threshold"],
            scale=LevelScale(tuple(r["level_names"]), tuple(r["level_thresholds"])),
        )
        for r in (await rows(policies)).mappings()
    }
    return Reference(version, found_districts, refs, frameworks, aligned, found_policies)
