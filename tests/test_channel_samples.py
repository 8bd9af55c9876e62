"""The README's sample messages are what each channel kind sends today: regenerated from the
code, through the fakes, and compared (`python -m tests.channel_samples` prints them)."""

from pathlib import Path
from typing import Any

from tests.channel_samples import block

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- channel-messages:start -->", "<!-- channel-messages:end -->"


def test_the_readme_shows_the_messages_the_code_sends():
    text = README.read_text(encoding="utf-8")
    shown = text[text.index(START) + len(START) : text.index(END)]
    assert shown.strip() == block().strip(), "run: python -m tests.channel_samples"


def test_the_readmes_webhook_verifier_accepts_the_console_and_refuses_a_forgery():
    import json

    import httpx

    from policies import http
    from policies.channels.base import Target
    from policies.channels.webhook import Webhook, new_signing_secret
    from tests.notices import make_notice

    text = README.read_text(encoding="utf-8")
    start, end = "<!-- webhook-verifier:start -->", "<!-- webhook-verifier:end -->"
    code = text[text.index(start) + len(start) : text.index(end)]
    code = code.strip().removeprefix("```python").removesuffix("```")
    secret = new_signing_secret()
    namespace: dict[str, object] = {}
    exec(code.replace('"whsec_..."', repr(secret)), namespace)  # noqa: S102 - the README's own
    verified: Any = namespace["verified"]

    sent: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        request.read()
        sent.append(request)
        return httpx.Response(200)

    before = http.transport
    http.transport = httpx.MockTransport(receive)
    try:
        target = Target(1, "hooks", "https://hooks.example.com/a", {}, secret)
        assert Webhook().deliver(make_notice(), target, "").accepted
    finally:
        http.transport = before
    [request] = sent
    headers = dict(request.headers)

    alert = verified(request.content, headers)
    assert alert is not None
    assert alert["type"] == "incident.triggered"
    forged = json.loads(request.content) | {"type": "incident.resolved"}
    assert verified(json.dumps(forged).encode(), headers) is None
    assert verified(request.content, {**headers, "webhook-signature": "v1,bm90LWl0"}) is None
