# The time-to-first-token percentile kind: room for its name, and the constraints the registry
# writes, now with it.

import policies.models.policy
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('policies', '0025_percentile_critical_t'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='alertpolicy',
            name='policy_percentile_matches_kind',
        ),
        migrations.RemoveConstraint(
            model_name='alertpolicy',
            name='policy_group_by_matches_kind',
        ),
        migrations.RemoveConstraint(
            model_name='alertpolicy',
            name='policy_duration_matches_kind',
        ),
        migrations.RemoveConstraint(
            model_name='alertpolicy',
            name='policy_window_bounds',
        ),
        migrations.RemoveConstraint(
            model_name='alertpolicy',
            name='policy_critical_duration_matches_kind',
        ),
        migrations.AlterField(
            model_name='alertpolicy',
            name='critical_duration_seconds',
            field=models.FloatField(blank=True, help_text='Optional, for latency and time-to-first-token percentile policies: the second level, a T above the first (p95 above 10 s a warning, above 30 s critical).', null=True, validators=[policies.models.policy.validate_duration], verbose_name='critical T (seconds)'),
        ),
        migrations.AlterField(
            model_name='alertpolicy',
            name='duration_seconds',
            field=models.FloatField(blank=True, help_text='T, for hung, slow and percentile policies only: a request unfinished after T seconds is hung; one that took longer than T seconds is slow. Leave empty for failures. T is one of the durations the request counts keep, in seconds: 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 45, 50, 60, 90, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 43200, 86400; for a time to first token, up to 60.', null=True, validators=[policies.models.policy.validate_duration], verbose_name='duration (T, seconds)'),
        ),
        migrations.AlterField(
            model_name='alertpolicy',
            name='kind',
            field=models.CharField(choices=[('failures', 'Failures: X failed requests within Y seconds'), ('hung', 'Hung: X requests unfinished after T seconds, within Y seconds'), ('slow', 'Slow: X requests slower than T seconds, within Y seconds'), ('failure_rate', 'Failure rate: at least R% of requests failed within Y seconds'), ('latency_percentile', 'Latency percentile: the p50, p90, p95 or p99 latency above T seconds, within Y'), ('first_token_percentile', 'Time to first token: the p50, p90, p95 or p99 above T seconds, within Y'), ('deployment_outage', 'Deployment outage: X upstream failures of one deployment within Y seconds'), ('region_outage', 'Region outage: X upstream failures in one region, of more than one deployment, within Y seconds'), ('too_little_traffic', 'Too little traffic: fewer than X successful requests within Y seconds, for a model, team or key that had traffic'), ('budget', 'Budget: the cost or tokens spent in a day, week, month or rolling window, against a budget')], default='failures', help_text='What is counted. Defaults as in LiteLLM: failures 60 in 60 s; hung after 60 s, 60 in 600 s; slow over 300 s, 10 in 600 s.', max_length=40),
        ),
        migrations.AlterField(
            model_name='alertpolicy',
            name='percentile',
            field=models.PositiveSmallIntegerField(blank=True, choices=[(50, 'p50'), (90, 'p90'), (95, 'p95'), (99, 'p99')], help_text="For percentile policies only: which percentile of the window's latencies (or times to first token) must stay under T.", null=True, verbose_name='percentile (p)'),
        ),
        migrations.AlterField(
            model_name='historicalalertpolicy',
            name='critical_duration_seconds',
            field=models.FloatField(blank=True, help_text='Optional, for latency and time-to-first-token percentile policies: the second level, a T above the first (p95 above 10 s a warning, above 30 s critical).', null=True, validators=[policies.models.policy.validate_duration], verbose_name='critical T (seconds)'),
        ),
        migrations.AlterField(
            model_name='historicalalertpolicy',
            name='duration_seconds',
            field=models.FloatField(blank=True, help_text='T, for hung, slow and percentile policies only: a request unfinished after T seconds is hung; one that took longer than T seconds is slow. Leave empty for failures. T is one of the durations the request counts keep, in seconds: 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 45, 50, 60, 90, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 43200, 86400; for a time to first token, up to 60.', null=True, validators=[policies.models.policy.validate_duration], verbose_name='duration (T, seconds)'),
        ),
        migrations.AlterField(
            model_name='historicalalertpolicy',
            name='kind',
            field=models.CharField(choices=[('failures', 'Failures: X failed requests within Y seconds'), ('hung', 'Hung: X requests unfinished after T seconds, within Y seconds'), ('slow', 'Slow: X requests slower than T seconds, within Y seconds'), ('failure_rate', 'Failure rate: at least R% of requests failed within Y seconds'), ('latency_percentile', 'Latency percentile: the p50, p90, p95 or p99 latency above T seconds, within Y'), ('first_token_percentile', 'Time to first token: the p50, p90, p95 or p99 above T seconds, within Y'), ('deployment_outage', 'Deployment outage: X upstream failures of one deployment within Y seconds'), ('region_outage', 'Region outage: X upstream failures in one region, of more than one deployment, within Y seconds'), ('too_little_traffic', 'Too little traffic: fewer than X successful requests within Y seconds, for a model, team or key that had traffic'), ('budget', 'Budget: the cost or tokens spent in a day, week, month or rolling window, against a budget')], default='failures', help_text='What is counted. Defaults as in LiteLLM: failures 60 in 60 s; hung after 60 s, 60 in 600 s; slow over 300 s, 10 in 600 s.', max_length=40),
        ),
        migrations.AlterField(
            model_name='historicalalertpolicy',
            name='percentile',
            field=models.PositiveSmallIntegerField(blank=True, choices=[(50, 'p50'), (90, 'p90'), (95, 'p95'), (99, 'p99')], help_text="For percentile policies only: which percentile of the window's latencies (or times to first token) must stay under T.", null=True, verbose_name='percentile (p)'),
        ),
        migrations.AddConstraint(
            model_name='alertpolicy',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'failures'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'hung'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'slow'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'failure_rate'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'latency_percentile'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'first_token_percentile'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'deployment_outage'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'region_outage'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'too_little_traffic'), ('window_seconds__gte', 1), ('window_seconds__lte', 604800)), models.Q(('kind', 'budget'), ('window_seconds__gte', 1), ('window_seconds__lte', 2678400)), _connector='OR'), name='policy_window_bounds'),
        ),
        migrations.AddConstraint(
            model_name='alertpolicy',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['failures', 'hung', 'slow', 'failure_rate', 'latency_percentile', 'first_token_percentile', 'too_little_traffic']), models.Q(('group_by__in', ('deployment',)), ('kind', 'deployment_outage')), models.Q(('group_by__in', ('region',)), ('kind', 'region_outage')), models.Q(('group_by__in', ('everything', 'team', 'key_alias', 'model')), ('kind', 'budget')), _connector='OR'), name='policy_group_by_matches_kind'),
        ),
        migrations.AddConstraint(
            model_name='alertpolicy',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind__in', ['latency_percentile', 'first_token_percentile']), ('percentile__in', (50, 90, 95, 99))), models.Q(models.Q(('kind__in', ['latency_percentile', 'first_token_percentile']), _negated=True), ('percentile__isnull', True)), _connector='OR'), name='policy_percentile_matches_kind'),
        ),
        migrations.AddConstraint(
            model_name='alertpolicy',
            constraint=models.CheckConstraint(condition=models.Q(('critical_duration_seconds__isnull', True), models.Q(('critical_duration_seconds__gt', models.F('duration_seconds')), ('kind__in', ['latency_percentile', 'first_token_percentile'])), models.Q(('critical_duration_seconds__gte', 1), ('critical_duration_seconds__lt', models.F('duration_seconds')), ('kind__in', [])), _connector='OR'), name='policy_critical_duration_matches_kind'),
        ),
        migrations.AddConstraint(
            model_name='alertpolicy',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('duration_seconds__in', (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 45.0, 50.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)), ('duration_seconds__isnull', False), ('kind__in', ['first_token_percentile', 'hung', 'latency_percentile', 'slow'])), models.Q(('duration_seconds__isnull', True), ('kind__in', ['failures', 'failure_rate', 'deployment_outage', 'region_outage', 'too_little_traffic', 'budget'])), _connector='OR'), name='policy_duration_matches_kind'),
        ),
    ]
