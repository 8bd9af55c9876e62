"""Real bodies posted by an unmodified LiteLLM 1.106.2 proxy and SDK (generic_api callback)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "litellm"

# The fixtures were recorded on 2026-11-22 around 13:04 UTC; tests that check timestamps
# against "now" travel to just after that, so they keep passing as the calendar moves on.
RECORDED_AT = datetime(2026, 11, 22, 13, 5, tzinfo=UTC)
JUST_AFTER_RECORDING = RECORDED_AT + timedelta(minutes=1)


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def raw(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()
