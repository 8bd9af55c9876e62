"""The home page's bars: each the share of its hour's requests, labelled, and escaped."""

from policies.charts import HEIGHT, Series, stacked_bars, time_axis
from policies.dashboard import hour_buckets
from tests.engine_helpers import T0, later


def test_a_bar_is_the_share_of_its_hours_requests_with_hung_stacked_on_failed():
    series = Series("Search", [0, 4], [0, 4], [0, 16])
    svg = str(stacked_bars(series, ["10:00", "11:00"]))

    # 4 of 16 finished is a quarter of the height each: failed from the bottom, hung above.
    assert f'y="{HEIGHT * 3 / 4}" width="10" height="{HEIGHT / 4}" class="chart-failed"' in svg
    assert f'y="{HEIGHT / 2}" width="10" height="{HEIGHT / 4}" class="chart-hung"' in svg
    assert "<title>Search, 11:00: 4 failed, 4 hung, 16 finished (25% failed)</title>" in svg
    assert 'aria-label="Search: 4 failed, 4 hung"' in svg


def test_a_normal_error_rate_on_a_big_volume_draws_a_low_bar_and_a_small_team_failing_a_full_one():
    big = str(stacked_bars(Series("Big", [50], [0], [1000]), ["10:00"]))
    small = str(stacked_bars(Series("Small", [3], [0], [3]), ["10:00"]))

    assert f'height="{round(HEIGHT * 0.05, 1)}" class="chart-failed"' in big
    assert f'y="0.0" width="10" height="{float(HEIGHT)}" class="chart-failed"' in small


def test_hung_requests_that_never_finished_still_fit_in_the_bar():
    svg = str(stacked_bars(Series("Search", [0], [2], [0]), ["10:00"]))

    assert f'y="0.0" width="10" height="{float(HEIGHT)}" class="chart-hung"' in svg


def test_team_names_are_escaped():
    svg = str(stacked_bars(Series("<script>", [1], [0], [1]), ["10:00"]))

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_the_axis_labels_every_third_hour_under_its_bar():
    svg = str(time_axis([f"{h:02}:00" for h in range(6)]))

    assert '<text x="0" y="10" class="chart-axis">00:00</text>' in svg
    assert '<text x="36" y="10" class="chart-axis">03:00</text>' in svg
    assert "01:00" not in svg


def test_the_buckets_are_the_last_whole_hours_oldest_first():
    buckets = hour_buckets(later(30 * 60), hours=3)  # 12:30

    assert buckets == [later(-7200), later(-3600), T0]
