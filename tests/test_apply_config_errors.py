"""A bad file: an error naming the line and key, and the database exactly as it was.

Each bad file below is the example file, already applied, with valid edits (a renamed team, a
new team, a new policy) and one mistake: a partial apply would show in the rows.
"""

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from policies.models import AlertPolicy, Channel, Route, Team

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "console.yaml"
KEYS = {
    "PD_SEARCH_KEY": "SEARCHKEY" + "a" * 19 + "0001",
    "PD_CHECKOUT_KEY": "CHECKOUTKEY" + "b" * 17 + "0002",
    "PD_PLATFORM_KEY": "PLATFORMKEY" + "c" * 17 + "0003",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-" + "s" * 20 + "0004",
    "SLACK_HANGS_WEBHOOK": "https://hooks.slack.com/services/T0001/B0002/" + "h" * 20 + "0005",
}
VALID_EDITS = [
    ("    name: Checkout\n", "    name: Checkout & Payments\n"),
    ("\nchannels:", "  - slug: extra\n    name: Extra\n\nchannels:"),
    ("\npolicies:\n", "\npolicies:\n  - name: A new policy\n    threshold: 5\n"),
]


@pytest.fixture(autouse=True)
def applied_example(monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    call_command("apply_config", str(EXAMPLE), stdout=StringIO())


def snapshot() -> dict[str, list[Any]]:
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Team, Channel, Route, AlertPolicy)
    }


def bad_file(tmp_path: Path, old: str, new: str) -> tuple[Path, list[str]]:
    text = EXAMPLE.read_text()
    for edit_old, edit_new in [*VALID_EDITS, (old, new)]:
        assert edit_old in text
        text = text.replace(edit_old, edit_new, 1)
    path = tmp_path / "console.yaml"
    path.write_text(text)
    return path, text.splitlines()


def line_of(lines: list[str], marker: str) -> int:
    return next(n for n, line in enumerate(lines, start=1) if marker in line)


def apply_bad(path: Path) -> str:
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("apply_config", str(path), stdout=out)
    assert out.getvalue() == ""
    return str(excinfo.value)


