"""Reading a OneRoster 1.1 CSV package, from a zip or a folder, into a RosterBundle or a refusal."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import TypeVar

from profiles.roster import records
from profiles.roster.bundle import InvalidRoster, RosterBundle, RosterProblem
from profiles.roster.manifest import REQUIRED_FILES, VERSION, Manifest, read_manifest
from profiles.roster.records import Indexed, index
from profiles.roster.references import check_references
from profiles.roster.rules import LAYOUTS, Cells
from profiles.roster.table import Findings, decode, read_table

T = TypeVar("T")
# A 1.1 package has at most 14 files: room for vendor extras, none for a zip of a million entries.
MAX_MEMBERS = 100


def read_bundle(files: Mapping[str, bytes]) -> RosterBundle:
    """The bundle in `files` (keyed by file name; folders in the names are ignored), or
    InvalidRoster listing every problem found. A bundle is never returned half-read."""
    findings = Findings()
    given = _by_file_name(files, findings)
    texts = _texts(given, findings)
    manifest = Manifest()
    if "manifest.csv" in texts:
        table = read_table("manifest.csv", texts["manifest.csv"], LAYOUTS["manifest.csv"], findings)
        manifest = read_manifest(table, findings)
    for name in manifest.must_be_present():
        if name not in given:
            findings.error(name, None, None, "required file is missing")

    def read(name: str, build: Callable[[Cells], T]) -> Indexed[T]:
        if manifest.excludes(name) or (name not in given and manifest.may_be_missing(name)):
            if name in given:
                findings.warn(name, None, None, "the manifest calls this file absent; not read")
            # An absent core file reads as empty, so references into it fail.
            return Indexed(included=name in REQUIRED_FILES)
        if name not in texts:
            return Indexed(complete=False)  # missing or not UTF-8: reported above
        return index(read_table(name, texts[name], LAYOUTS[name], findings), build, findings)

    orgs = read("orgs.csv", records.org)
    users = read("users.csv", records.user)
    classes = read("classes.csv", records.section)
    enrollments = read("enrollments.csv", records.enrollment)
    sessions = read("academicSessions.csv", records.session)
    courses = read("courses.csv", records.course)
    check_references(
        {
            "orgs.csv": orgs,
            "users.csv": users,
            "classes.csv": classes,
            "enrollments.csv": enrollments,
            "academicSessions.csv": sessions,
            "courses.csv": courses,
        },
        findings,
    )
    findings.refuse_if_any()
    return RosterBundle(
        version=VERSION,
        orgs=orgs.records,
        users=users.records,
        classes=classes.records,
        enrollments=enrollments.records,
        sessions=sessions.records,
        warnings=tuple(findings.warnings),
    )


def files_from_zip(data: bytes, max_total_bytes: int = 50 * 1024 * 1024) -> dict[str, bytes]:
    """The files of a zipped package by member name. Refused (InvalidRoster, file "<zip>") when
    it is not a readable zip, has more than MAX_MEMBERS files, or unpacks to more than
    `max_total_bytes`: sizes are checked as declared and again as actually inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) > MAX_MEMBERS:
                raise _zip_refused(f"{len(members)} files; at most {MAX_MEMBERS} are accepted")
            if sum(info.file_size for info in members) > max_total_bytes:
                raise _zip_refused(f"unpacks to more than {max_total_bytes} bytes")
            files: dict[str, bytes] = {}
            left = max_total_bytes
            for info in members:
                with archive.open(info) as member:
                    content = member.read(left + 1)
                left -= len(content)
                if left < 0:
                    raise _zip_refused(f"unpacks to more than {max_total_bytes} bytes")
                files[info.filename] = content
            return files
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, zlib.error) as error:
        # RuntimeError: encrypted; NotImplementedError: an unsupported compression method.
        raise _zip_refused(f"not a readable zip archive ({type(error).__name__})") from None


def files_from_directory(path: Path) -> dict[str, bytes]:
    """The CSV files directly inside `path`, by name."""
    return {
        entry.name: entry.read_bytes()
        for entry in sorted(path.iterdir())
        if entry.is_file() and entry.suffix.lower() == ".csv"
    }


def _zip_refused(rule: str) -> InvalidRoster:
    return InvalidRoster([RosterProblem("<zip>", None, None, rule)])


def _texts(given: Mapping[str, bytes], findings: Findings) -> dict[str, str]:
    texts: dict[str, str] = {}
    for name, data in sorted(given.items()):
        if name not in LAYOUTS:
            findings.warn(name, None, None, "not read by this importer")
        # Every CSV file is checked, read or not: a package in a wrong encoding is wrong throughout.
        text = decode(name, data, findings) if name.lower().endswith(".csv") else None
        if text is not None:
            texts[name] = text
    return texts


def _by_file_name(files: Mapping[str, bytes], findings: Findings) -> dict[str, bytes]:
    """Files by base name, spelled as the specification spells it (users.csv for Users.CSV)."""
    spellings = {name.lower(): name for name in LAYOUTS}
    named: dict[str, bytes] = {}
    paths: dict[str, str] = {}
    for path, data in files.items():
        parts = PurePosixPath(path.replace("\\", "/")).parts
        if not parts or path.endswith(("/", "\\")):
            continue
        if parts[-1].startswith(".") or "__MACOSX" in parts:
            continue  # metadata that archivers add (macOS resource forks); never roster data
        name = spellings.get(parts[-1].lower(), parts[-1])
        if name in named:
            findings.error(name, None, None, f"given twice, as '{paths[name]}' and '{path}'")
            continue
        named[name], paths[name] = data, path
    return named
