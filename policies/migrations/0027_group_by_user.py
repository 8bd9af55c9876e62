# Policies evaluated per user (the key's owner): budgets per user, as LiteLLM's user budgets.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('policies', '0026_first_token_percentile'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='alertpolicy',
            name='policy_group_by_matches_kind',
        ),
        migrations.AlterField(
            model_name='alertpolicy',
            name='group_by',
            field=models.CharField(choices=[('everything', 'Everything together'), ('team', 'Each team'), ('key_alias', 'Each API-key alias'), ('model', 'Each model'), ('deployment', 'Each deployment'), ('region', "Each provider's region"), ('user', "Each user (the key's owner)")], default='everything', help_text="Count everything together, or separately per team, API-key alias, model, deployment or provider's region; each group that crosses the threshold gets its own incident.", max_length=20, verbose_name='evaluated per'),
        ),
        migrations.AlterField(
            model_name='historicalalertpolicy',
            name='group_by',
            field=models.CharField(choices=[('everything', 'Everything together'), ('team', 'Each team'), ('key_alias', 'Each API-key alias'), ('model', 'Each model'), ('deployment', 'Each deployment'), ('region', "Each provider's region"), ('user', "Each user (the key's owner)")], default='everything', help_text="Count everything together, or separately per team, API-key alias, model, deployment or provider's region; each group that crosses the threshold gets its own incident.", max_length=20, verbose_name='evaluated per'),
        ),
        migrations.AddConstraint(
            model_name='alertpolicy',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['failures', 'hung', 'slow', 'failure_rate', 'latency_percentile', 'first_token_percentile', 'too_little_traffic']), models.Q(('group_by__in', ('deployment',)), ('kind', 'deployment_outage')), models.Q(('group_by__in', ('region',)), ('kind', 'region_outage')), models.Q(('group_by__in', ('everything', 'team', 'key_alias', 'model', 'user')), ('kind', 'budget')), _connector='OR'), name='policy_group_by_matches_kind'),
        ),
    ]
