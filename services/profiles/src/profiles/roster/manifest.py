"""The manifest: which OneRoster version a package is written in, and which files it holds."""

from __future__ import annotations

from dataclasses import dataclass, field

from profiles.roster.table import Findings, Table

VERSION = "1.1"
MODES = ("absent", "bulk", "delta")
# Without a manifest entry these must be present; courses.csv and demographics.csv may be missing.
REQUIRED_FILES = ("orgs.csv", "users.csv", "classes.csv", "enrollments.csv", "academicSessions.csv")


@dataclass(frozen=True)
class Manifest:
    """`modes` maps a file name ("users.csv") to "absent", "bulk" or "delta", as declared."""

    modes: dict[str, str] = field(default_factory=dict)

    def may_be_missing(self, file: str) -> bool:
        mode = self.modes.get(file)
        return mode == "absent" or (mode is None and file not in REQUIRED_FILES)

    def excludes(self, file: str) -> bool:
        """A file the manifest calls absent is not read even when the package holds it."""
        return self.modes.get(file) == "absent"

    def must_be_present(self) -> tuple[str, ...]:
        named = tuple(file for file, mode in self.modes.items() if mode != "absent")
        return tuple(dict.fromkeys(("manifest.csv", *REQUIRED_FILES, *named)))


def read_manifest(table: Table, findings: Findings) -> Manifest:
    properties = {row.values.get("propertyName", ""): row for row in table.rows}
    version = properties.get("oneroster.version")
    if version is None:
        rule = f"unsupported OneRoster version: none given (this importer reads {VERSION})"
        findings.error(table.file, None, "oneroster.version", rule)
    elif (given := version.values.get("value", "")) != VERSION:
        rule = f"unsupported OneRoster version '{given}' (this importer reads {VERSION})"
        findings.error(table.file, version.line, "oneroster.version", rule)
    modes: dict[str, str] = {}
    for name, row in properties.items():
        if not name.startswith("file."):
            continue
        value = row.values.get("value", "")
        mode = value.lower()
        if mode not in MODES:
            rule = f"'{value}' is not one of {', '.join(MODES)}"
            findings.error(table.file, row.line, name, rule)
        elif mode == "delta":
            # A delta file lists only changes; read as a snapshot it would withdraw everyone else.
            findings.error(table.file, row.line, name, "delta files are not supported; send bulk")
        else:
            modes[name.removeprefix("file.") + ".csv"] = mode
    return Manifest(modes)
