"""The ``channels:`` section, and ``routing_keys:``, its old word for PagerDuty channels.

A channel is a name, a kind (a key of ``policies.channels.KINDS``), its credential, an owning
team, a description, and the kind's own settings as keys of their own (``channel`` for Slack
with a bot token, ``to`` for e-mail, ``headers`` for a webhook). The kind's ``validate`` is
the one judge of the values, as on the admin's form.
"""

from __future__ import annotations

from collections.abc import Mapping

from yaml.nodes import MappingNode, Node

from policies import channels as channel_kinds
from policies.channels.base import ChannelKind, Field
from policies.channels.pagerduty import PagerDuty
from policies.config.environment import ENV_PREFIX, environment_value, secret_value
from policies.config.places import Place
from policies.config.sections import check, offline
from policies.config.spec import ChannelSpec
from policies.config.yaml_reader import Entry, Expected, Fields, Reader
from policies.models import Channel

ROUTING_KEY_SCHEMA: dict[str, Expected] = {
    "name": "text",
    "integration_key": "text",
    "team": "text",
    "description": "text",
}
CHANNEL_SCHEMA: dict[str, Expected] = {
    "name": "text",
    "kind": "text",
    "credential": "text",
    "signing_secret": "text",
    "team": "text",
    "description": "text",
}


def read_routing_keys(
    reader: Reader, entry: Entry, environ: Mapping[str, str], notes: list[str]
) -> list[ChannelSpec]:
    """The old word: each routing key is a PagerDuty channel of the same name."""
    specs = []
    for node, place in reader.sequence(entry.node, entry.place.path) or []:
        fields = reader.fields(
            node, place, ROUTING_KEY_SCHEMA, required=("name", "integration_key")
        )
        if fields is None or not {"name", "integration_key"} <= fields.values.keys():
            continue
        secret = secret_value(
            reader, fields.text("integration_key"), fields.at("integration_key"), environ, notes
        )
        if secret is None:
            continue
        value, key_place = secret
        spec = ChannelSpec(
            place=place,
            places={**fields.places, "secret": key_place},
            name=fields.text("name"),
            kind=PagerDuty.name,
            secret=value,
            team=fields.text("team"),
            description=fields.text("description"),
            credential_word="integration_key",
        )
        if check(reader, spec, offline(_channel(spec))):
            specs.append(spec)
    return specs


def read_channels(
    reader: Reader, entry: Entry, environ: Mapping[str, str], notes: list[str]
) -> list[ChannelSpec]:
    """Channels of any kind; a secret (the credential, a signing secret, a header's value)
    may be written ``os.environ/NAME``."""
    setting_names = sorted({f.name for kind in channel_kinds.KINDS.values() for f in kind.fields})
    specs = []
    for node, place in reader.sequence(entry.node, entry.place.path) or []:
        problems = len(reader.problems)
        fields = reader.fields(
            node, place, CHANNEL_SCHEMA, required=("name", "kind"), untyped=setting_names
        )
        if fields is None or not {"name", "kind"} <= fields.values.keys():
            continue
        kind_name = fields.text("kind")
        kind = channel_kinds.KINDS.get(kind_name)
        if kind is None:
            known = ", ".join(channel_kinds.KINDS)
            reader.problem(fields.at("kind"), f"unknown channel kind {kind_name!r}; known: {known}")
            continue
        spec = _channel_spec(reader, kind, fields, environ, notes)
        # Once a value is wrong, the kind's validation would only repeat it.
        if len(reader.problems) == problems and check(reader, spec, offline(_channel(spec))):
            specs.append(spec)
    return specs


def _channel_spec(
    reader: Reader, kind: ChannelKind, fields: Fields, environ: Mapping[str, str], notes: list[str]
) -> ChannelSpec:
    """The channel as written; problems are noted in the reader as they are found."""
    own = {f.name: f for f in kind.fields}
    for name in fields.nodes:
        if name not in CHANNEL_SCHEMA and name not in own:
            theirs = ", ".join(own) or "none"
            reader.problem(
                fields.at(name), f"not a setting of {kind.name} channels (theirs: {theirs})"
            )
    places = dict(fields.places)
    secret = ""
    if "credential" in fields.values and not kind.credential_label:
        reader.problem(fields.at("credential"), f"{kind.name} channels take no credential")
    elif "credential" in fields.values:
        found = secret_value(
            reader, fields.text("credential"), fields.at("credential"), environ, notes
        )
        if found is not None:
            secret, places["secret"] = found
    else:
        places["secret"] = fields.at("credential")
    signing_secret = ""
    if "signing_secret" in fields.values:
        signing_secret = _signing_secret(reader, kind, fields, environ, notes) or ""
    settings: dict[str, str | dict[str, str]] = {}
    for name, setting in own.items():
        if name in fields.nodes:
            value = _setting(reader, setting, fields.nodes[name], fields.at(name), environ)
            if value:
                settings[name] = value
    return ChannelSpec(
        place=fields.place,
        places=places,
        name=fields.text("name"),
        kind=kind.name,
        secret=secret,
        settings=settings,
        signing_secret=signing_secret,
        team=fields.text("team"),
        description=fields.text("description"),
    )


def _signing_secret(
    reader: Reader, kind: ChannelKind, fields: Fields, environ: Mapping[str, str], notes: list[str]
) -> str | None:
    place = fields.at("signing_secret")
    check_key = getattr(kind, "signing_key", None)
    if check_key is None:
        reader.problem(place, f"{kind.name} channels sign nothing: leave it out")
        return None
    found = secret_value(reader, fields.text("signing_secret"), place, environ, notes)
    if found is None:
        return None
    value, value_place = found
    try:
        check_key(value)
    except ValueError as exc:
        reader.problem(value_place, f"{exc} (whsec_ and the base64 of 24 to 64 random bytes)")
        return None
    return value


def _setting(
    reader: Reader, setting: Field, node: Node, place: Place, environ: Mapping[str, str]
) -> str | dict[str, str] | None:
    """One setting of a kind: text; for a setting of several lines, a list (one item a line);
    for a secret one (a webhook's headers), also a mapping whose values may be
    ``os.environ/NAME``. None when it is none of these (the problem is noted)."""
    if setting.secret and isinstance(node, MappingNode):
        entries = reader.mapping(node, place.path)
        if entries is None:
            return None
        values: dict[str, str] = {}
        for name, entry in entries.items():
            value = reader.typed(entry.node, entry.place, "text")
            if not isinstance(value, str):
                if value is None:
                    reader.problem(entry.place, "missing: the header's value")
                continue
            if value.startswith(ENV_PREFIX):
                value = environment_value(reader, value, entry.place, environ)
            if value is not None:
                values[name] = value
        return values
    if setting.multiline:
        items = reader.texts(node, place)
        return None if items is None else "\n".join(items)
    text = reader.typed(node, place, "text")
    return text if isinstance(text, str) else None


def _channel(spec: ChannelSpec) -> Channel:
    """An unsaved channel to validate. The settings as written, so that a mapping's problem
    names its key (a header) rather than a line of the text it becomes."""
    channel = Channel(
        name=spec.name,
        kind=spec.kind,
        secret=spec.secret,
        signing_secret=spec.signing_secret,
        description=spec.description,
    )
    channel.settings = spec.settings  # a mapping (headers) stays one: its problems name a key
    return channel
