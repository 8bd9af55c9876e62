"""Budget: the cost (USD, as the gateway reports it) or the tokens spent per team, key alias,
user (the key's owner), model or everything, over a calendar day, week or month in a time
zone, or a rolling window, against a budget. Its levels are warning percentages (LiteLLM's
85 % and 95 %), the budget itself (critical), and "projected to exceed"; each is announced
once per period (policies/budget.py decides, policies/budget_engine.py records)."""

from __future__ import annotations

from policies.kinds.base import CountLike, Defaults, Kind, Measure, PolicyLike

UNITS = {"usd": "USD", "tokens": "tokens"}
PERIOD_WORDS = {"day": "a day", "week": "a week", "month": "a month"}


def amount(value: float, unit: str) -> str:
    """$1,234.50, or 1,234,567 tokens."""
    if unit == "tokens":
        return f"{value:,.0f} tokens"
    return f"${value:,.2f}"


class BudgetKind(Kind):
    def describe(self, policy: PolicyLike) -> str:
        budget = amount(float(policy.budget or 0), policy.budget_unit or "usd")
        if policy.budget_period == "rolling":
            period = f"within {policy.window_seconds} s"
        else:
            zone = policy.budget_time_zone or "UTC"
            period = f"{PERIOD_WORDS.get(policy.budget_period, '')} ({zone})"
        warnings = policy.budget_warning_percents or ""
        return f"{budget} {period}, warning at {warnings} %"

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        return f"{count.matched}% of the budget"


KIND = BudgetKind(
    name="budget",
    noun="budget",
    label="Budget: the cost or tokens spent in a day, week, month or rolling window, against a "
    "budget",
    measure=Measure.SPEND,
    # LiteLLM: 85 % and 95 % of the budget, and the budget itself. The threshold X is the
    # first warning level, kept by the model.
    defaults=Defaults(
        threshold=85, window_seconds=86400, group_by="team", severity="warning",
        parameters=(
            ("budget_unit", "usd"), ("budget_period", "month"), ("budget_time_zone", "UTC"),
            ("budget_warning_percents", "85, 95"),
        ),
    ),
    unit="% of the budget",
    # LiteLLM's budget alerts watch its own max_budget of keys, teams and users (in its
    # database); where it sends them, the console's budget policies go.
    litellm_alert_types=("budget_alerts",),
    needs={
        "budget": "A budget policy needs its budget: the USD (or tokens) a period may spend.",
        "budget_unit": "A budget policy needs what it counts: USD or tokens.",
        "budget_period": "A budget policy needs its period: a day, a week, a month, or a "
        "rolling window of Y seconds.",
        "budget_warning_percents": "A budget policy needs its warning levels, as "
        "percentages: 85, 95.",
    },
    accepts=("budget_time_zone",),
    critical_field="",
    failure_choice=False,
    uses_threshold=False,
    max_window_seconds=31 * 86400,  # a rolling month
    group_by=("everything", "team", "key_alias", "model", "user"),
)  # fmt: skip
