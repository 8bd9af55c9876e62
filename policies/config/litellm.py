"""LiteLLM's alerting settings: its PagerDuty settings (``general_settings.alerting_args``) as
two policies; where it sends alerts (``alerting``, ``alert_to_webhook_url``) as channels and
routes (``litellm_channels``).

LiteLLM (litellm/integrations/pagerduty/pagerduty.py) pages when X requests failed within Y
seconds, and when X requests were still unanswered after T seconds, within Y seconds. It reads
no setting for the hanging X: it always uses 60 (its hanging default, read under a key that
is never set), so the console's hanging policy uses 60 too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ingest import latency
from policies import kinds
from policies.config.litellm_channels import (
    ALERTING_KEYS,
    PAGERDUTY,
    SLACK,
    TEAMS,
    Environment,
    channels_from_alerting,
)
from policies.config.places import Notes, Place
from policies.config.spec import ChannelSpec, PolicySpec, RouteSpec
from policies.config.yaml_reader import Entry, Expected, Fields, Reader, is_null
from policies.kinds import Kind
from policies.models import KIND_DEFAULTS, GroupBy, PolicyKind, Severity
from policies.models.policy import DURATIONS

FAILURES_POLICY = "LiteLLM: failures"
HANGING_POLICY = "LiteLLM: hanging requests"
OUTAGE_POLICY = "LiteLLM: deployment outages"
REGION_OUTAGE_POLICY = "LiteLLM: region outages"
SLOW_POLICY = "LiteLLM: slow requests"
EACH_HANGING_POLICY = "LiteLLM: each hanging request"
# LiteLLM's alerting_threshold when it is not set (seconds).
ALERTING_THRESHOLD_DEFAULT = 300

ALERTING_ARGS: dict[str, Expected] = {
    "failure_threshold": "whole number",
    "failure_threshold_window_seconds": "whole number",
    "hanging_threshold_seconds": "number",
    "hanging_threshold_window_seconds": "whole number",
}


@dataclass(frozen=True)
class Outage:
    """One of LiteLLM's outage alerts (its alert type and settings are the kind's), and the
    console's policy for it."""

    name: str
    kind: Kind
    what: str  # "one deployment", for the policy's description

    @property
    def alert_type(self) -> str:
        return self.kind.litellm_alert_types[0]

    def setting(self, field_name: str) -> str:
        """The alerting_args key LiteLLM sets this policy field with."""
        return self.kind.litellm_settings[field_name]


OUTAGES = (
    Outage(OUTAGE_POLICY, kinds.get("deployment_outage"), "one deployment"),
    Outage(REGION_OUTAGE_POLICY, kinds.get("region_outage"),
           "one provider's region, of more than one deployment"),
)  # fmt: skip
# LiteLLM's outage alerts (Slack and the other chat services), in the same alerting_args.
OUTAGE_ARGS: dict[str, Expected] = {
    setting: "whole number"
    for outage in OUTAGES
    for setting in outage.kind.litellm_settings.values()
}
# LiteLLM's alerts on each slow or hanging request: one setting, in general_settings, for both.
EACH_SLOW_OR_HANGING = (kinds.get("slow"), kinds.get("hung"))
(ALERTING_THRESHOLD,) = {kind.litellm_settings["duration_seconds"] for kind in EACH_SLOW_OR_HANGING}

# KIND_DEFAULTS are LiteLLM's own defaults: 60 failures in 60 s; 60 hung after 60 s in 600 s.
FAILURE_DEFAULTS = KIND_DEFAULTS[PolicyKind.FAILURES]
HANGING_DEFAULTS = KIND_DEFAULTS[PolicyKind.HUNG]


@dataclass
class FromLiteLLM:
    """What a LiteLLM general_settings block brings: policies, channels and their routes."""

    policies: list[PolicySpec] = field(default_factory=list)
    channels: list[ChannelSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)


def read_general_settings(
    reader: Reader, entry: Entry, environment: Environment, report: list[str]
) -> FromLiteLLM:
    """The policies, channels and routes a LiteLLM general_settings block asks for; its other
    keys are LiteLLM's business and ignored."""
    settings = reader.mapping(entry.node, entry.place.path)
    if not settings:
        return FromLiteLLM()
    notes = Notes()
    found = _read(reader, entry, settings, environment, notes)
    report.extend(notes.lines())
    return found


