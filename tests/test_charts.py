"""The home page's bars: drawn on a shared scale, labelled, and escaped."""

from policies.charts import HEIGHT, Series, stacked_bars
from policies.dashboard import hour_buckets
from tests.engine_helpers import T0, later


def test_bars_share_one_scale_and_stack_hung_on_failed():
    svg = str(stacked_bars(Series("Search", [0, 4], [0, 4]), ["10:00", "11:00"], scale=8))

    # 4 of 8 is half the height each: the failed bar from the bottom, the hung one above it.
    assert f'y="{HEIGHT / 2}" width="10" height="{HEIGHT / 2}" class="chart-failed"' in svg
    assert f'y="0.0" width="10" height="{HEIGHT / 2}" class="chart-hung"' in svg
    assert "<title>Search, 11:00: 4 failed, 4 hung</title>" in svg
    assert 'aria-label="Search: 4 failed, 4 hung"' in svg


def test_team_names_are_escaped():
    svg = str(stacked_bars(Series("<script>", [1], [0]), ["10:00"], scale=1))

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_the_buckets_are_the_last_whole_hours_oldest_first():
    buckets = hour_buckets(later(30 * 60), hours=3)  # 12:30

    assert buckets == [later(-7200), later(-3600), T0]
