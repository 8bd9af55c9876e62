"""Secrets in a configuration file: ``os.environ/NAME`` reads one from the environment, as in
LiteLLM's config.yaml, so that the file can live in version control without them."""

from __future__ import annotations

from collections.abc import Mapping

from policies.config.places import Place
from policies.config.yaml_reader import Reader

ENV_PREFIX = "os.environ/"


def secret_value(
    reader: Reader, raw: str, place: Place, environ: Mapping[str, str], notes: list[str]
) -> tuple[str, Place] | None:
    """A secret written as ``os.environ/NAME`` (read from `environ`), or written in the file
    (with a note saying how to keep it out); None when it cannot be had (the problem is
    noted). The place returned says where the value came from, for validation messages."""
    if not raw.startswith(ENV_PREFIX):
        notes.append(
            f"{place}: the secret is written in the file; {ENV_PREFIX}NAME keeps it out of "
            "version control"
        )
        return raw.strip(), place
    value = environment_value(reader, raw, place, environ)
    if value is None:
        return None
    return value, Place(place.filename, place.line, f"{place.path} ({raw})")


def environment_value(
    reader: Reader, raw: str, place: Place, environ: Mapping[str, str]
) -> str | None:
    """The value of ``os.environ/NAME``, or None with the problem noted."""
    variable = raw.removeprefix(ENV_PREFIX)
    if not variable:
        reader.problem(place, f"name the environment variable: {ENV_PREFIX}NAME")
        return None
    if variable not in environ:
        reader.problem(place, f"the environment variable {variable} is not set")
        return None
    value = environ[variable].strip()
    if not value:
        reader.problem(place, f"the environment variable {variable} is empty")
        return None
    return value
