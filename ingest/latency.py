"""The latency edges: the durations T a slow or hung policy can use, each counted per bucket in
the request counts (ingest/rollups.py), so that "slower than T" is read from the counts and is
exact, as a fixed-bucket histogram is exact at its edges (docs/rollups.md).

A request's **latency bin** is how many edges lie strictly below its latency: it is slower
than ``EDGES[i]`` when its bin is above ``i``. A request with no latency is in bin 0.
"""

from __future__ import annotations

import bisect

# Seconds: what people choose for "slow" and "hung" (LiteLLM's 300 s among them), finer where
# latencies are short. Adding an edge takes a migration (a column of the counts).
EDGES: tuple[float, ...] = (
    0.1, 0.25, 0.5, 0.75,
    1, 1.5, 2, 2.5, 3, 4, 5, 6, 8,
    10, 12, 15, 20, 25, 30, 40, 45, 50,
    60, 90, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700,
    3600, 7200, 14400, 43200, 86400,
)  # fmt: skip


def bin_of(latency: float | None) -> int:
    """How many edges lie strictly below `latency` (0 without one)."""
    return 0 if latency is None else bisect.bisect_left(EDGES, latency)


def bin_sql(column: str) -> str:
    """SQL for ``bin_of(column)``: the edges at or above the latency, counted by
    ``width_bucket`` over the edges negated, taken from all of them."""
    negated = ", ".join(f"{-edge!r}" for edge in reversed(EDGES))
    return f"COALESCE({len(EDGES)} - width_bucket(-{column}, ARRAY[{negated}]::float8[]), 0)"


def column(index: int) -> str:
    """The counts' column of requests slower than ``EDGES[index]``."""
    return f"slower_than_{_spelled(EDGES[index])}"


def _spelled(edge: float) -> str:
    milliseconds = round(edge * 1000)
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


COLUMNS = tuple(column(index) for index in range(len(EDGES)))


def index_of(seconds: float) -> int:
    """The edge's index; a ValueError for a duration that is not an edge."""
    index = bisect.bisect_left(EDGES, seconds)
    if index == len(EDGES) or EDGES[index] != seconds:
        raise ValueError(f"{seconds:g} s is not a latency edge")
    return index


def floor_edge(seconds: float) -> float:
    """The largest edge at or below `seconds` (the smallest edge below it): where a duration
    written before the edges existed goes, so that its policy pages no less often."""
    return EDGES[max(bisect.bisect_right(EDGES, seconds) - 1, 0)]


def spelled(edge: float) -> str:
    """An edge for people: "250 ms", "5 s", "5 min", "1 h", "1 d"."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if edge >= size and edge % size == 0:
            return f"{edge / size:g} {unit}"
    return f"{edge * 1000:g} ms" if edge < 1 else f"{edge:g} s"
