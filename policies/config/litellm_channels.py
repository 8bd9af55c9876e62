"""Where a LiteLLM config.yaml sends its alerts, as console channels and default routes.

What LiteLLM does (../shared/seeds/002, "Alerting / Webhooks"; ../shared/reference/litellm.md,
section 4; litellm/integrations/SlackAlerting/slack_alerting.py ``send_alert`` and
``ms_teams.py``):
- ``general_settings.alerting`` lists the destinations: ``pagerduty`` (the key in
  PAGERDUTY_API_KEY; its failure and hanging alerts), ``slack`` (SLACK_WEBHOOK_URL),
  ``ms_teams`` (MS_TEAMS_WEBHOOK_URL), ``webhook`` (WEBHOOK_URL: budget alerts only) and
  ``email`` (budget alerts only).
- ``alert_to_webhook_url`` maps an alert type to one URL or a list of them (``os.environ/NAME``
  values allowed); an alert type found there goes to its URLs instead of SLACK_WEBHOOK_URL.
  LiteLLM reads it for ``slack`` only.
- ``alert_types`` limits the alert types sent (default: all).
- Its docs have Discord (a webhook URL ending ``/slack``) and Teams connector URLs put where a
  Slack URL goes: so every URL becomes a channel of the kind its host says, Discord's in
  Discord's own format, a Workflows URL a Teams channel, any other host a signed webhook.
- The config's ``environment_variables`` are set into the environment when LiteLLM starts; they
  are read here too, over the environment apply_config runs in.

Only the LiteLLM alert types that the kinds' registry names (policies/kinds/: llm_exceptions,
llm_requests_hanging, llm_too_slow, outage_alerts, region_outage_alerts, budget_alerts) are
console alert kinds. Everything else, and anything that cannot be a valid channel, is a note
naming its line, never dropped silently. Notes never show a secret: URLs and keys are masked.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from yaml.nodes import SequenceNode

from policies import channels as channel_kinds
from policies.channels import discord, slack, teams
from policies.channels.discord import Discord
from policies.channels.pagerduty import PagerDuty
from policies.channels.slack import Slack
from policies.channels.teams import Teams
from policies.channels.webhook import Webhook
from policies.config.environment import ENV_PREFIX
from policies.config.places import Notes, Place
from policies.config.spec import ChannelSpec, RouteSpec
from policies.config.yaml_reader import Entry, Reader, is_null
from policies.models import LITELLM_KIND_NAMES, Channel, PolicyKind, Route, alert_kinds
from policies.models.channel import mask_credential

PAGERDUTY = "pagerduty"
SLACK = "slack"
TEAMS = ("ms_teams", "msteams")  # LiteLLM's word, and the one people write
WEBHOOK = "webhook"
EMAIL = "email"

# general_settings keys about alerting: a key close to one of them is pointed out.
ALERTING_KEYS = [
    "alerting",
    "alerting_args",
    "alert_types",
    "alert_to_webhook_url",
    "alerting_threshold",
]

# LiteLLM's alert types that are console alert kinds, and the others (seeds/002, "All
# Possible Alert Types").
REQUEST_ALERTS = tuple(LITELLM_KIND_NAMES)
OTHER_ALERTS = (
    "cooldown_deployment",
    "new_model_added",
    "spend_reports",
    "failed_tracking_spend",
    "daily_reports",
    "fallback_reports",
    "db_exceptions",
    "new_virtual_key_created",
    "virtual_key_updated",
    "virtual_key_deleted",
    "new_team_created",
    "team_updated",
    "team_deleted",
    "new_internal_user_created",
    "internal_user_updated",
    "internal_user_deleted",
)
# The kinds of the two policies made from alerting_args: what LiteLLM pages PagerDuty for.
PAGERDUTY_KINDS = (PolicyKind.FAILURES.value, PolicyKind.HUNG.value)

# Power Automate's Workflows webhooks (../shared/reference/channels.md, section 2).
WORKFLOWS_HOSTS = (".logic.azure.com", ".powerplatform.com")

BUDGETS_ARE_POLICIES = (
    "budget_alerts is routed as the budget kind; LiteLLM's budgets themselves (the max_budget "
    "of its keys, teams and users) are in its database, not this file: make a budget policy "
    "for each to watch"
)
NOT_A_KIND = (
    "not carried over: {} is not a console alert kind yet (those it has: "
    + ", ".join(REQUEST_ALERTS)
    + ")"
)


@dataclass(frozen=True)
class Environment:
    """The variables LiteLLM would see: the process's, and the config's environment_variables
    over them (with their places: a secret written in the file gets a note)."""

    environ: Mapping[str, str]
    written: Mapping[str, tuple[str, Place]] = field(default_factory=dict)

    def get(self, name: str) -> tuple[str, Place | None] | None:
        if name in self.written:
            value, place = self.written[name]
            return value.strip(), place
        if name in self.environ:
            return self.environ[name].strip(), None
        return None


def file_environment(
    reader: Reader, entry: Entry | None, environ: Mapping[str, str]
) -> Environment:
    """The environment, with the text values of a LiteLLM config's environment_variables over
    it. Values that are not text are LiteLLM's business, left without a word."""
    written: dict[str, tuple[str, Place]] = {}
    if entry is not None and not is_null(entry.node):
        entries = reader.mapping(entry.node, entry.place.path)
        for name, variable in (entries or {}).items():
            value = reader.scalar(variable.node)
            if isinstance(value, str):
                written[name] = (value, variable.place)
    return Environment(environ, written)


