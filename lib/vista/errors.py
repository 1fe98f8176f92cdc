"""One exception hierarchy for vista.

Every error a user can meet says what was expected, what was found, and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class VistaError(Exception):
    """Base class of every error vista raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file.

    Attributes:
        path: Dotted key path, e.g. ``sources[2].format``.
        message: What was expected and what was found.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


class ConfigError(VistaError):
    """A configuration file has one or more problems; all of them are listed."""

    def __init__(self, problems: Sequence[ConfigProblem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        if len(self.problems) == 1:  # one problem, one line
            super().__init__(f"a problem in the configuration{where}: {self.problems[0]}")
            return
        lines = [f"{len(self.problems)} problem(s) in the configuration{where}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class LakeError(VistaError):
    """A Delta table could not be read or written as asked."""


class UnsupportedTableFeature(LakeError):
    """The table uses a Delta feature the active engine cannot honour."""


class MergeSourceNotUnique(LakeError):
    """A merge source has more than one row for the same key."""


class SourceError(VistaError):
    """A declared source cannot be read (missing path, bad format, bad mapping)."""


class QualityGateFailed(VistaError):
    """A critical expectation failed, so the table was not published."""


class StageNotBuilt(VistaError):
    """A pipeline stage that is planned but not implemented yet."""
