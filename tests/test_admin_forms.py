"""Forms that do not bite: no delete button next to a choice of team, policy or key."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:policies_silence_add"),
        reverse("admin:policies_channel_add"),
        reverse("admin:policies_route_add"),
        reverse("admin:policies_alertpolicy_add"),
    ],
)
def test_no_delete_related_button_next_to_a_select(ops, url, make_team):
    make_team()

    html = ops.get(url).content.decode()

    assert 'class="related-widget-wrapper-link delete-related' not in html
    assert "add-related" in html  # adding a team from the form is still offered
