from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

from alerting_console.history import change_history
from ingest import latency, partitions

TOKEN_PREFIX = "acs_"  # noqa: S105 - a marker, not a secret


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough: no salt or slow hash needed
    # to resist guessing, and it lets a request find its token with one indexed lookup.
    return hashlib.sha256(token.encode()).hexdigest()


class IngestToken(models.Model):
    """A bearer token a gateway uses to post events. Only its hash is stored."""

    name = models.CharField(
        max_length=100, unique=True, help_text="Who uses this token, e.g. “litellm-prod replicas”."
    )
    source = models.SlugField(
        max_length=100,
        help_text="The gateway this token feeds, e.g. “litellm-prod”. A request's start and "
        "finish are merged when they arrive under the same source, so give every token of one "
        "gateway (its generic_api feed and the console callback) the same source.",
    )
    team = models.ForeignKey(
        "policies.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ingest_tokens",
        help_text="Optional: events sent with this token belong to this team unless they name one.",
    )
    enabled = models.BooleanField(
        default=True, help_text="A disabled token is refused with 403; its events are not stored."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(
        max_length=12, editable=False, help_text="The start of the token, to recognise it."
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Updated at most once a minute."
    )

    # Neither the hash nor the use stamp: the history is of what people changed.
    history = change_history(excluded_fields=["token_hash", "last_used_at"])

    class Meta:
        ordering = ["name"]
        verbose_name = "ingest token"

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    def set_new_token(self) -> str:
        """Give this row a fresh token and return it: the only time it is ever seen whole."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.token_prefix = token[: len(TOKEN_PREFIX) + 4]
        return token


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class FailureClassChoices(models.TextChoices):
    UPSTREAM = "upstream", "Upstream provider"
    GATEWAY = "gateway", "Gateway rejection"
    CLIENT = "client", "Client error"


class RequestDayField(models.DateField):  # type: ignore[type-arg]
    """The day whose partition holds a request (ingest/partitions.py), set from its start or
    finish when the row is first written, by every writer: ``save``, ``create``, and
    ``bulk_create`` too (it calls ``pre_save``)."""

    def pre_save(self, model_instance: models.Model, add: bool) -> object:
        value = getattr(model_instance, self.attname)
        if value is None and add:
            started = getattr(model_instance, "started_at", None)
            value = partitions.key_day(started, getattr(model_instance, "finished_at", None))
            setattr(model_instance, self.attname, value)
        return value


class GatewayRequestQuerySet(models.QuerySet["GatewayRequest"]):
    def bulk_create(self, objs: Iterable[GatewayRequest], *args: Any, **kwargs: Any) -> Any:
        objs = list(objs)
        if connection.vendor == "postgresql" and objs:
            field = GatewayRequest._meta.get_field("day")
            days = {field.pre_save(obj, add=True) for obj in objs}
            partitions.ensure(days, timezone.now())  # type: ignore[arg-type]
        return super().bulk_create(objs, *args, **kwargs)


class GatewayRequest(models.Model):
    """One request through a gateway: its start and its finish, merged from events. Ingest
    writes rows in bulk (store.py); rows written through the ORM get their day's partition too
    (``save`` and ``bulk_create``)."""

    source = models.CharField(max_length=100, help_text="The gateway that reported it.")
    request_id = models.CharField(
        max_length=255, help_text="The gateway's id for the request (LiteLLM: litellm_call_id)."
    )
    trace_id = models.CharField(
        max_length=255, blank=True, help_text="Shared by the retries and fallbacks of one call."
    )
    started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the gateway started it; empty if no start was reported.",
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When it finished; empty while it runs (or hangs)."
    )
    outcome = models.CharField(
        max_length=10, choices=Outcome.choices, blank=True, help_text="Empty until it finishes."
    )
    failure_class = models.CharField(
        max_length=10,
        choices=FailureClassChoices.choices,
        blank=True,
        help_text="Which side failed: the provider (upstream), the gateway itself, or the client.",
    )
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HTTP status of a failure."
    )
    latency_seconds = models.FloatField(
        null=True, blank=True, help_text="From start to finish, in seconds."
    )
    error_class = models.CharField(
        max_length=100, blank=True, help_text="e.g. RateLimitError, Timeout, ProxyException."
    )
    error_code = models.CharField(max_length=100, blank=True, help_text="The error code as sent.")
    error_provider = models.CharField(
        max_length=100, blank=True, help_text="The provider that raised the error."
    )
    error_message = models.CharField(
        max_length=500,
        blank=True,
        help_text="The start of the error message (500 characters at most).",
    )
    model = models.CharField(
        max_length=255, blank=True, help_text="The deployment's model, e.g. openai/gpt-4o-mini."
    )
    model_group = models.CharField(
        max_length=255, blank=True, help_text="The public model name clients asked for."
    )
    provider = models.CharField(max_length=100, blank=True, help_text="e.g. openai, anthropic.")
    api_base = models.CharField(
        max_length=500, blank=True, help_text="The upstream URL, when the gateway reports it."
    )
    gateway_team_id = models.CharField(
        max_length=255, blank=True, help_text="The team id the gateway sent (or the token's team)."
    )
    gateway_team_alias = models.CharField(
        max_length=255, blank=True, help_text="The team alias the gateway sent."
    )
    key_alias = models.CharField(
        max_length=255, blank=True, help_text="The alias of the API key used."
    )
    key_hash = models.CharField(
        max_length=128, blank=True, help_text="The hash of the API key (never the key)."
    )
    user_id = models.CharField(max_length=255, blank=True, help_text="The gateway's user id.")
    org_id = models.CharField(
        max_length=255, blank=True, help_text="The gateway's organisation id."
    )
    cost = models.FloatField(
        null=True, blank=True, help_text="Cost in USD, as the gateway reported it."
    )
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True, help_text="Input tokens.")
    completion_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Output tokens."
    )
    total_tokens = models.PositiveIntegerField(null=True, blank=True, help_text="All tokens.")
    # Added with alert kinds per deployment, region and latency percentile; a database default
    # too, so that rows written by SQL that does not name them (bulk loads) are complete.
    time_to_first_token_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds from its start to the first token of the answer, where the gateway "
        "reports it (LiteLLM: completionStartTime; for an answer not streamed, its end).",
    )
    deployment_id = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        help_text="The deployment of the model that served it (LiteLLM: model_id).",
    )
    region = models.CharField(
        max_length=100,
        blank=True,
        default="",
        db_default="",
        help_text="The provider's region: as the gateway sent it (LiteLLM: region_name), or as "
        "its API base names it (Bedrock, Vertex AI, Azure regional endpoints).",
    )
    end_user = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        help_text="The end user the gateway was told of (LiteLLM: end_user).",
    )
    request_tags = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="The request's tags, a JSON list (LiteLLM: request_tags).",
    )
    received_at = models.DateTimeField(help_text="When the console first stored it.")
    day = RequestDayField(
        editable=False,
        help_text="The UTC day of its start, or of its finish if no start was known when it "
        "was first stored: the day partition it is kept in, and dropped with.",
    )
    counted_on_insert = models.BooleanField(
        default=False,
        db_default=False,
        editable=False,
        help_text="Whether the writer that inserted it counted it in the request counts "
        "itself (ingest's bulk paths), so that the insert trigger does not "
        "(ingest/rollups.py).",
    )

    objects = GatewayRequestQuerySet.as_manager()

    class Meta:
        verbose_name = "gateway request"
        constraints = [
            # A request is found by (source, request_id); Postgres enforces unique keys per
            # partition, so the day is part of it (ingest/partitions.py).
            models.UniqueConstraint(
                fields=["source", "request_id", "day"], name="request_unique_per_source_day"
            )
        ]
        indexes = [
            # Failure, slow and volume windows: finished_at >= now - window.
            models.Index(fields=["finished_at"], name="request_finished_at"),
            # Hung requests: started_at + T within the window, finished late or not at all.
            models.Index(fields=["started_at"], name="request_started_at"),
            # Requests still running: started_at <= now - T AND finished_at IS NULL.
            models.Index(
                fields=["started_at"],
                condition=Q(finished_at__isnull=True),
                name="request_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}/{self.request_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and connection.vendor == "postgresql":
            day = GatewayRequest._meta.get_field("day").pre_save(self, add=True)
            partitions.ensure([day], timezone.now())  # type: ignore[list-item]
        super().save(*args, **kwargs)


class _Counts(models.Model):
    """What policies group and filter on, as stored on a request (ingest/rollups.py), and what
    is counted for one bucket and combination of them."""

    bucket = models.DateTimeField(help_text="The end of the bucket: (bucket - size, bucket].")
    source = models.CharField(max_length=100)
    gateway_team_id = models.CharField(max_length=255)
    gateway_team_alias = models.CharField(max_length=255)
    key_alias = models.CharField(max_length=255)
    model_group = models.CharField(max_length=255)
    model = models.CharField(max_length=255)
    # Added for the deployment and region outage kinds (ingest 0013): empty in the counts of
    # requests finished before, which carried no deployment or region.
    provider = models.CharField(max_length=100, default="", db_default="")
    deployment_id = models.CharField(max_length=255, default="", db_default="")
    region = models.CharField(max_length=100, default="", db_default="")
    # Added for budgets per user (ingest 0015): the counts of requests finished before, still
    # stored then, were moved to their user; those of requests no longer stored stay under "".
    user_id = models.CharField(max_length=255, default="", db_default="")
    finished = models.BigIntegerField(default=0)
    failed_upstream = models.BigIntegerField(default=0)
    failed_gateway = models.BigIntegerField(default=0)
    failed_client = models.BigIntegerField(default=0)
    cost = models.FloatField(default=0, db_default=0, help_text="The finished requests' cost.")
    total_tokens = models.BigIntegerField(
        default=0, db_default=0, help_text="The finished requests' tokens."
    )

    class Meta:
        abstract = True


class RequestDelta(_Counts):
    """A change to the counts of one second, written by the statement that changed requests
    (negative where a row's old values stop counting), until folded into the rollups."""

    id = models.BigAutoField(primary_key=True)
    latency_bin = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="How many latency edges lie below its requests' latency (ingest/latency.py).",
    )
    # Added for first-token percentiles (ingest 0014): 0 in the changes written before.
    first_token_bin = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="0 for requests that reported no time to first token; else one more than the "
        "first-token edges below it (ingest/latency.py).",
    )

    class Meta:
        verbose_name = "request count change"

    def __str__(self) -> str:
        return f"{self.finished:+d} finished by {self.bucket:%Y-%m-%d %H:%M:%S}"


