"""Applying a checked configuration to the database: all of it, or nothing.

Rows are matched by their natural key (team slug, channel name, route scope, target and kinds,
policy name). A row whose values already match is not saved, so a second run changes nothing.
Rows the file does not mention are left alone: nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction

from policies import channels
from policies.config.places import ConfigError, Problem
from policies.config.spec import (
    ChannelSpec,
    Config,
    Located,
    RouteSpec,
    file_key,
    validation_problems,
)
from policies.models import AlertPolicy, Channel, Route, Team

Status = Literal["created", "changed", "unchanged"]
M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Outcome:
    label: str  # never the routing key itself: its masked form at most
    status: Status
    fields: tuple[str, ...] = ()

    def describe(self, dry_run: bool = False) -> str:
        if self.status == "unchanged":
            return f"{self.label}: unchanged"
        if self.status == "created":
            return f"{self.label}: {'would be created' if dry_run else 'created'}"
        verb = "would change" if dry_run else "changed"
        return f"{self.label}: {verb} (fields: {', '.join(self.fields)})"


@dataclass
class Report:
    dry_run: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def lines(self) -> list[str]:
        lines = [outcome.describe(self.dry_run) for outcome in self.outcomes]
        lines += [f"note: {note}" for note in self.notes]
        created, changed = self.count("created"), self.count("changed")
        unchanged = self.count("unchanged")
        if self.dry_run:
            lines.append(
                f"Dry run, nothing was written: {created} to create, {changed} to change, "
                f"{unchanged} unchanged."
            )
        else:
            lines.append(f"{created} created, {changed} changed, {unchanged} unchanged.")
        return lines


def apply_config(config: Config, *, dry_run: bool = False) -> Report:
    """Create or update everything the file describes, in one transaction.

    Raises ConfigError, with every row of this run rolled back, when a row fails the model's
    validation (e.g. a gateway team id another team has) or the database refuses it.
    """
    with transaction.atomic():
        report = _Applier(config, Report(dry_run=dry_run, notes=list(config.notes))).run()
        if dry_run:
            transaction.set_rollback(True)
    return report


class _Applier:
    def __init__(self, config: Config, report: Report) -> None:
        self.config = config
        self.report = report
        self.problems: list[Problem] = []
        # Rows whose own problem is reported: what refers to them is skipped without a word.
        self.failed: set[tuple[type[models.Model], str]] = set()
        self.routes: set[int] = set()  # the routes the file gives

    def run(self) -> Report:
        for team in self.config.teams:
            label = f"team {team.slug!r}"
            if self._upsert(Team, {"slug": team.slug}, team.model_values(), team, label) is None:
                self.failed.add((Team, team.slug))
        for channel in self.config.channels:
            self._channel(channel)
        for route in self.config.routes:
            self._route(route)
        self._other_routes()
        for policy in self.config.policies:
            values = policy.model_values()
            values["filter_team"] = None
            if policy.team:
                values["filter_team"] = self._find(Team, "slug", policy.team, policy, "team")
                if values["filter_team"] is None:
                    continue
            label = f"policy {policy.name!r}"
            self._upsert(AlertPolicy, {"name": policy.name}, values, policy, label)
        if self.problems:
            raise ConfigError.at(self.problems)
        return self.report

    def _channel(self, spec: ChannelSpec) -> None:
        kind = channels.KINDS[spec.kind]
        hint = f" ({spec.masked_secret})" if spec.secret else ""
        label = f"{kind.label} channel {spec.name!r}{hint}"
        values = spec.model_values()
        values["team"] = None
        if spec.team:
            values["team"] = self._find(Team, "slug", spec.team, spec, "team")
            if values["team"] is None:
                self.failed.add((Channel, spec.name))
                return
        existing = Channel.objects.filter(name=spec.name).first()
        if spec.signing_secret:
            values["signing_secret"] = spec.signing_secret
        else:
            make = getattr(kind, "new_signing_secret", None)
            if make is not None and (existing is None or not existing.signing_secret):
                values["signing_secret"] = make()
                self.report.notes.append(
                    f"{spec.place}: the console makes the signing secret of {spec.name!r} and "
                    "never shows it: to verify signatures, give the receiver's own in the file "
                    "(signing_secret: os.environ/NAME)"
                )

        def names(changed: tuple[str, ...]) -> tuple[str, ...]:
            return _channel_fields(changed, existing, spec)

        if self._upsert(Channel, {"name": spec.name}, values, spec, label, names) is None:
            self.failed.add((Channel, spec.name))

    def _route(self, route: RouteSpec) -> None:
        found = [self._find(Channel, "name", name, route, "channels") for name in route.channels]
        lookup: dict[str, object] = {"scope": route.scope, "kinds": list(route.kinds)}
        if route.scope == Route.Scope.TEAM:
            team = self._find(Team, "slug", route.target, route, "team")
            if team is None:
                return
            lookup["team"] = team
            label = f"route for team {route.target!r}"
        elif route.scope == Route.Scope.KEY_ALIAS:
            lookup["key_alias"] = route.target
            label = f"route for key alias {route.target!r}"
        else:
            label = "default route"
        if route.kinds:
            label += f" ({', '.join(route.kinds)})"
        channels = [c for c in found if c is not None]
        if len(channels) != len(found):
            return
        label = f"{label} → {', '.join(repr(c.name) for c in channels)}"
        values: dict[str, object] = {"continue_matching": route.continue_matching}
        row = self._upsert(Route, lookup, values, route, label)
        if row is None:
            return
        self.routes.add(row.pk)
        wanted = {c.pk for c in channels}
        if set(row.channels.values_list("pk", flat=True)) != wanted:
            row.channels.set(channels)
            last = self.report.outcomes[-1]
            if last.status != "created":
                row.save(update_fields=["updated_at"])  # its channels are part of the route
                self.report.outcomes[-1] = Outcome(label, "changed", (*last.fields, "channels"))

    def _other_routes(self) -> None:
        """Routes of the file's targets that the file does not give (other kinds, since the
        kinds are part of what matches a route): they still send, and nothing is deleted."""
        given = Route.objects.filter(pk__in=self.routes)
        targets = {(r.scope, r.team_id or 0, r.key_alias) for r in given}
        others = Route.objects.exclude(pk__in=self.routes).select_related("team").order_by("pk")
        for other in others.prefetch_related("channels"):
            if (other.scope, other.team_id or 0, other.key_alias) in targets:
                self.report.notes.append(
                    f"the route {other} is not in the file: it still sends (delete it in the "
                    "admin if the file replaces it)"
                )

    def _find(self, model: type[M], field: str, value: str, spec: Located, key: str) -> M | None:
        if (model, value) in self.failed:
            return None
        found = model._default_manager.filter(**{field: value}).first()
        if found is None:
            noun = model._meta.verbose_name
            message = f"there is no {noun} {value!r}, in this file or in the console"
            self.problems.append((spec.at(key), message))
        return found

    def _upsert(
        self,
        model: type[M],
        lookup: dict[str, object],
        values: dict[str, object],
        spec: Located,
        label: str,
        names: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None,
    ) -> M | None:
        """Creates or updates one row; None when it fails validation (the problem is noted).
        `names` says the changed fields in the file's words (default: ``file_key``)."""
        # By pk: the admin may have made two rows that match (two default routes).
        row = model._default_manager.filter(**lookup).order_by("pk").first()
        changed: tuple[str, ...] = ()
        if row is None:
            row = model(**{**lookup, **values})
            status: Status = "created"
        else:
            changed = tuple(name for name, value in values.items() if getattr(row, name) != value)
            if not changed:
                # Not saved: updated_at keeps telling when the row last really changed.
                self.report.outcomes.append(Outcome(label, "unchanged"))
                return row
            for name in changed:
                setattr(row, name, values[name])
            status = "changed"
        try:
            row.full_clean()
        except ValidationError as exc:
            self.problems.extend(validation_problems(exc, spec))
            return None
        try:
            row.save()
        except DatabaseError as exc:
            # The transaction is broken: stop here. Only the first line of the database's
            # message: its DETAIL can quote the whole row.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = f"the database refused {label}: {reason}"
            raise ConfigError.at([*self.problems, (spec.place, message)]) from None
        fields = names(changed) if names else tuple(map(file_key, changed))
        self.report.outcomes.append(Outcome(label, status, fields))
        return row


def _channel_fields(
    changed: tuple[str, ...], row: Channel | None, spec: ChannelSpec
) -> tuple[str, ...]:
    """A channel's changed fields as the file says them: the credential by its key, each
    setting by its own."""
    found: list[str] = []
    for name in changed:
        if name == "secret":
            found.append(spec.credential_word)
        elif name == "settings" and row is not None:
            old = row.settings if isinstance(row.settings, dict) else {}
            new = spec.stored_settings()
            found += sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
        else:
            found.append(file_key(name))
    return tuple(found)
