"""Time-to-first-token percentile: the p50, p90, p95 or p99 of the time to first token (LiteLLM's
``completionStartTime``) of a window's requests that reported one, above T seconds, in groups
of at least `min_requests` such requests.

Decided exactly as the latency percentile is (policies/kinds/latency_percentile.py), on the
counts of requests slower than T to their first token (ingest/latency.py's first-token
edges). Its population is the requests that reported a time to first token (streamed
responses): a request that did not is not counted at all, rather than counted as fast.
"""

from __future__ import annotations

from ingest import latency
from policies.kinds.base import Defaults, Measure, PercentileKind

KIND = PercentileKind(
    name="first_token_percentile",
    noun="time-to-first-token percentile",
    label="Time to first token: the p50, p90, p95 or p99 above T seconds, within Y",
    measure=Measure.PERCENTILE,
    # LiteLLM has none; a p95 over five minutes above 5 s: a stream that long silent is felt.
    defaults=Defaults(threshold=1, window_seconds=300, duration_seconds=5.0),
    unit="% slower than T to the first token",
    needs={
        "duration_seconds": "A time-to-first-token percentile policy needs T: the time to first "
        "token its percentile must stay under.",
        "percentile": "A time-to-first-token percentile policy needs its percentile: 50, 90, 95 "
        "or 99.",
    },
    critical_field="critical_duration_seconds",
    uses_min_requests=True,
    histogram=latency.FIRST_TOKEN,
    of="time to first token",
    count_of=" first token",
    population="streamed requests",
)