# (mistake: text replaced, its replacement), the line the error names (by a marker on it),
# and what follows "line N, " in the message.
BAD_FILES = {
    "YAML syntax error": (
        ("  - name: Hung requests", '  - name: "Hung requests'),
        'name: "Hung requests',
        None,
    ),
    "unknown key": (
        ("    kind: hung\n", "    kind: hung\n    colour: red\n"),
        "colour: red",
        "policies[2].colour: unknown key",
    ),
    "bad integration key": (
        ("os.environ/PD_CHECKOUT_KEY", "not-a-pagerduty-key"),
        "not-a-pagerduty-key",
        "channels[1].credential: A PagerDuty integration key is exactly 32",
    ),
    "unset environment variable": (
        ("os.environ/PD_CHECKOUT_KEY", "os.environ/PD_UNSET_KEY"),
        "PD_UNSET_KEY",
        "channels[1].credential: the environment variable PD_UNSET_KEY is not set",
    ),
    "bad routing key, the old word": (
        (
            "\nchannels:",
            "\nrouting_keys:\n  - name: Old\n    integration_key: not-a-key\nchannels:",
        ),
        "integration_key: not-a-key",
        "routing_keys[0].integration_key: A PagerDuty integration key is exactly 32",
    ),
    "Slack URL that is not a Slack URL": (
        ("os.environ/SLACK_HANGS_WEBHOOK", "https://hooks.example.com/services/T1/B2/x"),
        "hooks.example.com",
        "channels[4].credential: This is not a Slack webhook URL",
    ),
    "unknown channel kind": (
        ("    kind: slack\n", "    kind: slak\n"),
        "kind: slak",
        "channels[3].kind: unknown channel kind 'slak'; known: pagerduty, slack",
    ),
    "window out of bounds": (
        ("    window_seconds: 600\n", "    window_seconds: 999999\n"),
        "999999",
        "policies[2].window_seconds: The window can be at most 7 days (604800 s).",
    ),
    "hung policy without T": (
        ("    duration_seconds: 60             # T: unanswered after 60 s counts as hung\n", ""),
        "name: Hung requests",
        "policies[2].duration_seconds: A hung policy needs T",
    ),
    "route to an unknown team": (
        ("    checkout: Checkout on-call", "    chekout: Checkout on-call"),
        "chekout:",
        "routes.teams.chekout: there is no team 'chekout', in this file or in the console",
    ),
    "route to an unknown channel": (
        ("    - channels: Platform on-call", "    - channels: Platform oncall"),
        "channels: Platform oncall",
        "routes.default[0].channels: there is no channel 'Platform oncall', "
        "in this file or in the console",
    ),
    "route to an unknown alert kind": (
        ("kinds: [llm_requests_hanging]", "kinds: [llm_requests_hangs]"),
        "llm_requests_hangs",
        "routes.teams.search[1].kinds: unknown alert kind 'llm_requests_hangs'",
    ),
    "channel of an unknown team": (
        ("    team: search                     # the team", "    team: serch # the team"),
        "team: serch",
        "channels[0].team: there is no team 'serch', in this file or in the console",
    ),
    "policy for an unknown team": (
        ("    team: search                     # count", "    team: serch # count"),
        "team: serch",
        "policies[3].team: there is no team 'serch', in this file or in the console",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_a_bad_file_names_the_line_and_changes_nothing(case, tmp_path):
    (old, new), marker, expected = BAD_FILES[case]
    path, lines = bad_file(tmp_path, old, new)
    before = snapshot()

    message = apply_bad(path)

    line = line_of(lines, marker)
    if expected is None:
        assert f"{path} line " in message
        assert (
            f"YAML syntax error: found unexpected end of stream (while scanning a quoted "
            f"scalar at line {line})" in message
        )
    else:
        assert f"{path} line {line}, {expected}" in message
    assert message.endswith("Nothing was changed.")
    assert snapshot() == before


def test_a_conflict_found_only_in_the_database_changes_nothing(make_team, tmp_path):
    make_team(slug="data", name="Data", gateway_team_id="team-data")
    path, lines = bad_file(
        tmp_path, "  - slug: extra\n", "  - slug: extra\n    gateway_team_id: team-data\n"
    )
    before = snapshot()

    message = apply_bad(path)

    assert message.startswith(
        f"{path} line {line_of(lines, 'slug: extra')}, teams[2]: "
        "Another team already has this gateway team id."
    )
    assert snapshot() == before


def test_a_database_failure_halfway_changes_nothing(tmp_path):
    # A trigger stands for any refusal by the database after earlier rows were written.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_policy() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_policy BEFORE INSERT ON policies_alertpolicy "
            "FOR EACH ROW WHEN (NEW.name = 'A new policy') EXECUTE FUNCTION refuse_policy()"
        )
    path, lines = bad_file(tmp_path, "", "")
    before = snapshot()

    message = apply_bad(path)

    assert message.startswith(
        f"{path} line {line_of(lines, 'A new policy')}, policies[0]: the database refused "
        "policy 'A new policy': refused by a test trigger"
    )
    assert snapshot() == before
    assert not Team.objects.filter(slug="extra").exists()


def test_an_error_never_shows_a_credential(tmp_path, monkeypatch):
    bad_key = "SEARCHKEY" + "a" * 19 + "00012"
    monkeypatch.setenv("PD_SEARCH_KEY", bad_key)
    path, _ = bad_file(tmp_path, '    description: "#search', '    description: "#search"x')

    with pytest.raises(CommandError) as syntax_error:
        call_command("apply_config", str(path), stdout=StringIO())
    path, _ = bad_file(tmp_path, "", "")
    with pytest.raises(CommandError) as bad_key_error:
        call_command("apply_config", str(path), stdout=StringIO())

    assert "this one has 33" in str(bad_key_error.value)
    for error in (syntax_error.value, bad_key_error.value):
        assert bad_key not in str(error)
        assert KEYS["PD_SEARCH_KEY"] not in str(error)
