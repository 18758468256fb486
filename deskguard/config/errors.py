"""The one exception of the config package: every problem names the file, the key and what is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class ConfigError(Exception):
    """A problem with ``config.toml``.

    ``str()`` is one readable line per problem, e.g.
    ``config.toml: rules.daily_realized_loss.max_loss: must be a positive amount (got -500)``.
    Loading reports every problem it finds at once: the exception's own ``path``/``key``/``problem``
    /``line`` describe the first one and ``errors`` lists them all (so ``str()`` has one line each).
    """

    def __init__(self, path: str | Path | None, key: str | None, problem: str, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.key = key
        self.problem = problem
        self.line = line
        self.errors: tuple[ConfigError, ...] = (self,)
        super().__init__(self.line_text())

    @classmethod
    def collect(cls, errors: Iterable[ConfigError]) -> ConfigError:
        """One exception that carries several problems (the first one's fields, every one's line)."""
        items = tuple(errors)
        if not items:
            raise ValueError("no errors to report")
        first = items[0]
        combined = cls(first.path, first.key, first.problem, first.line)
        combined.errors = items
        combined.args = ("\n".join(e.line_text() for e in items),)
        return combined

    def line_text(self) -> str:
        """This problem alone, as one line."""
        parts = [self.path or "config"]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.key:
            parts.append(self.key)
        parts.append(self.problem)
        return ": ".join(parts)

    def __str__(self) -> str:
        return "\n".join(e.line_text() for e in self.errors)
