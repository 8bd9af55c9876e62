"""The egress guard (policies/egress.py): a URL a person entered reaches only public addresses
over https, checked on the form and again at every connection."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from policies import egress, http

SECRET_PATH = "/hooks/T000/B000/s3cr3t-path"
SECRET_QUERY = "?sig=s3cr3t-query"
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(autouse=True)
def _guard_defaults(settings: Any) -> None:
    settings.NOTIFY_ALLOW_HTTP = False
    settings.NOTIFY_ALLOWED_PRIVATE_NETWORKS = []


def allow(settings: Any, *networks: str) -> None:
    settings.NOTIFY_ALLOWED_PRIVATE_NETWORKS = [ipaddress.ip_network(n) for n in networks]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Names that resolve as a test says: a list of addresses, or a function returning one
    (called at each lookup). Numeric hosts and other names resolve as usual."""
    names: dict[str, Any] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in names:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        answer = names[host]
        addresses = answer() if callable(answer) else answer
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


class Receiver:
    """A real HTTP(S) server on 127.0.0.1 that counts what reaches it."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[str] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def post(url: str) -> http.Reply:
    return http.request("POST", url, json={"hello": "world"}, untrusted=True)


# --- url_problem: the form's check, no lookup -------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),  # the resolver's short form
        ("2130706433", "loopback"),  # and its numeric one
        ("[::1]", "loopback"),
        ("localhost", "loopback"),
        ("api.localhost", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("[fd00::1]", "private"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("[::ffff:127.0.0.1]", "IPv6 form of 127.0.0.1, a loopback"),
        ("[::ffff:10.0.0.1]", "IPv6 form of 10.0.0.1, a private"),
        ("[64:ff9b::a9fe:a9fe]", "IPv6 form of 169.254.169.254, a link-local"),  # NAT64
        ("[2002:c0a8:101::]", "IPv6 form of 192.168.1.1, a private"),  # 6to4
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("[2001:db8::1]", "private"),  # documentation: Python counts it private
    ],
)
def test_a_literal_address_that_is_not_public_is_refused_on_the_form(host, reason):
    problem = egress.url_problem(f"https://{host}:8443{SECRET_PATH}{SECRET_QUERY}")

    assert reason in problem
    assert host.strip("[]") in problem
    assert "NOTIFY_ALLOWED_PRIVATE_NETWORKS" in problem
    assert "s3cr3t" not in problem


@pytest.mark.parametrize(
    "url",
    [
        f"https://hooks.example.com{SECRET_PATH}{SECRET_QUERY}",
        "https://8.8.8.8/hook",
        "https://[2606:4700::1111]/hook",
        "https://bücher.example/hook",
        "HTTPS://Hooks.Example.com:8443/",
    ],
)
def test_a_public_https_url_passes(url):
    assert egress.url_problem(url) == ""


def test_plain_http_is_refused_unless_allowed(settings):
    url = f"http://hooks.example.com{SECRET_PATH}"
    assert egress.url_problem(url) == "Only https URLs are allowed (NOTIFY_ALLOW_HTTP is off)."

    settings.NOTIFY_ALLOW_HTTP = True

    assert egress.url_problem(url) == ""


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.com/x", "The URL must start with https://."),
        ("file:///etc/passwd", "The URL must start with https://."),
        ("hooks.example.com/x", "The URL must start with https://."),
        ("https://user:pw@hooks.example.com/x", "must not carry a user name or password"),
        ("https://token@hooks.example.com/x", "must not carry a user name or password"),
        ("https:///x", "The URL names no host."),
        ("https://hooks.example.com:99999/x", "The port 99999 is not a valid port."),
        ("https://exa mple.com/x", "is not a valid host name"),
        ("https://[::1/x", "This is not a valid URL."),
    ],
)
def test_a_malformed_url_is_refused_with_the_reason(url, problem):
    found = egress.url_problem(url)
    assert problem in found
    assert "pw" not in found
    assert "token" not in found


def test_the_allow_list_lets_an_address_through(settings):
    allow(settings, "127.0.0.0/8", "10.1.0.0/16")

    assert egress.url_problem("https://127.0.0.1/x") == ""
    assert egress.url_problem("https://[::ffff:127.0.0.1]/x") == ""  # the same address
    assert egress.url_problem("https://10.1.2.3/x") == ""
    assert "private" in egress.url_problem("https://10.2.0.1/x")  # outside the list


# --- address_problem: the form's lookup --------------------------------------------------------


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["127.0.0.1"], "resolves to 127.0.0.1, a loopback address"),
        (["169.254.169.254"], "resolves to 169.254.169.254, a link-local"),
        (["100.100.1.1"], "resolves to 100.100.1.1, in carrier-grade NAT"),
        (["::ffff:127.0.0.1"], "resolves to ::ffff:127.0.0.1, an IPv6 form of 127.0.0.1"),
        # One private address among public ones refuses the name.
        (["93.184.216.34", "10.0.0.7"], "resolves to 10.0.0.7, a private address"),
    ],
)
def test_a_name_that_resolves_to_a_private_address_is_refused(dns, addresses, reason):
    dns["hooks.example.test"] = addresses

    problem = egress.address_problem("hooks.example.test")

    assert problem.startswith("hooks.example.test resolves to ")
    assert reason in problem


def test_a_name_that_resolves_to_public_addresses_passes(dns):
    dns["hooks.example.test"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    assert egress.address_problem("hooks.example.test") == ""


def test_a_name_that_does_not_resolve_is_reported(dns):
    def nxdomain() -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    dns["nowhere.example.test"] = nxdomain

    assert egress.address_problem("nowhere.example.test").startswith(
        "nowhere.example.test does not resolve"
    )


# --- at send time: a real server on 127.0.0.1 ------------------------------------------------


def test_a_local_server_is_not_reached_by_default(settings, receiver):
    settings.NOTIFY_ALLOW_HTTP = True

    with pytest.raises(http.AddressRefused, match=r"127\.0\.0\.1 is a loopback address"):
        post(f"http://127.0.0.1:{receiver.port}{SECRET_PATH}")

    assert receiver.requests == []


def test_a_local_server_is_reached_when_its_network_is_allowed(settings, receiver):
    settings.NOTIFY_ALLOW_HTTP = True
    allow(settings, "127.0.0.1/32")

    reply = post(f"http://127.0.0.1:{receiver.port}{SECRET_PATH}")

    assert (reply.status_code, reply.content) == (200, b"ok")
    assert receiver.requests == [SECRET_PATH]


def test_a_name_is_checked_when_connecting_and_the_checked_address_is_used(settings, dns, receiver):
    settings.NOTIFY_ALLOW_HTTP = True
    dns["hooks.example.test"] = ["127.0.0.1"]
    url = f"http://hooks.example.test:{receiver.port}{SECRET_PATH}{SECRET_QUERY}"
    assert egress.url_problem(url) == ""  # a name: the form cannot tell without a lookup

    with pytest.raises(http.AddressRefused) as refused:
        post(url)
    assert str(refused.value) == (
        "hooks.example.test resolves to 127.0.0.1, a loopback address: refused "
        "(NOTIFY_ALLOWED_PRIVATE_NETWORKS can allow it)"
    )
    assert receiver.requests == []

    allow(settings, "127.0.0.0/8")
    assert post(url).status_code == 200
    assert receiver.requests == [SECRET_PATH + SECRET_QUERY]


def test_the_deadline_still_cuts_off_a_guarded_call(settings):
    """The watchdog (policies/http.py) finds the guard's sockets as it finds httpx's own."""
    from tests.e2e.pagerduty_server import PagerDutyServer

    settings.NOTIFY_ALLOW_HTTP = True
    settings.HTTP_TIMEOUT_SECONDS = 1.0
    allow(settings, "127.0.0.1/32")
    with PagerDutyServer() as server:
        server.trickle("body", 1.0)
        started = time.monotonic()
        with pytest.raises(http.DeadlineExceeded):
            post(server.url)
        assert time.monotonic() - started < 4


def test_dns_rebinding_is_refused_at_send_time(settings, dns, receiver):
    """The name resolves to a public address when the form is saved, to 127.0.0.1 when the
    worker sends: the send is refused."""
    settings.NOTIFY_ALLOW_HTTP = True
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    dns["rebind.example.test"] = lambda: next(answers)
    url = f"http://rebind.example.test:{receiver.port}{SECRET_PATH}"

    assert egress.url_problem(url) == ""
    assert egress.address_problem("rebind.example.test") == ""  # form time: public

    with pytest.raises(http.AddressRefused, match=r"resolves to 127\.0\.0\.1"):
        post(url)  # send time: loopback
    assert receiver.requests == []


def test_a_refusal_at_send_time_is_a_permanent_verdict(settings, dns):
    from policies.channels.base import Verdict, no_answer

    dns["hooks.example.test"] = ["10.0.0.1"]
    url = f"https://hooks.example.test{SECRET_PATH}{SECRET_QUERY}"
    try:
        post(url)
    except httpx.HTTPError as exc:
        result = no_answer(exc, 0.0, url)
    assert result.verdict == Verdict.PERMANENT
    assert result.error.startswith("AddressRefused: hooks.example.test resolves to 10.0.0.1")
    assert "s3cr3t" not in result.error


def test_http_is_refused_at_send_time_unless_allowed(settings, receiver):
    allow(settings, "127.0.0.1/32")

    with pytest.raises(http.AddressRefused, match="Only https URLs are allowed"):
        post(f"http://127.0.0.1:{receiver.port}/")
    assert receiver.requests == []


def test_the_test_seam_still_wins_but_the_url_rules_apply(monkeypatch):
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(204)

    monkeypatch.setattr(http, "transport", httpx.MockTransport(answer))

    # No lookup happens: the name need not exist.
    assert post("https://hooks.invalid/x").status_code == 204
    with pytest.raises(http.AddressRefused):
        post("https://127.0.0.1/x")
    assert seen == ["https://hooks.invalid/x"]


# --- TLS keeps the host name -------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> Callable[[str], Path]:
    """A self-signed certificate (and its key, in the same file) for a host name."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")

    def make(name: str) -> Path:
        path = tmp_path / f"{name}.pem"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                "-keyout", str(path), "-out", str(path),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return path

    return make


@pytest.fixture
def tls_receiver(certificate, monkeypatch) -> Iterator[Receiver]:
    pem = certificate("hooks.example.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))  # the client trusts this certificate only
    server = Receiver(tls=context)
    yield server
    server.stop()


def test_tls_uses_the_host_name_for_sni_and_the_certificate(settings, dns, tls_receiver):
    allow(settings, "127.0.0.1/32")
    dns["hooks.example.test"] = ["127.0.0.1"]

    reply = post(f"https://hooks.example.test:{tls_receiver.port}/hook")

    assert reply.status_code == 200
    assert tls_receiver.server_names == ["hooks.example.test"]


def test_tls_refuses_a_certificate_for_another_name(settings, dns, tls_receiver):
    allow(settings, "127.0.0.1/32")
    dns["other.example.test"] = ["127.0.0.1"]

    with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
        post(f"https://other.example.test:{tls_receiver.port}/hook")
    assert tls_receiver.requests == []
