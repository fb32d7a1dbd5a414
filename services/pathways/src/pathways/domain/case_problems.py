"""What reading a CASE package finds: problems, which refuse it, and warnings, which go along."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """Why a package cannot be imported: where (a JSON path) and what is wrong there."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class CaseRefused(ValueError):
    """Nothing imported; `problems` lists every problem found (not only the first)."""

    problems: tuple[Problem, ...]

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))


@dataclass
class Notes:
    """What reading a package has found so far; every part of the reading adds to the same notes,
    so a refusal lists all of it."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def refuse(self, where: str, rule: str) -> None:
        self.problems.append(Problem(where, rule))

    def warn(self, where: str, text: str) -> None:
        self.warnings.append(f"{where}: {text}")
