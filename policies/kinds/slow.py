"""Slow: X requests slower than T seconds, within Y seconds (LiteLLM's `llm_too_slow`)."""

from __future__ import annotations

from policies.kinds.base import Defaults, DurationKind, Measure

KIND = DurationKind(
    name="slow",
    noun="slow",
    label="Slow: X requests slower than T seconds, within Y seconds",
    measure=Measure.SLOW,
    # LiteLLM's alerting_threshold (300 s) is the duration.
    defaults=Defaults(threshold=10, window_seconds=600, duration_seconds=300.0),
    unit="slow requests",
    count_words="requests slower than",
    litellm_alert_types=("llm_too_slow",),
    litellm_settings={"duration_seconds": "alerting_threshold"},
    needs={"duration_seconds": "A slow policy needs T: after how many seconds a request "
           "counts as slow."},
)  # fmt: skip
