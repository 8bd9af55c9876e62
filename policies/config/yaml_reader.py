"""Reading a YAML file's node tree, so that every problem can name its line and key.

PyYAML's ``compose`` keeps each node's position; values are built from scalar nodes one by one
with the safe constructor. Nothing here knows about the console's models.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policies.config.places import ConfigError, Place, Problem, join_path

T = TypeVar("T")

MERGE_TAG = "tag:yaml.org,2002:merge"

Expected = Literal["text", "whole number", "number", "true or false", "list of text"]


def compose(text: str, filename: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # Built from the parts, not str(exc): that quotes the offending line, which may hold a key.
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "not valid YAML"
        if exc.context and exc.context_mark and exc.problem_mark:
            # Where the unfinished thing began, e.g. an unclosed quote.
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ConfigError([f"{filename}{line}: YAML syntax error: {problem}"]) from None
    except yaml.YAMLError:
        raise ConfigError([f"{filename}: not a valid YAML file"]) from None


@dataclass(frozen=True)
class Entry:
    node: Node
    place: Place


@dataclass
class Fields:
    """The checked values of one mapping, with the place of each key."""

    place: Place
    values: dict[str, object] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    # Every key's node, for the keys a caller reads itself (``untyped``).
    nodes: dict[str, Node] = field(default_factory=dict)

    def at(self, key: str) -> Place:
        return self.places.get(key) or self.place.key(key)

    # The getters below only see values Reader.fields has checked against the schema.
    def text(self, key: str, default: str = "") -> str:
        return _expect(self.values.get(key, default), str)

    def whole(self, key: str, default: int) -> int:
        return _expect(self.values.get(key, default), int)

    def optional_whole(self, key: str) -> int | None:
        value = self.values.get(key)
        return None if value is None else _expect(value, int)

    def number(self, key: str, default: float | None) -> float | None:
        value = self.values.get(key, default)
        if value is None or isinstance(value, float):
            return value
        return float(_expect(value, int))

    def flag(self, key: str, default: bool) -> bool:
        return _expect(self.values.get(key, default), bool)


def _expect(value: object, kind: type[T]) -> T:
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind}, got {type(value)}")
    return value


class Reader:
    """Walks nodes and collects problems instead of stopping at the first one."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()

    def place(self, node: Node, path: str) -> Place:
        return Place(self.filename, node.start_mark.line + 1, path)

    def problem(self, place: Place, message: str) -> None:
        self.problems.append((place, message))

    def mapping(
        self, node: Node, path: str, allowed: Collection[str] | None = None
    ) -> dict[str, Entry] | None:
        if not isinstance(node, MappingNode):
            self.problem(self.place(node, path), "must be a mapping (lines of `key: value`)")
            return None
        own_count = sum(1 for key, _ in node.value if key.tag != MERGE_TAG)
        # Merge keys (<<: *anchor) become the mapping's first pairs; its own pairs override them.
        self._constructor.flatten_mapping(node)
        merged_count = len(node.value) - own_count
        entries: dict[str, Entry] = {}
        own: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.scalar(key_node)
            if not isinstance(key, str):
                self.problem(self.place(key_node, path), f"the key {key!r} must be text")
                continue
            place = self.place(key_node, join_path(path, key))
            if key in own:
                self.problem(place, f"duplicate key (first at line {entries[key].place.line})")
            elif allowed is not None and key not in allowed:
                self.problem(place, unknown_key_message(key, allowed))
            else:
                entries[key] = Entry(value_node, place)
                if index >= merged_count:
                    own.add(key)
        return entries

    def sequence(self, node: Node, path: str) -> list[tuple[Node, Place]] | None:
        if not isinstance(node, SequenceNode):
            self.problem(self.place(node, path), "must be a list (lines starting with `- `)")
            return None
        return [(item, self.place(item, join_path(path, i))) for i, item in enumerate(node.value)]

    def texts(self, node: Node, place: Place) -> list[str] | None:
        """One text or a list of them (empty: none); None when it is neither (the problem is
        noted)."""
        if isinstance(node, SequenceNode) or is_null(node):
            value = self.typed(node, place, "list of text")
        else:
            value = self.typed(node, place, "text")
            value = [value] if isinstance(value, str) else value
        if not isinstance(value, list):
            return None
        return [str(item) for item in value]

    def scalar(self, node: Node) -> object:
        if not isinstance(node, ScalarNode):
            return _Composite("a list" if isinstance(node, SequenceNode) else "a mapping")
        try:
            return self._constructor.construct_object(node)
        except yaml.constructor.ConstructorError:
            return _Composite(f"a value tagged {node.tag}")  # e.g. !!python/object

    def typed(self, node: Node, place: Place, expected: Expected) -> object:
        """The value if it has the expected type (None for an empty value), else INVALID."""
        if expected == "list of text":
            items = self.sequence(node, place.path) if not is_null(node) else []
            if items is None:
                return INVALID
            values = [self.typed(item, item_place, "text") for item, item_place in items]
            return INVALID if INVALID in values else values
        value = self.scalar(node)
        if value is None:
            return None
        checked = _check(value, expected)
        if checked is INVALID:
            self.problem(place, _type_message(value, expected))
        return checked

    def fields(
        self,
        node: Node,
        place: Place,
        schema: Mapping[str, Expected],
        required: Collection[str] = (),
        *,
        allow_unknown: bool = False,
        untyped: Collection[str] = (),
    ) -> Fields | None:
        """Checks a mapping against a schema. ``untyped`` keys are allowed too, and left to the
        caller (their nodes are kept). With allow_unknown, other keys only get a place."""
        allowed = None if allow_unknown else [*schema, *untyped]
        entries = self.mapping(node, place.path, allowed=allowed)
        if entries is None:
            return None
        fields = Fields(place)
        invalid: set[str] = set()
        for key, entry in entries.items():
            fields.places[key] = entry.place
            fields.nodes[key] = entry.node
            if key not in schema:
                continue
            value = self.typed(entry.node, entry.place, schema[key])
            if value is INVALID:
                invalid.add(key)
            elif value is not None:
                fields.values[key] = value
        for key in required:
            if key not in fields.values and key not in invalid:
                self.problem(fields.at(key), "missing: this key is required")
        return fields


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()


@dataclass(frozen=True)
class _Composite:
    description: str


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _check(value: object, expected: Expected) -> object:
    if isinstance(value, bool):
        return value if expected == "true or false" else INVALID
    if expected == "text":
        return value if isinstance(value, str) else INVALID
    if expected == "whole number":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) else INVALID
    if expected == "number":
        return value if isinstance(value, int | float) else INVALID
    return INVALID


def _type_message(value: object, expected: Expected) -> str:
    wanted = _ARTICLES.get(expected, expected)
    if isinstance(value, _Composite):
        return f"must be {wanted}, not {value.description}"
    if expected == "text":
        return "must be text; put it in quotes (YAML read it as something else)"
    if isinstance(value, str):
        return f"must be {wanted}, not text"
    return f"must be {wanted}"


_ARTICLES = {"whole number": "a whole number", "number": "a number", "list of text": "a list"}


def unknown_key_message(key: str, allowed: Collection[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    if close:
        return f"unknown key (did you mean `{close[0]}`?)"
    return "unknown key; the keys here are: " + ", ".join(sorted(allowed))