@dataclass
class _Draft:
    """A channel being gathered: one per secret, with every LiteLLM alert type sent there."""

    kind: str
    secret: str
    place: Place
    source: str  # how the notes name it: "SLACK_WEBHOOK_URL", "alert_to_webhook_url ..."
    plain_name: str = ""  # "LiteLLM: PagerDuty"; "" names it by its alert types
    alert_types: list[str] = field(default_factory=list)
    kinds: tuple[str, ...] = ()  # set for PagerDuty: the policies' kinds


def channels_from_alerting(
    reader: Reader,
    settings: Mapping[str, Entry],
    services: list[tuple[str, Place]],
    environment: Environment,
    notes: Notes,
) -> tuple[list[ChannelSpec], list[RouteSpec]]:
    """The channels and default routes of ``general_settings.alerting`` (see the module)."""
    gathering = _Gathering(environment, notes)
    names = {name for name, _ in services}
    request_types = _request_types(reader, settings.get("alert_types"), names, notes)
    hooks = _alert_to_webhook_url(reader, settings.get("alert_to_webhook_url"), names, gathering)
    for name, place in services:
        if name == PAGERDUTY:
            gathering.pagerduty(place)
        elif name == SLACK:
            gathering.slack(place, request_types, hooks)
        elif name in TEAMS:
            gathering.teams(place, request_types)
        elif name in (WEBHOOK, EMAIL):
            what = "webhook (WEBHOOK_URL)" if name == WEBHOOK else "email"
            notes.add(
                place,
                f"{what} is not carried over: LiteLLM sends it its own budget events only; "
                "to send the console's budget incidents there, make a webhook or e-mail "
                "channel and route the budget kind to it",
            )
        else:
            known = ", ".join([PAGERDUTY, SLACK, TEAMS[0], WEBHOOK, EMAIL])
            notes.add(place, f"{name!r} is not carried over: not one of {known}")
    chat = [place for name, place in services if name in (SLACK, *TEAMS)]
    if chat and "alert_types" not in settings:
        notes.add(
            chat[0],
            "LiteLLM's alert types other than its request, outage and budget alerts (spend, "
            "database, report and management alerts) are not carried over: not console alert "
            "kinds yet",
        )
    channels, routes = gathering.specs()
    if any(PolicyKind.BUDGET.value in route.kinds for route in routes):
        notes.add((chat or [place for _, place in services])[0], BUDGETS_ARE_POLICIES)
    return channels, routes


