"""One exception hierarchy for everything a user can get wrong.

The CLI turns any ``UnispecError`` into its message and exit code; a traceback
means a bug in unispec, never a mistake in the user's input. Messages name the
file, the line and the JSON pointer, and say what to do.
"""

from __future__ import annotations

from collections.abc import Iterable

from unispec.model import Source


class UnispecError(Exception):
    """Base class; ``exit_code`` follows the CLI contract (2 = invalid input)."""

    exit_code = 2

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0])

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """The full user-facing text: headline plus one line per problem."""
        lines = [self.message]
        lines.extend(f"  {p}" for p in self.problems)
        return "\n".join(lines)


class Problem:
    """One located problem inside an error (an error may carry many)."""

    __slots__ = ("message", "source")

    def __init__(self, source: Source | None, message: str) -> None:
        self.source = source
        self.message = message

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message

    def __repr__(self) -> str:
        return f"Problem({self.source!r}, {self.message!r})"


class ConfigError(UnispecError):
    """unispec.yaml (or a command-line option) is missing or wrong."""


class LoadError(UnispecError):
    """A spec file cannot be read, parsed, resolved or validated."""


class MergeError(UnispecError):
    """The services cannot be merged; holds every conflict at once."""


class DiffInputError(UnispecError):
    """A side of a diff cannot be read (bad path, bad git reference)."""


class GatewayConfigError(ConfigError):
    """The gateway cannot be built from the contract and configuration."""
