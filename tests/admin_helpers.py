"""Shared by the admin tests."""

from typing import Any

from django.utils.html import escape


def assert_error_on_field(response: Any, field: str, message: str) -> None:
    """The form refused the field with this message, and the page shows it next to that field."""
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.get(field) == [message]
    assert f'id="id_{field}_error"><li>{escape(message)}</li>' in response.content.decode()


def form_data_of(response: Any, **overrides: Any) -> dict[str, Any]:
    """What the browser would post back from an admin change form, unchanged but for
    `overrides`: every field's current value as the page rendered it."""
    assert response.status_code == 200
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        if value is True:
            value = "on"
        elif hasattr(value, "pk"):
            value = value.pk
        elif isinstance(value, (list, tuple)):
            value = [getattr(v, "pk", v) for v in value]
        data[name] = value
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
