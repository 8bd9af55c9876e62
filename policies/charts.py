"""Small charts drawn on the server as inline SVG: no script, no CDN, works offline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

BAR_WIDTH = 10
GAP = 2
HEIGHT = 36
AXIS_HEIGHT = 12
AXIS_EVERY = 3  # a time label under every third bar: "HH:00" is wider than one bar


@dataclass(frozen=True)
class Series:
    """One team's row: failed, hung and finished requests per time bucket."""

    label: str
    failures: Sequence[int]
    hung: Sequence[int]
    finished: Sequence[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.failures) + sum(self.hung)

    def share(self, i: int) -> tuple[float, float]:
        """The failed and the hung part of bucket `i`'s requests, between 0 and 1. Hung ones
        that never finished are not among the finished: they are added to the whole."""
        failed, hung = self.failures[i], self.hung[i]
        finished = self.finished[i] if i < len(self.finished) else 0
        whole = max(finished, failed + hung, 1)
        return failed / whole, hung / whole


def stacked_bars(series: Series, bucket_labels: Sequence[str]) -> SafeString:
    """One row of bars, each the share of its hour's requests that failed (below) and hung
    (stacked above), full height being all of them: a team failing 5% of a big volume shows
    low bars, a small team failing all of its requests a full one. Every bar has a tooltip
    with its numbers."""
    width = len(bucket_labels) * (BAR_WIDTH + GAP)
    bars = []
    for i, label in enumerate(bucket_labels):
        failed, hung = series.failures[i], series.hung[i]
        failed_share, hung_share = series.share(i)
        finished = series.finished[i] if i < len(series.finished) else 0
        x = i * (BAR_WIDTH + GAP)
        failed_h = round(HEIGHT * failed_share, 1)
        hung_h = round(HEIGHT * hung_share, 1)
        title = (
            f"{series.label}, {label}: {failed} failed, {hung} hung, {finished} finished"
            f" ({failed_share:.0%} failed)"
        )
        bars.append((x, HEIGHT - failed_h, failed_h, x, HEIGHT - failed_h - hung_h, hung_h, title))
    body = format_html_join(
        "",
        '<g><title>{}</title><rect x="{}" y="0" width="{}" height="{}" class="chart-slot"/>'
        '<rect x="{}" y="{}" width="{}" height="{}" class="chart-failed"/>'
        '<rect x="{}" y="{}" width="{}" height="{}" class="chart-hung"/></g>',
        (
            (title, x, BAR_WIDTH, HEIGHT, x, fy, BAR_WIDTH, fh, hx, hy, BAR_WIDTH, hh)
            for x, fy, fh, hx, hy, hh, title in bars
        ),
    )
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}">{}</svg>',
        f"{series.label}: {sum(series.failures)} failed, {sum(series.hung)} hung",
        width,
        HEIGHT,
        width,
        HEIGHT,
        body,
    )


def time_axis(bucket_labels: Sequence[str]) -> SafeString:
    """The time labels under a column of `stacked_bars`, aligned with their bars."""
    width = len(bucket_labels) * (BAR_WIDTH + GAP)
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" class="chart-axis">{}</text>',
        (
            (i * (BAR_WIDTH + GAP), AXIS_HEIGHT - 2, label)
            for i, label in enumerate(bucket_labels)
            if i % AXIS_EVERY == 0
        ),
    )
    return format_html(
        '<svg class="chart-axis" aria-hidden="true" width="{}" height="{}" viewBox="0 0 {} {}">'
        "{}</svg>",
        width + 2 * BAR_WIDTH,  # room for the last label, which starts at its bar
        AXIS_HEIGHT,
        width + 2 * BAR_WIDTH,
        AXIS_HEIGHT,
        ticks,
    )


COUNT_HEIGHT = 80
COUNT_BAR = 8


@dataclass(frozen=True)
class CountChart:
    """An incident's count over time against its threshold."""

    values: Sequence[float]  # the count (or the failure rate in %) at each moment
    labels: Sequence[str]  # each moment, for the bars' tooltips
    threshold: float
    unit: str  # what a value counts: "failed requests", "% failed", ...
    last_window: int  # how many of the last bars the last window spans
    opened_at: int | None  # the bar of the moment the incident opened, if charted


def count_chart(chart: CountChart) -> SafeString:
    """Bars, red at or above the threshold, a dashed threshold line, the last window shaded
    and a mark where the incident opened. Scales to its container's width (a phone's)."""
    width = len(chart.values) * (COUNT_BAR + GAP)
    top = max([*chart.values, chart.threshold, 1]) * 1.15

    def y_of(value: float) -> float:
        return round(COUNT_HEIGHT * (1 - value / top), 1)

    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}: {} {}</title></rect>',
        (
            (
                i * (COUNT_BAR + GAP),
                y_of(value),
                COUNT_BAR,
                round(COUNT_HEIGHT - y_of(value), 1),
                "chart-failed" if value >= chart.threshold else "chart-below",
                label,
                f"{value:g}",
                chart.unit,
            )
            for i, (value, label) in enumerate(zip(chart.values, chart.labels, strict=True))
        ),
    )
    shaded = min(chart.last_window, len(chart.values)) * (COUNT_BAR + GAP)
    opened = (
        format_html(
            '<line x1="{0}" x2="{0}" y1="0" y2="{1}" class="chart-opened">'
            "<title>opened</title></line>",
            chart.opened_at * (COUNT_BAR + GAP) - GAP / 2,
            COUNT_HEIGHT,
        )
        if chart.opened_at is not None
        else ""
    )
    threshold_y = y_of(chart.threshold)
    return format_html(
        '<svg class="count-chart" role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}" preserveAspectRatio="none">'
        '<rect x="{}" y="0" width="{}" height="{}" class="chart-window"/>{}{}'
        '<line x1="0" x2="{}" y1="{}" y2="{}" class="chart-threshold"/></svg>',
        f"{chart.unit} over time: last {chart.values[-1]:g}, peak {max(chart.values):g}, "
        f"threshold {chart.threshold:g}",
        width,
        COUNT_HEIGHT,
        width,
        COUNT_HEIGHT,
        width - shaded,
        shaded,
        COUNT_HEIGHT,
        bars,
        opened,
        width,
        threshold_y,
        threshold_y,
    )
