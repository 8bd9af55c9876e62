"""The admin is for staff: Django login, staff only, model permissions apply."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

pytestmark = pytest.mark.django_db

MODELS = ["team", "channel", "route", "alertpolicy"]
PAGES = [
    reverse(f"admin:policies_{model}_{page}") for model in MODELS for page in ("changelist", "add")
]


@pytest.fixture
def one_of_each(make_team, make_routing_key, make_route, make_policy):
    team = make_team()
    key = make_routing_key()
    return {
        "team": team,
        "channel": key,
        "route": make_route(key, scope="team", team=team),
        "alertpolicy": make_policy(filter_team=team, kind="hung", duration_seconds=60),
    }


@pytest.mark.parametrize("url", PAGES)
def test_staff_see_every_list_and_add_page(client, staff_user, one_of_each, url):
    client.force_login(staff_user)

    assert client.get(url).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_staff_see_every_change_and_history_page(client, staff_user, one_of_each, model):
    client.force_login(staff_user)
    pk = one_of_each[model].pk

    assert client.get(reverse(f"admin:policies_{model}_change", args=[pk])).status_code == 200
    assert client.get(reverse(f"admin:policies_{model}_history", args=[pk])).status_code == 200


def test_the_admin_index_lists_every_model(client, staff_user):
    client.force_login(staff_user)

    html = client.get(reverse("admin:index")).content.decode()

    for url in PAGES:
        assert f'href="{url}"' in html


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"


@pytest.mark.parametrize("url", PAGES)
def test_an_active_user_who_is_not_staff_is_sent_to_the_login_page(client, url):
    user = User.objects.create_user("dev", password="a-long-test-password")
    client.force_login(user)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"


def test_the_login_page_refuses_a_user_who_is_not_staff(client):
    User.objects.create_user("dev", password="a-long-test-password")

    response = client.post(
        reverse("admin:login"), {"username": "dev", "password": "a-long-test-password"}
    )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", PAGES)
def test_staff_without_permissions_are_refused(client, url):
    user = User.objects.create_user("intern", password="a-long-test-password", is_staff=True)
    client.force_login(user)

    assert client.get(url).status_code == 403
