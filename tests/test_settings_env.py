"""Reading settings from the environment: junk stops start-up with the variable's name."""

import pytest

from alerting_console.env import (
    ConfigError,
    read_bool,
    read_choice,
    read_database,
    read_float,
    read_int,
    read_list,
    read_url,
    read_url_list,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("Off", False),
    ],
)
def test_it_reads_booleans(raw, expected):
    assert read_bool({"DEBUG": raw}, "DEBUG", default=not expected) is expected


def test_a_missing_or_empty_bool_takes_the_default():
    assert read_bool({}, "DEBUG", default=True) is True
    assert read_bool({"DEBUG": "  "}, "DEBUG", default=False) is False


@pytest.mark.parametrize("raw", ["ture", "2", "enabled", "y e s"])
def test_a_bool_that_is_not_a_bool_is_refused_naming_the_variable(raw):
    with pytest.raises(ConfigError, match=r"^DEBUG: expected a boolean") as caught:
        read_bool({"DEBUG": raw}, "DEBUG", default=False)
    assert caught.value.name == "DEBUG"
    assert repr(raw) in str(caught.value)


def test_it_reads_whole_numbers_within_bounds():
    assert read_int({"N": "42"}, "N", default=1) == 42
    assert read_int({}, "N", default=7) == 7
    with pytest.raises(ConfigError, match=r"^N: expected a whole number, got 'abc'"):
        read_int({"N": "abc"}, "N", default=1)
    with pytest.raises(ConfigError, match=r"^N: must be between 1 and 10, got 11"):
        read_int({"N": "11"}, "N", default=1, minimum=1, maximum=10)
    with pytest.raises(ConfigError, match=r"^N: must be >= 0, got -1"):
        read_int({"N": "-1"}, "N", default=1)


def test_it_reads_numbers_and_refuses_nan_and_junk():
    assert read_float({"T": "2.5"}, "T", default=1.0) == 2.5
    with pytest.raises(ConfigError, match=r"^T: expected a number"):
        read_float({"T": "fast"}, "T", default=1.0)
    with pytest.raises(ConfigError, match=r"^T: must be >= 0.1"):
        read_float({"T": "nan"}, "T", default=1.0, minimum=0.1)


def test_it_reads_a_choice_case_insensitively():
    assert read_choice({"L": "debug"}, "L", "INFO", ("DEBUG", "INFO")) == "DEBUG"
    with pytest.raises(ConfigError, match=r"^L: must be one of DEBUG, INFO, got 'loud'"):
        read_choice({"L": "loud"}, "L", "INFO", ("DEBUG", "INFO"))


def test_it_reads_comma_separated_lists():
    assert read_list({"H": "a.example, b.example ,,"}, "H", []) == ["a.example", "b.example"]
    assert read_list({}, "H", ["localhost"]) == ["localhost"]


def test_it_reads_urls_and_names_the_variable_when_one_is_malformed():
    url = "https://events.eu.pagerduty.com/v2/enqueue"
    assert read_url({"PD": url}, "PD", "", ("https",)) == url
    assert read_url({}, "PD", "https://default", ("https",)) == "https://default"
    with pytest.raises(ConfigError, match=r"^PD: scheme must be one of http, https"):
        read_url({"PD": "events.pagerduty.com/v2/enqueue"}, "PD", "", ("http", "https"))
    with pytest.raises(ConfigError, match=r"^PD: URL has no host"):
        read_url({"PD": "https:///v2/enqueue"}, "PD", "", ("https",))
    with pytest.raises(ConfigError, match=r"^PD: not a valid URL"):
        read_url({"PD": "https://host:port/"}, "PD", "", ("https",))


def test_every_item_of_a_url_list_is_checked():
    origins = "https://console.example,http://127.0.0.1:8000"
    assert read_url_list({"O": origins}, "O", ("http", "https")) == origins.split(",")
    with pytest.raises(ConfigError, match=r"^O: scheme must be one of"):
        read_url_list({"O": "https://ok.example,console.example"}, "O", ("http", "https"))


def test_the_database_defaults_to_the_embedded_sqlite_file():
    config = read_database({}, "DATABASE_URL", "/srv/console/var/console.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == "/srv/console/var/console.sqlite3"


def test_it_reads_a_postgres_database_url():
    config = read_database(
        {"DATABASE_URL": "postgres://console:pw@db.internal:5433/alerts"}, "DATABASE_URL", "x"
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.internal",
        5433,
        "alerts",
        "console",
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("notaurl", "scheme must be one of"),
        ("mysql://db/alerts", "scheme must be one of"),
        ("postgres://db:port/alerts", "not a valid URL"),
        ("postgres://db:5432", "the URL names no database"),
    ],
)
def test_a_malformed_database_url_is_refused(raw, reason):
    with pytest.raises(ConfigError, match=rf"^DATABASE_URL: {reason}"):
        read_database({"DATABASE_URL": raw}, "DATABASE_URL", "x")
