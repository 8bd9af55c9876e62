from policies.masking import mask_secret
from policies.models import Channel

KEY = "R0ABcdefghijklmnopqrstuvwxyzXY12"


def test_it_shows_the_first_and_last_four_characters():
    assert mask_secret(KEY) == "R0AB…XY12"


def test_it_masks_short_secrets_entirely():
    assert mask_secret("abcdefghij") == "………"
    assert mask_secret("") == ""


def test_a_channels_credential_never_shows_in_str_or_repr():
    key = Channel(name="Search on-call", kind="pagerduty", secret=KEY)

    assert key.masked_secret == "R0AB…XY12"
    assert str(key) == "Search on-call (PagerDuty)"
    assert KEY[4:-4] not in repr(key)


def test_a_webhook_url_keeps_its_host_and_last_characters_only():
    url = "https://hooks.slack.com/services/T000/B000/abcdefghijklmnopqrstuvwx"
    channel = Channel(name="#search", kind="slack", secret=url)

    assert channel.masked_secret == "https://hooks.slack.com/…uvwx"
    assert "abcdefghijklmnop" not in str(channel) + repr(channel)
