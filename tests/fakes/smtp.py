"""A real SMTP server on 127.0.0.1 (aiosmtpd), for the e-mail channel.

The ``smtp_server`` fixture (import ``smtp_server_fixture`` into a test module) starts one on
a free port for a test and points Django's mail settings at it (the SMTP backend, no TLS, no
login). It keeps every message it took, parsed back with the ``email`` package, and its
envelope. ``mail_script``, ``rcpt_script`` and ``data_script`` answer first (an SMTP reply
line such as ``"451 4.3.0 Try again later"`` or ``"550 5.1.1 No such user"``) to the MAIL,
RCPT and DATA commands, so a test can make the server refuse.

aiosmtpd: ``Controller(handler, hostname, port).start()`` runs it in a thread; ``port=0``
does not work (start() connects to the port it was given), so a free port is picked first
(../shared/reference/channels.md, section 6).
"""

from __future__ import annotations

import email
import email.policy
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.e2e.processes import free_port


@dataclass
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class SMTPRecorder:
    """The aiosmtpd handler."""

    envelopes: list[Envelope] = field(default_factory=list)
    mail_script: deque[str] = field(default_factory=deque)
    rcpt_script: deque[str] = field(default_factory=deque)
    data_script: deque[str] = field(default_factory=deque)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.mail_script:
            return self.mail_script.popleft()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_script:
            return self.rcpt_script.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_script:
            return self.data_script.popleft()
        self.envelopes.append(
            Envelope(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        )
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.content, _class=EmailMessage, policy=email.policy.default)
            for e in self.envelopes
        ]


@pytest.fixture(name="smtp_server")
def smtp_server_fixture(settings: Any) -> Iterator[SMTPRecorder]:
    recorder = SMTPRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    try:
        yield recorder
    finally:
        controller.stop()