class RequestRollup(_Counts):
    """The counts of requests finished in one bucket of `level` seconds (1, 60 or 3600)."""

    id = models.BigAutoField(primary_key=True)
    level = models.PositiveIntegerField(help_text="The bucket's size in seconds.")

    class Meta:
        verbose_name = "request count"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "level", "bucket", "source", "gateway_team_id", "gateway_team_alias",
                    "key_alias", "model_group", "model", "provider", "deployment_id", "region",
                    "user_id",
                ],
                name="rollup_unique_per_bucket",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.finished} finished in the {self.level} s to {self.bucket:%Y-%m-%d %H:%M:%S}"


# The counts of requests slower than each latency edge, and of those that reported a time to
# first token and were slower than each of its edges: empty (NULL, no room taken) for none.
RequestRollup.add_to_class(
    latency.FIRST_TOKEN.reported_edge().column,
    models.BigIntegerField(
        null=True, editable=False, help_text="Requests that reported a time to first token."
    ),
)
for _histogram, _what in ((latency.LATENCY, ""), (latency.FIRST_TOKEN, " to their first token")):
    for _index, _edge in enumerate(_histogram.edges):
        RequestRollup.add_to_class(
            _histogram.column(_index),
            models.BigIntegerField(
                null=True,
                editable=False,
                help_text=f"Requests slower than {latency.spelled(_edge)}{_what}.",
            ),
        )
