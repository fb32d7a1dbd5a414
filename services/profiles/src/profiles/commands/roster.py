"""Import a OneRoster 1.1 bundle: read and validate it whole, then append only the differences."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from profiles.commands.appending import Planned, append_all
from profiles.context import ProfilesContext
from profiles.domain import roster as plan
from profiles.projections.directory_reads import known_roster
from profiles.roster.reader import read_bundle
from shared_events import Event, Timeline
from shared_events.events import profiles as ev


@dataclass(frozen=True)
class RosterImported:
    changes: dict[str, int]
    appended: int
    warnings: list[str]


def bundle_digest(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


async def import_roster(
    ctx: ProfilesContext, district: str, files: Mapping[str, bytes]
) -> RosterImported:
    """Raises InvalidRoster (nothing appended) when the bundle breaks any rule."""
    bundle = read_bundle(files)
    await ctx.directory_caught_up()
    async with ctx.service.sessions()() as session:
        known = await known_roster(session, district, ctx.ids)
    changes = plan.plan_import(district, bundle, known, ctx.ids)
    cause = f"roster/{district}/{bundle_digest(files)}"
    planned = [await _planned(ctx, district, change, cause) for change in changes]
    appended = await append_all(ctx.service.store, planned, causationid=cause)
    return RosterImported(
        changes=dict(Counter(type(c).__name__ for c in changes)),
        appended=appended,
        warnings=[str(w) for w in bundle.warnings],
    )


async def _planned(ctx: ProfilesContext, district: str, change: plan.Change, cause: str) -> Planned:
    def on(entity: str, event: Event, key: str, first: bool = False) -> Planned:
        return Planned(Timeline("profiles", district, entity), event, f"{cause}/{key}", first)

    match change:
        case plan.Register(kind="learner"):
            sealed = await ctx.sealer.seal(change.person_id, change.identity)
            event: Event = ev.LearnerRegistered(
                learner_id=change.person_id,
                school_id=change.school_ids[0] if change.school_ids else None,
                grade_levels=change.grade_levels,
                identity=sealed,
                identity_digest=change.digest,
            )
            return on(change.person_id, event, f"register/{change.person_id}", first=True)
        case plan.Register(kind="staff"):
            sealed = await ctx.sealer.seal(change.person_id, change.identity)
            event = ev.StaffRegistered(
                person_id=change.person_id,
                role=change.role,
                school_ids=change.school_ids,
                identity=sealed,
                identity_digest=change.digest,
            )
            return on(change.person_id, event, f"register/{change.person_id}", first=True)
        case plan.Register():
            sealed = await ctx.sealer.seal(change.person_id, change.identity)
            event = ev.GuardianRegistered(
                person_id=change.person_id, identity=sealed, identity_digest=change.digest
            )
            return on(change.person_id, event, f"register/{change.person_id}", first=True)
        case plan.UpdateIdentity():
            sealed = await ctx.sealer.seal(change.person_id, change.identity)
            event = ev.IdentityUpdated(
                person_id=change.person_id, identity=sealed, identity_digest=change.digest
            )
            return on(change.person_id, event, f"identity/{change.person_id}/{change.digest}")
        case plan.Link():
            event = ev.GuardianLinked(
                learner_id=change.learner_id,
                guardian_id=change.guardian_id,
                relationship=change.relationship,
            )
            return on(change.learner_id, event, f"link/{change.learner_id}/{change.guardian_id}")
        case plan.Unlink():
            event = ev.GuardianUnlinked(
                learner_id=change.learner_id, guardian_id=change.guardian_id
            )
            return on(change.learner_id, event, f"unlink/{change.learner_id}/{change.guardian_id}")
        case plan.ListClass():
            event = ev.ClassListed(
                class_id=change.class_id,
                title=change.title,
                school_id=change.school_id,
                class_code=change.class_code,
            )
            return on(change.class_id, event, f"class/{change.class_id}/{change.digest}")
        case plan.Enroll():
            event = ev.ClassEnrolled(
                person_id=change.person_id,
                class_id=change.class_id,
                role=change.role,
            )
            return on(change.person_id, event, f"enroll/{change.person_id}/{change.class_id}")
        case plan.Withdraw():
            event = ev.ClassWithdrawn(person_id=change.person_id, class_id=change.class_id)
            return on(change.person_id, event, f"withdraw/{change.person_id}/{change.class_id}")
    raise TypeError(f"unplanned change {change!r}")
