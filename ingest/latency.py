"""The latency edges: the durations T a slow, hung or percentile policy can use, each counted
per bucket in the request counts (ingest/rollups.py), so that "slower than T" is read from the
counts and is exact, as a fixed-bucket histogram is exact at its edges (docs/rollups.md).

Two histograms are kept: of the latency (start to finish) and of the time to first token
(where the gateway reports one: streamed responses).

A request's **latency bin** is how many edges lie strictly below its latency: it is slower
than ``EDGES[i]`` when its bin is above ``i``. A request with no latency is in bin 0. Its
**first-token bin** is 0 when it reported no time to first token, else one more than the
first-token edges strictly below that time: the counts tell the requests that reported one
apart, and only they are the population of a first-token percentile.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

# Seconds: what people choose for "slow" and "hung" (LiteLLM's 300 s among them), finer where
# latencies are short. Adding an edge takes a migration (a column of the counts).
EDGES: tuple[float, ...] = (
    0.1, 0.25, 0.5, 0.75,
    1, 1.5, 2, 2.5, 3, 4, 5, 6, 8,
    10, 12, 15, 20, 25, 30, 40, 45, 50,
    60, 90, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700,
    3600, 7200, 14400, 43200, 86400,
)  # fmt: skip
# The first token comes within seconds or not at all: the latency edges up to a minute, fewer
# of them (each is a column of the counts, and each bin a key of their changes).
FIRST_TOKEN_EDGES: tuple[float, ...] = (
    0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20, 30, 60,
)  # fmt: skip


def _spelled(edge: float) -> str:
    milliseconds = round(edge * 1000)
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


@dataclass(frozen=True, order=True)
class Edge:
    """A count the request counts keep besides their own (requests slower than an edge, or
    that reported a time to first token): its column of the rollups, which requests it counts
    as SQL over the deltas (their bins) and over the request rows."""

    column: str
    of_deltas: str
    of_rows: str


@dataclass(frozen=True)
class Histogram:
    """Requests slower than each of `edges`, in `seconds` (a column of the requests), kept in
    the counts as one column per edge (`prefix` and the edge), from their bin (`bin_column`)."""

    seconds: str
    bin_column: str
    prefix: str
    edges: tuple[float, ...]
    noun: str  # in messages: "a latency edge"
    # The column of the requests that reported `seconds` at all ("": every finished request
    # is counted, an unknown value as the fastest).
    reported: str = ""

    @property
    def offset(self) -> int:
        """The bin of the fastest value: 1 where bin 0 holds the requests that reported none."""
        return 1 if self.reported else 0

    def bin_of(self, seconds: float | None) -> int:
        """How many edges lie strictly below `seconds` (0 without one; plus one for any
        value of a histogram that tells the unreported apart)."""
        if seconds is None:
            return 0
        return self.offset + bisect.bisect_left(self.edges, seconds)

    def bin_sql(self, column: str) -> str:
        """SQL for ``bin_of(column)``: the edges at or above the value, counted by
        ``width_bucket`` over the edges negated, taken from all of them."""
        negated = ", ".join(f"{-edge!r}" for edge in reversed(self.edges))
        below = f"{len(self.edges)} - width_bucket(-{column}, ARRAY[{negated}]::float8[])"
        if self.reported:
            return f"COALESCE(1 + {below}, 0)"
        return f"COALESCE({below}, 0)"

    def column(self, index: int) -> str:
        """The counts' column of requests slower than ``edges[index]``."""
        return f"{self.prefix}{_spelled(self.edges[index])}"

    @property
    def counted(self) -> tuple[Edge, ...]:
        """Every count this histogram keeps in the counts."""
        reported = (self.reported_edge(),) if self.reported else ()
        return (*reported, *(self.edge(index) for index in range(len(self.edges))))

    def edge(self, index: int) -> Edge:
        """The count of requests slower than ``edges[index]``."""
        return Edge(
            self.column(index),
            f"{self.bin_column} > {index + self.offset}",
            f"{self.seconds} > {self.edges[index]!r}",
        )

    def reported_edge(self) -> Edge:
        """The count of the requests that reported a value (the whole population of a
        percentile of this histogram)."""
        if not self.reported:
            raise ValueError(f"every request counts for {self.seconds}")
        return Edge(self.reported, f"{self.bin_column} > 0", f"{self.seconds} IS NOT NULL")

    def index_of(self, seconds: float) -> int:
        """The edge's index; a ValueError for a duration that is not an edge."""
        index = bisect.bisect_left(self.edges, seconds)
        if index == len(self.edges) or self.edges[index] != seconds:
            raise ValueError(f"{seconds:g} s is not a {self.noun} edge")
        return index


LATENCY = Histogram("latency_seconds", "latency_bin", "slower_than_", EDGES, "latency")
FIRST_TOKEN = Histogram(
    "time_to_first_token_seconds",
    "first_token_bin",
    "first_token_slower_than_",
    FIRST_TOKEN_EDGES,
    "first-token",
    reported="first_token_reported",
)
HISTOGRAMS = (LATENCY, FIRST_TOKEN)
# Every count besides the requests' own that the counts keep.
COUNTED: tuple[Edge, ...] = tuple(edge for h in HISTOGRAMS for edge in h.counted)

# The latency histogram's, by the names most code uses.
bin_of = LATENCY.bin_of
bin_sql = LATENCY.bin_sql
column = LATENCY.column
index_of = LATENCY.index_of


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
