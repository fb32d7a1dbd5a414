"""Shared pieces of the profiles service tests: a running service, zipped bundles, tokens."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

from profiles.roster.bundle import RosterBundle
from profiles.roster.reader import read_bundle

DISTRICT = "d1"


def zipped(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class People:
    """Who is who in a bundle, by the pseudonymous ids the service gives them."""

    bundle: RosterBundle
    ids: object

    def learner(self, sis_id: str) -> str:
        return self.ids.learner_id(DISTRICT, sis_id)  # type: ignore[attr-defined]

    def person(self, sis_id: str) -> str:
        return self.ids.person_id(DISTRICT, sis_id)  # type: ignore[attr-defined]

    def class_id(self, sis_id: str) -> str:
        return self.ids.class_id(DISTRICT, sis_id)  # type: ignore[attr-defined]

    def classes_of(self, sis_id: str, role: str) -> list[str]:
        return sorted(
            e.class_id
            for e in self.bundle.enrollments.values()
            if e.user_id == sis_id and e.role == role
        )

    def guardians_of(self, student_sis_id: str) -> list[str]:
        student = self.bundle.users[student_sis_id]
        linked = set(student.agent_ids) | {
            u.sourced_id for u in self.bundle.guardians.values() if student_sis_id in u.agent_ids
        }
        return sorted(
            g for g in linked if self.bundle.users[g].role in {"parent", "guardian", "relative"}
        )


def people(files: Mapping[str, bytes], ids: object) -> People:
    return People(read_bundle(files), ids)