def _read(
    reader: Reader,
    entry: Entry,
    settings: dict[str, Entry],
    environment: Environment,
    notes: Notes,
) -> FromLiteLLM:
    for key, key_entry in settings.items():
        # A misspelt key of the alerting settings would be lost without a word.
        close = difflib.get_close_matches(key, ALERTING_KEYS, n=1, cutoff=0.8)
        if close and key != close[0]:
            notes.add(key_entry.place, f"ignored; did you mean `{close[0]}`?")
    alerting = settings.get("alerting")
    services: list[tuple[str, Place]] | None = None
    if alerting is not None:
        services = _services(reader, alerting)
        if services is None:
            return FromLiteLLM()
    names = None if services is None else [name for name, _ in services]
    policies = _pagerduty_policies(reader, entry, settings, names, notes)
    found = FromLiteLLM(
        policies=[*policies, *_chat_policies(reader, entry, settings, names, notes)]
    )
    if services is not None:
        found.channels, found.routes = channels_from_alerting(
            reader, settings, services, environment, notes
        )
    return found


def _services(reader: Reader, alerting: Entry) -> list[tuple[str, Place]] | None:
    """The alerting list's names, each with its place; None if it is not a list of names."""
    if is_null(alerting.node):
        return []
    items = reader.sequence(alerting.node, alerting.place.path)
    if items is None:
        return None
    services = [(reader.typed(node, place, "text"), place) for node, place in items]
    found = [(name, place) for name, place in services if isinstance(name, str)]
    return found if len(found) == len(services) else None


def _pagerduty_policies(
    reader: Reader,
    entry: Entry,
    settings: dict[str, Entry],
    services: list[str] | None,
    notes: Notes,
) -> list[PolicySpec]:
    alerting = settings.get("alerting")
    args = settings.get("alerting_args")
    if alerting is not None and services is not None:
        if PAGERDUTY not in services:
            notes.add(
                alerting.place,
                "pagerduty is not listed, so LiteLLM's PagerDuty alerting is off in this file: "
                "no LiteLLM policies were made from it",
            )
            return []
    elif args is None:
        return []
    place = (args or alerting or entry).place
    if args is None or is_null(args.node):
        fields: Fields | None = Fields(place)
    else:
        fields = reader.fields(args.node, place, ALERTING_ARGS, allow_unknown=True)
    if fields is None:
        return []
    for key, key_place in fields.places.items():
        if key not in ALERTING_ARGS and key not in OUTAGE_ARGS:
            notes.add(key_place, _ignored(key))
    return [_failures(fields), _hanging(fields, notes)]


def _chat_policies(
    reader: Reader,
    entry: Entry,
    settings: dict[str, Entry],
    services: list[str] | None,
    notes: Notes,
) -> list[PolicySpec]:
    """The policies of LiteLLM's alerts to Slack and Teams, those of them it has on
    (alert_types, or every type when it is not given): its outage alerts, and its alerts on
    each request slower than alerting_threshold, or still running after it."""
    if not services or not {SLACK, *TEAMS} & set(services):
        return []
    on = _types_on(reader, settings.get("alert_types"))
    found = []
    for outage in OUTAGES:
        if on is None or outage.alert_type in on:
            policy = _outage(reader, entry, settings, outage)
            if policy is not None:
                found.append(policy)
    wanted = [
        kind for kind in EACH_SLOW_OR_HANGING if on is None or kind.litellm_alert_types[0] in on
    ]
    if wanted:
        found += _each_slow_or_hanging(
            reader, entry, settings.get(ALERTING_THRESHOLD), wanted, notes
        )
    return found


def _types_on(reader: Reader, types: Entry | None) -> list[str] | None:
    """The alert types alert_types lists; None when it is not given (every type is on)."""
    if types is None or is_null(types.node):
        return None
    return reader.texts(types.node, types.place) or []


def _outage(
    reader: Reader, entry: Entry, settings: dict[str, Entry], outage: Outage
) -> PolicySpec | None:
    """LiteLLM's deployment or region outage alert: its minor and major thresholds (shared by
    both) as the warning and critical levels, within the alert's own window."""
    defaults = outage.kind.defaults
    args = settings.get("alerting_args")
    place = (args or entry).place
    fields: Fields | None = Fields(place)
    if args is not None and not is_null(args.node):
        fields = reader.fields(args.node, place, OUTAGE_ARGS, allow_unknown=True)
    if fields is None:
        return None
    minor, major, window = (
        outage.setting(name) for name in ("threshold", "critical_threshold", "window_seconds")
    )
    return PolicySpec(
        place=place,
        places={
            "name": place,
            "threshold": fields.at(minor),
            "critical_threshold": fields.at(major),
            "window_seconds": fields.at(window),
        },
        name=outage.name,
        kind=outage.kind.name,
        threshold=fields.whole(minor, defaults.threshold),
        critical_threshold=fields.whole(major, defaults.critical_threshold or 10),
        window_seconds=fields.whole(window, defaults.window_seconds),
        group_by=defaults.group_by,
        severity=defaults.severity,
        description=f"LiteLLM's {outage.alert_type}, from its general_settings.alerting_args: "
        f"{minor} (warning) and {major} (critical) failures of {outage.what} within {window} "
        "seconds.",
    )


