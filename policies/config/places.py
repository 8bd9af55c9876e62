"""Where something is in a configuration file, and the error that names it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Place:
    """A line and a key path, for messages: ``console.yaml line 12, policies[1].window_seconds``."""

    filename: str
    line: int
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.filename} line {self.line}"
        return f"{where}, {self.path}" if self.path else where

    def key(self, name: str) -> Place:
        """The place of a key of this mapping, when the key itself is absent (same line)."""
        return Place(self.filename, self.line, join_path(self.path, name))


def join_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    part = key if _PLAIN_KEY.fullmatch(key) else f"[{key!r}]"
    if not path:
        return part
    return f"{path}{part}" if part.startswith("[") else f"{path}.{part}"


Problem = tuple[Place, str]


class Notes:
    """Notes with their places, told in the order of the file's lines."""

    def __init__(self) -> None:
        self.found: list[tuple[Place, str]] = []

    def add(self, place: Place, text: str) -> None:
        if (place, text) not in self.found:  # a variable read twice is noted once
            self.found.append((place, text))

    def lines(self) -> list[str]:
        return [f"{place}: {text}" for place, text in sorted(self.found, key=lambda n: n[0].line)]


class ConfigError(Exception):
    """A file that cannot be applied; each problem names its place. Nothing was changed."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    @classmethod
    def at(cls, problems: Iterable[Problem]) -> ConfigError:
        """The problems in the order of the file's lines, each once (one setting read into
        two policies, as LiteLLM's outage thresholds are, is wrong once)."""
        ordered = sorted(problems, key=lambda problem: problem[0].line)
        return cls(dict.fromkeys(f"{place}: {message}" for place, message in ordered))
