"""Deciding what a roster import changes: only the differences from what the log knows.

The bundle is a full snapshot of the district's roster. People new to the log are registered;
people whose identity changed are updated; links and enrollments are added or withdrawn to match
the snapshot. People missing from a snapshot are left as they are (withdrawal of a person is a
decision for the district, not an inference from a file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from profiles.roster.bundle import RosterBundle, RosterUser

PersonKind = Literal["learner", "staff", "guardian"]
GUARDIAN_ROLES = frozenset({"parent", "guardian", "relative"})
STAFF_ROLES = frozenset({"teacher", "administrator", "aide", "proctor"})


class Pseudonymizer(Protocol):
    """Keyed, stable ids and digests: the same input always gives the same token."""

    def learner_id(self, district: str, external_id: str) -> str: ...
    def person_id(self, district: str, external_id: str) -> str: ...
    def class_id(self, district: str, external_id: str) -> str: ...
    def digest(self, value: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class KnownRoster:
    """What the log already says about a district's roster."""

    digests: Mapping[str, str | None] = field(default_factory=dict)  # person_id → identity digest
    links: frozenset[tuple[str, str]] = frozenset()  # (learner_id, guardian_id)
    enrollments: frozenset[tuple[str, str]] = frozenset()  # (person_id, class_id)
    classes: Mapping[str, str] = field(default_factory=dict)  # class_id → digest
    erased: frozenset[str] = frozenset()  # erased people are never registered again


@dataclass(frozen=True)
class Register:
    person_id: str
    kind: PersonKind
    role: str
    identity: dict[str, Any]
    digest: str
    school_ids: tuple[str, ...] = ()
    grade_levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpdateIdentity:
    person_id: str
    identity: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class Link:
    learner_id: str
    guardian_id: str
    relationship: str


@dataclass(frozen=True)
class Unlink:
    learner_id: str
    guardian_id: str


@dataclass(frozen=True)
class ListClass:
    class_id: str
    title: str
    school_id: str | None
    class_code: str | None
    digest: str


@dataclass(frozen=True)
class Enroll:
    person_id: str
    class_id: str
    role: str


@dataclass(frozen=True)
class Withdraw:
    person_id: str
    class_id: str


Change = Register | UpdateIdentity | Link | Unlink | ListClass | Enroll | Withdraw


def identity_of(user: RosterUser) -> dict[str, Any]:
    """The personal data of a roster user: sealed in events, never in clear text."""
    return {
        "sis_id": user.sourced_id,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "middle_name": user.middle_name,
        "username": user.username,
        "identifier": user.identifier,
        "email": user.email,
        "sms": user.sms,
        "phone": user.phone,
        "user_ids": list(user.user_ids),
    }


def kind_of(user: RosterUser) -> PersonKind | None:
    if user.role == "student":
        return "learner"
    if user.role in GUARDIAN_ROLES:
        return "guardian"
    if user.role in STAFF_ROLES:
        return "staff"
    return None


def plan_import(
    district: str, bundle: RosterBundle, known: KnownRoster, ids: Pseudonymizer
) -> list[Change]:
    """Every change that makes the log agree with `bundle`, and nothing else."""
    changes: list[Change] = []
    person: dict[str, str] = {}
    for user in bundle.users.values():
        kind = kind_of(user)
        if kind is None or user.status == "tobedeleted":
            continue
        pid = (ids.learner_id if kind == "learner" else ids.person_id)(district, user.sourced_id)
        if pid in known.erased:
            continue
        person[user.sourced_id] = pid
        identity = identity_of(user)
        digest = ids.digest(identity)
        if pid not in known.digests:
            schools = tuple(o for o in user.org_ids if o)
            changes.append(Register(pid, kind, user.role, identity, digest, schools, user.grades))
        elif known.digests[pid] != digest:
            changes.append(UpdateIdentity(pid, identity, digest))

    classes: dict[str, str] = {}
    for section in bundle.classes.values():
        if section.status == "tobedeleted":
            continue
        cid = ids.class_id(district, section.sourced_id)
        classes[section.sourced_id] = cid
        listing = {"title": section.title, "school": section.school_id, "code": section.class_code}
        digest = ids.digest(listing)
        if known.classes.get(cid) != digest:
            changes.append(
                ListClass(cid, section.title, section.school_id, section.class_code, digest)
            )

    wanted_links = _links(bundle, person)
    for learner_id, guardian_id, relationship in sorted(wanted_links):
        if (learner_id, guardian_id) not in known.links:
            changes.append(Link(learner_id, guardian_id, relationship))
    kept = {(lrn, grd) for lrn, grd, _ in wanted_links}
    changes += [Unlink(lrn, grd) for lrn, grd in sorted(known.links - kept)]

    wanted: dict[tuple[str, str], str] = {}
    for enrollment in bundle.enrollments.values():
        if enrollment.status == "tobedeleted":
            continue
        member = person.get(enrollment.user_id)
        listed = classes.get(enrollment.class_id)
        if member and listed:
            wanted[(member, listed)] = enrollment.role
    for (pid, cid), role in sorted(wanted.items()):
        if (pid, cid) not in known.enrollments:
            changes.append(Enroll(pid, cid, role))
    changes += [Withdraw(pid, cid) for pid, cid in sorted(known.enrollments - set(wanted))]
    return changes


def _links(bundle: RosterBundle, person: dict[str, str]) -> set[tuple[str, str, str]]:
    """(learner, guardian, relationship), from agentSourcedIds on either side."""
    links: set[tuple[str, str, str]] = set()
    for user in bundle.users.values():
        for agent_id in user.agent_ids:
            agent = bundle.users.get(agent_id)
            if agent is None:
                continue
            pair = (user, agent) if user.role == "student" else (agent, user)
            student, guardian = pair
            if student.role != "student" or guardian.role not in GUARDIAN_ROLES:
                continue
            if student.sourced_id in person and guardian.sourced_id in person:
                links.add((person[student.sourced_id], person[guardian.sourced_id], guardian.role))
    return links
