"""A hung or slow policy's T is one of the latency edges the request counts keep a count of
slower requests for (ingest/latency.py), so that it is counted from them exactly. A T written
before, between two edges, moves to the edge below it (above it under the smallest): the policy
counts at least the requests it counted, and pages no less often."""

import bisect
import importlib

from django.db import migrations, models

import policies.models.policy

# ingest/latency.py's edges when this was written, as ingest 0005 froze them.
EDGES = importlib.import_module("ingest.migrations.0005_count_slower_per_latency_edge").EDGES

HELP = (
    "T, for hung and slow policies only: a request unfinished after T seconds is hung; one "
    "that took longer than T seconds is slow. Leave empty for failures. T is one of the "
    "durations the request counts keep, in seconds: "
    + ", ".join(f"{edge:g}" for edge in EDGES)
    + "."
)


def duration_field():
    return models.FloatField(
        blank=True,
        help_text=HELP,
        null=True,
        validators=[policies.models.policy.validate_duration],
        verbose_name="duration (T, seconds)",
    )


def to_edges(apps, schema_editor):
    policies = apps.get_model("policies", "AlertPolicy")
    for policy in policies.objects.filter(duration_seconds__isnull=False):
        edge = float(EDGES[max(bisect.bisect_right(EDGES, policy.duration_seconds) - 1, 0)])
        if edge != policy.duration_seconds:
            policies.objects.filter(pk=policy.pk).update(duration_seconds=edge)


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0014_channel_secret_settings"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="alertpolicy",
            name="policy_duration_matches_kind",
        ),
        migrations.RunPython(to_edges, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="alertpolicy",
            name="duration_seconds",
            field=duration_field(),
        ),
        migrations.AlterField(
            model_name="historicalalertpolicy",
            name="duration_seconds",
            field=duration_field(),
        ),
        migrations.AddConstraint(
            model_name="alertpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        (
                            "duration_seconds__in",
                            (
                                0.1,
                                0.25,
                                0.5,
                                0.75,
                                1.0,
                                1.5,
                                2.0,
                                2.5,
                                3.0,
                                4.0,
                                5.0,
                                6.0,
                                8.0,
                                10.0,
                                12.0,
                                15.0,
                                20.0,
                                25.0,
                                30.0,
                                40.0,
                                45.0,
                                50.0,
                                60.0,
                                90.0,
                                120.0,
                                180.0,
                                240.0,
                                300.0,
                                360.0,
                                480.0,
                                600.0,
                                900.0,
                                1200.0,
                                1800.0,
                                2700.0,
                                3600.0,
                                7200.0,
                                14400.0,
                                43200.0,
                                86400.0,
                            ),
                        ),
                        ("duration_seconds__isnull", False),
                        ("kind__in", ["hung", "slow"]),
                    ),
                    models.Q(
                        ("duration_seconds__isnull", True),
                        ("kind__in", ["failures", "failure_rate"]),
                    ),
                    _connector="OR",
                ),
                name="policy_duration_matches_kind",
            ),
        ),
    ]
