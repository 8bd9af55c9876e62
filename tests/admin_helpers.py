"""Shared by the admin tests."""

from typing import Any

from django.utils.html import escape


def assert_error_on_field(response: Any, field: str, message: str) -> None:
    """The form refused the field with this message, and the page shows it next to that field."""
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.get(field) == [message]
    assert f'id="id_{field}_error"><li>{escape(message)}</li>' in response.content.decode()
