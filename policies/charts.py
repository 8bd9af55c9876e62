"""Small charts drawn on the server as inline SVG: no script, no CDN, works offline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

BAR_WIDTH = 10
GAP = 2
HEIGHT = 36


@dataclass(frozen=True)
class Series:
    """One team's row: failed and hung requests per time bucket."""

    label: str
    failures: Sequence[int]
    hung: Sequence[int]

    @property
    def total(self) -> int:
        return sum(self.failures) + sum(self.hung)


def stacked_bars(series: Series, bucket_labels: Sequence[str], scale: int) -> SafeString:
    """One row of bars, failures below and hung stacked above, on a shared `scale` so rows
    compare. Every bar has a tooltip with its numbers."""
    width = len(bucket_labels) * (BAR_WIDTH + GAP)
    scale = max(scale, 1)
    bars = []
    for i, label in enumerate(bucket_labels):
        failed, hung = series.failures[i], series.hung[i]
        x = i * (BAR_WIDTH + GAP)
        failed_h = round(HEIGHT * failed / scale, 1)
        hung_h = round(HEIGHT * hung / scale, 1)
        title = f"{series.label}, {label}: {failed} failed, {hung} hung"
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
