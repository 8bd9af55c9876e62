"""Latency percentile: the p50, p90, p95 or p99 of a window's finished requests above T
seconds, in groups of at least `min_requests` requests.

Exact, not estimated: T is one of the durations the request counts keep a count of slower
requests for, so "the p-th percentile is above T" is decided on exact counts. With N
requests, the percentile (by nearest rank: the value at rank ceil(p/100 * N)) is above T
exactly when fewer than that rank finished within T, that is when more than
N - ceil(p/100 * N) were slower than T. The page tells the count slower than T, not the
percentile's value: between two durations only the counts are known. A finished request whose
latency is unknown (its start was never reported) counts as within T.
"""

from __future__ import annotations

from policies.kinds.base import Defaults, Measure, PercentileKind

KIND = PercentileKind(
    name="latency_percentile",
    noun="latency percentile",
    label="Latency percentile: the p50, p90, p95 or p99 latency above T seconds, within Y",
    measure=Measure.PERCENTILE,
    # LiteLLM has none; a p95 over five minutes above 10 s.
    defaults=Defaults(threshold=1, window_seconds=300, duration_seconds=10.0),
    unit="% slower than T",
    needs={
        "duration_seconds": "A latency percentile policy needs T: the latency its percentile "
        "must stay under.",
        "percentile": "A latency percentile policy needs its percentile: 50, 90, 95 or 99.",
    },
    # The critical level is a second, longer T: p95 above 10 s a warning, above 30 s critical.
    critical_field="critical_duration_seconds",
    uses_min_requests=True,
)
