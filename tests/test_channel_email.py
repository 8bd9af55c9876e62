"""The e-mail channel (policies/channels/email.py), through a real SMTP server on loopback:
plain text and HTML, one thread per incident, and what each SMTP answer means."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from policies.channels import kind_of, text
from policies.channels.base import Event, Target, Verdict
from policies.channels.email import Email, html
from tests.e2e.processes import free_port
from tests.fakes.smtp import smtp_server_fixture  # noqa: F401 - the smtp_server fixture
from tests.notices import make_notice

TO = "oncall@example.com, search-team@example.org"
SUBJECT = "[critical] Provider errors: 12 failed requests in 60 s for team search"


@pytest.fixture(autouse=True)
def _console(settings: Any) -> None:
    settings.CONSOLE_BASE_URL = "https://console.example.com"
    settings.DEFAULT_FROM_EMAIL = "Alerting Console <alerts@example.com>"


def target(to: Any = TO) -> Target:
    return Target(id=1, name="search mail", secret="", settings={"to": to})


def deliver(notice: Any = None, reference: str = "", to: Any = TO) -> Any:
    return Email().deliver(notice or make_notice(), target(to), reference)


# --- the message -------------------------------------------------------------------------------


def test_the_trigger_is_plain_text_and_html_to_every_address(smtp_server):
    notice = make_notice()

    result = deliver(notice)

    assert result.verdict == Verdict.DELIVERED
    (envelope,) = smtp_server.envelopes
    assert envelope.mail_from == "alerts@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "search-team@example.org"]
    (message,) = smtp_server.messages
    assert message["Subject"] == SUBJECT
    assert message["From"] == "Alerting Console <alerts@example.com>"
    assert message["To"] == "oncall@example.com, search-team@example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == text.plain(notice)
    assert rich.get_content_type() == "text/html"
    assert rich.get_content().replace("\r\n", "\n").rstrip("\n") == html(notice)


def test_the_html_shows_the_same_facts_and_links(smtp_server):
    deliver()

    page = list(smtp_server.messages[0].iter_parts())[1].get_content()
    assert "🔴 FIRING [critical] Provider errors" in page
    assert "color:#D32F2F" in page
    assert "<th" in page
    assert "Count</th><td>12 (threshold 5, peak 14)</td>" in page
    assert "<li>RateLimitError 429: 9</li>" in page
    assert "<code>chatcmpl-a1</code>, <code>chatcmpl-b2</code>" in page
    assert '<a href="https://console.example.com/incidents/42/">Open in the console</a>' in page
    assert '<a href="https://wiki.example.com/runbooks/provider-errors">Runbook</a>' in page


def test_everything_in_the_html_is_escaped(smtp_server):
    notice = make_notice(
        summary='<script>alert("x")</script> & more',
        top_errors=(("<img src=x onerror=alert(1)>", 2),),
        runbook_url="javascript:alert(1)",
        sample_request_ids=('"><b>id',),
    )

    deliver(notice)

    page = list(smtp_server.messages[0].iter_parts())[1].get_content()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in page
    assert "<img" not in page
    assert "<b>" not in page
    assert 'href="javascript:' not in page
    assert "Runbook: javascript:alert(1)" in page  # shown, not a link


def test_non_ascii_travels_intact(smtp_server):
    notice = make_notice(summary="Échecs en amont: 12 requêtes 🔥")

    deliver(notice)

    message = smtp_server.messages[0]
    # Django 5.2 folds an encoded subject before its first word; the space is folding.
    assert message["Subject"].strip() == "[critical] Échecs en amont: 12 requêtes 🔥"
    assert "Échecs en amont" in next(message.iter_parts()).get_content()


def test_a_line_break_in_the_summary_cannot_break_the_subject_header(smtp_server):
    deliver(make_notice(summary="two\r\nBcc: everyone@example.com"))

    message = smtp_server.messages[0]
    assert message["Subject"] == "[critical] two Bcc: everyone@example.com"
    assert message["Bcc"] is None
    assert smtp_server.envelopes[0].rcpt_tos == ["oncall@example.com", "search-team@example.org"]


# --- one thread per incident -------------------------------------------------------------------


def test_the_trigger_id_is_the_reference_and_later_mails_reply_to_it(smtp_server):
    first = deliver(make_notice())
    again = deliver(make_notice(event=Event.RENOTIFY, count=20), reference=first.reference)
    over = deliver(make_notice(event=Event.RESOLVE, count=0), reference=first.reference)

    trigger, renotify, resolve = smtp_server.messages
    assert first.reference == trigger["Message-ID"]
    assert first.reference.endswith("@console.example.com>")
    assert trigger["In-Reply-To"] is None
    for reply, result in ((renotify, again), (resolve, over)):
        assert reply["Subject"] == f"Re: {SUBJECT}"
        assert reply["In-Reply-To"] == first.reference
        assert reply["References"] == first.reference
        assert reply["Message-ID"] not in (first.reference, None)
        assert result.reference == first.reference  # the thread's root stays the reference
    assert "✅ RESOLVED" in next(resolve.iter_parts()).get_content()


def test_a_resolve_with_no_trigger_to_answer_starts_a_thread(smtp_server):
    result = deliver(make_notice(event=Event.RESOLVE))

    message = smtp_server.messages[0]
    assert message["Subject"] == SUBJECT
    assert message["In-Reply-To"] is None
    assert result.reference == message["Message-ID"]


def test_without_a_console_url_the_id_is_under_a_name_of_its_own(settings, smtp_server):
    settings.CONSOLE_BASE_URL = ""

    result = deliver()

    assert result.reference.endswith("@alerting-console.local>")


def test_a_test_message_says_so_in_the_subject(smtp_server):
    deliver(make_notice(test=True))

    assert smtp_server.messages[0]["Subject"].startswith("[test] ")


# --- what the mail server answers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("rcpt", "data", "verdict", "said"),
    [
        (["550 5.1.1 No such user"] * 2, [], Verdict.PERMANENT, "every recipient refused"),
        (["451 4.7.1 Greylisted"] * 2, [], Verdict.RETRY, "every recipient refused"),
        ([], ["451 4.3.0 Local error, try again"], Verdict.RETRY, "SMTP 451 4.3.0 Local error"),
        ([], ["452 4.3.1 Insufficient storage"], Verdict.RETRY, "SMTP 452"),
        ([], ["550 5.7.1 Rejected as spam"], Verdict.PERMANENT, "SMTP 550 5.7.1 Rejected"),
        ([], ["554 5.3.4 Message too big"], Verdict.PERMANENT, "SMTP 554"),
    ],
)
def test_each_smtp_answer_is_classified(smtp_server, rcpt, data, verdict, said):
    smtp_server.rcpt_script.extend(rcpt)
    smtp_server.data_script.extend(data)

    result = deliver()

    assert (result.verdict, result.http_status) == (verdict, None)
    assert said in result.error
    assert smtp_server.envelopes == []


def test_a_refused_recipient_is_named(smtp_server):
    smtp_server.rcpt_script.extend(["550 5.1.1 No such user"])

    result = deliver(to="gone@example.com")

    assert result.verdict == Verdict.PERMANENT
    assert result.error == "every recipient refused: gone@example.com (550 5.1.1 No such user)"


def test_one_recipient_refused_of_two_is_still_delivered(smtp_server):
    smtp_server.rcpt_script.extend(["550 5.1.1 No such user"])

    result = deliver()

    assert result.verdict == Verdict.DELIVERED
    assert smtp_server.envelopes[0].rcpt_tos == ["search-team@example.org"]


def test_a_refused_sender_is_our_configuration_and_retried(smtp_server):
    smtp_server.mail_script.append("553 5.7.1 Sender address rejected")

    result = deliver()

    assert result.verdict == Verdict.RETRY
    assert "SMTP 553 5.7.1 Sender address rejected" in result.error
    assert "check EMAIL_URL and DEFAULT_FROM_EMAIL" in result.error


def test_no_server_listening_is_retried(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()

    result = deliver()

    assert result.verdict == Verdict.RETRY
    assert result.error.startswith("ConnectionRefusedError")


def test_a_server_that_never_answers_is_cut_off_by_email_timeout(settings):
    with socket.socket() as silent:  # accepts connections (the backlog), never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
        settings.EMAIL_TIMEOUT = 0.5

        started = time.monotonic()
        result = deliver()
        took = time.monotonic() - started

    assert result.verdict == Verdict.RETRY
    assert "timed out" in result.error
    assert took < 5


def test_the_mail_server_password_is_never_shown(settings, smtp_server):
    settings.EMAIL_HOST_PASSWORD = "hunter2-mail-password"
    smtp_server.data_script.append("451 4.3.0 bad login hunter2-mail-password")

    result = deliver()

    assert result.verdict == Verdict.RETRY
    assert "hunter2" not in result.error
    deliver()
    assert b"hunter2" not in smtp_server.envelopes[0].content


def test_the_default_writes_mails_to_the_console(settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    result = deliver()

    assert result.verdict == Verdict.DELIVERED
    written = capsys.readouterr().out
    assert "Subject: [critical] Provider errors: 12 failed requests in 60 s" in written
    assert "Content-Type: multipart/alternative" in written


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to",
    [
        "oncall@example.com",
        "oncall@example.com, team@example.org",
        "oncall@example.com\nteam@example.org\n",
        "oncall@example.com; team@example.org",
        ["oncall@example.com", "team@example.org"],
        ", ".join(f"person{i}@example.com" for i in range(50)),
    ],
)
def test_good_address_lists_are_valid(to):
    assert Email().validate("", {"to": to}) == {}


@pytest.mark.parametrize(
    ("to", "error"),
    [
        ("", "Enter at least one e-mail address."),
        (None, "Enter at least one e-mail address."),
        (" ,\n ", "Enter at least one e-mail address."),
        ("oncall@example", "Not an e-mail address: oncall@example."),
        (
            "ok@example.com, bob@, @example.com",
            "These are not e-mail addresses: bob@, @example.com.",
        ),
        (
            ", ".join(f"bad{i}" for i in range(8)),
            "These are not e-mail addresses: bad0, bad1, bad2, bad3, bad4 and 3 more.",
        ),
        (
            ", ".join(f"person{i}@example.com" for i in range(51)),
            "At most 50 addresses; this has 51.",
        ),
        ("Bob <bob@example.com>", "These are not e-mail addresses: Bob, <bob@example.com>."),
    ],
)
def test_a_bad_address_list_is_refused_naming_the_bad_ones(to, error):
    assert Email().validate("", {"to": to}) == {"to": error}


def test_the_same_address_twice_is_written_to_once(smtp_server):
    deliver(to="oncall@example.com, ONCALL@example.com")

    assert smtp_server.envelopes[0].rcpt_tos == ["oncall@example.com"]


def test_a_list_that_went_bad_is_a_permanent_failure_and_nothing_is_sent(smtp_server):
    result = deliver(to="bob@")

    assert (result.verdict, result.error) == (Verdict.PERMANENT, "Not an e-mail address: bob@.")
    assert smtp_server.envelopes == []


def test_the_kind_is_registered():
    kind = kind_of("email")

    assert isinstance(kind, Email)
    assert [f.name for f in kind.fields] == ["to"]
    assert kind.credential_label == ""
