"""Login lockouts key on the client's address; behind a proxy it comes from X-Forwarded-For,
read only as far as the operator said to trust it."""

import ipaddress

import pytest
from django.test import override_settings
from django.urls import reverse

from alerting_console.client_address import resolve

PROXY = "10.0.0.5"
PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]


def test_without_a_trusted_proxy_the_header_is_ignored():
    assert resolve("198.51.100.9", "203.0.113.7", 0, []) == "198.51.100.9"


def test_one_proxy_by_count_gives_the_address_it_appended():
    # A client may send its own X-Forwarded-For; the proxy appends the real peer after it.
    assert resolve(PROXY, "1.2.3.4, 203.0.113.7", 1, []) == "203.0.113.7"


def test_two_proxies_by_count_give_the_address_the_first_appended():
    assert resolve(PROXY, "1.2.3.4, 203.0.113.7, 10.0.0.9", 2, []) == "203.0.113.7"


def test_a_chain_shorter_than_the_count_is_keyed_on_the_peer():
    assert resolve("198.51.100.9", "", 1, []) == "198.51.100.9"
    assert resolve(PROXY, "203.0.113.7", 2, []) == PROXY


def test_trusted_networks_skip_the_proxies_from_the_right():
    assert resolve(PROXY, "1.2.3.4, 203.0.113.7, 10.1.1.1", 0, PROXIES) == "203.0.113.7"


def test_a_peer_outside_the_trusted_networks_is_not_believed():
    assert resolve("198.51.100.9", "203.0.113.7", 0, PROXIES) == "198.51.100.9"


def test_a_chain_of_only_trusted_hops_gives_its_first():
    assert resolve(PROXY, "10.2.2.2, 10.1.1.1", 0, PROXIES) == "10.2.2.2"


def test_a_garbled_entry_stops_the_walk_at_the_peer():
    assert resolve(PROXY, "203.0.113.7, not-an-ip", 0, PROXIES) == PROXY
    assert resolve(PROXY, "not-an-ip", 1, []) == PROXY


def test_ports_and_ipv6_forms_are_read():
    assert resolve(PROXY, "203.0.113.7:5123", 1, []) == "203.0.113.7"
    assert resolve("2001:db8::1", "[2001:db8:1::7]:443", 0, PROXIES) == "2001:db8:1::7"


def _fail_logins(client, times, forwarded_for):
    for _ in range(times):
        client.post(
            reverse("admin:login"),
            {"username": "ops", "password": "wrong"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )


def _login(client, forwarded_for):
    return client.post(
        reverse("admin:login"),
        {"username": "ops", "password": "a-long-test-password"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another(client, staff_user):
    _fail_logins(client, 5, "203.0.113.7")

    assert _login(client, "203.0.113.7").status_code == 429
    assert _login(client, "198.51.100.20").status_code == 302  # logged in


@pytest.mark.django_db
def test_with_no_trusted_proxy_a_forged_header_does_not_escape_the_lockout(client, staff_user):
    # Each wrong password claims another address; all come from one peer, which is locked.
    for n in range(5):
        _fail_logins(client, 1, f"203.0.113.{n}")

    assert _login(client, "198.51.100.20").status_code == 429
