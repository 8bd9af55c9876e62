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
