"""Hung: X requests unfinished after T seconds, within Y seconds (LiteLLM's
`llm_requests_hanging`)."""

from __future__ import annotations

from policies.kinds.base import Defaults, DurationKind, Measure

KIND = DurationKind(
    name="hung",
    noun="hung",
    label="Hung: X requests unfinished after T seconds, within Y seconds",
    measure=Measure.HUNG,
    # LiteLLM: 60 requests hung after 60 s, within 600 s.
    defaults=Defaults(threshold=60, window_seconds=600, duration_seconds=60.0),
    unit="hung requests",
    count_words="requests hung over",
    litellm_alert_types=("llm_requests_hanging",),
    litellm_settings={"duration_seconds": "alerting_threshold"},
    needs={"duration_seconds": "A hung policy needs T: after how many seconds a request "
           "counts as hung."},
)  # fmt: skip