def _each_slow_or_hanging(
    reader: Reader, entry: Entry, threshold: Entry | None, wanted: list[Kind], notes: Notes
) -> list[PolicySpec]:
    """LiteLLM alerts on each request slower than alerting_threshold (llm_too_slow, its
    "Low" level) and each one still running after it (llm_requests_hanging, "Medium"): a
    policy of one such request in the kind's default window, so that a burst is one incident
    that stays open while they go on."""
    place = (threshold or entry).place
    seconds: object = ALERTING_THRESHOLD_DEFAULT
    if threshold is not None and not is_null(threshold.node):
        seconds = reader.typed(threshold.node, threshold.place, "number")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return []  # the reader said why
    if seconds <= 0:
        reader.problem(place, "must be a number of seconds above 0")
        return []
    duration = _edge(float(seconds), place, notes)
    made = []
    for kind, name, severity, what in (
        (kinds.get("slow"), SLOW_POLICY, Severity.WARNING, "slower than"),
        (kinds.get("hung"), EACH_HANGING_POLICY, Severity.ERROR, "still running after"),
    ):
        if kind not in wanted:
            continue
        made.append(
            PolicySpec(
                place=place,
                places={"name": place, "duration_seconds": place},
                name=name,
                kind=kind.name,
                threshold=1,
                window_seconds=kind.defaults.window_seconds,
                duration_seconds=duration,
                group_by=GroupBy.EVERYTHING.value,
                severity=severity.value,
                description=f"LiteLLM's alert on each request {what} its general_settings."
                "alerting_threshold: one such request opens an incident, which stays open "
                "while more come within the window.",
            )
        )
    return made


def _edge(seconds: float, place: Place, notes: Notes) -> float:
    """T is one of the durations the request counts keep. LiteLLM's own docs use 0.0000001 s
    to see an alert at once: the smallest, 0.1 s, shows one as soon for a real gateway.
    Between two, the one below: the policy pages no less often than LiteLLM would."""
    if seconds in DURATIONS:
        return seconds
    edge = latency.floor_edge(seconds)
    notes.add(place, f"{seconds:g} s is not one of the console's durations T; using {edge:g} s")
    return edge


def _ignored(key: str) -> str:
    if key == "hanging_threshold_fails":
        return (
            "ignored: LiteLLM does not read it either; its hanging alert always counts 60 "
            "requests, and so does the console's (add a policy of your own for another number)"
        )
    return "not one of LiteLLM's PagerDuty settings (Slack alerting, perhaps); ignored"


def _failures(fields: Fields) -> PolicySpec:
    return PolicySpec(
        place=fields.place,
        places={
            "name": fields.place,
            "threshold": fields.at("failure_threshold"),
            "window_seconds": fields.at("failure_threshold_window_seconds"),
        },
        name=FAILURES_POLICY,
        kind=PolicyKind.FAILURES.value,
        threshold=fields.whole("failure_threshold", FAILURE_DEFAULTS.threshold),
        window_seconds=fields.whole(
            "failure_threshold_window_seconds", FAILURE_DEFAULTS.window_seconds
        ),
        group_by=GroupBy.EVERYTHING.value,
        severity=Severity.CRITICAL.value,
        description="LiteLLM's PagerDuty failure alert, from its general_settings.alerting_args "
        "(failure_threshold in failure_threshold_window_seconds).",
    )


def _hanging(fields: Fields, notes: Notes) -> PolicySpec:
    duration = fields.number("hanging_threshold_seconds", HANGING_DEFAULTS.duration_seconds)
    duration_place = fields.at("hanging_threshold_seconds")
    if duration is not None and duration > 0:
        duration = _edge(duration, duration_place, notes)
    return PolicySpec(
        place=fields.place,
        places={
            "name": fields.place,
            "threshold": fields.place.key("hanging_threshold_fails"),
            "window_seconds": fields.at("hanging_threshold_window_seconds"),
            "duration_seconds": duration_place,
        },
        name=HANGING_POLICY,
        kind=PolicyKind.HUNG.value,
        threshold=HANGING_DEFAULTS.threshold,
        window_seconds=fields.whole(
            "hanging_threshold_window_seconds", HANGING_DEFAULTS.window_seconds
        ),
        duration_seconds=duration,
        group_by=GroupBy.EVERYTHING.value,
        severity=Severity.CRITICAL.value,
        description="LiteLLM's PagerDuty hanging-request alert, from its "
        "general_settings.alerting_args (hanging_threshold_seconds, "
        "hanging_threshold_window_seconds). X is 60: LiteLLM has no setting for it.",
    )