def _request_types(
    reader: Reader, entry: Entry | None, services: set[str], notes: Notes
) -> list[str]:
    """The request alerts LiteLLM sends to Slack and Teams: those alert_types lists, or all."""
    if entry is None or is_null(entry.node):
        return list(REQUEST_ALERTS)
    listed = reader.texts(entry.node, entry.place)
    if listed is None:
        return []
    others = [name for name in listed if name not in REQUEST_ALERTS]
    if others and {SLACK, *TEAMS} & services:
        notes.add(entry.place, NOT_A_KIND.format(", ".join(others)))
    return [name for name in REQUEST_ALERTS if name in listed]


@dataclass(frozen=True)
class _Hook:
    url: str
    place: Place
    source: str  # "os.environ/NAME", or "the URL" when it is written in the file


def _alert_to_webhook_url(
    reader: Reader, entry: Entry | None, services: set[str], gathering: _Gathering
) -> dict[str, list[_Hook]]:
    """The request alert types' URLs; the other types are noted as not carried over."""
    if entry is None or is_null(entry.node):
        return {}
    notes = gathering.notes
    if SLACK not in services:
        notes.add(entry.place, "not carried over: LiteLLM reads it only when alerting lists slack")
        return {}
    hooks: dict[str, list[_Hook]] = {}
    for alert_type, item in (reader.mapping(entry.node, entry.place.path) or {}).items():
        if alert_type not in REQUEST_ALERTS:
            if alert_type in OTHER_ALERTS:
                notes.add(item.place, NOT_A_KIND.format(alert_type))
            else:
                close = difflib.get_close_matches(alert_type, [*REQUEST_ALERTS, *OTHER_ALERTS], 1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                notes.add(item.place, f"not carried over: not one of LiteLLM's alert types{hint}")
            continue
        hooks[alert_type] = []
        for raw, place in _texts(reader, item):
            url = gathering.resolve(raw, place)
            if url is not None:
                source = raw if raw.startswith(ENV_PREFIX) else "the URL"
                hooks[alert_type].append(_Hook(url, place, source))
    return hooks


def _texts(reader: Reader, entry: Entry) -> list[tuple[str, Place]]:
    """One text or a list of them, each with its place."""
    if isinstance(entry.node, SequenceNode):
        items = reader.sequence(entry.node, entry.place.path) or []
    else:
        items = [(entry.node, entry.place)]
    found = []
    for node, place in items:
        value = reader.typed(node, place, "text")
        if isinstance(value, str):
            found.append((value, place))
    return found


def kind_of_url(url: str) -> tuple[str, str]:
    """The channel kind a LiteLLM webhook URL is for, by its host, and the URL to use."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return Webhook.name, url  # its validation says what is wrong
    if host == slack.WEBHOOK_HOST:
        return Slack.name, url
    if host in discord.HOSTS:
        # LiteLLM's docs append /slack (Discord's Slack-compatible address); the console
        # posts in Discord's own format, to the webhook itself.
        path = parts.path.rstrip("/").removesuffix("/slack")
        return Discord.name, urlunsplit(parts._replace(path=path))
    if teams.url_problem(url) == teams.RETIRED or host.endswith(WORKFLOWS_HOSTS):
        return Teams.name, url
    return Webhook.name, url


class _Gathering:
    """The channels found, one per secret, with the alert types each is sent."""

    def __init__(self, environment: Environment, notes: Notes) -> None:
        self.environment = environment
        self.notes = notes
        self.drafts: dict[str, _Draft] = {}

    def resolve(self, raw: str, place: Place) -> str | None:
        """A URL written in alert_to_webhook_url: ``os.environ/NAME`` or the URL itself."""
        if not raw.startswith(ENV_PREFIX):
            self.notes.add(
                place,
                f"the URL is written in the file; {ENV_PREFIX}NAME keeps it out of version control",
            )
            return raw.strip()
        return self.variable(raw.removeprefix(ENV_PREFIX), place, "not carried over")

    def variable(self, name: str, place: Place, consequence: str) -> str | None:
        """An environment variable LiteLLM reads; None (with a note saying the consequence)
        when it is not set."""
        found = self.environment.get(name)
        if found is None or not found[0]:
            state = "not set" if found is None else "empty"
            self.notes.add(
                place,
                f"{consequence}: {name} is {state} (in the environment or the "
                "config's environment_variables)",
            )
            return None
        value, written = found
        if written is not None:
            self.notes.add(
                written,
                f"the secret is written in the file; set {name} in the environment "
                "instead to keep it out of version control",
            )
        return value

    def pagerduty(self, place: Place) -> None:
        key = self.variable("PAGERDUTY_API_KEY", place, "no PagerDuty channel was made")
        if key is not None:
            draft = self.add(PagerDuty.name, key, place, "PAGERDUTY_API_KEY", [])
            draft.plain_name = "LiteLLM: PagerDuty"
            draft.kinds = PAGERDUTY_KINDS

    def slack(self, place: Place, request_types: list[str], hooks: dict[str, list[_Hook]]) -> None:
        for alert_type in request_types:
            for hook in hooks.get(alert_type, []):
                kind, url = kind_of_url(hook.url)
                self.add(kind, url, hook.place, hook.source, [alert_type])
        rest = [alert_type for alert_type in request_types if alert_type not in hooks]
        if not rest:
            return
        found = self.variable(
            "SLACK_WEBHOOK_URL", place, f"no Slack channel was made for {', '.join(rest)}"
        )
        if found is not None:
            kind, url = kind_of_url(found)
            draft = self.add(kind, url, place, "SLACK_WEBHOOK_URL", rest)
            draft.plain_name = f"LiteLLM: {_label(kind)}"

    def teams(self, place: Place, request_types: list[str]) -> None:
        if not request_types:
            return
        url = self.variable("MS_TEAMS_WEBHOOK_URL", place, "no Microsoft Teams channel was made")
        if url is not None:
            kind = Teams.name
            draft = self.add(kind, url, place, "MS_TEAMS_WEBHOOK_URL", request_types)
            draft.plain_name = f"LiteLLM: {_label(kind)}"

    def add(
        self, kind: str, secret: str, place: Place, source: str, alert_types: list[str]
    ) -> _Draft:
        draft = self.drafts.get(secret)
        if draft is None:
            draft = self.drafts[secret] = _Draft(kind, secret, place, source)
        draft.alert_types += [t for t in alert_types if t not in draft.alert_types]
        return draft

    def specs(self) -> tuple[list[ChannelSpec], list[RouteSpec]]:
        channels: list[ChannelSpec] = []
        routes: dict[tuple[str, ...], RouteSpec] = {}
        for draft in self.drafts.values():
            spec = self._spec(draft, {c.name for c in channels})
            if spec is None:
                continue
            channels.append(spec)
            kinds = draft.kinds or tuple(alert_kinds(draft.alert_types))
            route = routes.get(kinds)
            routes[kinds] = RouteSpec(
                place=route.place if route else draft.place,
                places=route.places if route else {"channels": draft.place},
                scope=str(Route.Scope.DEFAULT),
                target="",
                channels=(*(route.channels if route else ()), spec.name),
                kinds=kinds,
            )
        return channels, list(routes.values())

    def _spec(self, draft: _Draft, taken: set[str]) -> ChannelSpec | None:
        label = _label(draft.kind)
        order = [t for t in REQUEST_ALERTS if t in draft.alert_types]
        name = draft.plain_name or f"LiteLLM: {label} for {', '.join(order)}"
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name} ({n})"
        spec = ChannelSpec(
            place=draft.place,
            places={"secret": draft.place, "name": draft.place},
            name=unique,
            kind=draft.kind,
            secret=draft.secret,
        )
        channel = Channel(name=spec.name, kind=spec.kind, secret=spec.secret)
        what = f"{draft.source} ({mask_credential(draft.secret)})"
        try:
            channel.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            reason = " ".join(exc.messages)
            self.notes.add(draft.place, f"{what} is not carried over: {reason}")
            return None
        if draft.kind == Webhook.name:
            self.notes.add(
                draft.place,
                f"{what} becomes the signed webhook channel {spec.name!r}: it "
                "receives the console's JSON body, not LiteLLM's Slack-style text",
            )
        return spec


def _label(kind: str) -> str:
    return channel_kinds.KINDS[kind].label
