"""A webhook-type channel whose host resolves into a private network is refused on the form,
at once, naming the host; a host that does not resolve right now is not a reason to refuse
it (the send checks again, at every connection)."""

import socket

import pytest

from policies.models import Channel

pytestmark = pytest.mark.django_db

ADD = "/admin/policies/channel/add/"


def resolving_to(address):
    def getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        raise socket.gaierror("no such host")

    return getaddrinfo


def add_webhook(ops, url):
    return ops.post(
        ADD,
        {"name": "hooks", "kind": "webhook", "secret": url, "team": "", "description": ""},
    )


def test_a_host_resolving_to_a_private_address_is_refused_on_the_form(ops, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", resolving_to("10.1.2.3"))

    answer = add_webhook(ops, "https://hooks.example.com/alerts?token=s3cret")

    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors["secret"]
    assert errors == [
        "hooks.example.com resolves to 10.1.2.3, a private address: refused "
        "(NOTIFY_ALLOWED_PRIVATE_NETWORKS can allow it)"
    ]
    assert "s3cret" not in answer.content.decode()
    assert not Channel.objects.exists()


def test_a_public_address_is_accepted(ops, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", resolving_to("93.184.215.14"))

    add_webhook(ops, "https://hooks.example.com/alerts")

    assert Channel.objects.get().kind == "webhook"


def test_a_host_that_does_not_resolve_now_is_not_refused_for_it(ops, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", resolving_to("93.184.215.14"))

    add_webhook(ops, "https://elsewhere.example.net/alerts")

    assert Channel.objects.get().secret == "https://elsewhere.example.net/alerts"
