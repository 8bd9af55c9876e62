from policies.masking import mask_secret
from policies.models import Channel

KEY = "R0ABcdefghijklmnopqrstuvwxyzXY12"


def test_it_shows_the_first_and_last_four_characters():
    assert mask_secret(KEY) == "R0AB…XY12"


def test_it_masks_short_secrets_entirely():
    assert mask_secret("abcdefghij") == "………"
    assert mask_secret("") == ""


def test_a_routing_key_never_shows_whole_in_str_or_repr():
    key = Channel(name="Search on-call", secret=KEY)

    assert key.masked_secret == "R0AB…XY12"
    assert KEY not in str(key)
    assert KEY not in repr(key)
    assert "R0AB…XY12" in str(key)
