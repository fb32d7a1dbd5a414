"""One CSV file of a bundle as located rows, and the findings gathered while reading it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from profiles.roster.bundle import InvalidRoster, RosterProblem


@dataclass
class Findings:
    """Errors refuse the bundle; warnings travel with it. Both are kept in the order found."""

    errors: list[RosterProblem] = field(default_factory=list)
    warnings: list[RosterProblem] = field(default_factory=list)

    def error(self, file: str, line: int | None, field: str | None, rule: str) -> None:
        self.errors.append(RosterProblem(file, line, field, rule))

    def warn(self, file: str, line: int | None, field: str | None, rule: str) -> None:
        self.warnings.append(RosterProblem(file, line, field, rule))

    def refuse_if_any(self) -> None:
        if self.errors:
            raise InvalidRoster(self.errors)


@dataclass(frozen=True)
class Layout:
    """The columns a file must have, may have, and must fill in every row."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    filled: tuple[str, ...] | None = None  # None: every required column

    @property
    def must_fill(self) -> tuple[str, ...]:
        return self.required if self.filled is None else self.filled


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class Table:
    file: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


def decode(file: str, data: bytes, findings: Findings) -> str | None:
    """The file's text; a leading byte-order mark is dropped, as spreadsheet exports add one."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        findings.error(file, None, None, "not UTF-8 text")
        return None


def read_table(file: str, text: str, layout: Layout, findings: Findings) -> Table:
    """The file's data rows, checked against `layout`. Rows whose shape is wrong are left out
    (and reported) so that no value is ever read from the wrong column."""
    # newline="" lets the csv module see CRLF, LF and line breaks inside quoted values as written.
    records = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(records, None)
        if header is None:
            findings.error(file, 1, None, "empty file: a header row is required")
            return Table(file, (), ())
        columns = tuple(name.strip() for name in header)
        _check_header(file, columns, layout, findings)
        rows: list[Row] = []
        start = records.line_num + 1
        for record in records:
            line, start = start, records.line_num + 1
            if not any(value.strip() for value in record):
                continue
            if len(record) != len(columns):
                rule = f"{len(record)} values, but the header has {len(columns)} columns"
                findings.error(file, line, None, rule)
                continue
            rows.append(Row(line, {c: v.strip() for c, v in zip(columns, record, strict=True)}))
    except csv.Error as error:
        findings.error(file, records.line_num, None, f"not readable as CSV ({error})")
        return Table(file, (), ())
    for row in rows:
        for column in layout.must_fill:
            if column in row.values and not row.values[column]:
                findings.error(file, row.line, column, "a value is required")
    return Table(file, columns, tuple(rows))


def _check_header(file: str, columns: tuple[str, ...], layout: Layout, findings: Findings) -> None:
    for column in layout.required:
        if column not in columns:
            findings.error(file, 1, column, "required column is missing")
    known = set(layout.required) | set(layout.optional)
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            findings.error(file, 1, column, "column appears twice")
        seen.add(column)
        if column not in known:
            # Vendor extensions (ext_*, metadata.*) are allowed by the specification.
            findings.warn(file, 1, column, "not a OneRoster 1.1 column; ignored")
